//! `stop_gradient`: the identity in value, a constant to `grad` (first and second order), kept
//! by a literal compile and removed by the rewriting one, with the same values either way.

mod common;

use common::vals;
use symgrad::compile::Options;
use symgrad::grad::hessian_vector;
use symgrad::{dims, grad, Compiler, Expr, Graph, ParamLayout, Tensor, TensorRef};

fn at(
    e: Expr<'_, f64>,
    x: Expr<'_, f64>,
    xv: &[f64],
    more: &[(Expr<'_, f64>, &[f64])],
) -> Tensor<f64> {
    let mut refs = vec![(x, TensorRef::new(&[3, 4], xv))];
    refs.extend(more.iter().map(|(e, v)| (*e, TensorRef::new(&[3, 4], v))));
    e.eval(&refs).expect("every input is given")
}

/// The stopped factor `s(x) = tanh(x) x` and the cost `sum(s(x) sin(x)) + sum(x²)`, with `s`
/// either stopped or frozen to the constant `c`.
fn costs<'g>(x: Expr<'g, f64>, c: Expr<'g, f64>) -> [Expr<'g, f64>; 3] {
    let s = x.tanh() * x;
    let rest = x.square().sum_all();
    [
        (s.stop_gradient() * x.sin()).sum_all() + rest,
        (c * x.sin()).sum_all() + rest,
        (s * x.sin()).sum_all() + rest,
    ]
}

/// The derivative through the stop equals the one with the stopped factor frozen (within
/// `rtol`), and differs from the one without the stop, so that the stop did something.
fn frozen_not_free(
    stopped: &Tensor<f64>,
    frozen: &Tensor<f64>,
    free: &Tensor<f64>,
    rtol: f64,
    what: &str,
) {
    for (a, b) in stopped.data().iter().zip(frozen.data()) {
        assert!(
            (a - b).abs() <= rtol * (1.0 + b.abs()),
            "{what}: {a} vs {b}"
        );
    }
    let gap = stopped
        .data()
        .iter()
        .zip(free.data())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        gap > 0.1,
        "{what}: stop_gradient changed nothing (largest difference {gap})"
    );
}

#[test]
fn grad_treats_the_stopped_value_as_a_constant() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![3, 4]);
    let xv = vals(12, 1);
    let c = g.constant(at(x.tanh() * x, x, &xv, &[]));
    let [stopped, frozen, free] = costs(x, c);
    assert_eq!(
        at(stopped, x, &xv, &[]).data(),
        at(free, x, &xv, &[]).data()
    );
    let d = |f: Expr<'_, f64>| at(grad(f, &[x])[0].expect("connected"), x, &xv, &[]);
    let (ds, df, dfree) = (d(stopped), d(frozen), d(free));
    frozen_not_free(&ds, &df, &dfree, 1e-14, "gradient");
    // The frozen cost against central differences, so that the comparison is anchored.
    let eps = 1e-6;
    for i in 0..12 {
        let shift = |s: f64| {
            let mut v = xv.clone();
            v[i] += s * eps;
            at(frozen, x, &v, &[]).data()[0]
        };
        let fd = (shift(1.0) - shift(-1.0)) / (2.0 * eps);
        assert!(
            (fd - df.data()[i]).abs() < 1e-8,
            "d/dx{i}: {fd} vs {}",
            df.data()[i]
        );
    }
}

#[test]
fn second_order_treats_it_as_a_constant_too() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![3, 4]);
    let v = g.input("v", dims![3, 4]);
    let (xv, vv) = (vals(12, 2), vals(12, 3));
    let c = g.constant(at(x.tanh() * x, x, &xv, &[]));
    let [stopped, frozen, free] = costs(x, c);
    let hv = |f: Expr<'_, f64>| {
        at(
            hessian_vector(f, &[x], &[v])[0].expect("connected"),
            x,
            &xv,
            &[(v, &vv)],
        )
    };
    let (hs, hf, hfree) = (hv(stopped), hv(frozen), hv(free));
    frozen_not_free(&hs, &hf, &hfree, 1e-13, "Hessian-vector product");
}

#[test]
fn a_cost_reached_only_through_it_has_no_gradient() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![3]);
    let f = x.stop_gradient().square().sum_all();
    assert!(grad(f, &[x])[0].is_none());
}

/// F and ∇F of `sum(stop_gradient(tanh(W) W) ⊙ sin(W) + W²)` compiled with `options`, and
/// whether any step of the program still computes `stop_gradient`.
fn compiled<T: symgrad::Scalar>(options: Options) -> (T, Vec<T>, bool) {
    let mut layout = ParamLayout::new();
    layout.add("W", &[3, 4]);
    let g = Graph::<T>::new();
    let w = g.param(&layout, "W");
    let f = ((w.tanh() * w).stop_gradient() * w.sin() + w.square()).sum_all();
    let mut fun = Compiler::new(&g, &layout)
        .value_and_grad(f)
        .options(options)
        .build();
    let xv: Vec<T> = vals(12, 4).into_iter().map(T::from_f64).collect();
    let mut dx = vec![T::zero(); 12];
    let fx = fun.value_and_grad(&xv, &[], &mut dx).expect("runs");
    let kept = fun
        .steps()
        .iter()
        .any(|i| i.label.contains("stop_gradient"));
    let stage = fun.explain().contains("strip stop_gradient");
    assert_eq!(
        stage, !kept,
        "the strip stage is reported exactly when it ran"
    );
    (fx, dx, kept)
}

fn compiled_agree<T: symgrad::Scalar>() {
    let (f_lit, d_lit, kept_lit) = compiled::<T>(Options::literal());
    let (f_opt, d_opt, kept_opt) = compiled::<T>(Options::default());
    assert!(kept_lit, "a literal compile keeps the op as written");
    assert!(
        !kept_opt,
        "the rewriting compile removes it after differentiation"
    );
    let tol = T::from_f64(if T::EPS > 1e-10 { 1e-5 } else { 1e-13 });
    assert!((f_lit - f_opt).abs() <= tol * (T::one() + f_lit.abs()));
    for (a, b) in d_lit.iter().zip(&d_opt) {
        assert!((*a - *b).abs() <= tol * (T::one() + a.abs()));
    }
    // ∇F = stop(tanh(W) W) cos(W) + 2 W, the stopped factor held constant.
    for (i, &d) in d_opt.iter().enumerate() {
        let w = vals(12, 4)[i];
        let want = (w.tanh() * w) * w.cos() + 2.0 * w;
        assert!((d.to_f64_lossless() - want).abs() <= 1e3 * T::EPS * (1.0 + want.abs()));
    }
}

#[test]
fn compiled_with_and_without_rewrites_agree_in_f32_and_f64() {
    compiled_agree::<f32>();
    compiled_agree::<f64>();
}
