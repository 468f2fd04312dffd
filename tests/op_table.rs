//! One row per op (inputs' shapes, input domain, tolerance), each checked against central
//! finite differences in f64 to first and second order (JAX's lax_autodiff_test and
//! PyTensor's verify_grad, as a table).

mod common;

use common::{check_first_and_second, layout_for, sample, Domain};
use rand::rngs::StdRng;
use rand::SeedableRng;
use symgrad::{Expr, GradCheckOptions, Graph};

type Build = for<'g> fn(&'g Graph<f64>, &[Expr<'g, f64>]) -> Expr<'g, f64>;

struct Row {
    name: &'static str,
    shapes: &'static [&'static [usize]],
    domain: Domain,
    rtol: f64,
    build: Build,
}

const ANY: Domain = Domain::Any(-2.0, 2.0);
const POS: Domain = Domain::Any(0.5, 2.0);
const KINK: Domain = Domain::Signed(0.2, 2.0);

macro_rules! row {
    ($name:literal, $shapes:expr, $domain:expr, |$g:ident, $p:ident| $body:expr) => {
        Row {
            name: $name,
            shapes: $shapes,
            domain: $domain,
            rtol: 1e-5,
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
        row!("neg", M, ANY, |g, p| -p[0]),
        row!("exp", M, ANY, |g, p| p[0].exp()),
        row!("log", M, POS, |g, p| p[0].log()),
        row!("log1p", M, Domain::Any(-0.5, 2.0), |g, p| p[0].log1p()),
        row!("expm1", M, ANY, |g, p| p[0].expm1()),
        row!("sqrt", M, POS, |g, p| p[0].sqrt()),
        row!("abs", M, KINK, |g, p| p[0].abs()),
        row!("sign", M, KINK, |g, p| p[0].sign() * p[0]),
        row!("tanh", M, ANY, |g, p| p[0].tanh()),
        row!("sin", M, Domain::Any(-4.0, 4.0), |g, p| p[0].sin()),
        row!("cos", M, Domain::Any(-4.0, 4.0), |g, p| p[0].cos()),
        row!("sigmoid", M, Domain::Any(-6.0, 6.0), |g, p| p[0].sigmoid()),
        row!("softplus", M, Domain::Any(-6.0, 6.0), |g, p| p[0]
            .softplus()),
        row!("relu", M, KINK, |g, p| p[0].relu()),
        row!("powi 3", M, ANY, |g, p| p[0].powi(3)),
        row!("powi -2", M, POS, |g, p| p[0].powi(-2)),
        row!("square", M, ANY, |g, p| p[0].square()),
        // binary, same shape and broadcast
        row!("add", MM, ANY, |g, p| p[0] + p[1]),
        row!("sub", MM, ANY, |g, p| p[0] - p[1]),
        row!("mul", MM, ANY, |g, p| p[0] * p[1]),
        row!("div", MM, POS, |g, p| p[0] / p[1]),
        row!("pow", MM, POS, |g, p| p[0].pow(p[1])),
        row!("maximum", MM, Domain::Distinct, |g, p| p[0].maximum(p[1])),
        row!("minimum", MM, Domain::Distinct, |g, p| p[0].minimum(p[1])),
        row!("add broadcast [3,1]+[4]", &[&[3, 1], &[4]], ANY, |g, p| p
            [0]
            + p[1]),
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
        row!("t", &[&[3, 4]], ANY, |g, p| p[0].t()),
        row!("transpose 3-D", &[&[2, 3, 4]], ANY, |g, p| p[0]
            .transpose(&[2, 0, 1])),
        row!("reshape", &[&[3, 4]], ANY, |g, p| p[0].reshape([2usize, 6])
            * p[0].reshape([2usize, 6])),
        row!("broadcast_to", &[&[4]], ANY, |g, p| p[0]
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
        row!("max axis", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .max(&[1], false)
            * 2.0),
        row!("max all", &[&[3, 4]], Domain::Distinct, |g, p| p[0]
            .max_all()
            .square()),
        row!("slice", &[&[3, 5]], ANY, |g, p| p[0]
            .slice(1, 1, 4)
            .square()),
        row!("pad", &[&[3, 2]], ANY, |g, p| p[0].pad(0, 1, 5).exp()),
        row!("concat", &[&[3, 2], &[3, 4]], ANY, |g, p| Expr::concat(
            &[p[0], p[1].square()],
            1
        )),
        row!("softmax", &[&[3, 4]], ANY, |g, p| p[0].softmax(1)),
        row!("log_softmax", &[&[3, 4]], ANY, |g, p| p[0].log_softmax(1)),
    ]
}

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

#[test]
fn the_table_covers_every_elementwise_primitive() {
    let names: Vec<&str> = rows().iter().map(|r| r.name).collect();
    for u in symgrad::ops::Unary::ALL {
        assert!(
            names.iter().any(|n| n.starts_with(u.name()))
                // a constant to `grad` by design, so not finite differences: its own file
                || u.name() == "stop_gradient",
            "no row for unary op {}",
            u.name()
        );
    }
    for b in symgrad::ops::Binary::ALL {
        let covered = names.iter().any(|n| n.starts_with(b.name()))
            || matches!(b.name(), "ge" | "lt" | "le" | "eq" | "ne"); // share gt's rule: no gradient
        assert!(covered, "no row for binary op {}", b.name());
    }
}
