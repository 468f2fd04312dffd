//! [`Function`]: a [`Program`] and its runtime state (the plans per binding of the symbolic
//! dimensions, the arena, counters), and a call: check the arrays and bind the symbols, take
//! or make the plan, run the steps (inside one rayon scope when some kernel can split,
//! on the caller's thread otherwise), then write the flat gradient's copied and zero ranges.

use smallvec::SmallVec;

use super::arg::Arg;
use super::plan::{self, column_partials, Loc, Plan};
use super::program::{GradTarget, Kernel, Program};
use super::{CallStats, Options};
use crate::error::{Error, Result};
use crate::graph::Dim;
use crate::ops::{KernelFault, Op};
use crate::tensor::{numel, Tensor, TensorRef};
use crate::Scalar;

/// A compiled function of the flat parameter vector x and named input arrays.
///
/// Build one with [`Compiler`](super::Compiler). Calls take x as a slice (parameters are
/// read from it in place), the inputs as [`TensorRef`]s in the compiled order, and, if the
/// function has a gradient, a slice of x's length into which the gradient is written.
pub struct Function<T: Scalar> {
    pub(super) program: Program<T>,
    /// Plans kept per binding of the symbolic dimensions (at most `PLAN_CACHE`), and the
    /// one the last call used (set only once the arena holds it).
    plans: Vec<(Vec<usize>, Plan)>,
    pub(super) current: Option<usize>,
    arena: Vec<T>,
    stats: CallStats,
    /// Per step, the time spent, when profiling is on.
    pub(super) profile: Option<Vec<std::time::Duration>>,
    /// Scratch for binding symbols: (value, input that bound it), and the values alone.
    bound_by: Vec<Option<(usize, usize)>>,
    binding: Vec<usize>,
    /// Integer arrays of a [`Function::run_with`] call, converted into `T`, per input (kept
    /// between calls, so the steady state allocates nothing).
    converted: Vec<Vec<T>>,
}

/// Plans kept per function (bindings of the symbolic dimensions).
const PLAN_CACHE: usize = 8;

// A step's operands are gathered inline, 16 at most: a fused step takes at most
// `MAX_SLOTS` (registers plus operands), every other op at most 3 (or a `concat`'s count,
// which may spill to the heap).
const _: () = assert!(crate::ops::MAX_SLOTS <= 16);

impl<T: Scalar> Function<T> {
    /// A function that runs `program`; nothing is planned or allocated until the first call.
    pub fn new(program: Program<T>) -> Self {
        let symbols = program.symbols.len();
        Function {
            program,
            plans: Vec::new(),
            current: None,
            arena: Vec::new(),
            stats: CallStats::default(),
            profile: None,
            bound_by: vec![None; symbols],
            binding: vec![0; symbols],
            converted: Vec::new(),
        }
    }

    /// Computes the outputs (and the gradient, if compiled with one) at x. Read outputs with
    /// [`Function::output`] afterwards.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let mut layout = ParamLayout::new();
    /// layout.add("w", &[2]);
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n, 2]);
    /// let y = x.matmul(g.param(&layout, "w").reshape([2, 1]));
    /// let mut f = Compiler::new(&g, &layout)
    ///     .inputs(&[x])
    ///     .output(y)
    ///     .output(y.square().sum_all())
    ///     .build();
    /// f.run(&[1.0, 10.0], &[TensorRef::new(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])], None)?;
    /// let out = f.output(0)?;
    /// assert_eq!(out.shape, &[3, 1]);
    /// assert_eq!(out.data, &[21.0, 43.0, 65.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn run(
        &mut self,
        x: &[T],
        inputs: &[TensorRef<'_, T>],
        grad: Option<&mut [T]>,
    ) -> Result<()> {
        if !self.program.updates.is_empty() {
            return Err(Error::UpdatesNeedMut);
        }
        self.execute(x, inputs, grad)
    }

    /// [`Function::run`] with inputs that may be integer arrays ([`Arg::indices`]): labels
    /// and token ids for index inputs ([`Graph::index_input`](crate::Graph::index_input)),
    /// or integers for an input of values. Each is converted into `T` (checked to be held
    /// exactly) in a buffer the function keeps; float values are read in place.
    ///
    /// ```
    /// use symgrad::{dims, Arg, Compiler, Graph, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("E", &[4, 2]); // a 4-word vocabulary, 2-D embeddings
    /// let g = Graph::<f32>::new();
    /// let n = g.symbol("n");
    /// let ids = g.index_input("ids", dims![n]);
    /// let cost = g.param(&layout, "E").take(ids, 0).square().sum_all();
    /// let mut f = Compiler::new(&g, &layout).inputs(&[ids]).value_and_grad(cost).build();
    /// let x = [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0];
    /// let mut dx = [0.0f32; 8];
    /// f.run_with(&x, &[Arg::indices(&[3], &[2u32, 2, 0])], Some(&mut dx))?;
    /// assert_eq!(f.scalar_output(0)?, 16.0);
    /// assert_eq!(dx, [0.0, 0.0, 0.0, 0.0, 8.0, 8.0, 0.0, 0.0]); // row 2, looked up twice
    ///
    /// // an id outside the vocabulary is an error naming the input and the value:
    /// let err = f.run_with(&x, &[Arg::indices(&[1], &[7u32])], Some(&mut dx)).unwrap_err();
    /// assert!(err.to_string().contains("input `ids`"), "{err}");
    /// assert!(err.to_string().contains("index 7"), "{err}");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn run_with(
        &mut self,
        x: &[T],
        inputs: &[Arg<'_, T>],
        grad: Option<&mut [T]>,
    ) -> Result<()> {
        if !self.program.updates.is_empty() {
            return Err(Error::UpdatesNeedMut);
        }
        self.execute_args(x, inputs, grad)
    }

    /// [`Function::value_and_grad`] with inputs that may be integer arrays, as
    /// [`Function::run_with`].
    pub fn value_and_grad_with(
        &mut self,
        x: &[T],
        inputs: &[Arg<'_, T>],
        grad: &mut [T],
    ) -> Result<T> {
        self.execute_args(x, inputs, Some(grad))?;
        self.scalar_output(0)
    }

    /// One call with [`Arg`]s: the integer arrays converted into the buffers the function
    /// keeps (taken out for the call, so that the views of them can live beside `&mut self`).
    fn execute_args(
        &mut self,
        x: &[T],
        inputs: &[Arg<'_, T>],
        grad: Option<&mut [T]>,
    ) -> Result<()> {
        let mut converted = std::mem::take(&mut self.converted);
        let result = self
            .convert(inputs, &mut converted)
            .and_then(|refs| self.execute(x, &refs, grad));
        self.converted = converted;
        result
    }

    /// The inputs as views: float values in place, integers converted into `store`.
    fn convert<'a>(
        &self,
        inputs: &[Arg<'a, T>],
        store: &'a mut Vec<Vec<T>>,
    ) -> Result<SmallVec<[TensorRef<'a, T>; 8]>> {
        if store.len() < inputs.len() {
            store.resize_with(inputs.len(), Vec::new);
        }
        for (k, (a, buf)) in inputs.iter().zip(store.iter_mut()).enumerate() {
            if let Arg::Indices { data, .. } = a {
                data.convert_into(buf).map_err(|(p, v)| Error::IndexInput {
                    name: self.input_name(k),
                    why: format!(
                        "{v} at flat position {p} is not held exactly by {}: integers are, up to 2^{} in \
                         magnitude",
                        T::NAME,
                        (2.0 / T::EPS).log2() as u32
                    ),
                })?;
            }
        }
        let store: &'a Vec<Vec<T>> = store;
        Ok(inputs
            .iter()
            .zip(store)
            .map(|(a, buf)| match a {
                Arg::Values(t) => *t,
                Arg::Indices { shape, .. } => TensorRef { shape, data: buf },
            })
            .collect())
    }

    /// Input `k`'s name, or its position if the call gave more inputs than there are.
    fn input_name(&self, k: usize) -> String {
        self.program
            .input_names
            .get(k)
            .cloned()
            .unwrap_or_else(|| format!("#{k}"))
    }

    /// Checks that every index input holds whole numbers (after `bind` checked the shapes).
    fn check_index_inputs(&self, inputs: &[TensorRef<'_, T>]) -> Result<()> {
        for (k, t) in inputs.iter().enumerate() {
            if !self.program.input_is_index[k] {
                continue;
            }
            if let Some(p) = t.data.iter().position(|v| v.fract() != T::zero()) {
                return Err(Error::IndexInput {
                    name: self.input_name(k),
                    why: format!(
                        "it holds indices, and {} at flat position {p} is not a whole number",
                        t.data[p]
                    ),
                });
            }
        }
        Ok(())
    }

    /// Like [`Function::run`], then applies the parameter updates to x in place.
    pub fn run_update(
        &mut self,
        x: &mut [T],
        inputs: &[TensorRef<'_, T>],
        grad: Option<&mut [T]>,
    ) -> Result<()> {
        self.execute(x, inputs, grad)?;
        let plan = &self.plans[self.current.expect("planned")].1;
        for (r, p) in &self.program.updates {
            let Loc::Arena(off) = plan.locs[*p] else {
                unreachable!("update values live in the arena")
            };
            x[r.clone()].copy_from_slice(&self.arena[off..off + r.len()]);
        }
        Ok(())
    }

    /// Runs and returns output 0 as a scalar, with the gradient written into `grad`: the
    /// seed's F and ∇F in one call.
    pub fn value_and_grad(
        &mut self,
        x: &[T],
        inputs: &[TensorRef<'_, T>],
        grad: &mut [T],
    ) -> Result<T> {
        self.execute(x, inputs, Some(grad))?;
        self.scalar_output(0)
    }

    /// Runs and returns output 0 as a scalar.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![2]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.square().sum_all()).build();
    /// assert_eq!(f.value(&[], &[TensorRef::new(&[2], &[3.0, 4.0])])?, 25.0);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn value(&mut self, x: &[T], inputs: &[TensorRef<'_, T>]) -> Result<T> {
        self.run(x, inputs, None)?;
        self.scalar_output(0)
    }

    /// Output `i` of the last call.
    pub fn output(&self, i: usize) -> Result<TensorRef<'_, T>> {
        let count = self.program.outputs.len();
        let p = *self
            .program
            .outputs
            .get(i)
            .ok_or(Error::UnknownOutput { index: i, count })?;
        let plan = &self.plans[self
            .current
            .ok_or(Error::UnknownOutput { index: i, count: 0 })?]
        .1;
        let Loc::Arena(off) = plan.locs[p] else {
            unreachable!("outputs live in the arena")
        };
        let shape = &plan.shapes[p];
        Ok(TensorRef {
            shape,
            data: &self.arena[off..off + numel(shape)],
        })
    }

    /// Output `i` of the last call, which must have one element.
    pub fn scalar_output(&self, i: usize) -> Result<T> {
        let t = self.output(i)?;
        if t.data.len() != 1 {
            return Err(Error::NotScalar {
                output: i,
                shape: t.shape.to_vec(),
            });
        }
        Ok(t.data[0])
    }

    /// Number of value outputs.
    pub fn output_count(&self) -> usize {
        self.program.outputs.len()
    }

    /// Whether the function writes a flat gradient.
    pub fn has_gradient(&self) -> bool {
        self.program.has_grad
    }

    /// Length of x this function expects.
    pub fn x_len(&self) -> usize {
        self.program.x_len
    }

    /// The input names, in call order.
    pub fn input_names(&self) -> &[String] {
        &self.program.input_names
    }

    /// The program this function runs.
    pub fn program(&self) -> &Program<T> {
        &self.program
    }

    /// The program's steps, in the order they run.
    pub fn steps(&self) -> &[super::Step<T>] {
        &self.program.steps
    }

    /// The options this function was compiled with.
    pub fn options(&self) -> Options {
        self.program.options
    }

    /// The arena length (elements) the plan for the last call needs: the memory of the
    /// intermediate values, besides x, the gradient and the caller's inputs.
    pub fn arena_len(&self) -> Option<usize> {
        self.current.map(|c| self.plans[c].1.arena_len)
    }

    /// Counters of calls, plans and arena growth.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// for _ in 0..3 {
    ///     f.value(&[], &[TensorRef::new(&[4], &[0.0; 4])])?;
    /// }
    /// let s = f.stats();
    /// assert_eq!((s.calls, s.plans_built), (3, 1)); // the plan is made once per batch size
    /// f.value(&[], &[TensorRef::new(&[2], &[0.0; 2])])?;
    /// assert_eq!(f.stats().plans_built, 2);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn stats(&self) -> CallStats {
        self.stats
    }

    /// Checks the input arrays, and plans buffers and grows the arena for their shapes (the
    /// work a first call with new shapes does besides computing), without computing
    /// anything. Later calls with the same shapes then start computing at once; timing
    /// `build` plus `prepare` gives the whole cost of getting a function ready.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n]);
    /// let none = ParamLayout::new();
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// f.prepare(&[TensorRef::new(&[3], &[0.0; 3])]).unwrap();
    /// assert_eq!((f.stats().plans_built, f.stats().calls), (1, 0));
    /// ```
    pub fn prepare(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<()> {
        self.prepare_plan(inputs).map(|_| ())
    }

    /// The plan of the last call, if one has run (or been prepared).
    pub(super) fn current_plan(&self) -> Option<&Plan> {
        self.current.map(|c| &self.plans[c].1)
    }

    /// Binds the symbols, takes or makes the plan, grows the arena; returns the plan's index.
    fn prepare_plan(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<usize> {
        self.bind(inputs)?;
        let ci = match self.plans.iter().position(|(b, _)| *b == self.binding) {
            Some(i) => i,
            None => {
                let plan = plan::plan(&self.program, &self.binding)?;
                self.stats.plans_built += 1;
                if self.plans.len() == PLAN_CACHE {
                    self.plans.remove(0);
                }
                self.plans.push((self.binding.clone(), plan));
                self.plans.len() - 1
            }
        };
        // Not current until the arena holds it: a failed allocation leaves no plan that
        // `output` could read past the arena's end.
        self.current = None;
        let need = self.plans[ci].1.arena_len;
        if self.arena.len() < need {
            self.arena = allocate_arena(need)?;
            self.stats.arena_grows += 1;
        }
        self.stats.arena_len = self.arena.len();
        self.current = Some(ci);
        Ok(ci)
    }

    /// Checks input arrays against the compiled inputs' shapes without running anything.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Error, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("X", dims![2, 3]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.sum_all()).build();
    /// let err = f.check_inputs(&[TensorRef::new(&[3, 2], &[0.0; 6])]).unwrap_err();
    /// assert!(matches!(err, Error::InputShape { .. }));
    /// assert_eq!(err.to_string(), "input `X`: expected shape [2, 3], got [3, 2]");
    /// ```
    pub fn check_inputs(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<()> {
        self.bind(inputs)
    }

    /// Binds the symbols from the inputs' shapes into `self.binding`, allocating nothing.
    fn bind(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<()> {
        if inputs.len() != self.program.input_names.len() {
            return Err(Error::InputCount {
                expected: self.program.input_names.len(),
                names: self.program.input_names.join(", "),
                given: inputs.len(),
            });
        }
        let binding = &mut self.bound_by;
        binding.iter_mut().for_each(|b| *b = None);
        for (k, (t, want)) in inputs.iter().zip(&self.program.input_shapes).enumerate() {
            let name = &self.program.input_names[k];
            let expected =
                || crate::graph::fmt_dims(want, |s| self.program.symbols[s.0 as usize].clone());
            let shape_err = || Error::InputShape {
                name: name.clone(),
                expected: expected(),
                given: t.shape.to_vec(),
            };
            if t.shape.len() != want.len() {
                return Err(shape_err());
            }
            for (&got, d) in t.shape.iter().zip(want) {
                match d {
                    Dim::Fixed(n) if *n != got => return Err(shape_err()),
                    Dim::Fixed(_) => {}
                    Dim::Sym(s) => match binding[s.0 as usize] {
                        Some((v, first)) if v != got => {
                            return Err(Error::SymbolConflict {
                                symbol: self.program.symbols[s.0 as usize].clone(),
                                first_input: self.program.input_names[first].clone(),
                                first: v,
                                second_input: name.clone(),
                                second: got,
                            })
                        }
                        Some(_) => {}
                        None => binding[s.0 as usize] = Some((got, k)),
                    },
                }
            }
            // Checked: a shape such as [2^32, 2^32] would wrap to 0 elements and pass
            // against empty data, then be read as 2^64 elements by a kernel.
            let Some(needed) = crate::tensor::checked_numel::<T>(t.shape) else {
                return Err(Error::TooLarge {
                    what: format!("input `{name}`"),
                    why: format!("shape {:?} holds more elements than any array can", t.shape),
                });
            };
            if t.data.len() != needed {
                return Err(Error::InputLength {
                    name: name.clone(),
                    shape: t.shape.to_vec(),
                    needed,
                    given: t.data.len(),
                });
            }
        }
        for &s in &self.program.used_symbols {
            match self.bound_by[s] {
                Some((v, _)) => self.binding[s] = v,
                None => {
                    return Err(Error::UnboundSymbol {
                        symbol: self.program.symbols[s].clone(),
                    })
                }
            }
        }
        Ok(())
    }

    /// Checks x's and the gradient's lengths against the layout's.
    fn check_lengths(&self, x: &[T], grad: Option<&[T]>) -> Result<()> {
        let expected = self.program.x_len;
        if x.len() != expected {
            return Err(Error::Length {
                what: "parameter vector",
                expected,
                given: x.len(),
            });
        }
        match (grad, self.program.has_grad) {
            (None, true) => Err(Error::GradientMissing { expected }),
            (Some(g), true) if g.len() != expected => Err(Error::Length {
                what: "gradient vector",
                expected,
                given: g.len(),
            }),
            _ => Ok(()),
        }
    }

    /// One call: lengths, binding and plan, the steps, the gradient's ranges.
    fn execute(
        &mut self,
        x: &[T],
        inputs: &[TensorRef<'_, T>],
        mut grad: Option<&mut [T]>,
    ) -> Result<()> {
        self.check_lengths(x, grad.as_deref())?;
        let ci = self.prepare_plan(inputs)?;
        self.check_index_inputs(inputs)?;
        self.stats.calls += 1;
        let Function {
            program,
            plans,
            arena,
            profile,
            stats,
            ..
        } = self;
        let plan = &plans[ci].1;
        stats.pooled_calls += u64::from(plan.parallel);
        let bufs = Buffers {
            arena: arena.as_mut_ptr(),
            grad: grad
                .as_mut()
                .map_or(std::ptr::null_mut(), |g| g.as_mut_ptr()),
            x: x.as_ptr(),
        };
        let profile = profile.as_deref_mut();
        let run = move || -> Result<()> {
            // Capture the wrapper whole (a closure would otherwise capture its raw fields).
            let bufs = bufs;
            run_steps(program, plan, bufs, inputs, profile)?;
            if !bufs.grad.is_null() {
                write_gradients(program, plan, bufs, inputs);
            }
            Ok(())
        };
        // A program with a parallel kernel runs inside one rayon scope: the parallel kernels
        // then start on a worker thread, so a call enters the pool once rather than once per
        // kernel (each entry from outside the pool can cost rayon small allocations; rayon
        // issue 666). One whose values are all too small for any kernel to split runs on the
        // caller's thread: entering the pool, waking a worker and waiting for it took most of
        // a small call's time (a scalar expression: 19 µs a call in the scope).
        if plan.parallel {
            let mut result = Ok(());
            let slot = &mut result;
            rayon::scope(move |_| *slot = run());
            result
        } else {
            run()
        }
    }
}

/// The arena for a plan of `need` elements: checked against the memory limit first
/// ([`crate::tensor::memory_limit`]), then allocated zeroed, with an error rather than an
/// abort if the allocator says no.
fn allocate_arena<T: Scalar>(need: usize) -> Result<Vec<T>> {
    let bytes = need.saturating_mul(std::mem::size_of::<T>());
    let limit = crate::tensor::memory_limit();
    if bytes > limit {
        return Err(Error::TooLarge {
            what: "the buffer plan".into(),
            why: format!(
                "the intermediate values need {} for these input shapes, more than the limit \
                 of {} (the machine's memory unless set: the command line's --memory-limit or \
                 SYMGRAD_MEMORY_LIMIT, in bytes or with a K/M/G/T suffix, raise it)",
                crate::tensor::fmt_bytes(bytes),
                crate::tensor::fmt_bytes(limit)
            ),
        });
    }
    crate::tensor::try_zeroed(need).ok_or_else(|| Error::TooLarge {
        what: "the buffer plan".into(),
        why: format!(
            "{} for the intermediate values could not be allocated",
            crate::tensor::fmt_bytes(bytes)
        ),
    })
}

/// Raw locations of one call's buffers, handed to the code that runs the steps (in a rayon
/// scope or on the caller's thread).
#[derive(Clone, Copy)]
struct Buffers<T> {
    arena: *mut T,
    grad: *mut T,
    x: *const T,
}

// SAFETY: the pointers address buffers borrowed for the whole call (`execute` holds the
// borrows until the scope returns); kernels write disjoint ranges, as planned.
unsafe impl<T: Send> Send for Buffers<T> {}
unsafe impl<T: Sync> Sync for Buffers<T> {}

impl<T: Scalar> Buffers<T> {
    /// Step `p`'s value, to read.
    ///
    /// # Safety
    /// `plan` passed [`Plan::check_bounds`] for these buffers (the arena holds `arena_len`
    /// elements, x and the gradient `x_len`), the caller's inputs were checked against
    /// their shapes by `bind`, and no step writes step `p`'s value while the view lives
    /// (the planner gives a step's output a block that no live value shares).
    unsafe fn read<'a>(
        &self,
        plan: &'a Plan,
        p: usize,
        inputs: &'a [TensorRef<'a, T>],
        consts: &'a [Tensor<T>],
    ) -> TensorRef<'a, T> {
        let shape = &plan.shapes[p];
        let len = numel(shape);
        let data = match plan.locs[p] {
            Loc::Arena(off) => std::slice::from_raw_parts(self.arena.add(off), len),
            Loc::X(off) => std::slice::from_raw_parts(self.x.add(off), len),
            Loc::Grad(off) => std::slice::from_raw_parts(self.grad.add(off), len),
            Loc::Input(i) => inputs[i].data,
            Loc::Const(i) => consts[i].data(),
        };
        TensorRef { shape, data }
    }

    /// Step `p`'s value, to write: a block of the arena or a range of the gradient.
    ///
    /// # Safety
    /// As [`Buffers::read`], and nothing else reads or writes that range while the slice
    /// lives (the steps run one at a time; a step's inputs lie elsewhere, except the one
    /// it was planned to write over, which it reads through this slice).
    #[allow(clippy::mut_from_ref)]
    unsafe fn write<'a>(&self, plan: &'a Plan, p: usize) -> &'a mut [T] {
        let len = numel(&plan.shapes[p]);
        match plan.locs[p] {
            Loc::Arena(off) => std::slice::from_raw_parts_mut(self.arena.add(off), len),
            Loc::Grad(off) => std::slice::from_raw_parts_mut(self.grad.add(off), len),
            _ => unreachable!("computed steps live in the arena or the gradient"),
        }
    }

    /// `len` elements of arena scratch from `off`.
    ///
    /// # Safety
    /// `off + len` lies inside the arena (`Plan::check_bounds` checks each step's scratch),
    /// and nothing else uses that range while the slice lives.
    #[allow(clippy::mut_from_ref)]
    unsafe fn scratch<'a>(&self, off: usize, len: usize) -> &'a mut [T] {
        std::slice::from_raw_parts_mut(self.arena.add(off), len)
    }
}

/// Runs every step in order, each kernel on views of its inputs' values; stops at the first
/// non-finite value when the NaN guard is on.
fn run_steps<T: Scalar>(
    program: &Program<T>,
    plan: &Plan,
    bufs: Buffers<T>,
    inputs: &[TensorRef<'_, T>],
    mut profile: Option<&mut [std::time::Duration]>,
) -> Result<()> {
    for (i, step) in program.steps.iter().enumerate() {
        if !step.kernel.runs() {
            continue;
        }
        let alias = plan.alias[i];
        // An input whose buffer this step writes over is not viewed: the kernel reads it
        // through `out`. Inline up to 16 operands: a fused step takes at most
        // `ops::MAX_SLOTS`.
        let args: SmallVec<[TensorRef<'_, T>; 16]> = step
            .inputs
            .iter()
            .enumerate()
            .map(|(k, &a)| {
                if alias == Some(k) {
                    TensorRef {
                        shape: &plan.shapes[a],
                        data: &[],
                    }
                } else {
                    // SAFETY: the plan passed `check_bounds`; step `a` ran before step `i`
                    // and is not written while step `i` runs (see `Buffers::read`).
                    unsafe { bufs.read(plan, a, inputs, &program.consts) }
                }
            })
            .collect();
        let shape = &plan.shapes[i];
        // SAFETY: step `i`'s block overlaps none of the views above (planner), but for the
        // aliased input, which is not viewed.
        let out = unsafe { bufs.write(plan, i) };
        let started = profile.is_some().then(std::time::Instant::now);
        match &step.kernel {
            Kernel::Op(Op::Fused(f)) => f.eval(&args, out, shape, alias),
            Kernel::Op(op) => match op.eval(&args, out, shape) {
                Ok(()) => {}
                Err(KernelFault::Index(fault)) => return Err(program.index_fault(i, &fault)),
                Err(KernelFault::Linalg(why)) => {
                    return Err(Error::Linalg {
                        step: i,
                        expr: program
                            .linalg_exprs
                            .get(&i)
                            .cloned()
                            .unwrap_or_else(|| format!("`{}`", step.label)),
                        why,
                    })
                }
            },
            Kernel::Copy => out.copy_from_slice(args[0].data),
            Kernel::FusedColumnSums { fused, sums } => {
                let off = plan.scratch[i].expect("planned with its scratch");
                // SAFETY: the planner placed the sums' value and the scratch apart from
                // everything this step reads and writes, and from each other; both were
                // checked against the arena by `check_bounds`.
                let (sums_out, partials) = unsafe {
                    (
                        bufs.write(plan, *sums),
                        bufs.scratch(off, column_partials(shape)),
                    )
                };
                fused.eval_with_column_sums(&args, out, shape, alias, sums_out, partials)
            }
            Kernel::Input(_) | Kernel::Param(_) | Kernel::Const(_) | Kernel::SummedBy(_) => {
                unreachable!("not run")
            }
        }
        if let (Some(p), Some(t)) = (profile.as_deref_mut(), started) {
            p[i] += t.elapsed();
        }
        if !program.nan_info.is_empty() && out.iter().any(|v| !v.is_finite()) {
            return Err(program.non_finite(i, out));
        }
    }
    Ok(())
}

/// Writes the flat gradient's ranges that no step wrote in place: zeros where no gradient
/// reaches a parameter, copies of values that could not own their range.
fn write_gradients<T: Scalar>(
    program: &Program<T>,
    plan: &Plan,
    bufs: Buffers<T>,
    inputs: &[TensorRef<'_, T>],
) {
    for go in &program.grads {
        let len = go.range.len();
        // SAFETY: the range lies inside the gradient (x's length, checked by
        // `check_lengths`; the layout's ranges partition it); a copied value never lives
        // in its own destination range (lowering gives `Copy` targets no direct range).
        unsafe {
            let dst = bufs.grad.add(go.range.start);
            match go.target {
                GradTarget::Zero => std::ptr::write_bytes(dst, 0, len),
                GradTarget::Direct(_) => {}
                GradTarget::Copy(p) => {
                    let src = bufs.read(plan, p, inputs, &program.consts);
                    std::ptr::copy(src.data.as_ptr(), dst, len)
                }
            }
        }
    }
}
