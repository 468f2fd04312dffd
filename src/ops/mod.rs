//! The closed set of primitive ops. Each op's shape rule, kernel call and vector-Jacobian
//! rule live together in one file; this module only dispatches to them.
//!
//! | file | ops |
//! | --- | --- |
//! | `elementwise.rs` | the unary and binary tables, `powi`, `where` |
//! | `matmul.rs` | `matmul` with transpose flags, 2-D and batched |
//! | `structural.rs` | `transpose`, `reshape`, `broadcast_to`, `sum_to`, `slice`, `pad`, `concat` |
//! | `reduce.rs` | `sum`, `max`, `numel` |
//!
//! Composites (`mean`, `softmax`, `log_softmax`, `square`, `-`, `/` against numbers) are
//! builder methods on `Expr` that expand into these primitives, so they need no rule.

mod elementwise;
mod fused;
mod matmul;
mod reduce;
mod structural;

use smallvec::SmallVec;

pub use elementwise::{Binary, Operand, Unary};
pub use fused::{Arg, Fused, FusedOp, CHUNK, MAX_SLOTS};

use std::sync::Arc;

use crate::graph::{Dim, Expr, SymShape};
use crate::params::ParamId;
use crate::tensor::kernels::{map3, Strided};
use crate::tensor::{Tensor, TensorRef};
use crate::Scalar;

/// A list of axes.
pub type Axes = SmallVec<[usize; 4]>;

/// A primitive operation. Leaves (`Input`, `Param`, `Const`) have no inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Op<T> {
    /// A named array given at call time.
    Input {
        /// Its name.
        name: String,
    },
    /// A parameter: a view of a range of the flat vector x.
    Param {
        /// Its id in the layout.
        id: ParamId,
        /// Its name in the layout.
        name: String,
        /// Offset of its first element in x.
        offset: usize,
    },
    /// A constant array.
    Const(Tensor<T>),
    /// An elementwise function of one argument.
    Unary(Unary),
    /// `x^n` for an integer `n`.
    Powi(i32),
    /// An elementwise function of two broadcast arguments.
    Binary(Binary),
    /// `where(c, a, b)`, broadcasting all three.
    Where,
    /// `op(a) @ op(b)`, `op` transposing the last two axes when its flag is set.
    MatMul {
        /// Transpose `a`.
        ta: bool,
        /// Transpose `b`.
        tb: bool,
    },
    /// Axis permutation: output axis `d` is input axis `perm[d]`.
    Transpose(Axes),
    /// Same elements, new shape.
    Reshape(SymShape),
    /// Broadcast to a shape.
    BroadcastTo(SymShape),
    /// Sum down to a shape that broadcasts to the input's.
    SumTo(SymShape),
    /// Sum over axes.
    Sum {
        /// Axes summed.
        axes: Axes,
        /// Keep summed axes as size 1.
        keepdims: bool,
    },
    /// Maximum over axes.
    Max {
        /// Axes reduced.
        axes: Axes,
        /// Keep reduced axes as size 1.
        keepdims: bool,
    },
    /// The number of elements over axes, a rank-0 value (works for symbolic dimensions).
    Numel {
        /// Axes counted.
        axes: Axes,
    },
    /// A range along one axis.
    Slice {
        /// The axis.
        axis: usize,
        /// First index kept.
        start: usize,
        /// Number of indices kept.
        len: usize,
    },
    /// Embedding into zeros along one axis (the transpose of `Slice`).
    Pad {
        /// The axis.
        axis: usize,
        /// Where the input starts.
        start: usize,
        /// The output's extent along the axis.
        total: usize,
    },
    /// Concatenation along one axis.
    Concat {
        /// The axis.
        axis: usize,
    },
    /// Elementwise ops fused into one pass over memory (made by the fusion pass after
    /// differentiation; it has no gradient rule).
    Fused(Arc<Fused<T>>),
}

impl<T: Scalar> Op<T> {
    /// The op's name, as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Param { .. } => "param",
            Op::Const(_) => "const",
            Op::Unary(u) => u.name(),
            Op::Powi(_) => "powi",
            Op::Binary(b) => b.name(),
            Op::Where => "where",
            Op::MatMul { .. } => "matmul",
            Op::Transpose(_) => "transpose",
            Op::Reshape(_) => "reshape",
            Op::BroadcastTo(_) => "broadcast_to",
            Op::SumTo(_) => "sum_to",
            Op::Sum { .. } => "sum",
            Op::Max { .. } => "max",
            Op::Numel { .. } => "numel",
            Op::Slice { .. } => "slice",
            Op::Pad { .. } => "pad",
            Op::Concat { .. } => "concat",
            Op::Fused(_) => "fused",
        }
    }

    /// Whether the op is a leaf (input, parameter or constant).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Input { .. } | Op::Param { .. } | Op::Const(_))
    }

    /// Whether the op maps elements one to one (same shape in and out, after broadcasting).
    pub fn is_elementwise(&self) -> bool {
        matches!(self, Op::Unary(_) | Op::Powi(_) | Op::Binary(_) | Op::Where)
    }

    /// The shape rule: the output's shape from the inputs', or why they do not fit.
    pub fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {
                Err("a leaf has no inputs".into())
            }
            Op::Unary(_) | Op::Powi(_) => Ok(ins[0].iter().copied().collect()),
            Op::Binary(_) => broadcast_shapes(ins[0], ins[1]),
            Op::Where => broadcast_shapes(&broadcast_shapes(ins[0], ins[1])?, ins[2]),
            Op::MatMul { ta, tb } => matmul::shape(ins[0], ins[1], *ta, *tb),
            Op::Transpose(perm) => structural::transpose_shape(ins[0], perm),
            Op::Reshape(to) => structural::reshape_shape(ins[0], to),
            Op::BroadcastTo(to) => structural::broadcast_to_shape(ins[0], to),
            Op::SumTo(to) => structural::sum_to_shape(ins[0], to),
            Op::Sum { axes, keepdims } | Op::Max { axes, keepdims } => {
                reduce::shape(ins[0], axes, *keepdims)
            }
            Op::Numel { axes } => reduce::shape(ins[0], axes, false).map(|_| SymShape::new()),
            Op::Slice { axis, start, len } => structural::slice_shape(ins[0], *axis, *start, *len),
            Op::Pad { axis, start, total } => structural::pad_shape(ins[0], *axis, *start, *total),
            Op::Concat { axis } => structural::concat_shape(ins, *axis),
            Op::Fused(f) => {
                if ins.len() != f.inputs() {
                    return Err(format!("takes {} operands, got {}", f.inputs(), ins.len()));
                }
                ins.iter()
                    .try_fold(SymShape::new(), |acc, s| broadcast_shapes(&acc, s))
            }
        }
    }

    /// The number of inputs the op takes, or `None` for any number (`concat`, `fused`).
    pub fn arity(&self) -> Option<usize> {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => Some(0),
            Op::Unary(_) | Op::Powi(_) => Some(1),
            Op::Binary(_) | Op::MatMul { .. } => Some(2),
            Op::Where => Some(3),
            Op::Concat { .. } | Op::Fused(_) => None,
            _ => Some(1),
        }
    }

    /// Computes the op into `out` (shape `out_shape`) from concrete inputs.
    ///
    /// The caller (the compiled program) guarantees the shapes agree with the shape rule
    /// and that `out` aliases no input.
    pub fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], out_shape: &[usize]) {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {
                unreachable!("leaves are not evaluated")
            }
            Op::Unary(u) => u.kernel(ins[0].data, out),
            Op::Powi(n) => {
                let n = *n;
                crate::tensor::kernels::map_pieces(ins[0].data, out, |a, o| {
                    elementwise::powi_slice(a, o, n)
                })
            }
            Op::Binary(b) => {
                let sa = Strided::broadcast(ins[0].data, ins[0].shape, out_shape);
                let sb = Strided::broadcast(ins[1].data, ins[1].shape, out_shape);
                b.kernel(&sa, &sb, out, out_shape)
            }
            Op::Where => {
                let [c, a, b] =
                    [0, 1, 2].map(|k| Strided::broadcast(ins[k].data, ins[k].shape, out_shape));
                map3(out, out_shape, &c, &a, &b, |c, a, b| {
                    if c != T::zero() {
                        a
                    } else {
                        b
                    }
                })
            }
            Op::MatMul { ta, tb } => matmul::eval(ins[0], ins[1], *ta, *tb, out, out_shape),
            Op::Transpose(perm) => {
                crate::tensor::kernels::transpose(ins[0].data, ins[0].shape, perm, out)
            }
            Op::Reshape(_) => out.copy_from_slice(ins[0].data),
            Op::BroadcastTo(_) => structural::broadcast_to_eval(ins[0], out, out_shape),
            Op::SumTo(_) => reduce::sum_eval(ins[0], out, out_shape),
            Op::Sum { axes, .. } => {
                reduce::sum_eval(ins[0], out, &reduce::keep_shape(ins[0].shape, axes))
            }
            Op::Max { axes, .. } => {
                reduce::max_eval(ins[0], out, &reduce::keep_shape(ins[0].shape, axes))
            }
            Op::Numel { axes } => {
                out[0] =
                    T::from_f64(axes.iter().map(|&a| ins[0].shape[a]).product::<usize>() as f64)
            }
            Op::Slice { axis, start, len } => {
                crate::tensor::kernels::slice(ins[0].data, ins[0].shape, *axis, *start, *len, out)
            }
            Op::Pad { axis, start, .. } => {
                out.fill(T::zero());
                crate::tensor::kernels::place(
                    ins[0].data,
                    ins[0].shape,
                    *axis,
                    *start,
                    out,
                    out_shape,
                )
            }
            Op::Concat { axis } => structural::concat_eval(ins, *axis, out, out_shape),
            Op::Fused(f) => f.eval(ins, out, out_shape, None),
        }
    }

    /// The vector-Jacobian rule: cotangents of the inputs that `needs` marks, as graph
    /// nodes, given the inputs `x`, the output `y` and its cotangent `gy`. A cotangent may
    /// come at a broadcast shape; `grad` sums it back to its input's shape.
    pub fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        needs: &[bool],
    ) -> SmallVec<[Option<Expr<'g, T>>; 3]> {
        let mut out: SmallVec<[Option<Expr<'g, T>>; 3]> = SmallVec::new();
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {}
            Op::Unary(u) => out.push(u.vjp(x[0], y, gy)),
            Op::Powi(n) => out.push(elementwise::powi_vjp(x[0], *n, gy)),
            Op::Binary(b) => out.extend(b.vjp(x[0], x[1], y, gy, [needs[0], needs[1]])),
            Op::Where => {
                out.push(None);
                out.extend(elementwise::where_vjp(x[0], gy, [needs[1], needs[2]]));
            }
            Op::MatMul { ta, tb } => {
                out.extend(matmul::vjp(x[0], x[1], *ta, *tb, gy, [needs[0], needs[1]]))
            }
            Op::Transpose(perm) => out.push(Some(structural::transpose_vjp(perm, gy))),
            Op::Reshape(_) => out.push(Some(gy.reshape(x[0].shape()))),
            Op::BroadcastTo(_) => out.push(Some(gy.sum_to(x[0].shape()))),
            Op::SumTo(_) => out.push(Some(gy.broadcast_to(x[0].shape()))),
            Op::Sum { axes, keepdims } => {
                out.push(Some(reduce::sum_vjp(x[0], axes, *keepdims, gy)))
            }
            Op::Max { axes, keepdims } => {
                out.push(Some(reduce::max_vjp(x[0], y, axes, *keepdims, gy)))
            }
            Op::Numel { .. } => out.push(None),
            Op::Slice { axis, start, .. } => {
                let total = structural::fixed_dim(&x[0].shape(), *axis);
                out.push(Some(gy.pad(*axis, *start, total)))
            }
            Op::Pad { axis, start, .. } => {
                let len = structural::fixed_dim(&x[0].shape(), *axis);
                out.push(Some(gy.slice(*axis, *start, *start + len)))
            }
            Op::Concat { axis } => out.extend(structural::concat_vjp(x, *axis, gy, needs)),
            Op::Fused(_) => panic!(
                "symgrad: fused nodes are made after differentiation and have no gradient rule"
            ),
        }
        out
    }
}

/// numpy broadcasting of two symbolic shapes: right-aligned, equal or 1.
pub fn broadcast_shapes(a: &[Dim], b: &[Dim]) -> Result<SymShape, String> {
    let r = a.len().max(b.len());
    let mut out = SymShape::with_capacity(r);
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            Dim::Fixed(1)
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            Dim::Fixed(1)
        };
        out.push(match (da, db) {
            _ if da == db => da,
            (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => d,
            _ => return Err("shapes do not broadcast".to_string()),
        });
    }
    Ok(out)
}
