//! The derivatives built from `grad`: `hessian_vector`, `jacobian_vector`, `jacobian` and
//! `hessian`, against central differences and closed forms, against each other, and their
//! `None` and panic cases.

mod common;
use common::run;

use common::vals;
use symgrad::grad::{hessian, hessian_vector, jacobian, jacobian_vector};
use symgrad::{dims, grad, Expr, Graph, Tensor};

/// F(W, b) = sum(log_softmax(tanh(X W + b)) * T) + 0.1 |W|⁴, a cost with two variables whose
/// Hessian has every kind of block.
fn cost<'g>(g: &'g Graph<f64>) -> (Expr<'g, f64>, [Expr<'g, f64>; 4]) {
    let x = g.input("X", dims![5, 3]);
    let t = g.input("T", dims![5, 4]);
    let w = g.input("W", dims![3, 4]);
    let b = g.input("b", dims![4]);
    let y = (x.matmul(w) + b).tanh().log_softmax(1);
    let f = (y * t).sum_all() + w.square().sum_all().square() * 0.1;
    (f, [x, t, w, b])
}

/// The step of the central differences.
const EPS: f64 = 1e-5;

/// `p + s EPS d`.
fn shift(p: &[f64], d: &[f64], s: f64) -> Vec<f64> {
    p.iter().zip(d).map(|(p, d)| p + s * EPS * d).collect()
}

/// Every element of `exact` within `rtol` (relative, at least absolute) of the central
/// difference of `plus` and `minus`, taken `EPS` either side.
fn assert_central(
    exact: &Tensor<f64>,
    plus: &Tensor<f64>,
    minus: &Tensor<f64>,
    rtol: f64,
    what: &str,
) {
    for (i, e) in exact.data().iter().enumerate() {
        let fd = (plus.data()[i] - minus.data()[i]) / (2.0 * EPS);
        assert!(
            (fd - e).abs() < rtol * fd.abs().max(1.0),
            "{what}, element {i}: {e}, central difference {fd}"
        );
    }
}

#[test]
fn hessian_vector_matches_central_differences_of_the_gradient() {
    let g = Graph::<f64>::new();
    let (f, [x, t, w, b]) = cost(&g);
    let (vw, vb) = (g.input("vW", dims![3, 4]), g.input("vb", dims![4]));
    let hv = hessian_vector(f, &[w, b], &[vw, vb]);
    let gr = grad(f, &[w, b]);
    let (xv, tv, wv, bv, dw, db) = (
        vals(15, 1),
        vals(20, 2),
        vals(12, 3),
        vals(4, 4),
        vals(12, 5),
        vals(4, 6),
    );
    let at = |wv: &[f64], bv: &[f64], e: Expr<'_, f64>| {
        run(
            e,
            &[
                (x, &[5, 3], &xv),
                (t, &[5, 4], &tv),
                (w, &[3, 4], wv),
                (b, &[4], bv),
                (vw, &[3, 4], &dw),
                (vb, &[4], &db),
            ],
        )
    };
    let (wp, bp, wm, bm) = (
        shift(&wv, &dw, 1.0),
        shift(&bv, &db, 1.0),
        shift(&wv, &dw, -1.0),
        shift(&bv, &db, -1.0),
    );
    for k in 0..2 {
        let exact = at(&wv, &bv, hv[k].expect("connected"));
        let plus = at(&wp, &bp, gr[k].expect("connected"));
        let minus = at(&wm, &bm, gr[k].expect("connected"));
        let what = format!("H v of variable {k}");
        assert_central(&exact, &plus, &minus, 1e-7, &what);
    }
}

#[test]
fn jacobian_vector_matches_central_differences_of_the_value_and_the_jacobian() {
    let g = Graph::<f64>::new();
    let x = g.input("X", dims![5, 3]);
    let w = g.input("W", dims![3, 4]);
    let b = g.input("b", dims![4]);
    let y = (x.matmul(w) + b).tanh().log_softmax(1); // [5, 4]
    let (vw, vb) = (g.input("vW", dims![3, 4]), g.input("vb", dims![4]));
    let jv = jacobian_vector(y, &[w, b], &[vw, vb]).expect("connected");
    assert_eq!(jv.shape_fixed(), Some(vec![5, 4]));
    let (xv, wv, bv, dw, db) = (
        vals(15, 1),
        vals(12, 3),
        vals(4, 4),
        vals(12, 5),
        vals(4, 6),
    );
    let at = |wv: &[f64], bv: &[f64], e: Expr<'_, f64>| {
        run(
            e,
            &[
                (x, &[5, 3], &xv),
                (w, &[3, 4], wv),
                (b, &[4], bv),
                (vw, &[3, 4], &dw),
                (vb, &[4], &db),
            ],
        )
    };
    let exact = at(&wv, &bv, jv);
    let plus = at(&shift(&wv, &dw, 1.0), &shift(&bv, &db, 1.0), y);
    let minus = at(&shift(&wv, &dw, -1.0), &shift(&bv, &db, -1.0), y);
    assert_central(&exact, &plus, &minus, 1e-8, "J v");
    // The same along b alone, against the whole Jacobian times vb.
    let jb = at(&wv, &bv, jacobian(y, b).expect("connected")); // [20, 4]
    let jvb = at(
        &wv,
        &bv,
        jacobian_vector(y, &[b], &[vb]).expect("connected"),
    );
    for r in 0..20 {
        let want: f64 = (0..4).map(|k| jb.data()[r * 4 + k] * db[k]).sum();
        let got = jvb.data()[r];
        assert!((got - want).abs() < 1e-13, "row {r}: {got} vs {want}");
    }
}

#[test]
fn jacobian_vector_keeps_symbolic_shapes_and_adds_no_input() {
    let g = Graph::<f64>::new();
    let n = g.symbol("n");
    let x = g.input("x", [n]);
    let v = g.input("v", [n]);
    let jv = jacobian_vector(x.sin(), &[x], &[v]).expect("connected");
    assert_eq!(g.inputs(), vec![x.id(), v.id()]);
    let out = run(
        jv,
        &[(x, &[3], &[0.0, 1.0, 2.0]), (v, &[3], &[1.0, 2.0, 3.0])],
    );
    let want = [1.0, 2.0 * 1f64.cos(), 3.0 * 2f64.cos()];
    for (a, b) in out.data().iter().zip(want) {
        assert!((a - b).abs() < 1e-15);
    }
}

#[test]
fn jacobian_of_softmax_is_diag_minus_outer_product() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![4]);
    let j = jacobian(x.softmax(0), x).expect("connected");
    let xv = [0.3, -1.2, 2.0, 0.5];
    let got = run(j, &[(x, &[4], &xv)]);
    assert_eq!(got.shape(), &[4, 4]);
    let z: f64 = xv.iter().map(|v| v.exp()).sum();
    let s: Vec<f64> = xv.iter().map(|v| v.exp() / z).collect();
    for i in 0..4 {
        for k in 0..4 {
            let want = if i == k { s[i] } else { 0.0 } - s[i] * s[k];
            let v = got.data()[i * 4 + k];
            assert!((v - want).abs() < 1e-14, "J[{i}][{k}] = {v}, want {want}");
        }
    }
}

#[test]
fn jacobian_rows_follow_the_outputs_row_major_order_and_keep_the_inputs_shape() {
    // y[i][k] = x[k] * (i + 1) for x of shape [3] and y of shape [2, 3]: J has shape [6, 3].
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![3]);
    let c = g.constant(Tensor::from_vec([2, 1], vec![1.0, 2.0]));
    let y = x.reshape([1, 3]) * c;
    let got = run(
        jacobian(y, x).expect("connected"),
        &[(x, &[3], &[5.0, 6.0, 7.0])],
    );
    assert_eq!(got.shape(), &[6, 3]);
    let mut want = [0.0; 18];
    for r in 0..6 {
        want[r * 3 + r % 3] = (r / 3 + 1) as f64;
    }
    assert_eq!(got.data(), &want[..]);
}

#[test]
fn hessian_is_symmetric_and_agrees_with_hessian_vector_products_on_unit_vectors() {
    let g = Graph::<f64>::new();
    let (f, [x, t, w, b]) = cost(&g);
    let h = hessian(f, b).expect("curved in b");
    let e = g.input("e", dims![4]);
    let hv = hessian_vector(f, &[b], &[e])[0].expect("connected");
    let (xv, tv, wv, bv) = (vals(15, 1), vals(20, 2), vals(12, 3), vals(4, 4));
    let base = [
        (x, &[5usize, 3][..], &xv[..]),
        (t, &[5, 4], &tv),
        (w, &[3, 4], &wv),
        (b, &[4], &bv),
    ];
    let hm = run(h, &base);
    assert_eq!(hm.shape(), &[4, 4]);
    for i in 0..4 {
        let mut unit = [0.0; 4];
        unit[i] = 1.0;
        let mut at = base.to_vec();
        at.push((e, &[4], &unit));
        let col = run(hv, &at);
        for k in 0..4 {
            let (a, c) = (hm.data()[k * 4 + i], col.data()[k]);
            assert!(
                (a - c).abs() < 1e-12 * a.abs().max(1.0),
                "H[{k}][{i}] {a} vs H e = {c}"
            );
            let s = hm.data()[i * 4 + k];
            assert!(
                (a - s).abs() < 1e-12 * a.abs().max(1.0),
                "H not symmetric at {i}, {k}"
            );
        }
    }
}

#[test]
fn nothing_connects_gives_none() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![3]);
    let u = g.input("u", dims![3]);
    let v = g.input("v", dims![3]);
    // Linear in x: its gradient does not depend on x, so the Hessian is None.
    assert!(hessian((x * 2.0).sum_all(), x).is_none());
    assert!(hessian_vector((x * 2.0).sum_all(), &[x], &[v])[0].is_none());
    // Not read at all.
    assert!(jacobian(x.exp(), u).is_none());
    assert!(jacobian_vector(x.exp(), &[u], &[v]).is_none());
    let both = hessian_vector(x.exp().sum_all(), &[x, u], &[v, v]);
    assert!(both[0].is_some() && both[1].is_none());
}

#[test]
#[should_panic(expected = "a direction of shape [2] for a variable of shape [3]")]
fn a_direction_of_the_wrong_shape_panics_with_both_shapes() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![3]);
    let v = g.input("v", dims![2]);
    hessian_vector(x.exp().sum_all(), &[x], &[v]);
}

#[test]
#[should_panic(expected = "jacobian_vector: a direction of shape [3] for a variable of shape [2]")]
fn a_jacobian_vector_direction_of_the_wrong_shape_panics() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![2]);
    let v = g.input("v", dims![3]);
    jacobian_vector(x.exp(), &[x], &[v]);
}

#[test]
#[should_panic(expected = "jacobian needs an output of fixed shape")]
fn a_jacobian_of_a_symbolic_shape_panics() {
    let g = Graph::<f64>::new();
    let n = g.symbol("n");
    let x = g.input("x", [n]);
    jacobian(x.exp(), x);
}
