//! `Expr`: a `Copy` handle to a graph node, with operator overloading and the builder methods
//! of every op (the op's file, its `Op` variant and its method share one name).

mod index;

use std::fmt;
use std::ops::{Add, Div, Mul, Neg, Sub};

use smallvec::SmallVec;

use super::{BuildError, Dim, Graph, NodeId, SymShape};
use crate::ops::{Axes, Axis, Binary, Op, Reduce, Structural, Unary};
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

/// Numbers of either kind in expressions, on a graph of either precision: `x * 2`,
/// `x * 0.5`, `x * 0.5f32`, `x / n` for an `n: usize`, and on the left `2 - x`, `1.0 - x`
/// (on the left, integer literals and f64 only: a second float type there would leave
/// `(1.0 - y).log()` without a type). The number becomes a constant of the graph's element
/// type (an integer or an f32 is exact in f64; in an f32 graph the value is rounded to f32
/// once, as JAX's weak types are).
///
/// ```
/// # use symgrad::{dims, Graph, TensorRef};
/// let g = Graph::<f32>::new();
/// let x = g.input("x", dims![2]);
/// let y = (x * 2 + 0.5 - 1.0f32) / 4usize;
/// let z = 2 - x * 0.25f64;
/// let v = TensorRef::new(&[2], &[1.0f32, 3.0]);
/// assert_eq!(y.eval(&[(x, v)])?.data(), &[0.375, 1.375]);
/// assert_eq!(z.eval(&[(x, v)])?.data(), &[1.75, 1.25]);
/// # Ok::<(), symgrad::Error>(())
/// ```
macro_rules! number_into_expr {
    ($($n:ty),*) => {$(
        impl<'g, T: Scalar> IntoExpr<'g, T> for $n {
            fn into_expr(self, g: &'g Graph<T>) -> Expr<'g, T> {
                g.scalar(self as f64)
            }
        }
    )*};
}
number_into_expr!(f64, f32, i32, i64, u32, usize);

impl<'g, T: Scalar> Expr<'g, T> {
    pub(crate) fn new(graph: &'g Graph<T>, id: NodeId) -> Self {
        Expr { graph, id }
    }

    /// The node id.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.scalar(2.0);
    /// assert_eq!(g.expr(x.id()).id(), x.id());
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn id(self) -> NodeId {
        self.id
    }

    /// The graph this handle belongs to.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.scalar(2.0);
    /// assert!(std::ptr::eq(x.graph(), &g));
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn graph(self) -> &'g Graph<T> {
        self.graph
    }

    /// The symbolic shape.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// # use symgrad::{dims, Dim};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n, 3]);
    /// assert_eq!(x.shape().as_slice(), &[Dim::Sym(n), Dim::Fixed(3)]);
    /// assert_eq!(g.fmt_shape(&x.shape()), "[n, 3]");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn shape(self) -> SymShape {
        self.graph.node(self.id).shape.clone()
    }

    /// The shape if every dimension is fixed.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// assert_eq!(g.input("a", [2, 3]).shape_fixed(), Some(vec![2, 3]));
    /// assert_eq!(g.input("b", [n]).shape_fixed(), None);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn shape_fixed(self) -> Option<Vec<usize>> {
        self.graph.fixed_shape(self.id).map(|s| s.to_vec())
    }

    /// The rank.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.input("a", [2, 3]).rank(), 2);
    /// assert_eq!(g.scalar(1.0).rank(), 0);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn rank(self) -> usize {
        self.graph.node(self.id).shape.len()
    }

    /// Applies `op` to this expression and `others`, or says why they do not fit: the
    /// fallible form of every builder (the builders panic with the same message).
    ///
    /// ```
    /// use symgrad::ops::{Binary, Op};
    /// use symgrad::Graph;
    /// let g = Graph::<f64>::new();
    /// let (a, b) = (g.input("a", [3, 4]), g.input("b", [5, 6]));
    /// let err = a.try_op(Op::Binary(Binary::Add), &[b]).unwrap_err();
    /// assert_eq!(err.op, "add");
    /// assert!(err.to_string().contains("[3, 4]"), "{err}");
    /// ```
    pub fn try_op(self, op: Op<T>, others: &[Expr<'g, T>]) -> Result<Self, BuildError> {
        let mut ins: SmallVec<[NodeId; 3]> = SmallVec::new();
        ins.push(self.id);
        for o in others {
            if !std::ptr::eq(o.graph, self.graph) {
                return Err(BuildError {
                    op: op.name(),
                    message: "expressions from two different graphs".into(),
                });
            }
            ins.push(o.id);
        }
        Ok(Expr::new(self.graph, self.graph.try_apply(op, &ins)?))
    }

    fn op(self, op: Op<T>, others: &[Expr<'g, T>]) -> Self {
        self.try_op(op, others)
            .unwrap_or_else(|e| panic!("symgrad: {e}"))
    }

    fn unary(self, u: Unary) -> Self {
        self.op(Op::Unary(u), &[])
    }

    fn binary(self, b: Binary, other: impl IntoExpr<'g, T>) -> Self {
        self.try_binary(b, other)
            .unwrap_or_else(|e| panic!("symgrad: {e}"))
    }

    /// A binary elementwise op with numpy broadcasting, or why the shapes do not broadcast.
    pub fn try_binary(self, b: Binary, other: impl IntoExpr<'g, T>) -> Result<Self, BuildError> {
        let o = other.into_expr(self.graph);
        self.try_op(Op::Binary(b), &[o])
    }

    // ---- elementwise, unary -------------------------------------------------------------

    /// `exp(x)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![0.0, 1.0]));
    /// let y = x.exp().eval(&[])?;
    /// assert_eq!(y.data()[0], 1.0);
    /// assert!((y.data()[1] - std::f64::consts::E).abs() < 1e-15);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn exp(self) -> Self {
        self.unary(Unary::Exp)
    }

    /// Natural logarithm.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![1.0, 0.0]));
    /// let y = x.log().eval(&[])?;
    /// assert_eq!(y.data(), &[0.0, f64::NEG_INFINITY]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn log(self) -> Self {
        self.unary(Unary::Log)
    }

    /// `log(1 + x)`, accurate near 0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([1], vec![1e-10]));
    /// let y = x.log1p().eval(&[])?.data()[0];
    /// assert!((y - (1e-10 - 5e-21)).abs() < 1e-25); // log(1 + x) keeps about 7 digits here
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn log1p(self) -> Self {
        self.unary(Unary::Log1p)
    }

    /// `exp(x) - 1`, accurate near 0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([1], vec![1e-10]));
    /// let y = x.expm1().eval(&[])?.data()[0];
    /// assert!((y - (1e-10 + 5e-21)).abs() < 1e-25);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn expm1(self) -> Self {
        self.unary(Unary::Expm1)
    }

    /// Square root.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![4.0, 2.25]));
    /// assert_eq!(x.sqrt().eval(&[])?.data(), &[2.0, 1.5]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sqrt(self) -> Self {
        self.unary(Unary::Sqrt)
    }

    /// Absolute value.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![-2.0, 3.0]));
    /// assert_eq!(x.abs().eval(&[])?.data(), &[2.0, 3.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn abs(self) -> Self {
        self.unary(Unary::Abs)
    }

    /// Sign: -1, 0 or 1 (its gradient is zero).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![-2.0, 0.0, 3.0]));
    /// assert_eq!(x.sign().eval(&[])?.data(), &[-1.0, 0.0, 1.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sign(self) -> Self {
        self.unary(Unary::Sign)
    }

    /// The same value, held constant by [`grad`](crate::grad()): no gradient flows through
    /// it, to first or second order (JAX's `stop_gradient`, Theano's `zero_grad`, PyTorch's
    /// `detach`). For a target computed from the parameters but not to be differentiated
    /// (Gauss-Newton, moving targets, straight-through estimators). A rewriting compile
    /// removes it after differentiating, so it costs nothing at run time.
    ///
    /// ```
    /// # use symgrad::{dims, grad, Graph, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", dims![2]);
    /// // d/dx [stop(x²) · x] = x², where d/dx [x² · x] would be 3 x².
    /// let f = (x.square().stop_gradient() * x).sum_all();
    /// let d = grad(f, &[x])[0].unwrap();
    /// assert_eq!(d.eval(&[(x, TensorRef::new(&[2], &[1.0, 3.0]))])?.data(), &[1.0, 9.0]);
    /// // Reached only through the stop, the cost does not depend on x.
    /// assert!(grad(x.stop_gradient().sum_all(), &[x])[0].is_none());
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn stop_gradient(self) -> Self {
        self.unary(Unary::StopGradient)
    }

    /// Applies an op of your own ([`CustomOp`](crate::ops::CustomOp)) to `self` and
    /// `others`, as its inputs in that order. See [`crate::ops::CustomOp`] for an example.
    ///
    /// # Panics
    /// If the op's shape rule refuses the inputs, or its arity does not match; use
    /// [`Expr::try_custom`] to have the error instead.
    pub fn custom(
        self,
        op: impl crate::ops::CustomOp<T> + 'static,
        others: &[Expr<'g, T>],
    ) -> Self {
        self.try_custom(op, others)
            .unwrap_or_else(|e| panic!("symgrad: {e}"))
    }

    /// [`Expr::custom`], with a [`BuildError`] for inputs the op refuses.
    pub fn try_custom(
        self,
        op: impl crate::ops::CustomOp<T> + 'static,
        others: &[Expr<'g, T>],
    ) -> Result<Self, BuildError> {
        self.try_op(
            Op::Custom(crate::ops::Custom(std::sync::Arc::new(op))),
            others,
        )
    }

    /// This expression's value, with the gradient with respect to `wrt` given by `rule`
    /// instead of by differentiating the expression (JAX's `custom_vjp`). `rule` gets `wrt`,
    /// the value `y` and its cotangent `gy`, and returns a cotangent per entry of `wrt` as
    /// graph nodes (so the rule can be differentiated again); nothing flows back through the
    /// expression itself. After differentiation the marker is removed from the compiled
    /// program, which computes the expression as written.
    ///
    /// ```
    /// # use symgrad::{dims, grad, Graph, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", dims![3]);
    /// // A straight-through estimator: the value binarizes, the gradient passes as if the
    /// // sign were the identity (where its true derivative is 0 almost everywhere).
    /// let r = x.sign().custom_gradient(&[x], |_, _, gy| vec![Some(gy)]);
    /// let v = TensorRef::new(&[3], &[0.25, 1.5, -0.5]);
    /// assert_eq!(r.eval(&[(x, v)])?.data(), &[1.0, 1.0, -1.0]);
    /// let d = grad((r * x).sum_all(), &[x])[0].unwrap();
    /// // d/dx (r x) = r + x · (dr/dx = 1 by the rule).
    /// assert_eq!(d.eval(&[(x, v)])?.data(), &[1.25, 2.5, -1.5]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn custom_gradient<F>(self, wrt: &[Expr<'g, T>], rule: F) -> Self
    where
        F: for<'h> Fn(&[Expr<'h, T>], Expr<'h, T>, Expr<'h, T>) -> Vec<Option<Expr<'h, T>>>
            + Send
            + Sync
            + 'static,
    {
        self.custom(crate::ops::CustomGradient::new(Box::new(rule)), wrt)
    }

    /// This expression's value, with the cotangent that flows back through it clipped to
    /// `[lo, hi]` elementwise (gradient clipping inside a graph). Removed from the compiled
    /// program after differentiation.
    ///
    /// ```
    /// # use symgrad::{dims, grad, Graph, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", dims![3]);
    /// let d = grad((x.clip_gradient(-1.0, 1.0) * 3.0).sum_all(), &[x])[0].unwrap();
    /// assert_eq!(d.eval(&[(x, TensorRef::new(&[3], &[0.0, 1.0, 2.0]))])?.data(), &[1.0; 3]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn clip_gradient(self, lo: f64, hi: f64) -> Self {
        self.custom(crate::ops::ClipGradient { lo, hi }, &[])
    }

    /// The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`, elementwise (computed in f64 by
    /// Cody's approximations, to about an ulp); its gradient `2/√π e^(-x²)` is a graph, so
    /// it has every order. An exact GELU is `x * (1 + erf(x / √2)) / 2`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![0.5, -2.0]));
    /// let y = x.erf().eval(&[])?;
    /// assert!((y.data()[0] - 0.520_499_877_813_046_5).abs() < 1e-16);
    /// assert!((y.data()[1] + 0.995_322_265_018_952_7).abs() < 1e-16);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn erf(self) -> Self {
        self.unary(Unary::Erf)
    }

    /// `erfc(x) = 1 - erf(x)`, elementwise, computed directly where erf is near 1 (so that
    /// a probit's tail, `log(erfc(x))` for large x, keeps its digits).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![10.0, -1.0]));
    /// let y = x.erfc().eval(&[])?;
    /// assert!((y.data()[0] / 2.088_487_583_762_545e-45 - 1.0).abs() < 1e-14);
    /// assert!((y.data()[1] - 1.842_700_792_949_715).abs() < 1e-15);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn erfc(self) -> Self {
        self.unary(Unary::Erfc)
    }

    /// `log |Γ(x)|` elementwise (`scipy.special.gammaln`, `jax.lax.lgamma`); `+∞` at the
    /// poles `0, -1, -2, ...`. The gradient is [`Expr::digamma`].
    ///
    /// ```
    /// # use symgrad::{grad, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![5.0, 0.5]));
    /// let y = x.lgamma().eval(&[])?;
    /// assert!((y.data()[0] - 24f64.ln()).abs() < 1e-14); // Γ(5) = 4!
    /// assert!((y.data()[1] - std::f64::consts::PI.sqrt().ln()).abs() < 1e-15);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn lgamma(self) -> Self {
        self.unary(Unary::Lgamma)
    }

    /// The digamma function `ψ(x) = d/dx log Γ(x)` elementwise; NaN at the poles. Its
    /// gradient is `polygamma(1)`, the trigamma function.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([1], vec![1.0]));
    /// assert!((x.digamma().eval(&[])?.data()[0] + 0.577_215_664_901_532_9).abs() < 1e-15);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn digamma(self) -> Self {
        self.unary(Unary::Digamma)
    }

    /// The polygamma function `ψ⁽ⁿ⁾(x)` elementwise, the n-th derivative of digamma:
    /// `polygamma(0)` is [`Expr::digamma`], `polygamma(1)` the trigamma function. Its
    /// gradient is `polygamma(n + 1)`, so every order differentiates. In the text form,
    /// `polygamma[1](x)`.
    ///
    /// Orders above [`MAX_POLYGAMMA`](crate::ops::MAX_POLYGAMMA) (170) compute NaN.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([1], vec![1.0]));
    /// let pi2_6 = std::f64::consts::PI.powi(2) / 6.0;
    /// assert!((x.polygamma(1).eval(&[])?.data()[0] - pi2_6).abs() < 1e-14);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn polygamma(self, n: u32) -> Self {
        match n {
            0 => self.digamma(),
            n => self.op(Op::Polygamma(n), &[]),
        }
    }

    /// Hyperbolic tangent.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![0.0, 1.0]));
    /// let y = x.tanh().eval(&[])?;
    /// assert_eq!(y.data()[0], 0.0);
    /// assert!((y.data()[1] - 1f64.tanh()).abs() < 1e-15);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn tanh(self) -> Self {
        self.unary(Unary::Tanh)
    }

    /// Sine (radians).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![0.0, std::f64::consts::FRAC_PI_2]));
    /// assert_eq!(x.sin().eval(&[])?.data(), &[0.0, 1.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sin(self) -> Self {
        self.unary(Unary::Sin)
    }

    /// Cosine (radians).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![0.0, std::f64::consts::PI]));
    /// assert_eq!(x.cos().eval(&[])?.data(), &[1.0, -1.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn cos(self) -> Self {
        self.unary(Unary::Cos)
    }

    /// Logistic sigmoid `1 / (1 + exp(-x))`, computed without overflow.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![-1000.0, 0.0, 1000.0]));
    /// let y = x.sigmoid().eval(&[])?;
    /// assert_eq!(y.data(), &[0.0, 0.5, 1.0]); // no overflow at ±1000
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sigmoid(self) -> Self {
        self.unary(Unary::Sigmoid)
    }

    /// `log(1 + exp(x))`, computed without overflow.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![-1000.0, 0.0, 1000.0]));
    /// let y = x.softplus().eval(&[])?;
    /// assert_eq!(y.data()[0], 0.0);
    /// assert!((y.data()[1] - 2f64.ln()).abs() < 1e-15);
    /// assert_eq!(y.data()[2], 1000.0); // log(1 + exp(1000)) would be infinite
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn softplus(self) -> Self {
        self.unary(Unary::Softplus)
    }

    /// `max(x, 0)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![-1.0, 0.0, 2.0]));
    /// assert_eq!(x.relu().eval(&[])?.data(), &[0.0, 0.0, 2.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn relu(self) -> Self {
        self.unary(Unary::Relu)
    }

    /// `x^n` for an integer `n`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![2.0, -3.0]));
    /// assert_eq!(x.powi(3).eval(&[])?.data(), &[8.0, -27.0]);
    /// assert_eq!(x.powi(-1).eval(&[])?.data(), &[0.5, -1.0 / 3.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn powi(self, n: i32) -> Self {
        self.op(Op::Powi(n), &[])
    }

    /// `x^2`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([1], vec![-3.0]));
    /// assert_eq!(x.square().eval(&[])?.data(), &[9.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn square(self) -> Self {
        self.powi(2)
    }

    // ---- elementwise, binary (numpy broadcasting) ----------------------------------------

    /// `x^e` elementwise (real powers; `x` should be positive where `e` is not an integer).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![4.0, 9.0]));
    /// let y = x.pow(0.5).eval(&[])?;
    /// assert!((y.data()[0] - 2.0).abs() < 1e-14 && (y.data()[1] - 3.0).abs() < 1e-14);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn pow(self, e: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Pow, e)
    }

    /// Elementwise maximum.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![-1.0, 2.0]));
    /// assert_eq!(x.maximum(0.5).eval(&[])?.data(), &[0.5, 2.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn maximum(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Maximum, o)
    }

    /// Elementwise minimum.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![-1.0, 2.0]));
    /// assert_eq!(x.minimum(0.5).eval(&[])?.data(), &[-1.0, 0.5]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn minimum(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Minimum, o)
    }

    /// `x > o` as 1.0 or 0.0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![1.0, 2.0, 3.0]));
    /// assert_eq!(x.gt(2.0).eval(&[])?.data(), &[0.0, 0.0, 1.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn gt(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Gt, o)
    }

    /// `x >= o` as 1.0 or 0.0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![1.0, 2.0, 3.0]));
    /// assert_eq!(x.ge(2.0).eval(&[])?.data(), &[0.0, 1.0, 1.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn ge(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Ge, o)
    }

    /// `x < o` as 1.0 or 0.0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![1.0, 2.0, 3.0]));
    /// assert_eq!(x.lt(2.0).eval(&[])?.data(), &[1.0, 0.0, 0.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn lt(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Lt, o)
    }

    /// `x <= o` as 1.0 or 0.0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![1.0, 2.0, 3.0]));
    /// assert_eq!(x.le(2.0).eval(&[])?.data(), &[1.0, 1.0, 0.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn le(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Le, o)
    }

    /// `x == o` as 1.0 or 0.0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![1.0, 2.0, 3.0]));
    /// assert_eq!(x.equal(2.0).eval(&[])?.data(), &[0.0, 1.0, 0.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn equal(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Eq, o)
    }

    /// `x != o` as 1.0 or 0.0.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![1.0, 2.0, 3.0]));
    /// assert_eq!(x.not_equal(2.0).eval(&[])?.data(), &[1.0, 0.0, 1.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn not_equal(self, o: impl IntoExpr<'g, T>) -> Self {
        self.binary(Binary::Ne, o)
    }

    /// `where(self != 0, a, b)`, broadcasting all three.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2], vec![-1.0, 2.0]));
    /// // |x| as a choice: where x > 0 take x, else -x
    /// assert_eq!(x.gt(0.0).select(x, -x).eval(&[])?.data(), &[1.0, 2.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn select(self, a: impl IntoExpr<'g, T>, b: impl IntoExpr<'g, T>) -> Self {
        let (a, b) = (a.into_expr(self.graph), b.into_expr(self.graph));
        self.op(Op::Where, &[a, b])
    }

    // ---- linear algebra and structure ----------------------------------------------------

    /// Matrix product, numpy `matmul` semantics: 2-D, or batched over leading dimensions
    /// (which broadcast).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// let b = g.constant(Tensor::from_vec([2, 1], vec![1.0, 1.0]));
    /// let c = a.matmul(b).eval(&[])?;
    /// assert_eq!(c.shape(), &[2, 1]);
    /// assert_eq!(c.data(), &[3.0, 7.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn matmul(self, o: Expr<'g, T>) -> Self {
        self.matmul_t(o, false, false)
    }

    /// `op(a) @ op(b)` where `op` transposes the last two axes when its flag is set; the
    /// transpose is folded into the GEMM call, no copy is made.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// // aᵀ a without forming aᵀ: [[1, 3], [2, 4]] · [[1, 2], [3, 4]]
    /// assert_eq!(a.matmul_t(a, true, false).eval(&[])?.data(), &[10.0, 14.0, 14.0, 20.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn matmul_t(self, o: Expr<'g, T>, ta: bool, tb: bool) -> Self {
        ok(self.try_matmul_t(o, ta, tb))
    }

    /// [`Expr::matmul_t`], or why the shapes do not fit.
    pub fn try_matmul_t(self, o: Expr<'g, T>, ta: bool, tb: bool) -> Result<Self, BuildError> {
        self.try_op(Op::MatMul { ta, tb }, &[o])
    }

    /// Swaps the last two axes.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let at = a.t().eval(&[])?;
    /// assert_eq!(at.shape(), &[3, 2]);
    /// assert_eq!(at.data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn t(self) -> Self {
        let r = self.rank();
        assert!(r >= 2, "symgrad: t() needs rank >= 2, got rank {r}");
        let mut perm: SmallVec<[usize; 4]> = (0..r).collect();
        perm.swap(r - 1, r - 2);
        self.transpose(&perm)
    }

    /// `axis` counted from the first axis of this expression (NumPy's negative axes count
    /// from the last), or why it is not one of its axes, as an error of `op`.
    fn resolve_axis(self, op: &'static str, axis: impl Into<Axis>) -> Result<usize, BuildError> {
        axis.into().resolve(self.rank()).map_err(|why| BuildError {
            op,
            message: format!(
                "{why}; inputs: {} of shape {}",
                self.graph.describe(self.id),
                self.graph.fmt_shape(&self.shape())
            ),
        })
    }

    /// [`Expr::resolve_axis`] for each of `axes`.
    fn resolve_axes(
        self,
        op: &'static str,
        axes: &[impl Into<Axis> + Copy],
    ) -> Result<Axes, BuildError> {
        axes.iter().map(|&a| self.resolve_axis(op, a)).collect()
    }

    fn structural(self, s: Structural) -> Result<Self, BuildError> {
        self.try_op(Op::Structural(s), &[])
    }

    fn reduce(self, r: Reduce) -> Result<Self, BuildError> {
        self.try_op(Op::Reduce(r), &[])
    }

    /// Permutes axes: output axis `d` is input axis `perm[d]` (negative entries count from
    /// the last axis).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", [2, 3, 4]);
    /// assert_eq!(x.transpose(&[2, 0, 1]).shape_fixed(), Some(vec![4, 2, 3]));
    /// assert_eq!(x.transpose(&[-1, 0, 1]).shape_fixed(), Some(vec![4, 2, 3]));
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn transpose(self, perm: &[impl Into<Axis> + Copy]) -> Self {
        ok(self.try_transpose(perm))
    }

    /// [`Expr::transpose`], or why `perm` is not a permutation of the axes.
    pub fn try_transpose(self, perm: &[impl Into<Axis> + Copy]) -> Result<Self, BuildError> {
        let perm = self.resolve_axes("transpose", perm)?;
        self.structural(Structural::Transpose(perm))
    }

    /// Reverses the order of the axes, as NumPy's `np.transpose(x)` (and `x.T`) does; the
    /// text form's `transpose(x)`, without a permutation.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", [2, 3, 4]);
    /// assert_eq!(x.transpose_all().shape_fixed(), Some(vec![4, 3, 2]));
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(a.transpose_all().eval(&[])?.data(), &[1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn transpose_all(self) -> Self {
        let perm: Axes = (0..self.rank()).rev().collect();
        self.transpose(&perm)
    }

    /// Reshapes to `shape` (same number of elements).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let r = a.reshape([3, 2]).eval(&[])?;
    /// assert_eq!(r.shape(), &[3, 2]);
    /// assert_eq!(r.data(), &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]); // row-major order kept
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn reshape<D: Into<Dim>>(self, shape: impl IntoIterator<Item = D>) -> Self {
        ok(self.try_reshape(shape))
    }

    /// [`Expr::reshape`], or why the element counts differ.
    pub fn try_reshape<D: Into<Dim>>(
        self,
        shape: impl IntoIterator<Item = D>,
    ) -> Result<Self, BuildError> {
        self.structural(Structural::Reshape(
            shape.into_iter().map(Into::into).collect(),
        ))
    }

    /// Broadcasts to `shape` (numpy rules).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let b = g.constant(Tensor::from_vec([2], vec![1.0, 2.0]));
    /// let r = b.broadcast_to([2, 2]).eval(&[])?;
    /// assert_eq!(r.data(), &[1.0, 2.0, 1.0, 2.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn broadcast_to<D: Into<Dim>>(self, shape: impl IntoIterator<Item = D>) -> Self {
        ok(self.try_broadcast_to(shape))
    }

    /// [`Expr::broadcast_to`], or why this shape does not broadcast to `shape`.
    pub fn try_broadcast_to<D: Into<Dim>>(
        self,
        shape: impl IntoIterator<Item = D>,
    ) -> Result<Self, BuildError> {
        self.structural(Structural::BroadcastTo(
            shape.into_iter().map(Into::into).collect(),
        ))
    }

    /// Sums over the axes that broadcasting `shape` to this shape would create: the
    /// transpose of [`Expr::broadcast_to`].
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// // column sums: the gradient of a bias broadcast over rows
    /// assert_eq!(a.sum_to([2]).eval(&[])?.data(), &[4.0, 6.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sum_to<D: Into<Dim>>(self, shape: impl IntoIterator<Item = D>) -> Self {
        ok(self.try_sum_to(shape))
    }

    /// [`Expr::sum_to`], or why `shape` does not broadcast to this shape.
    pub fn try_sum_to<D: Into<Dim>>(
        self,
        shape: impl IntoIterator<Item = D>,
    ) -> Result<Self, BuildError> {
        self.structural(Structural::SumTo(
            shape.into_iter().map(Into::into).collect(),
        ))
    }

    /// Sum over `axes`, keeping them as size 1 if `keepdims`. Axes are numbers (`usize` or
    /// signed: a negative axis counts from the last, `-1` the last one, as in NumPy).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(a.sum(&[1], false).eval(&[])?.data(), &[3.0, 7.0]);
    /// assert_eq!(a.sum(&[-1], false).eval(&[])?.data(), &[3.0, 7.0]);
    /// assert_eq!(a.sum(&[1], true).eval(&[])?.shape(), &[2, 1]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sum(self, axes: &[impl Into<Axis> + Copy], keepdims: bool) -> Self {
        ok(self.try_sum(axes, keepdims))
    }

    /// [`Expr::sum`], or why the axes do not fit (out of range, given twice).
    ///
    /// ```
    /// # use symgrad::Graph;
    /// let g = Graph::<f64>::new();
    /// let err = g.input("x", [2, 3]).try_sum(&[-3], false).unwrap_err();
    /// assert_eq!(err.op, "sum");
    /// assert!(err.message.starts_with("axis -3 is out of range for rank 2"), "{err}");
    /// ```
    pub fn try_sum(
        self,
        axes: &[impl Into<Axis> + Copy],
        keepdims: bool,
    ) -> Result<Self, BuildError> {
        self.reduce(Reduce::Sum {
            axes: self.resolve_axes("sum", axes)?,
            keepdims,
        })
    }

    /// Sum of all elements (rank 0).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(a.sum_all().eval(&[])?.data(), &[10.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sum_all(self) -> Self {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.sum(&axes, false)
    }

    /// Maximum over `axes` (negative ones count from the last).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 5.0, 3.0, 4.0]));
    /// assert_eq!(a.max(&[0], false).eval(&[])?.data(), &[3.0, 5.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn max(self, axes: &[impl Into<Axis> + Copy], keepdims: bool) -> Self {
        ok(self.try_max(axes, keepdims))
    }

    /// [`Expr::max`], or why the axes do not fit.
    pub fn try_max(
        self,
        axes: &[impl Into<Axis> + Copy],
        keepdims: bool,
    ) -> Result<Self, BuildError> {
        self.reduce(Reduce::Max {
            axes: self.resolve_axes("max", axes)?,
            keepdims,
        })
    }

    /// Maximum of all elements (rank 0).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 5.0, 3.0, 4.0]));
    /// assert_eq!(a.max_all().eval(&[])?.data(), &[5.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn max_all(self) -> Self {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.max(&axes, false)
    }

    /// Minimum over `axes` (negative ones count from the last); the gradient goes to the
    /// minimal elements, shared equally between ties.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 5.0, 3.0, 4.0]));
    /// assert_eq!(a.min(&[0], false).eval(&[])?.data(), &[1.0, 4.0]);
    /// assert_eq!(a.min(&[-1], true).eval(&[])?.data(), &[1.0, 3.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn min(self, axes: &[impl Into<Axis> + Copy], keepdims: bool) -> Self {
        ok(self.try_min(axes, keepdims))
    }

    /// [`Expr::min`], or why the axes do not fit.
    ///
    /// ```
    /// # use symgrad::Graph;
    /// let g = Graph::<f64>::new();
    /// let err = g.input("x", [2, 3]).try_min(&[2], false).unwrap_err();
    /// assert_eq!(err.op, "min");
    /// ```
    pub fn try_min(
        self,
        axes: &[impl Into<Axis> + Copy],
        keepdims: bool,
    ) -> Result<Self, BuildError> {
        self.reduce(Reduce::Min {
            axes: self.resolve_axes("min", axes)?,
            keepdims,
        })
    }

    /// Minimum of all elements (rank 0).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 5.0, -3.0, 4.0]));
    /// assert_eq!(a.min_all().eval(&[])?.data(), &[-3.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn min_all(self) -> Self {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.min(&axes, false)
    }

    /// The number of elements over `axes` (negative ones count from the last), as a rank-0
    /// value known at run time (symbolic dimensions included). Its gradient is zero.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// # use symgrad::{dims, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n, 3]);
    /// let count = x.numel(&[0]); // n, known when x is given
    /// assert_eq!(count.eval(&[(x, TensorRef::new(&[4, 3], &[0.0; 12]))])?.data(), &[4.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn numel(self, axes: &[impl Into<Axis> + Copy]) -> Self {
        ok(self.try_numel(axes))
    }

    /// [`Expr::numel`], or why the axes do not fit.
    pub fn try_numel(self, axes: &[impl Into<Axis> + Copy]) -> Result<Self, BuildError> {
        self.reduce(Reduce::Numel {
            axes: self.resolve_axes("numel", axes)?,
        })
    }

    /// Mean over `axes` (negative ones count from the last): `sum / numel`, so symbolic
    /// dimensions work.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 5.0]));
    /// assert_eq!(a.mean(&[0], false).eval(&[])?.data(), &[2.0, 3.5]);
    /// assert_eq!(a.mean(&[-1], false).eval(&[])?.data(), &[1.5, 4.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn mean(self, axes: &[impl Into<Axis> + Copy], keepdims: bool) -> Self {
        ok(self.try_mean(axes, keepdims))
    }

    /// [`Expr::mean`], or why the axes do not fit.
    pub fn try_mean(
        self,
        axes: &[impl Into<Axis> + Copy],
        keepdims: bool,
    ) -> Result<Self, BuildError> {
        let axes = self.resolve_axes("mean", axes)?;
        self.try_sum(&axes, keepdims)?
            .try_binary(Binary::Div, self.try_numel(&axes)?)
    }

    /// Running sums along `axis` (a negative axis counts from the last), NumPy's `cumsum`;
    /// with `reverse`, from the last element back. Same shape as the input; the gradient is
    /// the cumsum of the cotangent the other way. In the text form, `cumsum[1](x)`,
    /// `cumsum[-1, reverse](x)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// assert_eq!(a.cumsum(1, false).eval(&[])?.data(), &[1.0, 3.0, 6.0, 4.0, 9.0, 15.0]);
    /// assert_eq!(a.cumsum(0, false).eval(&[])?.data(), &[1.0, 2.0, 3.0, 5.0, 7.0, 9.0]);
    /// assert_eq!(a.cumsum(-1, true).eval(&[])?.data(), &[6.0, 5.0, 3.0, 15.0, 11.0, 6.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn cumsum(self, axis: impl Into<Axis>, reverse: bool) -> Self {
        ok(self.try_cumsum(axis, reverse))
    }

    /// [`Expr::cumsum`], or why `axis` does not fit.
    pub fn try_cumsum(self, axis: impl Into<Axis>, reverse: bool) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("cumsum", axis)?;
        self.reduce(Reduce::Cumsum { axis, reverse })
    }

    /// `log(sum(exp(x)))` over `axes` (negative ones count from the last), stable: computed
    /// as `m + log(sum(exp(x - m)))` with `m` the max over the axes (0 where that is
    /// infinite), under `stop_gradient` (it only shifts), so that large inputs do not
    /// overflow and the gradient is exactly the softmax over the axes. In the text form, `logsumexp[1](x)`, or `logsumexp(x)` over
    /// every axis.
    ///
    /// ```
    /// # use symgrad::{grad, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1000.0, 1000.0, 0.0, -1e300]));
    /// let l = a.logsumexp(&[1], false).eval(&[])?;
    /// assert_eq!(l.data(), &[1000.0 + 2f64.ln(), 0.0]);
    /// assert_eq!(a.logsumexp(&[-1], true).eval(&[])?.shape(), &[2, 1]);
    /// let inf = g.constant(Tensor::from_vec([2, 2], vec![f64::INFINITY, 1.0, f64::NEG_INFINITY, f64::NEG_INFINITY]));
    /// assert_eq!(inf.logsumexp(&[1], false).eval(&[])?.data(), &[f64::INFINITY, f64::NEG_INFINITY]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn logsumexp(self, axes: &[impl Into<Axis> + Copy], keepdims: bool) -> Self {
        ok(self.try_logsumexp(axes, keepdims))
    }

    /// [`Expr::logsumexp`], or why the axes do not fit.
    pub fn try_logsumexp(
        self,
        axes: &[impl Into<Axis> + Copy],
        keepdims: bool,
    ) -> Result<Self, BuildError> {
        let axes = self.resolve_axes("logsumexp", axes)?;
        // The max, where finite: at an infinite max the shift would make inf - inf; with 0
        // instead, logsumexp([inf, 1]) is inf and logsumexp([-inf, -inf]) is -inf, as in
        // JAX and SciPy.
        let m = self
            .try_max(&axes, true)
            .map_err(|e| BuildError {
                op: "logsumexp",
                ..e
            })?
            .stop_gradient();
        let m = m.abs().lt(f64::INFINITY).select(m, 0.0);
        let lse = self
            .try_binary(Binary::Sub, m)?
            .exp()
            .try_sum(&axes, true)?
            .log()
            .try_binary(Binary::Add, m)?;
        if keepdims {
            Ok(lse)
        } else {
            // Summing the kept axes of extent 1 drops them.
            lse.try_sum(&axes, false)
        }
    }

    /// Mean of all elements.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 6.0]));
    /// assert_eq!(a.mean_all().eval(&[])?.data(), &[3.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn mean_all(self) -> Self {
        let axes: Vec<usize> = (0..self.rank()).collect();
        self.mean(&axes, false)
    }

    /// `x[.., start..end, ..]` along `axis` (a negative axis counts from the last).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
    /// let s = a.slice(1, 1, 3).eval(&[])?;
    /// assert_eq!(s.shape(), &[2, 2]);
    /// assert_eq!(s.data(), &[2.0, 3.0, 5.0, 6.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn slice(self, axis: impl Into<Axis>, start: usize, end: usize) -> Self {
        ok(self.try_slice(axis, start, end))
    }

    /// [`Expr::slice`], or why the range does not fit the axis (reversed, past its end).
    pub fn try_slice(
        self,
        axis: impl Into<Axis>,
        start: usize,
        end: usize,
    ) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("slice", axis)?;
        if end < start {
            return Err(BuildError {
                op: "slice",
                message: format!("the range {start}..{end} is reversed"),
            });
        }
        self.structural(Structural::Slice {
            axis,
            start,
            len: end - start,
        })
    }

    /// Embeds `x` at `start` along `axis` (a negative axis counts from the last) in zeros
    /// of extent `total` there: the transpose of [`Expr::slice`].
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2], vec![1.0, 2.0]));
    /// assert_eq!(a.pad(0, 1, 4).eval(&[])?.data(), &[0.0, 1.0, 2.0, 0.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn pad(self, axis: impl Into<Axis>, start: usize, total: usize) -> Self {
        ok(self.try_pad(axis, start, total))
    }

    /// [`Expr::pad`], or why this does not fit in `total` at `start`.
    pub fn try_pad(
        self,
        axis: impl Into<Axis>,
        start: usize,
        total: usize,
    ) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("pad", axis)?;
        self.structural(Structural::Pad { axis, start, total })
    }

    /// Concatenation along `axis` (a negative axis counts from the last).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// # use symgrad::Expr;
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2], vec![1.0, 2.0]));
    /// let b = g.constant(Tensor::from_vec([1], vec![3.0]));
    /// assert_eq!(Expr::concat(&[a, b], 0).eval(&[])?.data(), &[1.0, 2.0, 3.0]);
    /// assert_eq!(Expr::concat(&[a, b], -1).eval(&[])?.data(), &[1.0, 2.0, 3.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn concat(parts: &[Expr<'g, T>], axis: impl Into<Axis>) -> Self {
        ok(Self::try_concat(parts, axis))
    }

    /// [`Expr::concat`], or why the parts do not fit together (none given, ranks or sizes
    /// differ, the axis is out of range).
    ///
    /// ```
    /// # use symgrad::{Expr, Graph};
    /// let g = Graph::<f64>::new();
    /// let (a, b) = (g.input("a", [2, 3]), g.input("b", [2, 5]));
    /// assert_eq!(Expr::try_concat(&[a, b], -1)?.shape_fixed(), Some(vec![2, 8]));
    /// let err = Expr::try_concat(&[a, b], 0).unwrap_err();
    /// assert!(err.message.contains("dimensions other than axis 0 differ"), "{err}");
    /// assert!(Expr::<f64>::try_concat(&[], 0).is_err());
    /// # Ok::<(), symgrad::graph::BuildError>(())
    /// ```
    pub fn try_concat(parts: &[Expr<'g, T>], axis: impl Into<Axis>) -> Result<Self, BuildError> {
        let Some((first, rest)) = parts.split_first() else {
            return Err(BuildError {
                op: "concat",
                message: "no expressions to concatenate".into(),
            });
        };
        let axis = first.resolve_axis("concat", axis)?;
        first.try_op(Op::Structural(Structural::Concat { axis }), rest)
    }

    // ---- composites ----------------------------------------------------------------------

    /// Softmax over `axis` (a negative axis counts from the last):
    /// `exp(x - max) / sum(exp(x - max))`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let z = g.constant(Tensor::from_vec([2, 2], vec![1000.0, 1000.0, 0.0, 0.0]));
    /// let p = z.softmax(1).eval(&[])?;
    /// assert_eq!(p.data(), &[0.5, 0.5, 0.5, 0.5]); // exp(1000) would overflow
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn softmax(self, axis: impl Into<Axis>) -> Self {
        ok(self.try_softmax(axis))
    }

    /// [`Expr::softmax`], or why `axis` does not fit.
    pub fn try_softmax(self, axis: impl Into<Axis>) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("softmax", axis)?;
        // The shift by the max changes no value of the result, so no gradient flows through
        // it (JAX's `stop_gradient(x_max)`): no backward pass through the max, and no ties.
        let e = self
            .try_binary(Binary::Sub, self.try_max(&[axis], true)?.stop_gradient())?
            .exp();
        e.try_binary(Binary::Div, e.try_sum(&[axis], true)?)
    }

    /// Log-softmax over `axis` (a negative axis counts from the last):
    /// `(x - max) - log(sum(exp(x - max)))`, the max under `stop_gradient` (it only shifts).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let z = g.constant(Tensor::from_vec([2], vec![0.0, 1000.0]));
    /// let l = z.log_softmax(0).eval(&[])?;
    /// assert_eq!(l.data(), &[-1000.0, 0.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn log_softmax(self, axis: impl Into<Axis>) -> Self {
        ok(self.try_log_softmax(axis))
    }

    /// [`Expr::log_softmax`], or why `axis` does not fit.
    pub fn try_log_softmax(self, axis: impl Into<Axis>) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("log_softmax", axis)?;
        // As in softmax: the max only shifts, and no gradient flows through it.
        let z = self.try_binary(Binary::Sub, self.try_max(&[axis], true)?.stop_gradient())?;
        z.try_binary(Binary::Sub, z.exp().try_sum(&[axis], true)?.log())
    }
}

/// A builder's result, or its panic: mistakes made while building a graph in code panic at
/// once, naming the op, the shapes and the inputs.
fn ok<'g, T: Scalar>(r: Result<Expr<'g, T>, BuildError>) -> Expr<'g, T> {
    r.unwrap_or_else(|e| panic!("symgrad: {e}"))
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
        // On the left, one type per kind of literal: with several, `(1.0 - y).log()` could
        // not know the subtraction's output type before the literal's fallback to f64.
        overload!(@left $Trait, $method, $bin, f64, i32);
    };
    (@left $Trait:ident, $method:ident, $bin:expr, $($n:ty),*) => {$(
        impl<'g, T: Scalar> $Trait<Expr<'g, T>> for $n {
            type Output = Expr<'g, T>;
            fn $method(self, rhs: Expr<'g, T>) -> Expr<'g, T> {
                rhs.graph.scalar(self as f64).binary($bin, rhs)
            }
        }
    )*};
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

// ---- linear algebra (ops/linalg.rs) ---------------------------------------------------------

/// Linear algebra: the builders of the [`Linalg`](crate::ops::Linalg) family. Matrices are
/// the last two axes; leading axes are a batch, the same for every input. A factorization
/// that fails when the function runs (a matrix not positive definite, or singular) is the
/// typed error [`Error::Linalg`](crate::Error::Linalg), never a panic.
impl<'g, T: Scalar> Expr<'g, T> {
    fn linalg(self, l: crate::ops::Linalg, others: &[Expr<'g, T>]) -> Result<Self, BuildError> {
        self.try_op(Op::Linalg(l), others)
    }

    /// The Cholesky factor `L` of a symmetric positive definite matrix: lower triangular,
    /// `L Lᵀ = A`. The input is read as its symmetric part `(A + Aᵀ)/2` (as JAX does), so
    /// its gradient is symmetric. A matrix that is not positive definite is the error
    /// `linalg` at call time. In the text form, `cholesky(a)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![4.0, 2.0, 2.0, 5.0]));
    /// assert_eq!(a.cholesky().eval(&[])?.data(), &[2.0, 0.0, 1.0, 2.0]);
    /// let not_pd = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 2.0, 1.0]));
    /// assert_eq!(not_pd.cholesky().eval(&[]).unwrap_err().kind(), "linalg");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn cholesky(self) -> Self {
        ok(self.try_cholesky())
    }

    /// [`Expr::cholesky`], or why the input is not a (batch of) square matrices.
    pub fn try_cholesky(self) -> Result<Self, BuildError> {
        self.linalg(crate::ops::Linalg::Cholesky, &[])
    }

    /// `X` with `op(A) X = B` for a triangular `A` (this expression; only its `lower` or
    /// upper triangle is read, diagonal included), `op(A) = Aᵀ` when `transpose_a`; `B` is
    /// `[..., n, k]`. In the text form, `solve_triangular[lower](a, b)`,
    /// `solve_triangular[upper, transpose_a](a, b)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let l = g.constant(Tensor::from_vec([2, 2], vec![2.0, 0.0, 1.0, 4.0]));
    /// let b = g.constant(Tensor::from_vec([2, 1], vec![2.0, 9.0]));
    /// assert_eq!(l.solve_triangular(b, true, false).eval(&[])?.data(), &[1.0, 2.0]);
    /// // Lᵀ x = b
    /// assert_eq!(l.solve_triangular(b, true, true).eval(&[])?.data(), &[-0.125, 2.25]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn solve_triangular(self, b: Expr<'g, T>, lower: bool, transpose_a: bool) -> Self {
        ok(self.try_solve_triangular(b, lower, transpose_a))
    }

    /// [`Expr::solve_triangular`], or why the shapes do not fit.
    pub fn try_solve_triangular(
        self,
        b: Expr<'g, T>,
        lower: bool,
        transpose_a: bool,
    ) -> Result<Self, BuildError> {
        let l = crate::ops::Linalg::TriangularSolve { lower, transpose_a };
        self.linalg(l, &[b])
    }

    /// `X` with `A X = B` (this expression is `A`, `[..., n, n]`; `B` is `[..., n, k]`), by
    /// LU with partial pivoting. An exactly singular `A` is the error `linalg` at call time.
    /// In the text form, `solve(a, b)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![0.0, 2.0, 1.0, 1.0]));
    /// let b = g.constant(Tensor::from_vec([2, 1], vec![4.0, 3.0]));
    /// assert_eq!(a.solve(b).eval(&[])?.data(), &[1.0, 2.0]);
    /// let r = g.input("r", [3, 2]);
    /// assert!(a.try_solve(r).unwrap_err().to_string().contains("[3, 2]"));
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn solve(self, b: Expr<'g, T>) -> Self {
        ok(self.try_solve(b))
    }

    /// [`Expr::solve`], or why the shapes do not fit.
    pub fn try_solve(self, b: Expr<'g, T>) -> Result<Self, BuildError> {
        self.linalg(crate::ops::Linalg::Solve, &[b])
    }

    /// The inverse `A⁻¹`, by LU with partial pivoting; an exactly singular `A` is the error
    /// `linalg` at call time. To solve a system, [`Expr::solve`] is cheaper and more
    /// accurate. In the text form, `inv(a)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![2.0, 0.0, 0.0, 4.0]));
    /// assert_eq!(a.inv().eval(&[])?.data(), &[0.5, 0.0, 0.0, 0.25]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn inv(self) -> Self {
        ok(self.try_inv())
    }

    /// [`Expr::inv`], or why the input is not a (batch of) square matrices.
    pub fn try_inv(self) -> Result<Self, BuildError> {
        self.linalg(crate::ops::Linalg::Inverse, &[])
    }

    /// `log|det A|` of each matrix (shape `[...]`, the batch axes), `-inf` for a singular
    /// one; its gradient is `A⁻ᵀ`. With [`Expr::sign_det`], NumPy's `slogdet`. In the text
    /// form, `logdet(a)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![0.0, 2.0, 3.0, 1.0])); // det -6
    /// assert!((a.logdet().eval(&[])?.data()[0] - 6f64.ln()).abs() < 1e-14);
    /// assert_eq!(a.sign_det().eval(&[])?.data(), &[-1.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn logdet(self) -> Self {
        ok(self.try_logdet())
    }

    /// [`Expr::logdet`], or why the input is not a (batch of) square matrices.
    pub fn try_logdet(self) -> Result<Self, BuildError> {
        self.linalg(crate::ops::Linalg::LogDet, &[])
    }

    /// The sign of `det A` (-1, 0 or +1) of each matrix; no gradient flows through it. In
    /// the text form, `sign_det(a)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2, 2], vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0, 1.0]));
    /// assert_eq!(a.sign_det().eval(&[])?.data(), &[1.0, 0.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sign_det(self) -> Self {
        ok(self.try_sign_det())
    }

    /// [`Expr::sign_det`], or why the input is not a (batch of) square matrices.
    pub fn try_sign_det(self) -> Result<Self, BuildError> {
        self.linalg(crate::ops::Linalg::SignDet, &[])
    }

    /// The eigenvalues of the symmetric part `(A + Aᵀ)/2`, ascending (shape `[..., n]`).
    /// Their gradient `V diag(w̄) Vᵀ` is exact; the second derivative goes through the
    /// eigenvectors' (`1/(w_j - w_i)`), so it is right for distinct eigenvalues only. In the
    /// text form, `eigvalsh(a)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![2.0, 1.0, 1.0, 2.0]));
    /// let w = a.eigvalsh().eval(&[])?;
    /// assert!((w.data()[0] - 1.0).abs() < 1e-14 && (w.data()[1] - 3.0).abs() < 1e-14);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn eigvalsh(self) -> Self {
        ok(self.try_eigvalsh())
    }

    /// [`Expr::eigvalsh`], or why the input is not a (batch of) square matrices.
    pub fn try_eigvalsh(self) -> Result<Self, BuildError> {
        self.linalg(crate::ops::Linalg::Eigvalsh, &[])
    }

    /// The unit eigenvectors of `(A + Aᵀ)/2` as columns, in the order of
    /// [`Expr::eigvalsh`] (each column's sign is the solver's choice, so use them in
    /// sign-invariant expressions such as `V diag(f(w)) Vᵀ`). Their gradient divides by
    /// eigenvalue gaps: infinite for repeated eigenvalues. In the text form,
    /// `eigh_vectors(a)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![2.0, 1.0, 1.0, 2.0]));
    /// let v = a.eigh_vectors();
    /// // V diag(w) Vᵀ = A
    /// let w = a.eigvalsh().reshape([1, 2]);
    /// let back = (v * w).matmul_t(v, false, true).eval(&[])?;
    /// for (x, y) in back.data().iter().zip([2.0, 1.0, 1.0, 2.0]) {
    ///     assert!((x - y).abs() < 1e-14);
    /// }
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn eigh_vectors(self) -> Self {
        ok(self.try_eigh_vectors())
    }

    /// [`Expr::eigh_vectors`], or why the input is not a (batch of) square matrices.
    pub fn try_eigh_vectors(self) -> Result<Self, BuildError> {
        self.linalg(crate::ops::Linalg::EighVectors, &[])
    }

    /// The lower triangle of each matrix, diagonal included, zeros above (NumPy's
    /// `tril`); `upper` for the upper triangle (`triu`). In the text form, `tril(a)`,
    /// `triu(a)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let a = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(a.triangle(false).eval(&[])?.data(), &[1.0, 0.0, 3.0, 4.0]);
    /// assert_eq!(a.triangle(true).eval(&[])?.data(), &[1.0, 2.0, 0.0, 4.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn triangle(self, upper: bool) -> Self {
        ok(self.try_triangle(upper))
    }

    /// [`Expr::triangle`], or why the input is not a (batch of) square matrices.
    pub fn try_triangle(self, upper: bool) -> Result<Self, BuildError> {
        use crate::ops::Linalg;
        self.linalg(if upper { Linalg::Triu } else { Linalg::Tril }, &[])
    }
}
