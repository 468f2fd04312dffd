//! Buffer planning: concrete shapes for one binding of the symbolic dimensions, and a place
//! for every node's value (the arena, x, a caller's array, a constant, or the flat gradient).
//!
//! Arena blocks are reused by liveness: a node's block is taken when the node runs and
//! returned after its last consumer runs. The output block is taken before the inputs' blocks
//! are returned, so no kernel writes over one of its own inputs, except where that is planned:
//! a fused elementwise step may take over the block of a same-size input whose value dies at
//! that step (in place; its kernel reads each chunk before it writes it). Outputs and update
//! values stay live to the end of the call, where the caller reads them.

use super::{Function, GradTarget};
use crate::graph::Dim;
use crate::ops::Op;
use crate::tensor::gemm::PARALLEL_MIN_VALUE;
use crate::tensor::kernels::PARALLEL_MIN;
use crate::tensor::{numel, Shape};
use crate::Scalar;

/// Offsets and sizes are rounded to this many elements (64 bytes for `f32`).
const ALIGN: usize = 16;

/// Where a node's value lives during a call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Loc {
    /// `arena[offset..]`.
    Arena(usize),
    /// `x[offset..]`: a parameter.
    X(usize),
    /// The caller's input array number `i`.
    Input(usize),
    /// The function's constant number `i`.
    Const(usize),
    /// `grad[offset..]`: a gradient written straight into its range of the flat gradient.
    Grad(usize),
}

/// The plan for one binding of the symbolic dimensions.
#[derive(Clone, Debug)]
pub struct Plan {
    /// Concrete shape of every program node.
    pub shapes: Vec<Shape>,
    /// Where every program node's value lives.
    pub locs: Vec<Loc>,
    /// For a step that works in place: which of its inputs' buffers it writes over.
    pub alias: Vec<Option<usize>>,
    /// For a fused step whose output's columns a `sum_to` step sums: that step, whose value
    /// this one computes as it goes (`Fused::eval_with_column_sums`), and the arena offset
    /// of the scratch for the sums' partials (`column_partials` elements).
    pub sums_into: Vec<Option<(usize, usize)>>,
    /// For such a `sum_to` step: the fused step that computes it.
    pub summed_by: Vec<Option<usize>>,
    /// Arena length needed.
    pub arena_len: usize,
    /// Whether any kernel may run on more than one thread: some value has at least
    /// `min(PARALLEL_MIN, gemm::PARALLEL_MIN_VALUE)` elements. Every parallel kernel splits
    /// only at that size or above, so a call without one runs on the caller's thread alone
    /// and need not enter the thread pool.
    pub parallel: bool,
}

/// Best-fit allocator over one growing arena, with neighbours merged on free.
#[derive(Default)]
struct Blocks {
    free: Vec<(usize, usize)>, // (offset, len), sorted by offset
    end: usize,
}

impl Blocks {
    fn take(&mut self, len: usize) -> usize {
        let len = len.div_ceil(ALIGN).max(1) * ALIGN;
        let best = self
            .free
            .iter()
            .enumerate()
            .filter(|(_, &(_, l))| l >= len)
            .min_by_key(|(_, &(_, l))| l)
            .map(|(i, _)| i);
        match best {
            Some(i) => {
                let (off, l) = self.free[i];
                if l == len {
                    self.free.remove(i);
                } else {
                    self.free[i] = (off + len, l - len);
                }
                off
            }
            None => {
                // Grow, absorbing a free block that ends the arena.
                if let Some(&(off, l)) = self.free.last() {
                    if off + l == self.end {
                        self.free.pop();
                        self.end = off + len;
                        return off;
                    }
                }
                let off = self.end;
                self.end += len;
                off
            }
        }
    }

    fn give(&mut self, off: usize, len: usize) {
        let len = len.div_ceil(ALIGN).max(1) * ALIGN;
        let pos = self.free.partition_point(|&(o, _)| o < off);
        self.free.insert(pos, (off, len));
        if pos + 1 < self.free.len() && self.free[pos].0 + self.free[pos].1 == self.free[pos + 1].0
        {
            self.free[pos].1 += self.free[pos + 1].1;
            self.free.remove(pos + 1);
        }
        if pos > 0 && self.free[pos - 1].0 + self.free[pos - 1].1 == self.free[pos].0 {
            self.free[pos - 1].1 += self.free[pos].1;
            self.free.remove(pos);
        }
    }
}

impl<T: Scalar> Function<T> {
    /// Plans buffers for the symbol values `binding` (indexed by symbol id).
    pub(super) fn make_plan(&self, binding: &[usize]) -> Plan {
        let n = self.prog.len();
        let shapes: Vec<Shape> = self
            .prog
            .iter()
            .map(|ins| {
                ins.shape
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(k) => *k,
                        Dim::Sym(s) => binding[s.0 as usize],
                    })
                    .collect()
            })
            .collect();
        // Last consumer of each node; roots live to the end.
        let mut last = vec![0usize; n];
        for (i, ins) in self.prog.iter().enumerate() {
            for &a in &ins.inputs {
                last[a] = last[a].max(i);
            }
        }
        for &o in self.outputs.iter().chain(self.updates.iter().map(|u| &u.1)) {
            last[o] = usize::MAX;
        }
        for t in &self.grads {
            if let GradTarget::Copy(p) = t.target {
                last[p] = usize::MAX;
            }
        }
        // Column sums done by the fused step they read: `sum_to` down to the last axis of
        // a fused step's output (every leading axis summed).
        let mut sums_into = vec![None; n];
        let mut summed_by = vec![None; n];
        if self.options.fusion {
            for (j, ins) in self.prog.iter().enumerate() {
                let Op::SumTo(_) = ins.op else { continue };
                let i = ins.inputs[0];
                let (from, to) = (&shapes[i], &shapes[j]);
                let columns = from.len() >= 2
                    && !to.is_empty()
                    && to.last() == from.last()
                    && to[..to.len() - 1].iter().all(|&d| d == 1);
                if matches!(self.prog[i].op, Op::Fused(_)) && columns && sums_into[i].is_none() {
                    sums_into[i] = Some((j, 0));
                    summed_by[j] = Some(i);
                }
            }
        }
        let mut locs = vec![Loc::Arena(0); n];
        let mut alias = vec![None; n];
        let mut blocks = Blocks::default();
        for i in 0..n {
            let ins = &self.prog[i];
            // A `sum_to` that a fused step computes was placed with that step.
            if summed_by[i].is_none() {
                // In place: a fused step may take over the block of a same-size input whose value
                // dies at this step (and that it reads once); its kernel reads each chunk of that
                // input before writing the chunk.
                let reuse = if self.options.in_place
                    && matches!(ins.op, Op::Fused(_))
                    && self.direct_grad[i].is_none()
                {
                    ins.inputs.iter().enumerate().find_map(|(k, &a)| {
                        let once = ins.inputs.iter().filter(|&&b| b == a).count() == 1;
                        let dies = last[a] == i;
                        let same = numel(&shapes[a]) == numel(&shapes[i]);
                        match locs[a] {
                            Loc::Arena(off) if once && dies && same => Some((k, a, off)),
                            _ => None,
                        }
                    })
                } else {
                    None
                };
                locs[i] = match &ins.op {
                    Op::Input { .. } => Loc::Input(ins.slot),
                    Op::Param { offset, .. } => Loc::X(*offset),
                    Op::Const(_) => Loc::Const(ins.slot),
                    _ => match (self.direct_grad[i], reuse) {
                        (Some(off), _) => Loc::Grad(off),
                        (None, Some((k, a, off))) => {
                            alias[i] = Some(k);
                            // The block now belongs to this step: not returned with the input.
                            last[a] = usize::MAX - 1;
                            Loc::Arena(off)
                        }
                        (None, None) => Loc::Arena(blocks.take(numel(&shapes[i]))),
                    },
                };
                if let Some((j, _)) = sums_into[i] {
                    // The sums are written while this step runs: their place, and the scratch for
                    // their partials, are taken now, while this step's inputs are still held, so
                    // they overlap nothing this step reads. The scratch is returned at once.
                    locs[j] = match self.direct_grad[j] {
                        Some(off) => Loc::Grad(off),
                        None => Loc::Arena(blocks.take(numel(&shapes[j]))),
                    };
                    let len = column_partials(&shapes[i]);
                    let scratch = blocks.take(len);
                    blocks.give(scratch, len);
                    sums_into[i] = Some((j, scratch));
                }
            }
            for &a in &ins.inputs {
                if last[a] == i {
                    if let Loc::Arena(off) = locs[a] {
                        blocks.give(off, numel(&shapes[a]));
                    }
                    // Marked returned, so an input used twice by this node is returned once.
                    last[a] = usize::MAX - 1;
                }
            }
        }
        let smallest_parallel = PARALLEL_MIN.min(PARALLEL_MIN_VALUE);
        let parallel = shapes.iter().any(|s| numel(s) >= smallest_parallel);
        Plan {
            shapes,
            locs,
            alias,
            sums_into,
            summed_by,
            arena_len: blocks.end,
            parallel,
        }
    }
}

/// Elements of scratch a fused step with column sums needs for output shape `shape`: one
/// row of partials per block of rows.
pub fn column_partials(shape: &[usize]) -> usize {
    let cols = shape.last().copied().unwrap_or(1).max(1);
    (numel(shape) / cols).div_ceil(crate::tensor::kernels::COLUMN_BLOCK) * cols
}

#[cfg(test)]
mod tests {
    use super::Blocks;

    #[test]
    fn blocks_are_reused_and_merged() {
        let mut b = Blocks::default();
        let a = b.take(16);
        let c = b.take(16);
        b.give(a, 16);
        b.give(c, 16);
        assert_eq!(b.free, vec![(0, 32)]);
        assert_eq!(b.take(32), 0);
        assert_eq!(b.end, 32);
    }
}
