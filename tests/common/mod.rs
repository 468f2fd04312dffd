//! Helpers shared by the integration tests: parameters with sampled values, random constants,
//! first- and second-order gradient checks of a cost built from parameters, and random
//! expression trees for proptest; an expression's value at given inputs; a run report
//! without its timings.
#![allow(dead_code)]

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::{
    check_gradient, grad, Compiler, Expr, GradCheckOptions, Graph, ParamLayout, Scalar, Tensor,
};

/// Deterministic values in about [-1, 1].
pub fn vals(n: usize, salt: usize) -> Vec<f64> {
    (0..n)
        .map(|i| (((i + 3) * (salt + 7) * 37 % 101) as f64) / 50.0 - 1.0)
        .collect()
}

/// How the values of an op's inputs are drawn (avoiding the points where it has no
/// derivative or no value).
#[derive(Clone, Copy, Debug)]
pub enum Domain {
    /// Uniform in [lo, hi].
    Any(f64, f64),
    /// Magnitude uniform in [lo, hi], random sign (away from kinks at 0).
    Signed(f64, f64),
    /// Distinct values, at least 0.1 apart in every input (no ties for max, maximum).
    Distinct,
}

pub fn sample(domain: Domain, n: usize, rng: &mut StdRng, salt: usize) -> Vec<f64> {
    match domain {
        Domain::Any(lo, hi) => (0..n).map(|_| rng.random_range(lo..hi)).collect(),
        Domain::Signed(lo, hi) => (0..n)
            .map(|_| {
                let m = rng.random_range(lo..hi);
                if rng.random_bool(0.5) {
                    m
                } else {
                    -m
                }
            })
            .collect(),
        Domain::Distinct => {
            // A shuffled grid, offset per input so two inputs never meet either.
            let mut v: Vec<f64> = (0..n)
                .map(|i| -1.0 + 0.23 * i as f64 + 0.05 * salt as f64)
                .collect();
            for i in (1..n).rev() {
                let j = rng.random_range(0..=i);
                v.swap(i, j);
            }
            v
        }
    }
}

/// A random constant of the given shape.
pub fn random_const<'g, T: Scalar>(
    g: &'g Graph<T>,
    shape: &[usize],
    rng: &mut StdRng,
) -> Expr<'g, T> {
    let n: usize = shape.iter().product();
    let data = (0..n)
        .map(|_| T::from_f64(rng.random_range(-1.0..1.0)))
        .collect();
    g.constant(Tensor::from_vec(shape.to_vec(), data))
}

/// Parameters `p0, p1, ...` with the given shapes.
pub fn layout_for(shapes: &[Vec<usize>]) -> ParamLayout {
    let mut l = ParamLayout::new();
    for (i, s) in shapes.iter().enumerate() {
        l.add(&format!("p{i}"), s);
    }
    l
}

/// Builds an op's output from a graph and its parameters.
pub type BuildFn<T> = dyn for<'g> Fn(&'g Graph<T>, &[Expr<'g, T>]) -> Expr<'g, T>;

/// Checks d cost / d params at `x` against finite differences, then the second order: the
/// gradient of `<grad cost, v>` for a random constant `v` (a Hessian-vector product) against
/// finite differences of `<grad cost, v>`.
pub fn check_first_and_second<T: Scalar>(
    what: &str,
    layout: &ParamLayout,
    x: &[f64],
    build: &BuildFn<T>,
    opts: &GradCheckOptions,
    second: bool,
) {
    let xs: Vec<T> = x.iter().map(|&v| T::from_f64(v)).collect();
    let mut rng = StdRng::seed_from_u64(7);
    // First order: cost = sum(f(p) * R).
    let g = Graph::<T>::new();
    let ps: Vec<Expr<'_, T>> = layout.ids().map(|id| g.param_id(layout, id)).collect();
    let out = build(&g, &ps);
    let shape = out.shape_fixed().expect("fixed output shape");
    let r = random_const(&g, &shape, &mut rng);
    let cost = (out * r).sum_all();
    let mut f = Compiler::new(&g, layout)
        .inputs(&[])
        .value_and_grad(cost)
        .build();
    let rep = check_gradient(&mut f, layout, &xs, &[], opts).unwrap();
    assert!(rep.passed, "{what}: first order\n{rep}");
    if !second {
        return;
    }
    // Second order: s = sum_k <grad_k, V_k>.
    let grads = grad(cost, &ps);
    let mut s: Option<Expr<'_, T>> = None;
    for (gk, e) in grads.iter().zip(layout.entries()) {
        if let Some(gk) = gk {
            let v = random_const(&g, &e.shape, &mut rng);
            let term = (*gk * v).sum_all();
            s = Some(match s {
                Some(acc) => acc + term,
                None => term,
            });
        }
    }
    let Some(s) = s else { return };
    let mut f2 = Compiler::new(&g, layout)
        .inputs(&[])
        .value_and_grad(s)
        .build();
    let rep2 = check_gradient(&mut f2, layout, &xs, &[], opts).unwrap();
    assert!(rep2.passed, "{what}: second order\n{rep2}");
}

/// A random expression tree: each test gives the numbers their meaning (which leaf, which
/// unary or binary op).
#[derive(Clone, Debug)]
pub enum Tree {
    /// Leaf number k.
    Leaf(u8),
    /// Unary op number k of a subtree.
    Unary(u8, Box<Tree>),
    /// Binary op number k of two subtrees.
    Binary(u8, Box<Tree>, Box<Tree>),
}

/// Trees of `leaves` leaf kinds, `unary` and `binary` op kinds, at most `depth` deep and
/// about `size` nodes.
pub fn tree(
    leaves: u8,
    unary: u8,
    binary: u8,
    depth: u32,
    size: u32,
) -> impl proptest::strategy::Strategy<Value = Tree> {
    use proptest::prelude::*;
    let leaf = (0..leaves).prop_map(Tree::Leaf);
    leaf.prop_recursive(depth, size, 2, move |inner| {
        prop_oneof![
            (0..unary, inner.clone()).prop_map(|(k, t)| Tree::Unary(k, Box::new(t))),
            (0..binary, inner.clone(), inner).prop_map(|(k, l, r)| Tree::Binary(
                k,
                Box::new(l),
                Box::new(r)
            )),
        ]
    })
}

/// The depth of a tree.
pub fn depth(t: &Tree) -> usize {
    match t {
        Tree::Leaf(_) => 0,
        Tree::Unary(_, a) => 1 + depth(a),
        Tree::Binary(_, a, b) => 1 + depth(a).max(depth(b)),
    }
}

/// The report as JSON without its timings (every `seconds`), which differ from run to run.
pub fn without_timings(mut v: serde_json::Value) -> serde_json::Value {
    match &mut v {
        serde_json::Value::Object(m) => {
            m.remove("seconds");
            for x in m.values_mut() {
                *x = without_timings(x.take());
            }
        }
        serde_json::Value::Array(a) => {
            for x in a.iter_mut() {
                *x = without_timings(x.take());
            }
        }
        _ => {}
    }
    v
}

/// The value of `e` with the inputs `at` given as (input, shape, data).
pub fn run(
    e: symgrad::Expr<'_, f64>,
    at: &[(symgrad::Expr<'_, f64>, &[usize], &[f64])],
) -> symgrad::Tensor<f64> {
    let refs: Vec<_> = at
        .iter()
        .map(|(x, s, d)| (*x, symgrad::TensorRef::new(s, d)))
        .collect();
    e.eval(&refs).expect("every input is given")
}
