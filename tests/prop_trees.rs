//! proptest over random expression trees of depth 4 to 6, mixing elementwise ops,
//! broadcasting, reductions and matrix products: compiled gradients against finite
//! differences, Hessian-vector products against differences of the compiled gradient,
//! Jacobian-vector products against differences of the value, and f32 against f64.

mod common;

use common::{depth, Tree};
use proptest::prelude::*;
use symgrad::grad::{hessian_vector, jacobian_vector};
use symgrad::{
    check_gradient, dims, Compiler, Expr, GradCheckOptions, Graph, ParamLayout, Scalar, TensorRef,
};

/// A random expression over parameters `a [3, 4]`, `b [4]`, `c [3, 1]`; every node has
/// shape [3, 4] and is defined and smooth for all real inputs.
fn tree() -> impl Strategy<Value = Tree> {
    common::tree(3, 10, 6, 6, 64)
}

fn build<'g, T: Scalar>(t: &Tree, p: &[Expr<'g, T>]) -> Expr<'g, T> {
    match t {
        Tree::Leaf(k) => match k {
            0 => p[0],
            1 => p[0] * 0.0 + p[1], // broadcast [4] up to [3, 4]
            _ => p[0] * 0.0 + p[2], // broadcast [3, 1]
        },
        Tree::Unary(k, a) => {
            let a = build(a, p);
            match k {
                0 => a.tanh(),
                1 => a.sigmoid(),
                2 => a.softplus(),
                3 => -a,
                4 => a.square() * 0.5,
                5 => (a.square() + 1.0).log(),
                6 => a.tanh().exp(),
                7 => a.sum(&[1], true) * 0.25 + a, // reduction, broadcast back
                8 => a.sin() * a.cos(),
                _ => a.matmul_t(a, true, false).tanh().matmul(a.t()).t() * 0.1, // [4,4] then back to [3,4]
            }
        }
        Tree::Binary(k, l, r) => {
            let (l, r) = (build(l, p), build(r, p));
            match k {
                0 => l + r,
                1 => l - r,
                2 => l * r,
                3 => l / (r.square() + 1.0),
                4 => l.matmul_t(r, false, true).tanh().matmul(r) * 0.2, // [3,3] @ [3,4]
                _ => (l.sigmoid() * 2.0).pow(r.tanh()),
            }
        }
    }
}

fn layout() -> ParamLayout {
    let mut l = ParamLayout::new();
    l.add("a", &[3, 4]);
    l.add("b", &[4]);
    l.add("c", &[3, 1]);
    l
}

fn values(seed: u64) -> Vec<f64> {
    (0..19)
        .map(|i| (seed as f64 * 0.618 + i as f64 * 0.37).sin() * 1.5)
        .collect()
}

/// Where `a`, `b` and `c` lie in x, with their shapes.
const PARTS: [(usize, usize, &[usize]); 3] = [(0, 12, &[3, 4]), (12, 16, &[4]), (16, 19, &[3, 1])];

/// A direction for each parameter, as inputs, so that one compiled function serves any.
fn direction_inputs<T: Scalar>(g: &Graph<T>) -> [Expr<'_, T>; 3] {
    [
        g.input("va", dims![3, 4]),
        g.input("vb", dims![4]),
        g.input("vc", dims![3, 1]),
    ]
}

/// A direction in x, and its pieces as the arrays of [`direction_inputs`].
fn direction(seed: u64) -> Vec<f64> {
    values(seed + 7919).iter().map(|v| v / 1.5).collect()
}

fn direction_refs(d: &[f64]) -> Vec<TensorRef<'_, f64>> {
    PARTS
        .iter()
        .map(|&(a, b, s)| TensorRef::new(s, &d[a..b]))
        .collect()
}

/// Central differences of `f` at `x` along `d`, and the largest of their sizes and 1.
fn central(mut f: impl FnMut(&[f64]) -> Vec<f64>, x: &[f64], d: &[f64]) -> (Vec<f64>, f64) {
    let eps = 1e-5;
    let mut at = |s: f64| {
        f(&x.iter()
            .zip(d)
            .map(|(x, d)| x + s * eps * d)
            .collect::<Vec<_>>())
    };
    let (p, m) = (at(1.0), at(-1.0));
    let fd: Vec<f64> = p
        .iter()
        .zip(&m)
        .map(|(p, m)| (p - m) / (2.0 * eps))
        .collect();
    let scale = fd.iter().fold(1.0f64, |m, v| m.max(v.abs()));
    (fd, scale)
}

fn value_and_grad<T: Scalar>(t: &Tree, x: &[f64]) -> (f64, Vec<f64>) {
    let l = layout();
    let g = Graph::<T>::new();
    let p: Vec<Expr<'_, T>> = ["a", "b", "c"].iter().map(|n| g.param(&l, n)).collect();
    let cost = build(t, &p).sum_all();
    let mut f = Compiler::new(&g, &l)
        .inputs(&[])
        .value_and_grad(cost)
        .build();
    let xs: Vec<T> = x.iter().map(|&v| T::from_f64(v)).collect();
    let mut gr = vec![T::zero(); l.len()];
    let v = f.value_and_grad(&xs, &[], &mut gr).unwrap();
    (
        v.to_f64_lossless(),
        gr.iter().map(|v| v.to_f64_lossless()).collect(),
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn random_trees_match_finite_differences(t in tree().prop_filter("depth >= 4", |t| depth(t) >= 4), seed in 0u64..1000) {
        let l = layout();
        let g = Graph::<f64>::new();
        let p: Vec<Expr<'_, f64>> = ["a", "b", "c"].iter().map(|n| g.param(&l, n)).collect();
        let cost = build(&t, &p).sum_all();
        let mut f = Compiler::new(&g, &l).inputs(&[]).value_and_grad(cost).build();
        let opts = GradCheckOptions { rtol: Some(1e-4), atol: Some(1e-6), ..Default::default() };
        let rep = check_gradient(&mut f, &l, &values(seed), &[], &opts).unwrap();
        prop_assert!(rep.passed, "{:?}\n{}", t, rep);
    }

    #[test]
    fn hessian_vector_products_match_differences_of_the_gradient(t in tree().prop_filter("depth >= 4", |t| depth(t) >= 4), seed in 0u64..1000) {
        let l = layout();
        let g = Graph::<f64>::new();
        let p: Vec<Expr<'_, f64>> = ["a", "b", "c"].iter().map(|n| g.param(&l, n)).collect();
        let v = direction_inputs(&g);
        let cost = build(&t, &p).sum_all();
        let hv = hessian_vector(cost, &p, &v);
        let (x, d) = (values(seed), direction(seed));
        let dirs = direction_refs(&d);
        let mut exact = vec![0.0; l.len()];
        for (h, &(a, b, _)) in hv.iter().zip(&PARTS) {
            // None: nothing connects, so H v is zero there (the differences check that too).
            if let Some(h) = h {
                let mut f = Compiler::new(&g, &l).inputs(&v).output(*h).build();
                f.run(&x, &dirs, None).unwrap();
                exact[a..b].copy_from_slice(f.output(0).unwrap().data);
            }
        }
        let mut f = Compiler::new(&g, &l).inputs(&[]).value_and_grad(cost).build();
        let (fd, scale) = central(
            |xs| {
                let mut gr = vec![0.0; 19];
                f.value_and_grad(xs, &[], &mut gr).unwrap();
                gr
            },
            &x,
            &d,
        );
        for i in 0..19 {
            prop_assert!(
                (fd[i] - exact[i]).abs() <= 1e-5 * scale,
                "{:?}\ncoordinate {}: H v = {}, central difference {} (scale {})", t, i, exact[i], fd[i], scale
            );
        }
    }

    #[test]
    fn jacobian_vector_products_match_differences_of_the_value(t in tree().prop_filter("depth >= 4", |t| depth(t) >= 4), seed in 0u64..1000) {
        let l = layout();
        let g = Graph::<f64>::new();
        let p: Vec<Expr<'_, f64>> = ["a", "b", "c"].iter().map(|n| g.param(&l, n)).collect();
        let v = direction_inputs(&g);
        let y = build(&t, &p);
        let (x, d) = (values(seed), direction(seed));
        let exact = match jacobian_vector(y, &p, &v) {
            Some(jv) => {
                let mut f = Compiler::new(&g, &l).inputs(&v).output(jv).build();
                f.run(&x, &direction_refs(&d), None).unwrap();
                f.output(0).unwrap().data.to_vec()
            }
            None => vec![0.0; 12],
        };
        let mut f = Compiler::new(&g, &l).inputs(&[]).output(y).build();
        let (fd, scale) = central(
            |xs| {
                f.run(xs, &[], None).unwrap();
                f.output(0).unwrap().data.to_vec()
            },
            &x,
            &d,
        );
        prop_assert_eq!(exact.len(), 12);
        for i in 0..12 {
            prop_assert!(
                (fd[i] - exact[i]).abs() <= 1e-5 * scale,
                "{:?}\nelement {}: J v = {}, central difference {} (scale {})", t, i, exact[i], fd[i], scale
            );
        }
    }

    #[test]
    fn f32_agrees_with_f64_within_f32_tolerance(t in tree().prop_filter("depth >= 4", |t| depth(t) >= 4), seed in 0u64..1000) {
        let x = values(seed);
        let (v64, g64) = value_and_grad::<f64>(&t, &x);
        let (v32, g32) = value_and_grad::<f32>(&t, &x);
        let scale = g64.iter().fold(v64.abs(), |m, g| m.max(g.abs())).max(1.0);
        prop_assert!((v32 - v64).abs() <= 1e-4 * scale, "value {} vs {}", v32, v64);
        for (a, b) in g32.iter().zip(&g64) {
            prop_assert!((a - b).abs() <= 1e-4 * scale, "gradient {} vs {} (scale {})", a, b, scale);
        }
    }
}
