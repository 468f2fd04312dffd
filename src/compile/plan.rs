//! Buffer planning: concrete shapes for one binding of the symbolic dimensions, and a place
//! for every node's value (the arena, x, a caller's array, a constant, or the flat gradient).
//!
//! Arena blocks are reused by liveness: a node's block is taken when the node runs and
//! returned after its last consumer runs. The output block is taken before the inputs' blocks
//! are returned, so no kernel writes over one of its own inputs, except where that is planned:
//! a fused elementwise step may take over the block of a same-size input whose value dies at
//! that step (in place; its kernel reads each chunk before it writes it). Outputs and update
//! values stay live to the end of the call, where the caller reads them.

use super::program::{GradTarget, Kernel, Program};
use crate::error::{Error, Result};
use crate::graph::Dim;
use crate::ops::Op;
use crate::tensor::gemm::PARALLEL_MIN_VALUE;
use crate::tensor::kernels::PARALLEL_MIN;
use crate::tensor::{checked_numel, numel, Shape};
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
    /// For a step that also sums its output's columns ([`Kernel::FusedColumnSums`]): the
    /// arena offset of the scratch for the sums' partials (`column_partials` elements).
    pub scratch: Vec<Option<usize>>,
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
    /// A block of at least `len` elements; `None` if the arena's end would pass `usize::MAX`
    /// (the caller then refuses the plan: no offset may wrap).
    fn take(&mut self, len: usize) -> Option<usize> {
        let len = len.div_ceil(ALIGN).max(1).checked_mul(ALIGN)?;
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
                Some(off)
            }
            None => {
                // Grow, absorbing a free block that ends the arena.
                if let Some(&(off, l)) = self.free.last() {
                    if off + l == self.end {
                        self.free.pop();
                        self.end = off.checked_add(len)?;
                        return Some(off);
                    }
                }
                let off = self.end;
                self.end = self.end.checked_add(len)?;
                Some(off)
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

/// Plans buffers for `program` with the symbol values `binding` (indexed by symbol id).
///
/// Every size is computed with checked arithmetic, and the finished plan is checked
/// against the buffers it points into ([`Plan::check_bounds`]): a binding whose values
/// could not exist (an element count that wraps, an arena past `isize::MAX` bytes) is
/// [`Error::TooLarge`], never a wrapped size handed to a kernel.
pub(super) fn plan<T: Scalar>(program: &Program<T>, binding: &[usize]) -> Result<Plan> {
    let steps = &program.steps;
    let n = steps.len();
    let mut shapes: Vec<Shape> = Vec::with_capacity(n);
    for (i, step) in steps.iter().enumerate() {
        let shape: Shape = step
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(k) => *k,
                Dim::Sym(s) => binding[s.0 as usize],
            })
            .collect();
        if checked_numel::<T>(&shape).is_none() {
            return Err(Error::TooLarge {
                what: format!("step {i} (`{}`)", step.label),
                why: format!(
                    "its shape {:?} holds more elements than any array can",
                    &shape[..]
                ),
            });
        }
        shapes.push(shape);
    }
    let too_large = || Error::TooLarge {
        what: "the buffer plan".into(),
        why: "the intermediate values need more elements than fit in memory".into(),
    };
    // Last consumer of each node; roots live to the end.
    let mut last = vec![0usize; n];
    for (i, step) in steps.iter().enumerate() {
        for &a in &step.inputs {
            last[a] = last[a].max(i);
        }
    }
    for &o in program
        .outputs
        .iter()
        .chain(program.updates.iter().map(|u| &u.1))
    {
        last[o] = usize::MAX;
    }
    for t in &program.grads {
        if let GradTarget::Copy(p) = t.target {
            last[p] = usize::MAX;
        }
    }
    let mut locs = vec![Loc::Arena(0); n];
    let mut alias = vec![None; n];
    let mut scratch = vec![None; n];
    let mut blocks = Blocks::default();
    for i in 0..n {
        let step = &steps[i];
        // A `sum_to` that a fused step computes was placed with that step.
        if !matches!(step.kernel, Kernel::SummedBy(_)) {
            // In place: a fused step may take over the block of a same-size input whose value
            // dies at this step (and that it reads once); its kernel reads each chunk of that
            // input before writing the chunk.
            let fused = matches!(
                step.kernel,
                Kernel::Op(Op::Fused(_)) | Kernel::FusedColumnSums { .. }
            );
            let reuse = if program.options.in_place && fused && program.direct_grad[i].is_none() {
                step.inputs.iter().enumerate().find_map(|(k, &a)| {
                    let once = step.inputs.iter().filter(|&&b| b == a).count() == 1;
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
            locs[i] = match step.kernel {
                Kernel::Input(slot) => Loc::Input(slot),
                Kernel::Param(offset) => Loc::X(offset),
                Kernel::Const(k) => Loc::Const(k),
                _ => match (program.direct_grad[i], reuse) {
                    (Some(off), _) => Loc::Grad(off),
                    (None, Some((k, a, off))) => {
                        alias[i] = Some(k);
                        // The block now belongs to this step: not returned with the input.
                        last[a] = usize::MAX - 1;
                        Loc::Arena(off)
                    }
                    (None, None) => {
                        Loc::Arena(blocks.take(numel(&shapes[i])).ok_or_else(too_large)?)
                    }
                },
            };
            if let Kernel::FusedColumnSums { sums: j, .. } = step.kernel {
                // The sums are written while this step runs: their place, and the scratch for
                // their partials, are taken now, while this step's inputs are still held, so
                // they overlap nothing this step reads. The scratch is returned at once.
                locs[j] = match program.direct_grad[j] {
                    Some(off) => Loc::Grad(off),
                    None => Loc::Arena(blocks.take(numel(&shapes[j])).ok_or_else(too_large)?),
                };
                let len = column_partials(&shapes[i]);
                let off = blocks.take(len).ok_or_else(too_large)?;
                blocks.give(off, len);
                scratch[i] = Some(off);
            }
        }
        for &a in &step.inputs {
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
    if checked_numel::<T>(&[blocks.end]).is_none() {
        return Err(too_large());
    }
    let plan = Plan {
        shapes,
        locs,
        alias,
        scratch,
        arena_len: blocks.end,
        parallel,
    };
    let const_lens: Vec<usize> = program.consts.iter().map(|c| c.data().len()).collect();
    plan.check_bounds(program.x_len, &const_lens)?;
    Ok(plan)
}

impl Plan {
    /// Checks that every location lies inside the buffer it names, whatever the shape rules
    /// and the allocator said: an arena block (and a column-sum scratch) inside
    /// `arena_len`, a parameter's or a gradient's range inside x's length, a constant of its
    /// node's size. The evaluator builds slices from these locations in unsafe code; this is
    /// the check that makes that sound (callers' inputs are checked against their shapes
    /// when they are bound). A failure is a bug in symgrad, reported as an error rather than
    /// a read out of bounds.
    pub fn check_bounds(&self, x_len: usize, const_lens: &[usize]) -> Result<()> {
        let inside =
            |off: usize, len: usize, end: usize| off.checked_add(len).is_some_and(|e| e <= end);
        for (i, (shape, loc)) in self.shapes.iter().zip(&self.locs).enumerate() {
            let len = numel(shape);
            let ok = match *loc {
                Loc::Arena(off) => inside(off, len, self.arena_len),
                Loc::X(off) | Loc::Grad(off) => inside(off, len, x_len),
                Loc::Const(k) => const_lens.get(k) == Some(&len),
                Loc::Input(_) => true,
            };
            let scratch_ok = match self.scratch[i] {
                Some(off) => inside(off, column_partials(shape), self.arena_len),
                None => true,
            };
            if !ok || !scratch_ok {
                return Err(Error::TooLarge {
                    what: format!("step {i}"),
                    why: format!(
                        "planned at {loc:?} for shape {:?}, outside its buffer (arena {}, x {x_len}): \
                         a bug in symgrad's planner, please report it",
                        &shape[..],
                        self.arena_len
                    ),
                });
            }
        }
        Ok(())
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
        let a = b.take(16).unwrap();
        let c = b.take(16).unwrap();
        b.give(a, 16);
        b.give(c, 16);
        assert_eq!(b.free, vec![(0, 32)]);
        assert_eq!(b.take(32), Some(0));
        assert_eq!(b.end, 32);
    }

    /// The mistake caught: a planner bug that places a value past the end of its buffer is
    /// handed to the evaluator, which builds a slice from it in unsafe code. Each kind of
    /// location one element too far is refused; exactly at the end is accepted.
    #[test]
    fn check_bounds_refuses_a_location_past_its_buffer() {
        use super::{Loc, Plan};
        let plan = |loc: Loc, scratch: Option<usize>| Plan {
            shapes: vec![smallvec::smallvec![2, 8]],
            locs: vec![loc],
            alias: vec![None],
            scratch: vec![scratch],
            arena_len: 32,
            parallel: false,
        };
        let (x_len, consts) = (20, [16]);
        assert!(plan(Loc::Arena(16), None)
            .check_bounds(x_len, &consts)
            .is_ok());
        assert!(plan(Loc::Arena(17), None)
            .check_bounds(x_len, &consts)
            .is_err());
        assert!(plan(Loc::Arena(usize::MAX - 4), None)
            .check_bounds(x_len, &consts)
            .is_err()); // the end wraps
        assert!(plan(Loc::X(4), None).check_bounds(x_len, &consts).is_ok());
        assert!(plan(Loc::X(5), None).check_bounds(x_len, &consts).is_err());
        assert!(plan(Loc::Grad(5), None)
            .check_bounds(x_len, &consts)
            .is_err());
        assert!(plan(Loc::Const(0), None)
            .check_bounds(x_len, &consts)
            .is_ok());
        assert!(plan(Loc::Const(0), None)
            .check_bounds(x_len, &[15])
            .is_err());
        assert!(plan(Loc::Const(1), None)
            .check_bounds(x_len, &consts)
            .is_err());
        // A column-sum scratch of one row of 8 partials (2 rows fit one block).
        assert!(plan(Loc::Arena(0), Some(24))
            .check_bounds(x_len, &consts)
            .is_ok());
        assert!(plan(Loc::Arena(0), Some(25))
            .check_bounds(x_len, &consts)
            .is_err());
    }

    /// The mistake caught: an arena end that wraps past `usize::MAX` and hands out an offset
    /// that overlaps earlier blocks.
    #[test]
    fn blocks_refuse_to_wrap() {
        let mut b = Blocks::default();
        assert!(b.take(usize::MAX / 2).is_some());
        assert_eq!(b.take(usize::MAX / 2 + 64), None);
        assert_eq!(b.take(usize::MAX), None); // rounding up to the alignment overflows
    }
}
