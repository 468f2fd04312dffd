//! The program a graph lowers to: [`Program`], its [`Step`]s in topological order, what
//! each step's [`Kernel`] is, and where the outputs, the flat gradient and the parameter
//! updates come from. A program holds no buffers: a [`Plan`](super::Plan) places its values
//! for one binding of the symbolic dimensions, and a [`Function`](super::Function) runs it.

use std::ops::Range;
use std::sync::Arc;

use smallvec::SmallVec;

use super::Options;
use crate::graph::{Dim, NodeId, SymShape};
use crate::ops::{Fused, Op, Structural};
use crate::rewrite::StageLog;
use crate::tensor::Tensor;
use crate::Scalar;

/// One step of a program: a kernel over earlier steps' values.
#[derive(Clone, Debug)]
pub struct Step<T> {
    /// What the step computes.
    pub kernel: Kernel<T>,
    /// Program indices of the inputs.
    pub inputs: SmallVec<[usize; 3]>,
    /// The symbolic shape.
    pub shape: SymShape,
    /// The graph node this came from.
    pub node: NodeId,
    /// The op as the graph prints it (with names and attributes), or `copy`.
    pub label: String,
}

impl<T> Step<T> {
    /// The graph op this step computes, if it computes one (not a leaf, a copy, or column
    /// sums made by another step).
    pub fn op(&self) -> Option<&Op<T>> {
        match &self.kernel {
            Kernel::Op(op) => Some(op),
            _ => None,
        }
    }
}

/// What a step does when the program runs.
#[derive(Clone, Debug)]
pub enum Kernel<T> {
    /// The caller's input array number `i` (call order), read where it lies.
    Input(usize),
    /// A parameter: x from this offset, read in place.
    Param(usize),
    /// The program's constant number `i`.
    Const(usize),
    /// An op's kernel over the step's inputs.
    Op(Op<T>),
    /// A copy of the step's one input: an output or update that is a leaf, or a value that
    /// two of them share, gets a buffer of its own.
    Copy,
    /// A fused elementwise step that also sums the columns of its output into step `sums`
    /// as it goes, each block of rows while it is in cache (made by the column-sum fusion,
    /// `fuse_column_sums`).
    FusedColumnSums {
        /// The fused program.
        fused: Arc<Fused<T>>,
        /// The step whose value (a `sum_to` over every leading axis) it writes.
        sums: usize,
    },
    /// A `sum_to` whose value step `k` writes as it runs (`FusedColumnSums`): nothing to do
    /// when reached.
    SummedBy(usize),
}

impl<T> Kernel<T> {
    /// Whether the step's value is one the call is given (an input, x, a constant).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Kernel::Input(_) | Kernel::Param(_) | Kernel::Const(_))
    }

    /// Whether the step runs a kernel of its own when reached.
    pub fn runs(&self) -> bool {
        !self.is_leaf() && !matches!(self, Kernel::SummedBy(_))
    }
}

/// Where a parameter's range of the flat gradient comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum GradTarget {
    /// No gradient reaches the parameter: its range is zeroed.
    Zero,
    /// The step writes straight into the range.
    Direct(usize),
    /// The step's value is copied into the range at the end.
    Copy(usize),
}

/// A parameter's range of the flat gradient and where it comes from.
#[derive(Clone, Debug)]
pub(super) struct GradOut {
    pub range: Range<usize>,
    pub target: GradTarget,
}

/// What the NaN guard says of one program step.
#[derive(Clone, Debug)]
pub(super) struct NanInfo {
    /// The step's expression, printed (cut after 200 characters).
    pub expr: String,
    /// The user's expression, the gradient rule of node k, or rule R.
    pub origin: String,
    /// The parameters it reads, directly or through its inputs.
    pub reads: Vec<String>,
}

/// A lowered graph: steps in topological order and what a call hands back.
pub struct Program<T: Scalar> {
    pub(super) steps: Vec<Step<T>>,
    pub(super) consts: Vec<Tensor<T>>,
    /// The inputs in call order: names and declared shapes.
    pub(super) input_names: Vec<String>,
    pub(super) input_shapes: Vec<SymShape>,
    /// Per input, whether it holds indices (checked whole on entry).
    pub(super) input_is_index: Vec<bool>,
    /// The steps whose values are the outputs.
    pub(super) outputs: Vec<usize>,
    /// One per parameter of the layout, when the function writes a flat gradient.
    pub(super) grads: Vec<GradOut>,
    pub(super) has_grad: bool,
    /// Ranges of x and the steps whose values are written there after a call.
    pub(super) updates: Vec<(Range<usize>, usize)>,
    /// Per step, the offset into the flat gradient it writes straight into.
    pub(super) direct_grad: Vec<Option<usize>>,
    pub(super) x_len: usize,
    /// The symbols' names, indexed by symbol id, and those the steps' shapes use.
    pub(super) symbols: Vec<String>,
    pub(super) used_symbols: Vec<usize>,
    /// Per step, what the NaN guard reports (empty when the guard is off).
    pub(super) nan_info: Vec<NanInfo>,
    /// Per linear-algebra step (they can fail at call time), its expression printed (cut
    /// after 200 characters) and where it came from, for `Error::Linalg`.
    pub(super) linalg_exprs: std::collections::HashMap<usize, String>,
    pub(super) options: Options,
    pub(super) report: StageLog,
}

impl<T: Scalar> Program<T> {
    /// The steps, in the order they run.
    pub fn steps(&self) -> &[Step<T>] {
        &self.steps
    }

    /// The error for an index step `i` could not use: the op, the index array (an input by
    /// name, or the step that made it) and the value.
    pub(super) fn index_fault(&self, i: usize, fault: &crate::ops::IndexFault) -> crate::Error {
        let step = &self.steps[i];
        // A reshape keeps flat positions: name the input behind it.
        let mut a = step.inputs.last().copied();
        let mut reshaped = false;
        while let Some(Kernel::Op(Op::Structural(Structural::Reshape(_)))) =
            a.map(|a| &self.steps[a].kernel)
        {
            a = a.and_then(|a| self.steps[a].inputs.first().copied());
            reshaped = true;
        }
        let indices = match a.map(|a| (a, &self.steps[a].kernel)) {
            Some((_, Kernel::Input(k))) => format!(
                "input `{}`{}",
                self.input_names[*k],
                if reshaped { " (reshaped)" } else { "" }
            ),
            Some((a, _)) => format!("the indices made by step {a} (`{}`)", self.steps[a].label),
            None => "its indices".into(),
        };
        crate::Error::IndexOutOfRange {
            op: format!("`{}`", step.label),
            indices,
            why: fault.why(),
        }
    }
}

/// The column-sum fusion, the last step of fusion: a `sum_to` that sums every leading axis
/// of a fused step's output (a bias gradient: `[n, k] -> [k]` or `[1, k]`) is computed by
/// that fused step as it runs ([`Kernel::FusedColumnSums`]), while each block of rows is in
/// cache, in the same blocked order as the standalone kernel, so no bit changes. Decided on
/// the symbolic shapes, so it holds for every binding. Returns how many it fused.
pub(super) fn fuse_column_sums<T: Scalar>(steps: &mut [Step<T>]) -> usize {
    let mut fused = 0;
    for j in 0..steps.len() {
        let Kernel::Op(Op::Structural(Structural::SumTo(_))) = steps[j].kernel else {
            continue;
        };
        let i = steps[j].inputs[0];
        let Kernel::Op(Op::Fused(f)) = &steps[i].kernel else {
            continue;
        };
        let (from, to) = (&steps[i].shape, &steps[j].shape);
        let columns = from.len() >= 2
            && !to.is_empty()
            && to.last() == from.last()
            && to[..to.len() - 1].iter().all(|&d| d == Dim::Fixed(1));
        if columns {
            steps[i].kernel = Kernel::FusedColumnSums {
                fused: Arc::clone(f),
                sums: j,
            };
            steps[j].kernel = Kernel::SummedBy(i);
            fused += 1;
        }
    }
    fused
}
