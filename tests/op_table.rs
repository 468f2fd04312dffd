//! One row per op (inputs' shapes, input domain, tolerance), each checked against central
//! finite differences in f64 to first and second order (JAX's lax_autodiff_test and
//! PyTensor's verify_grad, as a table). Rows whose second derivative is structurally zero
//! say so, and are checked for an exactly zero Hessian-vector product and, composed with a
//! square, for a nonzero one that matches finite differences.

mod common;

use common::{check_first_and_second, layout_for, random_const, sample, BuildFn, Domain};
use rand::rngs::StdRng;
use rand::SeedableRng;
use symgrad::{grad, Compiler, Expr, GradCheckOptions, Graph, ParamLayout, Tensor};

type Build = for<'g> fn(&'g Graph<f64>, &[Expr<'g, f64>]) -> Expr<'g, f64>;

struct Row {
    name: &'static str,
    shapes: &'static [&'static [usize]],
    domain: Domain,
    rtol: f64,
    /// The row's cost is piecewise linear in its parameters (or linear): its Hessian is
    /// zero wherever it is defined, so the second-order check compares 0 with 0.
    hessian_zero: bool,
    build: Build,
}

const ANY: Domain = Domain::Any(-2.0, 2.0);
const POS: Domain = Domain::Any(0.5, 2.0);
const KINK: Domain = Domain::Signed(0.2, 2.0);

macro_rules! row {
    ($name:literal, $shapes:expr, $domain:expr, hessian_zero, |$g:ident, $p:ident| $body:expr) => {
        Row {
            name: $name,
            shapes: $shapes,
            domain: $domain,
            rtol: 1e-5,
            hessian_zero: true,
            build: |$g, $p| {
                let _ = &$g;
                $body
            },
        }
    };
    ($name:literal, $shapes:expr, $domain:expr, |$g:ident, $p:ident| $body:expr) => {
        Row {
            name: $name,
            shapes: $shapes,
            domain: $domain,
            rtol: 1e-5,
            hessian_zero: false,
            build: |$g, $p| {
                let _ = &$g;
                $body
            },
        }
    };
    ($name:literal, $shapes:expr, $domain:expr, rtol = $rtol:expr, |$g:ident, $p:ident| $body:expr) => {
        Row {
            name: $name,
            shapes: $shapes,
            domain: $domain,
            rtol: $rtol,
            hessian_zero: false,
            build: |$g, $p| {
                let _ = &$g;
                $body
            },
        }
    };
}

const M: &[&[usize]] = &[&[3, 4]];
const MM: &[&[usize]] = &[&[3, 4], &[3, 4]];

fn rows() -> Vec<Row> {
    vec![
        // unary
        row!("neg", M, ANY, hessian_zero, |g, p| -p[0]),
        row!("exp", M, ANY, |g, p| p[0].exp()),
        row!("log", M, POS, |g, p| p[0].log()),
        row!("log1p", M, Domain::Any(-0.5, 2.0), |g, p| p[0].log1p()),
        row!("expm1", M, ANY, |g, p| p[0].expm1()),
        row!("sqrt", M, POS, |g, p| p[0].sqrt()),
        row!("abs", M, KINK, hessian_zero, |g, p| p[0].abs()),
        row!("sign", M, KINK, hessian_zero, |g, p| p[0].sign() * p[0]),
        row!("tanh", M, ANY, |g, p| p[0].tanh()),
        row!("erf", M, ANY, |g, p| p[0].erf()),
        row!("erfc", M, ANY, |g, p| p[0].erfc()),
        row!("sin", M, Domain::Any(-4.0, 4.0), |g, p| p[0].sin()),
        row!("cos", M, Domain::Any(-4.0, 4.0), |g, p| p[0].cos()),
        row!("sigmoid", M, Domain::Any(-6.0, 6.0), |g, p| p[0].sigmoid()),
        row!("softplus", M, Domain::Any(-6.0, 6.0), |g, p| p[0]
            .softplus()),
        row!("relu", M, KINK, hessian_zero, |g, p| p[0].relu()),
        row!("powi 3", M, ANY, |g, p| p[0].powi(3)),
        row!("powi -2", M, POS, |g, p| p[0].powi(-2)),
        row!("square", M, ANY, |g, p| p[0].square()),
        // binary, same shape and broadcast
        row!("add", MM, ANY, hessian_zero, |g, p| p[0] + p[1]),
        row!("sub", MM, ANY, hessian_zero, |g, p| p[0] - p[1]),
        row!("mul", MM, ANY, |g, p| p[0] * p[1]),
        row!("div", MM, POS, |g, p| p[0] / p[1]),
        row!("pow", MM, POS, |g, p| p[0].pow(p[1])),
        row!("maximum", MM, Domain::Distinct, hessian_zero, |g, p| p[0]
            .maximum(p[1])),
        row!("minimum", MM, Domain::Distinct, hessian_zero, |g, p| p[0]
            .minimum(p[1])),
        row!(
            "add broadcast [3,1]+[4]",
            &[&[3, 1], &[4]],
            ANY,
            hessian_zero,
            |g, p| p[0] + p[1]
        ),
        row!(
            "mul broadcast [2,1,4]*[3,1]",
            &[&[2, 1, 4], &[3, 1]],
            ANY,
            |g, p| p[0] * p[1]
        ),
        row!("div broadcast by scalar", &[&[3, 4], &[]], POS, |g, p| p[0]
            / p[1]),
        row!("number - x, number / x", M, POS, |g, p| 1.0 - 2.0 / p[0]),
        row!(
            "gt (no gradient through mask)",
            MM,
            Domain::Distinct,
            hessian_zero,
            |g, p| p[0].gt(p[1]) * p[0]
        ),
        row!("where", MM, Domain::Distinct, |g, p| p[0]
            .gt(0.0)
            .select(p[0] * 2.0, p[1].square())),
        // linear algebra
        row!("matmul", &[&[3, 4], &[4, 5]], ANY, |g, p| p[0].matmul(p[1])),
        row!("matmul ta", &[&[4, 3], &[4, 5]], ANY, |g, p| p[0]
            .matmul_t(p[1], true, false)),
        row!("matmul tb", &[&[3, 4], &[5, 4]], ANY, |g, p| p[0]
            .matmul_t(p[1], false, true)),
        row!("matmul ta tb", &[&[4, 3], &[5, 4]], ANY, |g, p| p[0]
            .matmul_t(p[1], true, true)),
        row!("matmul batched", &[&[2, 3, 4], &[2, 4, 5]], ANY, |g, p| p
            [0]
        .matmul(p[1])),
        row!(
            "matmul batch broadcast",
            &[&[2, 3, 4], &[4, 5]],
            ANY,
            |g, p| p[0].matmul(p[1])
        ),
        // structure
        row!("t", &[&[3, 4]], ANY, hessian_zero, |g, p| p[0].t()),
        row!("transpose 3-D", &[&[2, 3, 4]], ANY, hessian_zero, |g, p| p
            [0]
        .transpose(&[2, 0, 1])),
        row!("reshape", &[&[3, 4]], ANY, |g, p| p[0].reshape([2usize, 6])
            * p[0].reshape([2usize, 6])),
        row!("broadcast_to", &[&[4]], ANY, hessian_zero, |g, p| p[0]
            .broadcast_to([3usize, 4])),
        row!("sum_to", &[&[3, 4]], ANY, |g, p| p[0]
            .sum_to([1usize, 4])
            .square()),
        row!("sum axis", &[&[2, 3, 4]], ANY, |g, p| p[0]
            .sum(&[1], false)
            .square()),
        row!("sum keepdims", &[&[2, 3, 4]], ANY, |g, p| p[0]
            .sum(&[0, 2], true)
            * p[0]),
        row!("sum all", M, ANY, |g, p| p[0].square().sum_all()),
        row!("mean", &[&[2, 3, 4]], ANY, |g, p| p[0]
            .mean(&[2], false)
            .exp()),
        row!(
            "max axis",
            &[&[3, 4]],
            Domain::Distinct,
            hessian_zero,
            |g, p| p[0].max(&[1], false) * 2.0
        ),
        row!("max all", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .max_all()
            .square()),
        row!(
            "min axis",
            &[&[3, 4]],
            Domain::Distinct,
            hessian_zero,
            |g, p| p[0].min(&[-1], false) * 2.0
        ),
        row!("min all", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .min_all()
            .square()),
        row!("cumsum", &[&[3, 4]], ANY, |g, p| p[0]
            .cumsum(1, false)
            .square()),
        row!("cumsum reverse", &[&[3, 4]], ANY, |g, p| p[0]
            .cumsum(-2, true)
            .exp()),
        row!("logsumexp", &[&[3, 4]], ANY, |g, p| p[0]
            .logsumexp(&[1], false)),
        row!("slice", &[&[3, 5]], ANY, |g, p| p[0]
            .slice(1, 1, 4)
            .square()),
        row!("pad", &[&[3, 2]], ANY, |g, p| p[0].pad(0, 1, 5).exp()),
        row!("concat", &[&[3, 2], &[3, 4]], ANY, |g, p| Expr::concat(
            &[p[0], p[1].square()],
            1
        )),
        row!("lgamma", M, Domain::Any(0.3, 4.0), |g, p| p[0].lgamma()),
        row!("lgamma negative", M, Domain::Any(-2.8, -2.2), |g, p| p[0]
            .lgamma()),
        row!("digamma", M, Domain::Any(0.3, 4.0), |g, p| p[0].digamma()),
        row!("digamma negative", M, Domain::Any(-0.8, -0.2), |g, p| p[0]
            .digamma()),
        row!("polygamma 1", M, Domain::Any(0.3, 4.0), |g, p| p[0]
            .polygamma(1)),
        row!("polygamma 3", M, Domain::Any(0.5, 30.0), |g, p| p[0]
            .polygamma(3)),
        // indexing (repeated and negative indices; the index arrays are constants)
        row!("take", &[&[5, 3]], ANY, |g, p| p[0]
            .take(ids(g, &[4], &[4.0, 0.0, 4.0, -2.0]), 0)
            .square()),
        row!("take axis 1", &[&[3, 5]], ANY, |g, p| p[0]
            .take(ids(g, &[2, 2], &[1.0, 4.0, 1.0, 0.0]), -1)
            .exp()),
        row!("scatter_add", &[&[4, 3]], ANY, |g, p| p[0]
            .scatter_add(ids(g, &[4], &[1.0, 3.0, 1.0, -5.0]), 0, 5)
            .square()),
        row!("take_along_axis", &[&[3, 4]], ANY, |g, p| p[0]
            .take_along_axis(ids(g, &[3, 2], &[3.0, 0.0, 1.0, 1.0, -1.0, 2.0]), 1)
            .square()),
        row!("scatter_add_along_axis", &[&[3, 2]], ANY, |g, p| p[0]
            .scatter_add_along_axis(ids(g, &[3, 2], &[3.0, 0.0, 1.0, 1.0, -1.0, 2.0]), 1, 4)
            .exp()),
        row!("sort", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .sort(1, false)
            .square()),
        row!(
            "sort descending axis 0",
            &[&[3, 4]],
            Domain::Distinct,
            |g, p| p[0].sort(0, true).exp()
        ),
        row!("top_k", &[&[3, 5]], Domain::Distinct, |g, p| p[0]
            .top_k(2)
            .0
            .square()),
        // the ops that make or read indices have no gradient of their own: each here picks
        // through one, so a spurious cotangent into an index (or none out of the values)
        // shows against finite differences
        row!("argmax", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .take_along_axis(p[0].argmax(1, true), 1)
            .square()),
        row!("argmin", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .take_along_axis(p[0].argmin(0, true), 0)
            .exp()),
        row!("argsort", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .take_along_axis(p[0].argsort(1, true), 1)
            * p[0]),
        row!("one_hot", &[&[3, 4]], ANY, |g, p| p[0].square()
            * ids(g, &[3], &[3.0, 0.0, 2.0]).one_hot(4)),
        row!("softmax", &[&[3, 4]], ANY, |g, p| p[0].softmax(1)),
        row!("log_softmax", &[&[3, 4]], ANY, |g, p| p[0].log_softmax(1)),
        // linear algebra (ops/linalg.rs), on well-conditioned matrices built from the
        // parameters inside the graph, so that the check perturbs M in M Mᵀ + n I
        row!("cholesky", &[&[5, 5]], ANY, |g, p| spd(g, p[0]).cholesky()),
        row!("cholesky batched", &[&[2, 3, 3]], ANY, |g, p| spd(g, p[0])
            .cholesky()),
        row!(
            "solve_triangular lower",
            &[&[4, 4], &[4, 2]],
            ANY,
            |g, p| diag_heavy(g, p[0]).solve_triangular(p[1], true, false)
        ),
        row!(
            "solve_triangular lower transpose_a",
            &[&[4, 4], &[4, 2]],
            ANY,
            |g, p| diag_heavy(g, p[0]).solve_triangular(p[1], true, true)
        ),
        row!(
            "solve_triangular upper",
            &[&[4, 4], &[4, 2]],
            ANY,
            |g, p| diag_heavy(g, p[0]).solve_triangular(p[1], false, false)
        ),
        row!(
            "solve_triangular upper transpose_a",
            &[&[2, 4, 4], &[2, 4, 3]],
            ANY,
            |g, p| diag_heavy(g, p[0]).solve_triangular(p[1], false, true)
        ),
        row!("solve", &[&[4, 4], &[4, 2]], ANY, |g, p| diag_heavy(
            g, p[0]
        )
        .solve(p[1])),
        row!("inv", &[&[4, 4]], ANY, |g, p| diag_heavy(g, p[0]).inv()),
        row!("logdet", &[&[4, 4]], ANY, |g, p| diag_heavy(g, p[0])
            .logdet()),
        row!("logdet of spd, batched", &[&[3, 4, 4]], ANY, |g, p| spd(
            g, p[0]
        )
        .logdet()),
        row!("eigvalsh", &[&[4, 4]], ANY, |g, p| p[0].eigvalsh()),
        row!("eigh_vectors", &[&[4, 4]], ANY, |g, p| {
            // V diag(c) Vᵀ: independent of the eigenvectors' signs
            let v = p[0].eigh_vectors();
            let c = g.constant(Tensor::from_vec([1, 4], vec![1.0, -0.5, 2.0, 3.0]));
            (v * c).matmul_t(v, false, true)
        }),
        row!("tril", &[&[4, 4]], ANY, |g, p| p[0]
            .triangle(false)
            .square()),
        row!("triu", &[&[2, 3, 3]], ANY, |g, p| p[0].triangle(true).exp()),
    ]
}

/// A constant index array (the row's indices: whole numbers, some repeated or negative).
fn ids<'g>(g: &'g Graph<f64>, shape: &[usize], v: &[f64]) -> Expr<'g, f64> {
    g.constant(symgrad::Tensor::from_vec(shape.to_vec(), v.to_vec()))
}

/// `M Mᵀ + n I` for the last two axes of M (`[..., n, n]`): symmetric positive definite.
fn spd<'g>(g: &'g Graph<f64>, m: Expr<'g, f64>) -> Expr<'g, f64> {
    m.matmul_t(m, false, true) + eye(g, m) * m.shape_fixed().unwrap()[m.rank() - 1] as f64
}

/// `M + 4 I`: for M uniform in [-2, 2], its diagonal is away from 0 (triangular solves) and
/// it is well conditioned at n = 4 (solve, inv, logdet).
fn diag_heavy<'g>(g: &'g Graph<f64>, m: Expr<'g, f64>) -> Expr<'g, f64> {
    m + eye(g, m) * 4.0
}

/// The identity of M's last two axes, as a constant.
fn eye<'g>(g: &'g Graph<f64>, m: Expr<'g, f64>) -> Expr<'g, f64> {
    let n = m.shape_fixed().unwrap()[m.rank() - 1];
    g.constant(Tensor::from_vec(
        [n, n],
        (0..n * n).map(|k| f64::from(k % (n + 1) == 0)).collect(),
    ))
}

/// A closure typed as a row's build (its signature inferred from the bound).
fn higher_ranked<F>(f: F) -> F
where
    F: for<'g> Fn(&'g Graph<f64>, &[Expr<'g, f64>]) -> Expr<'g, f64>,
{
    f
}

/// The Hessian-vector product the second-order check takes, at x: the gradient of
/// `s = sum_k <d cost / d p_k, V_k>` with `cost = sum(f(p) * R)`, for random constants R and
/// V (all zero when `grad` gives no gradient at all).
fn hessian_vector_product(layout: &ParamLayout, x: &[f64], build: &BuildFn<f64>) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(7);
    let g = Graph::<f64>::new();
    let ps: Vec<Expr<'_, f64>> = layout.ids().map(|id| g.param_id(layout, id)).collect();
    let out = build(&g, &ps);
    let r = random_const(&g, &out.shape_fixed().expect("fixed shape"), &mut rng);
    let cost = (out * r).sum_all();
    let mut s: Option<Expr<'_, f64>> = None;
    for (gk, e) in grad(cost, &ps).iter().zip(layout.entries()) {
        if let Some(gk) = gk {
            let term = (*gk * random_const(&g, &e.shape, &mut rng)).sum_all();
            s = Some(s.map_or(term, |acc| acc + term));
        }
    }
    let mut hv = vec![0.0; x.len()];
    if let Some(s) = s {
        let mut f = Compiler::new(&g, layout)
            .inputs(&[])
            .value_and_grad(s)
            .build();
        f.value_and_grad(x, &[], &mut hv).unwrap();
    }
    hv
}

// Mistakes caught: a wrong first or second derivative of any op (against finite
// differences); for the 15 rows marked `hessian_zero`, where the finite-difference check
// compares 0 with 0 and so cannot fail, a second derivative that is not exactly zero (a
// spurious term in a gradient rule) and, through `op(p)^2`, whose Hessian is not zero, a
// gradient of the gradient that is wrong or missing; and a row marked `hessian_zero` whose
// Hessian is not (or one unmarked whose Hessian is zero), so the marks stay true.
#[test]
fn every_op_matches_finite_differences_to_second_order() {
    let mut failures = Vec::new();
    for (k, row) in rows().into_iter().enumerate() {
        let shapes: Vec<Vec<usize>> = row.shapes.iter().map(|s| s.to_vec()).collect();
        let layout = layout_for(&shapes);
        let mut rng = StdRng::seed_from_u64(100 + k as u64);
        let mut x = Vec::new();
        for (i, e) in layout.entries().iter().enumerate() {
            x.extend(sample(row.domain, e.len(), &mut rng, i));
        }
        let opts = GradCheckOptions {
            rtol: Some(row.rtol),
            atol: Some(1e-7),
            ..Default::default()
        };
        let build = row.build;
        let result = std::panic::catch_unwind(|| {
            check_first_and_second::<f64>(row.name, &layout, &x, &build, &opts, true);
            let hv = hessian_vector_product(&layout, &x, &build);
            let largest = hv.iter().fold(0.0f64, |m, v| m.max(v.abs()));
            if row.hessian_zero {
                assert!(
                    largest == 0.0,
                    "{}: marked hessian_zero, but H v = {hv:?}",
                    row.name
                );
                // Squared, the row has a Hessian: nonzero, and right to second order.
                let squared = higher_ranked(move |g, p| build(g, p).square());
                let name = format!("{} squared", row.name);
                check_first_and_second::<f64>(&name, &layout, &x, &squared, &opts, true);
                let hv = hessian_vector_product(&layout, &x, &squared);
                assert!(
                    hv.iter().any(|v| v.abs() > 1e-6),
                    "{name}: H v is zero: {hv:?}"
                );
            } else {
                assert!(
                    largest > 1e-6,
                    "{}: H v is zero; mark the row hessian_zero: {hv:?}",
                    row.name
                );
            }
        });
        if let Err(e) = result {
            let msg = e
                .downcast_ref::<String>()
                .cloned()
                .unwrap_or_else(|| row.name.to_string());
            failures.push(msg);
        }
    }
    assert!(
        failures.is_empty(),
        "{} op(s) failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

// Mistake caught: deleting the only row of an op. Rows are matched to ops by their first
// word exactly: by prefix, `powi 3` counted as a row for `pow` and `expm1` for `exp`.
#[test]
fn the_table_covers_every_elementwise_primitive() {
    let ops: Vec<&str> = rows()
        .iter()
        .map(|r| r.name.split_whitespace().next().unwrap())
        .collect();
    for u in symgrad::ops::Unary::ALL {
        assert!(
            ops.contains(&u.name())
                // a constant to `grad` by design, so not finite differences: its own file
                || u.name() == "stop_gradient",
            "no row for unary op {}",
            u.name()
        );
    }
    for b in symgrad::ops::Binary::ALL {
        let covered =
            ops.contains(&b.name()) || matches!(b.name(), "ge" | "lt" | "le" | "eq" | "ne"); // share gt's rule: no gradient
        assert!(covered, "no row for binary op {}", b.name());
    }
    assert_eq!(rows().iter().filter(|r| r.hessian_zero).count(), 15);
    // every op of the indexing family has a row (or is a transpose with one)
    for name in [
        "take",
        "scatter_add",
        "take_along_axis",
        "scatter_add_along_axis",
        "one_hot",
        "argmax",
        "argmin",
        "argsort",
        "lgamma",
        "digamma",
        "polygamma",
    ] {
        assert!(ops.contains(&name), "no row for {name}");
    }
}
