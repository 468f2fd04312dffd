//! What a [`Function`] tells about itself: `explain` (every stage and the program with its
//! buffer plan), `describe`, per-step and per-op profiles, and the NaN guard's report of the
//! step that made the first non-finite value.

use std::collections::HashMap;

use super::program::{Kernel, Program};
use super::Function;
use crate::error::Error;
use crate::ops::Op;
use crate::rewrite::StageLog;
use crate::Scalar;

impl<T: Scalar> Function<T> {
    /// What the compiler did, stage by stage: rules fired per stage, and (when compiled with
    /// [`Compiler::record`](crate::Compiler::record)) each stage's graph as a listing with
    /// origins and as DOT.
    pub fn explanation(&self) -> &StageLog {
        &self.program.report
    }

    /// Everything the compiler did, as text: each stage with the rules that fired (and its
    /// graph, if compiled with [`Compiler::record`](crate::Compiler::record)), then the
    /// program with the buffer plan of the last call (call once first to see the plan).
    pub fn explain(&self) -> String {
        let mut s = self.program.report.render();
        s.push_str(&format!("== program ({} steps)", self.program.steps.len()));
        s.push_str(if self.current_plan().is_some() {
            " and buffer plan of the last call\n"
        } else {
            "; no call yet, so no buffer plan\n"
        });
        s.push_str(&self.describe());
        s
    }

    /// The program with the buffer plan of the last call, one instruction a line.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![3]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output((x * 2.0).exp().sum_all()).build();
    /// f.value(&[], &[TensorRef::new(&[3], &[0.0; 3])])?;
    /// let listing = f.describe();
    /// assert!(listing.contains("fused{exp(#0 * 2)}"), "{listing}");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let plan = self.current_plan();
        for (i, ins) in self.program.steps.iter().enumerate() {
            let args: Vec<String> = ins.inputs.iter().map(|a| format!("${a}")).collect();
            if ins.kernel.is_leaf() {
                let _ = write!(s, "${i} = {}", ins.label);
            } else {
                let _ = write!(s, "${i} = {}({})", ins.label, args.join(", "));
            }
            if let Some(p) = plan {
                let _ = write!(s, " : {:?} @ {:?}", &p.shapes[i][..], p.locs[i]);
                if let Some(k) = p.alias[i] {
                    let _ = write!(s, " (in place over ${})", ins.inputs[k]);
                }
                if let Kernel::SummedBy(f) = ins.kernel {
                    let _ = write!(s, " (summed by ${f} as it runs)");
                }
            }
            s.push('\n');
        }
        if let Some(p) = plan {
            let _ = writeln!(s, "arena: {} elements", p.arena_len);
        }
        s
    }

    /// Turns per-instruction timing on (or off, dropping what was recorded).
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| vec![std::time::Duration::ZERO; self.program.steps.len()]);
    }

    /// Time spent per op name over the calls made since profiling was turned on, largest
    /// first: `(op label, total seconds, instructions)`.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![1000]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// f.set_profiling(true);
    /// f.value(&[], &[TensorRef::new(&[1000], &[0.0; 1000])])?;
    /// let ops: Vec<String> = f.profile().into_iter().map(|(op, _, _)| op).collect();
    /// assert!(ops.iter().any(|op| op.starts_with("fused")), "{ops:?}");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn profile(&self) -> Vec<(String, f64, usize)> {
        let Some(p) = &self.profile else {
            return Vec::new();
        };
        let mut by: HashMap<String, (f64, usize)> = HashMap::new();
        for (ins, d) in self.program.steps.iter().zip(p) {
            let key = match &ins.kernel {
                k if k.is_leaf() => continue,
                Kernel::Op(Op::MatMul { ta, tb }) => format!("matmul[ta={ta},tb={tb}]"),
                Kernel::Op(op) => op.name().to_string(),
                Kernel::Copy => "copy".to_string(),
                Kernel::FusedColumnSums { .. } => "fused".to_string(),
                Kernel::SummedBy(_) => "sum_to".to_string(),
                _ => unreachable!("leaves are skipped"),
            };
            let e = by.entry(key).or_default();
            e.0 += d.as_secs_f64();
            e.1 += 1;
        }
        let mut v: Vec<(String, f64, usize)> =
            by.into_iter().map(|(k, (t, n))| (k, t, n)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    /// Time spent per program step over the calls made since profiling was turned on, in
    /// program order: `(step, op label, total seconds)`, leaves left out. Step numbers are
    /// those of [`Function::describe`].
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", dims![3]);
    /// let none = ParamLayout::new();
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// f.set_profiling(true);
    /// f.value(&[], &[TensorRef::new(&[3], &[0.0; 3])]).unwrap();
    /// let steps = f.profile_steps();
    /// assert!(!steps.is_empty() && steps.iter().all(|(_, _, secs)| *secs >= 0.0));
    /// ```
    pub fn profile_steps(&self) -> Vec<(usize, String, f64)> {
        let Some(p) = &self.profile else {
            return Vec::new();
        };
        self.program
            .steps
            .iter()
            .zip(p)
            .enumerate()
            .filter(|(_, (ins, _))| !ins.kernel.is_leaf())
            .map(|(i, (ins, d))| (i, ins.label.clone(), d.as_secs_f64()))
            .collect()
    }
}

impl<T: Scalar> Program<T> {
    /// The NaN guard's error for step `step`, whose output `out` holds a non-finite value.
    pub(super) fn non_finite(&self, step: usize, out: &[T]) -> Error {
        let info = &self.nan_info[step];
        let bad = out
            .iter()
            .find(|v| !v.is_finite())
            .copied()
            .unwrap_or(T::zero());
        Error::NonFinite {
            step,
            value: crate::graph::fmt_number(bad),
            expr: info.expr.clone(),
            origin: info.origin.clone(),
            reads: if info.reads.is_empty() {
                "no parameter".to_string()
            } else {
                info.reads.join(", ")
            },
        }
    }
}
