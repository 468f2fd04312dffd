//! `Expr`: a `Copy` handle to a graph node, with operator overloading and the builder methods
//! of every op (the op's file, its `Op` variant and its method share one name).

use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

use smallvec::SmallVec;

use super::{Dim, Graph, NodeId, SymShape};
use crate::ops::{Binary, Op, Unary};
use crate::Scalar;

/// A handle to a node of a [`Graph`]. Cheap to copy; arithmetic on handles appends nodes.
///
/// ```
/// use symgrad::{dims, Graph};
/// let g = Graph::<f32>::new();
/// let b = g.symbol("batch");
/// let x = g.input("x", dims![b, 3]);
/// let y = (x * 2.0 + 1.0).sigmoid().sum_all();
/// assert_eq!(y.rank(), 0);
/// ```
#[derive(Clone, Copy)]
pub struct Expr<'g, T: Scalar> {
    graph: &'g Graph<T>,
    id: NodeId,
}

impl<T: Scalar> fmt::Debug for Expr<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Expr({} = {})", self.id, self.graph.describe(self.id))
    }
}

/// Anything that can stand where an expression is expected: an [`Expr`] or a plain `f64`
/// (made a rank-0 constant).
pub trait IntoExpr<'g, T: Scalar> {
    /// Converts into a node of `g`.
    fn into_expr(self, g: &'g Graph<T>) -> Expr<'g, T>;
}

impl<'g, T: Scalar> IntoExpr<'g, T> for Expr<'g, T> {
    fn into_expr(self, g: &'g Graph<T>) -> Expr<'g, T> {
        assert!(
            std::ptr::eq(self.graph, g),
            "symgrad: expressions from two different graphs"
        );
        self
    }
}

impl<'g, T: Scalar> IntoExpr<'g, T> for f64 {
    fn into_expr(self, g: &'g Graph<T>) -> Expr<'g, T> {
        g.scalar(self)
    }
}

impl<'g, T: Scalar> Expr<'g, T> {
    pub(crate) fn new(graph: &'g Graph<T>, id: NodeId) -> Self {
        Expr { graph, id }
    }

    /// The node id.
    pub fn id(self) -> NodeId {
        self.id
    }

    /// The graph this handle belongs to.
    pub fn graph(self) -> &'g Graph<T> {
        self.graph
    }

    /// The symbolic shape.
    pub fn shape(self) -> SymShape {
        self.graph.node(self.id).shape.clone()
    }

    /// The shape if every dimension is fixed.
    pub fn shape_fixed(self) -> Option<Vec<usize>> {
        self.graph.fixed_shape(self.id).map(|s| s.to_vec())
    }

    /// The rank.
    pub fn rank(self) -> usize {
        self.graph.node(self.id).shape.len()
    }

    fn op(self, op: Op<T>, others: &[Expr<'g, T>]) -> Self {
        let mut ins: SmallVec<[NodeId; 3]> = SmallVec::new();
        ins.push(self.id);
        for o in others {
            assert!(
                std::ptr::eq(o.graph, self.graph),
                "symgrad: expressions from two different graphs"
            );
            ins.push(o.id);
        }
        Expr::new(self.graph, self.graph.apply(op, &ins))
    }

    fn unary(self, u: Unary) -> Self {
        self.op(Op::Unary(u), &[])
    }

    fn binary(self, b: Binary, other: impl IntoExpr<'g, T>) -> Self {
        let o = other.into_expr(self.graph);
        self.op(Op::Binary(b), &[o])
    }

    // ---- elementwise, unary -------------------------------------------------------------

    /// `exp(x)`.
    pub fn exp(self) -> Self {
        self.unary(Unary::Exp)
    }
    /// Natural logarithm.
    pub fn log(self) -> Self {
        self.unary(Unary::Log)
    }
    /// `log(1 + x)`, accurate near 0.
    pub fn log1p(self) -> Self {
        self.unary(Unary::Log1p)
    }
    /// `exp(x) - 1`, accurate near 0.
    pub fn expm1(self) -> Self {
        self.unary(Unary::Expm1)
    }
    /// Square root.
    pub fn sqrt(self) -> Self {
        self.unary(Unary::Sqrt)
    }
    /// Absolute value.
    pub fn abs(self) -> Self {
        self.unary(Unary::Abs)
    }
    /// Sign: -1, 0 or 1 (its gradient is zero).
    pub fn sign(self) -> Self {
        self.unary(Unary::Sign)
    }
    /// Hyperbolic tangent.
    pub fn tanh(self) -> Self {
        self.unary(Unary::Tanh)
    }
    /// Logistic sigmoid `1 / (1 + exp(-x))`, computed without overflow.
    pub fn sigmoid(self) -> Self {
        self.unary(Unary::Sigmoid)
    }
    /// `log(1 + exp(x))`, computed without overflow.
    pub fn softplus(self) -> Self {
        self.unary(Unary::Softplus)
    }
    /// `max(x, 0)`.
    pub fn relu(self) -> Self {
        self.unary(Unary::Relu)
    }
    /// `x^n` for an integer `n`.
    pub fn powi(self, n: i32) -> Self {
        self.op(Op::Powi(n), &[])
    }
    /// `x^2`.
    pub fn square(self) -> Self {
        self.powi(2)
    }

    // ---- elementwise, binary (numpy broadcasting) ----------------------------------------

    /// `x^e` elementwise (real powers; `x` should be positive where `e` is not an integer).
    pub fn pow(self, e: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Pow, e)
    }
    /// Elementwise maximum.
    pub fn maximum(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Maximum, o)
    }
    /// Elementwise minimum.
    pub fn minimum(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Minimum, o)
    }
    /// `x > o` as 1.0 or 0.0.
    pub fn gt(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Gt, o)
    }
    /// `x >= o` as 1.0 or 0.0.
    pub fn ge(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Ge, o)
    }
    /// `x < o` as 1.0 or 0.0.
    pub fn lt(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Lt, o)
    }
    /// `x <= o` as 1.0 or 0.0.
    pub fn le(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Le, o)
    }
    /// `x == o` as 1.0 or 0.0.
    pub fn equal(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Eq, o)
    }
    /// `x != o` as 1.0 or 0.0.
    pub fn not_equal(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Ne, o)
    }
    /// `where(self != 0, a, b)`, broadcasting all three.
    pub fn select(self, a: impl IntoExpr<'g, T>, b: impl IntoExpr<'g, T>) -> Self {
        let (a, b) = (a.into_expr(self.graph), b.into_expr(self.graph));
        self.op(Op::Where, &[a, b])
    }

    // ---- linear algebra and structure ----------------------------------------------------

    /// Matrix product, numpy `matmul` semantics: 2-D, or batched over leading dimensions
    /// (which broadcast).
    pub fn matmul(self, o: Expr<'g, T>) -> Self {
        self.op(
            Op::MatMul {
                ta: false,
                tb: false,
            },
            &[o],
        )
    }
    /// `op(a) @ op(b)` where `op` transposes the last two axes when its flag is set; the
    /// transpose is folded into the GEMM call, no copy is made.
    pub fn matmul_t(self, o: Expr<'g, T>, ta: bool, tb: bool) -> Self {
        self.op(Op::MatMul { ta, tb }, &[o])
    }
    /// Swaps the last two axes.
    pub fn t(self) -> Self {
        let r = self.rank();
        assert!(r >= 2, "symgrad: t() needs rank >= 2, got rank {r}");
        let mut perm: SmallVec<[usize; 4]> = (0..r).collect();
        perm.swap(r - 1, r - 2);
        self.transpose(&perm)
    }
    /// Permutes axes: output axis `d` is input axis `perm[d]`.
    pub fn transpose(self, perm: &[usize]) -> Self {
        self.op(Op::Transpose(perm.iter().copied().collect()), &[])
    }
    /// Reshapes to `shape` (same number of elements).
    pub fn reshape<D: Into<Dim>>(self, shape: impl IntoIterator<Item = D>) -> Self {
        self.op(
            Op::Reshape(shape.into_iter().map(Into::into).collect()),
            &[],
        )
    }
    /// Broadcasts to `shape` (numpy rules).
    pub fn broadcast_to<D: Into<Dim>>(self, shape: impl IntoIterator<Item = D>) -> Self {
        self.op(
            Op::BroadcastTo(shape.into_iter().map(Into::into).collect()),
            &[],
        )
    }
    /// Sums over the axes that broadcasting `shape` to this shape would create: the
    /// transpose of [`Expr::broadcast_to`].
    pub fn sum_to<D: Into<Dim>>(self, shape: impl IntoIterator<Item = D>) -> Self {
        self.op(Op::SumTo(shape.into_iter().map(Into::into).collect()), &[])
    }
    /// Sum over `axes`, keeping them as size 1 if `keepdims`.
    pub fn sum(self, axes: &[usize], keepdims: bool) -> Self {
        self.op(
            Op::Sum {
                axes: axes.iter().copied().collect(),
                keepdims,
            },
            &[],
        )
    }
    /// Sum of all elements (rank 0).
    pub fn sum_all(self) -> Self {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.sum(&axes, false)
    }
    /// Maximum over `axes`.
    pub fn max(self, axes: &[usize], keepdims: bool) -> Self {
        self.op(
            Op::Max {
                axes: axes.iter().copied().collect(),
                keepdims,
            },
            &[],
        )
    }
    /// Maximum of all elements (rank 0).
    pub fn max_all(self) -> Self {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.max(&axes, false)
    }
    /// The number of elements over `axes`, as a rank-0 value known at run time (symbolic
    /// dimensions included). Its gradient is zero.
    pub fn numel(self, axes: &[usize]) -> Self {
        self.op(
            Op::Numel {
                axes: axes.iter().copied().collect(),
            },
            &[],
        )
    }
    /// Mean over `axes`: `sum / numel`, so symbolic dimensions work.
    pub fn mean(self, axes: &[usize], keepdims: bool) -> Self {
        self.sum(axes, keepdims) / self.numel(axes)
    }
    /// Mean of all elements.
    pub fn mean_all(self) -> Self {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.mean(&axes, false)
    }
    /// `x[.., start..end, ..]` along `axis`.
    pub fn slice(self, axis: usize, start: usize, end: usize) -> Self {
        assert!(end >= start, "symgrad: slice {start}..{end} is reversed");
        self.op(
            Op::Slice {
                axis,
                start,
                len: end - start,
            },
            &[],
        )
    }
    /// Embeds `x` at `start` along `axis` in zeros of extent `total` there: the transpose
    /// of [`Expr::slice`].
    pub fn pad(self, axis: usize, start: usize, total: usize) -> Self {
        self.op(Op::Pad { axis, start, total }, &[])
    }
    /// Concatenation along `axis`.
    pub fn concat(parts: &[Expr<'g, T>], axis: usize) -> Self {
        let (first, rest) = parts
            .split_first()
            .expect("symgrad: concat of no expressions");
        first.op(Op::Concat { axis }, rest)
    }

    // ---- composites ----------------------------------------------------------------------

    /// Softmax over `axis`: `exp(x - max) / sum(exp(x - max))`.
    pub fn softmax(self, axis: usize) -> Self {
        let e = (self - self.max(&[axis], true)).exp();
        e / e.sum(&[axis], true)
    }
    /// Log-softmax over `axis`: `(x - max) - log(sum(exp(x - max)))`.
    pub fn log_softmax(self, axis: usize) -> Self {
        let z = self - self.max(&[axis], true);
        z - z.exp().sum(&[axis], true).log()
    }
}

/// `where(c, a, b)`: `a` where `c` is non-zero, else `b`, broadcasting all three.
pub fn where_<'g, T: Scalar>(
    c: Expr<'g, T>,
    a: impl IntoExpr<'g, T>,
    b: impl IntoExpr<'g, T>,
) -> Expr<'g, T> {
    c.select(a, b)
}

macro_rules! overload {
    ($Trait:ident, $method:ident, $bin:expr) => {
        impl<'g, T: Scalar, R: IntoExpr<'g, T>> $Trait<R> for Expr<'g, T> {
            type Output = Expr<'g, T>;
            fn $method(self, rhs: R) -> Expr<'g, T> {
                self.binary($bin, rhs)
            }
        }
        impl<'g, T: Scalar> $Trait<Expr<'g, T>> for f64 {
            type Output = Expr<'g, T>;
            fn $method(self, rhs: Expr<'g, T>) -> Expr<'g, T> {
                rhs.graph.scalar(self).binary($bin, rhs)
            }
        }
    };
}

overload!(Add, add, Binary::Add);
overload!(Sub, sub, Binary::Sub);
overload!(Mul, mul, Binary::Mul);
overload!(Div, div, Binary::Div);

impl<'g, T: Scalar> Neg for Expr<'g, T> {
    type Output = Expr<'g, T>;
    fn neg(self) -> Expr<'g, T> {
        self.unary(Unary::Neg)
    }
}
