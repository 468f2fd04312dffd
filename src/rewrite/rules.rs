//! The rule tables: simplify, stabilize and fold, each rule with its algebra in one line.
//!
//! A rule looks at one node whose inputs are already rewritten and returns a replacement
//! built in the same graph, or `None`. Commutative patterns are tried both ways round.

use super::{Phase, Rule};
use crate::graph::{Dim, Graph, NodeId};
use crate::ops::{Binary, Op, Reduce, Structural, Unary};
use crate::tensor::{numel, Tensor, TensorRef};
use crate::Scalar;

/// Constant folding leaves results larger than this many elements unfolded (a broadcast
/// of a number to a batch is cheaper to compute than to store).
const FOLD_MAX: usize = 4096;

/// The phases, in the order they run within a round.
pub fn phases<T: Scalar>() -> Vec<Phase<T>> {
    vec![
        Phase {
            name: "simplify",
            doc: "algebraic identities that remove work",
            rules: vec![
                Rule { name: "add_zero", doc: "x + 0 → x, 0 + x → x", exact: false, apply: add_zero },
                Rule { name: "sub_zero", doc: "x - 0 → x", exact: true, apply: sub_zero },
                Rule { name: "zero_sub", doc: "0 - x → -x", exact: false, apply: zero_sub },
                Rule { name: "mul_one", doc: "x · 1 → x, 1 · x → x", exact: true, apply: mul_one },
                Rule { name: "mul_minus_one", doc: "x · -1 → -x, -1 · x → -x", exact: true, apply: mul_minus_one },
                Rule { name: "div_one", doc: "x / 1 → x", exact: true, apply: div_one },
                Rule { name: "neg_neg", doc: "-(-x) → x", exact: true, apply: neg_neg },
                Rule { name: "neg_mul_neg", doc: "-((-a) · b) → a · b, -(a · (-b)) → a · b", exact: true, apply: neg_mul_neg },
                Rule { name: "add_neg", doc: "a + (-b) → a - b, (-a) + b → b - a", exact: true, apply: add_neg },
                Rule { name: "sub_neg", doc: "a - (-b) → a + b", exact: true, apply: sub_neg },
                Rule { name: "powi_one", doc: "x^1 → x", exact: true, apply: powi_one },
                Rule { name: "pow_half", doc: "x ^ 0.5 → sqrt(x), x ^ -0.5 → 1 / sqrt(x) (they differ from pow at -0 and -∞ only)", exact: false, apply: pow_half },
                Rule { name: "pow_integer", doc: "x ^ n, n an integer constant (at most 8 either way: the error of powi grows with n) → powi[n](x): multiplications instead of a call to pow per element", exact: false, apply: pow_integer },
                Rule { name: "exp_log", doc: "exp(log x) → x · where(x >= 0, 1, nan): x where log is defined, NaN below 0 in value and gradient as in the literal graph (at x = 0 the gradient is 1, where the literal's is 0 · ∞ = NaN)", exact: false, apply: exp_log },
                Rule { name: "log_exp", doc: "log(exp x) → x", exact: false, apply: log_exp },
                Rule { name: "mul_reciprocal", doc: "(1 / a) · b → b / a, b · (1 / a) → b / a", exact: false, apply: mul_reciprocal },
                Rule { name: "transpose_transpose", doc: "transpose(transpose(x, p), q) → transpose(x, p∘q), or x", exact: true, apply: transpose_transpose },
                Rule { name: "same_shape", doc: "reshape, broadcast_to, sum_to of x to x's own shape → x", exact: true, apply: same_shape },
                Rule { name: "sum_of_broadcast", doc: "sum of broadcast_to(x) over the new elements → x · n", exact: false, apply: sum_of_broadcast },
                Rule { name: "matmul_transpose", doc: "matmul(tᵀ(a), b) → matmul[ta](a, b): the transpose folds into the GEMM call", exact: false, apply: matmul_transpose },
            ],
        },
        Phase {
            name: "stabilize",
            doc: "forms that stay finite and accurate where the literal one overflows or cancels",
            rules: vec![
                Rule { name: "log1p", doc: "log(1 + x) → log1p(x)", exact: false, apply: log1p },
                Rule { name: "expm1", doc: "exp(x) - 1 → expm1(x)", exact: false, apply: expm1 },
                Rule { name: "softplus", doc: "log1p(exp x) → softplus(x)", exact: false, apply: softplus },
                Rule { name: "log_sigmoid", doc: "log(sigmoid x) → -softplus(-x)", exact: false, apply: log_sigmoid },
                Rule { name: "log_one_minus_sigmoid", doc: "log(1 - sigmoid x) → -softplus(x)", exact: false, apply: log_one_minus_sigmoid },
                Rule { name: "sigmoid", doc: "exp(x) / (1 + exp(x)) → sigmoid(x)", exact: false, apply: sigmoid },
                Rule { name: "log_softmax", doc: "log(exp(z) / s) → z - log(s): log(softmax) as log_softmax", exact: false, apply: log_softmax },
                Rule { name: "logistic_cross_entropy", doc: "t·(-softplus(-z)) + (1 - t)·(-softplus(z)) → t·z - softplus(z)", exact: false, apply: logistic_cross_entropy },
            ],
        },
        Phase {
            name: "fold",
            doc: "constant folding through the ops' own kernels",
            rules: vec![
                Rule { name: "fold_constants", doc: "an op of constants → its value, computed by the op's kernel", exact: true, apply: fold_constants },
                Rule { name: "fold_numel", doc: "numel over fixed dimensions → a constant", exact: true, apply: fold_numel },
            ],
        },
    ]
}

// ---- pattern helpers --------------------------------------------------------------------

/// `stop_gradient(x) → x`: not in any phase, since the phases also run before
/// differentiation, where the op still has work to do; the compiler applies it once every
/// gradient is built.
/// Ops of your own that only mark gradients ([`CustomOp::is_identity`]: `clip_gradient`,
/// `custom_gradient`) go the same way: their value is their first input's.
///
/// [`CustomOp::is_identity`]: crate::ops::CustomOp::is_identity
pub fn strip_stop_gradient<T: Scalar>() -> Rule<T> {
    Rule {
        name: "strip_stop_gradient",
        doc: "stop_gradient(x) → x, and gradient markers (clip_gradient, custom_gradient) → \
              their value, after differentiation",
        exact: true,
        apply: |g, id| {
            let n = g.node(id);
            match &n.op {
                Op::Custom(c) if c.0.is_identity() => Some(n.inputs[0]),
                _ => unary_of(g, id, Unary::StopGradient),
            }
        },
    }
}

fn unary_of<T: Scalar>(g: &Graph<T>, id: NodeId, u: Unary) -> Option<NodeId> {
    let n = g.node(id);
    matches!(n.op, Op::Unary(v) if v == u).then(|| n.inputs[0])
}

fn binary_of<T: Scalar>(g: &Graph<T>, id: NodeId, b: Binary) -> Option<(NodeId, NodeId)> {
    let n = g.node(id);
    matches!(n.op, Op::Binary(v) if v == b).then(|| (n.inputs[0], n.inputs[1]))
}

/// The value of a constant whose elements are all equal (or a broadcast of one).
fn const_value<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<f64> {
    let n = g.node(id);
    match &n.op {
        Op::Const(t) => {
            let d = t.data();
            let first = *d.first()?;
            d.iter()
                .all(|v| v.to_f64_lossless().to_bits() == first.to_f64_lossless().to_bits())
                .then(|| first.to_f64_lossless())
        }
        Op::Structural(Structural::BroadcastTo(_)) => const_value(g, n.inputs[0]),
        _ => None,
    }
}

fn is_value<T: Scalar>(g: &Graph<T>, id: NodeId, v: f64) -> bool {
    const_value(g, id).is_some_and(|c| c == v && c.is_sign_negative() == v.is_sign_negative())
}

/// The handle of a node, for building replacements.
fn e<T: Scalar>(g: &Graph<T>, id: NodeId) -> crate::graph::Expr<'_, T> {
    g.expr(id)
}

// ---- simplify -----------------------------------------------------------------------------

fn add_zero<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Add)?;
    if is_value(g, b, 0.0) {
        Some(a)
    } else if is_value(g, a, 0.0) {
        Some(b)
    } else {
        None
    }
}

fn sub_zero<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Sub)?;
    is_value(g, b, 0.0).then_some(a)
}

fn zero_sub<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Sub)?;
    is_value(g, a, 0.0).then(|| (-e(g, b)).id())
}

fn mul_one<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Mul)?;
    if is_value(g, b, 1.0) {
        Some(a)
    } else if is_value(g, a, 1.0) {
        Some(b)
    } else {
        None
    }
}

fn mul_minus_one<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Mul)?;
    if is_value(g, b, -1.0) {
        Some((-e(g, a)).id())
    } else if is_value(g, a, -1.0) {
        Some((-e(g, b)).id())
    } else {
        None
    }
}

fn div_one<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Div)?;
    is_value(g, b, 1.0).then_some(a)
}

fn neg_neg<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    unary_of(g, unary_of(g, id, Unary::Neg)?, Unary::Neg)
}

fn neg_mul_neg<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, unary_of(g, id, Unary::Neg)?, Binary::Mul)?;
    if let Some(na) = unary_of(g, a, Unary::Neg) {
        return Some((e(g, na) * e(g, b)).id());
    }
    let nb = unary_of(g, b, Unary::Neg)?;
    Some((e(g, a) * e(g, nb)).id())
}

fn add_neg<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Add)?;
    if let Some(nb) = unary_of(g, b, Unary::Neg) {
        return Some((e(g, a) - e(g, nb)).id());
    }
    let na = unary_of(g, a, Unary::Neg)?;
    Some((e(g, b) - e(g, na)).id())
}

fn sub_neg<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Sub)?;
    let nb = unary_of(g, b, Unary::Neg)?;
    Some((e(g, a) + e(g, nb)).id())
}

fn powi_one<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let n = g.node(id);
    matches!(n.op, Op::Powi(1)).then(|| n.inputs[0])
}

/// Exponents up to this size either way become `powi`. Binary powering's relative error
/// grows with the exponent (about |n| - 1 roundings' worth, where `pow` is within an ulp), so
/// larger ones stay calls to `pow`.
const POW_INTEGER_MAX: f64 = 8.0;

/// `(x, n)` for `x ^ n` with `n` a constant that does not broadcast `x` (a constant exponent
/// of a larger shape broadcasts the base: an op of `x` alone would not).
fn pow_by_constant<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<(NodeId, f64)> {
    let (a, b) = binary_of(g, id, Binary::Pow)?;
    let n = const_value(g, b)?;
    (e(g, id).shape() == e(g, a).shape()).then_some((a, n))
}

fn pow_integer<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, n) = pow_by_constant(g, id)?;
    (n.fract() == 0.0 && n.abs() <= POW_INTEGER_MAX).then(|| e(g, a).powi(n as i32).id())
}

fn pow_half<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, n) = pow_by_constant(g, id)?;
    if n == 0.5 {
        Some(e(g, a).sqrt().id())
    } else if n == -0.5 {
        Some((1.0 / e(g, a).sqrt()).id())
    } else {
        None
    }
}

/// `exp(log x)` is `x` only where `log x` is defined: the factor keeps the literal graph's
/// NaN below 0, in the value and, since the gradient of `x · k` is `k`, in the gradient.
fn exp_log<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let x = e(g, unary_of(g, unary_of(g, id, Unary::Exp)?, Unary::Log)?);
    Some((x * x.ge(0.0).select(1.0, f64::NAN)).id())
}

fn log_exp<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    unary_of(g, unary_of(g, id, Unary::Log)?, Unary::Exp)
}

fn mul_reciprocal<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Mul)?;
    for (r, other) in [(a, b), (b, a)] {
        if let Some((one, den)) = binary_of(g, r, Binary::Div) {
            if is_value(g, one, 1.0) {
                return Some((e(g, other) / e(g, den)).id());
            }
        }
    }
    None
}

fn transpose_transpose<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (q, inner) = {
        let n = g.node(id);
        let Op::Structural(Structural::Transpose(q)) = &n.op else {
            return None;
        };
        (q.clone(), n.inputs[0])
    };
    let (p, x) = {
        let n = g.node(inner);
        let Op::Structural(Structural::Transpose(p)) = &n.op else {
            return None;
        };
        (p.clone(), n.inputs[0])
    };
    // Output axis d of the outer is its input axis q[d], which is x's axis p[q[d]].
    let composed: Vec<usize> = q.iter().map(|&d| p[d]).collect();
    if composed.iter().enumerate().all(|(i, &d)| i == d) {
        Some(x)
    } else {
        Some(e(g, x).transpose(&composed).id())
    }
}

fn same_shape<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let n = g.node(id);
    match &n.op {
        Op::Structural(Structural::Reshape(_))
        | Op::Structural(Structural::BroadcastTo(_))
        | Op::Structural(Structural::SumTo(_)) => {
            let x = n.inputs[0];
            (g.node(x).shape == n.shape).then_some(x)
        }
        _ => None,
    }
}

fn sum_of_broadcast<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (shape, src) = {
        let n = g.node(id);
        let all_axes = match &n.op {
            Op::Reduce(Reduce::Sum {
                axes,
                keepdims: false,
            }) => axes.len() == g.node(n.inputs[0]).shape.len(),
            Op::Structural(Structural::SumTo(_)) => true,
            _ => false,
        };
        if !all_axes {
            return None;
        }
        (n.shape.clone(), n.inputs[0])
    };
    let (bshape, x) = {
        let b = g.node(src);
        let Op::Structural(Structural::BroadcastTo(_)) = &b.op else {
            return None;
        };
        (b.shape.clone(), b.inputs[0])
    };
    // The sum must reduce x's broadcast copies exactly back to x's shape (or to a number
    // when x is one).
    let xs = g.node(x).shape.clone();
    let fixed = |s: &[Dim]| -> Option<usize> {
        s.iter()
            .map(|d| match d {
                Dim::Fixed(k) => Some(*k),
                Dim::Sym(_) => None,
            })
            .product()
    };
    let back = shape == xs || (fixed(&shape) == Some(1) && fixed(&xs) == Some(1));
    if !back {
        return None;
    }
    let copies = fixed(&bshape)? / fixed(&xs)?.max(1);
    let r = e(g, x) * copies as f64;
    Some(if r.shape() == shape {
        r.id()
    } else {
        r.reshape(shape).id()
    })
}

fn matmul_transpose<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (ta, tb, a, b) = {
        let n = g.node(id);
        let Op::MatMul { ta, tb } = n.op else {
            return None;
        };
        (ta, tb, n.inputs[0], n.inputs[1])
    };
    let swapped = |x: NodeId| -> Option<NodeId> {
        let n = g.node(x);
        let Op::Structural(Structural::Transpose(p)) = &n.op else {
            return None;
        };
        let r = p.len();
        let last_two =
            r >= 2 && (0..r - 2).all(|i| p[i] == i) && p[r - 2] == r - 1 && p[r - 1] == r - 2;
        last_two.then(|| n.inputs[0])
    };
    if let Some(a0) = swapped(a) {
        return Some(e(g, a0).matmul_t(e(g, b), !ta, tb).id());
    }
    let b0 = swapped(b)?;
    Some(e(g, a).matmul_t(e(g, b0), ta, !tb).id())
}

// ---- stabilize ----------------------------------------------------------------------------

/// `1 + x` or `x + 1`: returns x.
fn one_plus<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Add)?;
    if is_value(g, a, 1.0) {
        Some(b)
    } else if is_value(g, b, 1.0) {
        Some(a)
    } else {
        None
    }
}

fn log1p<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let x = one_plus(g, unary_of(g, id, Unary::Log)?)?;
    Some(e(g, x).log1p().id())
}

fn expm1<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Sub)?;
    if !is_value(g, b, 1.0) {
        return None;
    }
    let x = unary_of(g, a, Unary::Exp)?;
    Some(e(g, x).expm1().id())
}

fn softplus<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let x = unary_of(g, unary_of(g, id, Unary::Log1p)?, Unary::Exp)?;
    Some(e(g, x).softplus().id())
}

fn log_sigmoid<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let x = unary_of(g, unary_of(g, id, Unary::Log)?, Unary::Sigmoid)?;
    Some((-(-e(g, x)).softplus()).id())
}

fn log_one_minus_sigmoid<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (one, s) = binary_of(g, unary_of(g, id, Unary::Log)?, Binary::Sub)?;
    if !is_value(g, one, 1.0) {
        return None;
    }
    let x = unary_of(g, s, Unary::Sigmoid)?;
    Some((-e(g, x).softplus()).id())
}

fn sigmoid<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (num, den) = binary_of(g, id, Binary::Div)?;
    let x = unary_of(g, num, Unary::Exp)?;
    (one_plus(g, den)? == num).then(|| e(g, x).sigmoid().id())
}

fn log_softmax<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (num, s) = binary_of(g, unary_of(g, id, Unary::Log)?, Binary::Div)?;
    let z = unary_of(g, num, Unary::Exp)?;
    Some((e(g, z) - e(g, s).log()).id())
}

/// `t · (-softplus(-z))` in either order: returns (t, z).
fn t_log_sigmoid<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<(NodeId, NodeId)> {
    let (a, b) = binary_of(g, id, Binary::Mul)?;
    for (t, f) in [(a, b), (b, a)] {
        let inner = unary_of(g, f, Unary::Neg).and_then(|s| unary_of(g, s, Unary::Softplus));
        if let Some(z) = inner.and_then(|nz| unary_of(g, nz, Unary::Neg)) {
            return Some((t, z));
        }
    }
    None
}

/// `(1 - t) · (-softplus(z))` in either order: returns (t, z).
fn t_log_one_minus_sigmoid<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<(NodeId, NodeId)> {
    let (a, b) = binary_of(g, id, Binary::Mul)?;
    for (w, f) in [(a, b), (b, a)] {
        let Some((one, t)) = binary_of(g, w, Binary::Sub) else {
            continue;
        };
        if !is_value(g, one, 1.0) {
            continue;
        }
        if let Some(z) = unary_of(g, f, Unary::Neg).and_then(|s| unary_of(g, s, Unary::Softplus)) {
            return Some((t, z));
        }
    }
    None
}

fn logistic_cross_entropy<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (a, b) = binary_of(g, id, Binary::Add)?;
    for (p, q) in [(a, b), (b, a)] {
        if let (Some((t1, z1)), Some((t2, z2))) =
            (t_log_sigmoid(g, p), t_log_one_minus_sigmoid(g, q))
        {
            if t1 == t2 && z1 == z2 {
                let (t, z) = (e(g, t1), e(g, z1));
                return Some((t * z - z.softplus()).id());
            }
        }
    }
    None
}

// ---- fold ---------------------------------------------------------------------------------

fn fold_constants<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let (op, inputs, shape) = {
        let n = g.node(id);
        if n.op.is_leaf() || matches!(n.op, Op::Fused(_)) {
            return None;
        }
        (n.op.clone(), n.inputs.clone(), g.fixed_shape(id)?)
    };
    if numel(&shape) > FOLD_MAX {
        return None;
    }
    let consts: Vec<Tensor<T>> = inputs
        .iter()
        .map(|&i| match &g.node(i).op {
            Op::Const(t) => Some(t.clone()),
            _ => None,
        })
        .collect::<Option<_>>()?;
    let refs: Vec<TensorRef<'_, T>> = consts.iter().map(|t| t.view()).collect();
    let mut out = vec![T::zero(); numel(&shape)];
    // A kernel that fails (an index out of range, a factorization that fails) is not
    // folded: it is left to run time, where it is a typed error.
    op.eval(&refs, &mut out, &shape).ok()?;
    Some(g.constant(Tensor::from_vec(shape.to_vec(), out)).id())
}

fn fold_numel<T: Scalar>(g: &Graph<T>, id: NodeId) -> Option<NodeId> {
    let count = {
        let n = g.node(id);
        let Op::Reduce(Reduce::Numel { axes }) = &n.op else {
            return None;
        };
        let x = g.node(n.inputs[0]);
        let mut count = 1usize;
        for &a in axes {
            match x.shape[a] {
                // Left unfolded if it overflows: the planner refuses such a shape.
                Dim::Fixed(k) => count = usize::checked_mul(count, k)?,
                Dim::Sym(_) => return None,
            }
        }
        count
    };
    Some(g.scalar(count as f64).id())
}
