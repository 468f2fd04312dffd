//! What a NumPy or JAX user expects at the edges: the safe-`where` gradient under
//! broadcasting, and the derivatives chosen at non-differentiable points (ties of
//! `maximum`/`minimum`, `abs` at 0, `x ^ y` at x = 0), each against its closed form; and
//! NumPy's negative axes, reversed transpose and `min` in the builders.

mod common;
use common::run;
use symgrad::grad::hessian_vector;
use symgrad::{dims, grad, where_, Expr, Graph};

/// `m` of shape [3, 4]: column 0 and 1 never taken, column 2 taken twice, column 3 once.
const M: [f64; 12] = [
    0.0, 0.0, 1.0, 0.0, //
    0.0, 0.0, 1.0, 1.0, //
    0.0, 0.0, 0.0, 0.0,
];
/// `x` of shape [4]: 0 (sqrt's rule is 0/0 there) and -1 (sqrt is NaN) in the columns not
/// taken.
const X: [f64; 4] = [0.0, -1.0, 4.0, 1.0];

// Mistake caught: the mask of a safe `where` dropped when the branch taken broadcasts
// (`sqrt(x)` of shape [4] under a condition of [3, 4]), so that sqrt's rule gives NaN (0/0 at
// x = 0, NaN below) in the columns no row takes, where the gradient is 0; also when the
// broadcast happens one op further in (`sqrt(x) + b`), and when the condition is the smaller
// operand. The case: `sum(where(m > 0.5, sqrt(x), 0))`. To second order too, where
// a chain (`log(exp(2 sqrt x))`) reaches `sqrt(x)` by two paths in the Hessian-vector
// product, each under its own copy of the mask, and the mask was dropped where they met.
#[test]
fn safe_where_keeps_its_mask_when_the_branch_broadcasts() {
    let g = Graph::<f64>::new();
    let m = g.input("m", dims![3, 4]);
    let x = g.input("x", dims![4]);
    let b = g.input("b", dims![3, 4]);
    let v = g.input("v", dims![4]);
    // d/dx_j = (rows taken in column j) / (2 sqrt x_j): 0, 0, 2 / 4, 1 / 2.
    let want = [0.0, 0.0, 0.5, 0.5];
    let costs = [
        where_(m.gt(0.5), x.sqrt(), 0.0).sum_all(),
        where_(m.gt(0.5), x.sqrt() + b, 0.0).sum_all(),
        where_(m.gt(0.5), (x.sqrt() * 2.0).exp().log() * 0.5, 0.0).sum_all(),
    ];
    let bv = [0.5; 12];
    for f in costs {
        let dx = grad(f, &[x])[0].unwrap();
        let at: [(Expr<'_, f64>, &[usize], &[f64]); 3] =
            [(m, &[3, 4], &M), (x, &[4], &X), (b, &[3, 4], &bv)];
        let got = run(dx, &at);
        assert_eq!(got.data(), &want, "{}", g.expr_text(&[dx.id()]));
        // Second order: d²/dx_j² = -(rows taken) / (4 x_j^1.5), 0 where nothing is taken.
        let hv = hessian_vector(f, &[x], &[v])[0].unwrap();
        let ones = [1.0; 4];
        let at = [at[0], at[1], at[2], (v, &[4][..], &ones[..])];
        let h = run(hv, &at);
        let want_h = [0.0, 0.0, -2.0 / (4.0 * 8.0), -1.0 / 4.0];
        for (a, w) in h.data().iter().zip(&want_h) {
            assert!((a - w).abs() < 1e-12, "H v = {:?}", h.data());
        }
    }
    // The condition smaller than the branch: c [4] over sqrt(x2) with x2 [3, 4].
    let c = g.input("c", dims![4]);
    let x2 = g.input("x2", dims![3, 4]);
    let f = where_(c.gt(0.5), x2.sqrt(), 0.0).sum_all();
    let dx2 = grad(f, &[x2])[0].unwrap();
    let xv = [
        0.0, -1.0, 4.0, 1.0, 0.0, -1.0, 4.0, 1.0, 0.0, -1.0, 4.0, 1.0,
    ];
    let got = run(dx2, &[(c, &[4], &[0.0, 0.0, 1.0, 1.0]), (x2, &[3, 4], &xv)]);
    assert_eq!(got.data(), &[0.0, 0.0, 0.25, 0.5].repeat(3)[..]);
}

/// The gradients of `f(a, b)` (a scalar) at `a`, `b` (each of shape [n]).
fn grads2(
    f: impl for<'g> Fn(Expr<'g, f64>, Expr<'g, f64>) -> Expr<'g, f64>,
    av: &[f64],
    bv: &[f64],
) -> (Vec<f64>, Vec<f64>) {
    let g = Graph::<f64>::new();
    let a = g.input("a", [av.len()]);
    let b = g.input("b", [bv.len()]);
    let d = grad(f(a, b), &[a, b]);
    let at: [(Expr<'_, f64>, &[usize], &[f64]); 2] = [(a, &[av.len()], av), (b, &[bv.len()], bv)];
    let get = |e: Option<Expr<'_, f64>>| run(e.unwrap(), &at).data().to_vec();
    (get(d[0]), get(d[1]))
}

// Mistake caught: the gradient of `maximum`/`minimum` at a tie given whole to the first
// argument, where JAX (and symgrad's own `max` reduction) share it evenly, so that
// `maximum(a, b)` and `maximum(b, a)` had different gradients at a = b. Away from ties one
// argument takes all of it; a NaN takes none.
#[test]
fn maximum_and_minimum_split_the_gradient_evenly_at_ties() {
    let av = [1.0, 2.0, 3.0, -0.0, f64::INFINITY];
    let bv = [1.0, 1.0, 4.0, 0.0, f64::INFINITY];
    let (da, db) = grads2(|a, b| a.maximum(b).sum_all(), &av, &bv);
    assert_eq!(da, [0.5, 1.0, 0.0, 0.5, 0.5]);
    assert_eq!(db, [0.5, 0.0, 1.0, 0.5, 0.5]);
    let (db2, da2) = grads2(|b, a| a.maximum(b).sum_all(), &bv, &av);
    assert_eq!(
        (da2, db2),
        (da, db),
        "maximum(b, a) differs from maximum(a, b)"
    );
    let (da, db) = grads2(|a, b| a.minimum(b).sum_all(), &av, &bv);
    assert_eq!(da, [0.5, 0.0, 1.0, 0.5, 0.5]);
    assert_eq!(db, [0.5, 1.0, 0.0, 0.5, 0.5]);
    // The reduction agrees: max over the pair stacked along a new axis.
    let (da, db) = grads2(
        |a, b| {
            let stacked = Expr::concat(&[a.reshape([5usize, 1]), b.reshape([5usize, 1])], 1);
            stacked.max(&[1], false).sum_all()
        },
        &av,
        &bv,
    );
    assert_eq!(da, [0.5, 1.0, 0.0, 0.5, 0.5]);
    assert_eq!(db, [0.5, 0.0, 1.0, 0.5, 0.5]);
}

// Mistakes caught: `abs` or `relu` given a nonzero derivative at 0 (symgrad keeps 0 there:
// `sign`'s value for abs, as PyTorch and TensorFlow; JAX gives abs +1), and d/dy of `x ^ y`
// NaN at x = 0 (`y log x` = 0 · -∞), where 0 ^ y is flat in y for y > 0 and JAX gives 0.
#[test]
fn abs_relu_and_pow_at_zero_follow_the_documented_conventions() {
    let xv = [0.0, -0.0, 2.0, -2.0];
    let (d_abs, _) = grads2(|a, b| (a.abs() + b).sum_all(), &xv, &xv);
    assert_eq!(d_abs, [0.0, 0.0, 1.0, -1.0]);
    let (d_relu, _) = grads2(|a, b| (a.relu() + b).sum_all(), &xv, &xv);
    assert_eq!(d_relu, [0.0, 0.0, 1.0, 0.0]);
    // x ^ y at (0, 2), (0, 0.5), (0, 1), (2, 3).
    let (dx, dy) = grads2(
        |x, y| x.pow(y).sum_all(),
        &[0.0, 0.0, 0.0, 2.0],
        &[2.0, 0.5, 1.0, 3.0],
    );
    assert_eq!(dy[..3], [0.0, 0.0, 0.0], "d/dy at x = 0: {dy:?}");
    assert!((dy[3] - 8.0 * 2f64.ln()).abs() < 1e-12, "{dy:?}");
    assert_eq!(dx[0], 0.0);
    assert_eq!(dx[1], f64::INFINITY); // 0.5 · 0^-0.5, as JAX
    assert_eq!(dx[2], 1.0);
    assert_eq!(dx[3], 12.0);
}

// Mistake caught: the builders refusing or miscounting NumPy's negative axes, or an axis out
// of range failing without naming the rank (or naming a parser token). Each builder that
// takes an axis resolves it against its input's rank when the node is built, so the graph,
// and its text, holds the axis counted from the first.
#[test]
fn builders_take_negative_axes_and_resolve_them_when_the_node_is_built() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [2, 3, 4]);
    let pairs = [
        (x.sum(&[-1], false), x.sum(&[2], false)),
        (x.sum(&[-1, -3], true), x.sum(&[2usize, 0], true)),
        (x.max(&[-2isize], false), x.max(&[1], false)),
        (x.mean(&[-1i64], true), x.mean(&[2], true)),
        (x.numel(&[-2]), x.numel(&[1])),
        (x.transpose(&[-1, 0, 1]), x.transpose(&[2, 0, 1])),
        (x.slice(-1, 1, 3), x.slice(2, 1, 3)),
        (x.pad(-3, 1, 4), x.pad(0, 1, 4)),
        (Expr::concat(&[x, x], -2), Expr::concat(&[x, x], 1)),
        (x.softmax(-1), x.softmax(2)),
        (x.log_softmax(-1isize), x.log_softmax(2usize)),
    ];
    for (negative, positive) in pairs {
        assert_eq!(g.expr_text(&[negative.id()]), g.expr_text(&[positive.id()]));
    }
    let errors = [
        x.try_sum(&[-4], false).unwrap_err(),
        x.try_max(&[3], false).unwrap_err(),
        x.try_mean(&[0, -4], false).unwrap_err(),
        x.try_numel(&[i64::MIN]).unwrap_err(),
        x.try_transpose(&[0, 1, -4]).unwrap_err(),
        x.try_slice(-4, 0, 1).unwrap_err(),
        x.try_pad(5, 0, 1).unwrap_err(),
        Expr::try_concat(&[x, x], -4).unwrap_err(),
        x.try_softmax(-4).unwrap_err(),
        x.try_log_softmax(3).unwrap_err(),
    ];
    for e in errors {
        assert!(e.message.contains("is out of range for rank 3"), "{e}");
        assert!(e.message.contains("input `x` of shape [2, 3, 4]"), "{e}");
        assert!(!e.message.contains("Int"), "{e}");
    }
    assert_eq!(
        x.try_softmax(-4).unwrap_err().to_string(),
        "softmax: axis -4 is out of range for rank 3 (axes -3..=2); inputs: input `x` of shape [2, 3, 4]"
    );
    // The panicking builders say the same.
    let panic =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| x.sum(&[-5], false))).unwrap_err();
    let msg = panic.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("sum: axis -5 is out of range for rank 3"),
        "{msg}"
    );
    // A scalar has no axis at all.
    let s = g.scalar(1.0);
    assert!(s
        .try_sum(&[-1], false)
        .unwrap_err()
        .message
        .contains("it has no axes"));
}

// Mistake caught: no way to reverse the axes without spelling out the permutation (NumPy's
// `np.transpose(x)`), or one that reverses the wrong way round.
#[test]
fn transpose_all_reverses_the_axes() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [2, 3, 4]);
    assert_eq!(
        g.expr_text(&[x.transpose_all().id()]),
        g.expr_text(&[x.transpose(&[2, 1, 0]).id()])
    );
    let a = g.input("a", [2, 3]);
    let av = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    let t = run(a.transpose_all(), &[(a, &[2, 3], &av)]);
    assert_eq!(t.shape(), &[3, 2]);
    assert_eq!(t.data(), &[1.0, 4.0, 2.0, 5.0, 3.0, 6.0]);
    assert_eq!(g.scalar(2.0).transpose_all().rank(), 0);
}

// Mistakes caught: `min` missing as a reduction (only `-max(-x)` worked); its gradient not
// shared equally between tied minima, as `max`'s is and JAX's is; a NaN not propagating
// through it, as through `max`.
#[test]
fn min_reduces_like_max_with_ties_shared_equally() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [2, 3]);
    let with_nan = [3.0, 1.0, 1.0, f64::NAN, 2.0, -1.0];
    let v = run(x.min(&[-1], false), &[(x, &[2, 3], &with_nan)]);
    assert_eq!(v.data()[0], 1.0);
    assert!(v.data()[1].is_nan(), "{:?}", v.data());
    let xv = [3.0, 1.0, 1.0, 0.0, 2.0, -1.0];
    let at: [(Expr<'_, f64>, &[usize], &[f64]); 1] = [(x, &[2, 3], &xv)];
    assert_eq!(run(x.min(&[0], true), &at).data(), &[0.0, 1.0, -1.0]);
    assert_eq!(run(x.min_all(), &at).data(), &[-1.0]);
    let d = grad(x.min(&[1], false).sum_all(), &[x])[0].unwrap();
    assert_eq!(run(d, &at).data(), &[0.0, 0.5, 0.5, 0.0, 0.0, 1.0]);
    // The same as -max(-x), value and gradient.
    let neg = -(-x).max(&[1], false);
    let dn = grad(neg.sum_all(), &[x])[0].unwrap();
    assert_eq!(run(dn, &at).data(), run(d, &at).data());
    assert_eq!(x.try_min(&[2], false).unwrap_err().op, "min");
}

// Mistake caught: a gradient flowing through the max that softmax and log_softmax subtract
// (it only shifts, so its gradient is zero in exact arithmetic): the backward pass then
// carries the max's tie mask, and a Hessian-vector product a second one. With the shift
// under stop_gradient, the gradient graph has no reduction but the forward max and the
// sums, and the result is the textbook one at a tie.
#[test]
fn no_gradient_flows_through_the_max_of_softmax() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [3]);
    let t = g.input("t", [3]);
    for (name, y) in [("log_softmax", x.log_softmax(0)), ("softmax", x.softmax(0))] {
        let d = grad((y * t).sum_all(), &[x])[0].unwrap();
        let text = g.expr_text(&[d.id()]);
        assert_eq!(text.matches("max[").count(), 1, "{name}: {text}");
        assert!(!text.contains("equal"), "{name}: a tie mask in {text}");
    }
    // At a tie, d/dx sum(log_softmax(x) t) = t - softmax(x) sum(t).
    let (xv, tv) = ([1.0, 1.0, 0.0], [1.0, 0.0, 0.0]);
    let d = grad((x.log_softmax(0) * t).sum_all(), &[x])[0].unwrap();
    let got = run(d, &[(x, &[3], &xv), (t, &[3], &tv)]);
    let z = 2.0 + (-1f64).exp();
    let want = [1.0 - 1.0 / z, -1.0 / z, -(-1f64).exp() / z];
    for (g, w) in got.data().iter().zip(want) {
        assert!((g - w).abs() < 1e-15, "{:?} vs {want:?}", got.data());
    }
}

// Mistakes caught: logsumexp overflowing at large inputs (computed without the shift), a
// gradient that is not the softmax (the shift not stopped), a wrong second derivative, the
// text form's `logsumexp[axes]` and `logsumexp(x)` not building it, keepdims ignored.
#[test]
fn logsumexp_is_stable_and_its_gradient_is_the_softmax() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [2, 3]);
    let xv = [1000.0, 1000.0, 999.0, -3.0, 0.5, 2.0];
    let at: [(Expr<'_, f64>, &[usize], &[f64]); 1] = [(x, &[2, 3], &xv)];
    let l = run(x.logsumexp(&[-1], false), &at);
    let row0 = 1000.0 + (2.0 + (-1f64).exp()).ln();
    let row1 = ((-3f64).exp() + 0.5f64.exp() + 2f64.exp()).ln();
    assert_eq!(l.shape(), &[2]);
    assert!((l.data()[0] - row0).abs() < 1e-12 && (l.data()[1] - row1).abs() < 1e-14);
    assert_eq!(run(x.logsumexp(&[1], true), &at).shape(), &[2, 1]);
    let d = grad(x.logsumexp(&[1], false).sum_all(), &[x])[0].unwrap();
    let sm = run(x.softmax(1), &at);
    assert_eq!(run(d, &at).data(), sm.data());
    // Second order: the Hessian-vector product H v = softmax ⊙ v - softmax (softmax · v).
    let v = g.input("v", [2, 3]);
    let vv = [0.5, -1.0, 2.0, 1.0, 0.0, -0.5];
    let hv = hessian_vector(x.logsumexp(&[1], false).sum_all(), &[x], &[v])[0].unwrap();
    let got = run(hv, &[(x, &[2, 3], &xv), (v, &[2, 3], &vv)]);
    for r in 0..2 {
        let s = &sm.data()[3 * r..3 * r + 3];
        let sv: f64 = s.iter().zip(&vv[3 * r..]).map(|(a, b)| a * b).sum();
        for c in 0..3 {
            let want = s[c] * vv[3 * r + c] - s[c] * sv;
            assert!(
                (got.data()[3 * r + c] - want).abs() < 1e-14,
                "{:?}",
                got.data()
            );
        }
    }
    let p = symgrad::graph::parse::<f64>("input x: [2, 3]\nout logsumexp[1](x) + logsumexp(x)")
        .unwrap();
    let text = p.graph.expr_text(&p.outputs);
    assert!(
        text.contains("stop_gradient(max[1, keepdims](x))"),
        "{text}"
    );
}

// Mistakes caught: cumsum along the wrong axis or in the wrong direction on a 3-D array
// (checked against running sums computed here, every axis, both directions), its text form
// not reading back, a negative axis not counted from the last.
#[test]
fn cumsum_matches_running_sums_on_every_axis_both_ways() {
    let g = Graph::<f64>::new();
    let shape = [3usize, 4, 5];
    let x = g.input("x", shape);
    let xv: Vec<f64> = (0..60).map(|i| ((i * 37) % 11) as f64 - 5.0).collect();
    let at: [(Expr<'_, f64>, &[usize], &[f64]); 1] = [(x, &shape, &xv)];
    for axis in 0..3 {
        for reverse in [false, true] {
            let got = run(x.cumsum(axis as isize - 3, reverse), &at);
            let strides = [20, 5, 1];
            for i in 0..60 {
                let k = (i / strides[axis]) % shape[axis];
                let base = i - k * strides[axis];
                let range: Vec<usize> = if reverse {
                    (k..shape[axis]).collect()
                } else {
                    (0..=k).collect()
                };
                let want: f64 = range.iter().map(|&j| xv[base + j * strides[axis]]).sum();
                assert_eq!(
                    got.data()[i],
                    want,
                    "axis {axis}, reverse {reverse}, at {i}"
                );
            }
        }
    }
    let p = symgrad::graph::parse::<f64>("input x: [3, 4]\nout cumsum[-1, reverse](x)").unwrap();
    assert_eq!(p.graph.expr_text(&p.outputs), "cumsum[1, reverse](x)");
    let bad = symgrad::graph::parse::<f64>("input x: [3, 4]\nout cumsum(x)").unwrap_err();
    assert!(bad.message.contains("`cumsum` takes an axis"), "{bad}");
}
