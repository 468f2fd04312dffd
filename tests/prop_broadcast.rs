//! proptest over random broadcastable shapes and values: forward values of the broadcasting
//! binary ops against a naive index-by-index reference, and their gradients against finite
//! differences.

mod common;

use proptest::prelude::*;
use symgrad::{check_gradient, Compiler, Expr, GradCheckOptions, Graph, ParamLayout, TensorRef};

/// Two shapes that broadcast: an output shape, and for each operand a right-aligned suffix
/// with some dimensions replaced by 1.
fn shapes() -> impl Strategy<Value = (Vec<usize>, Vec<usize>)> {
    prop::collection::vec(1usize..6, 0..5)
        .prop_flat_map(|out| {
            let r = out.len();
            // Mostly full-rank operands, sometimes shorter ones (numpy's right alignment).
            let rank = move || prop_oneof![3 => Just(r), 1 => 0..=r];
            let ones = move || prop::collection::vec(prop::bool::weighted(0.3), r);
            (Just(out), rank(), rank(), ones(), ones())
        })
        .prop_map(|(out, ra, rb, ma, mb)| {
            let r = out.len();
            let a: Vec<usize> = (r - ra..r)
                .map(|i| if ma[i] { 1 } else { out[i] })
                .collect();
            let b: Vec<usize> = (r - rb..r)
                .map(|i| if mb[i] { 1 } else { out[i] })
                .collect();
            (a, b)
        })
}

fn broadcast_shape(a: &[usize], b: &[usize]) -> Vec<usize> {
    let r = a.len().max(b.len());
    (0..r)
        .map(|i| {
            let da = if i + a.len() >= r {
                a[i + a.len() - r]
            } else {
                1
            };
            let db = if i + b.len() >= r {
                b[i + b.len() - r]
            } else {
                1
            };
            da.max(db)
        })
        .collect()
}

/// Element of `v` (shape `s`) seen from output index `idx` (shape `out`), numpy rules.
fn at(v: &[f64], s: &[usize], out: &[usize], idx: &[usize]) -> f64 {
    let lead = out.len() - s.len();
    let mut off = 0;
    for (d, &n) in s.iter().enumerate() {
        let i = if n == 1 { 0 } else { idx[lead + d] };
        off = off * n + i;
    }
    v[off]
}

const OPS: [&str; 5] = ["add", "sub", "mul", "div", "maximum"];

fn apply<'g>(op: &str, a: Expr<'g, f64>, b: Expr<'g, f64>) -> Expr<'g, f64> {
    match op {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "div" => a / b,
        _ => a.maximum(b),
    }
}

fn scalar(op: &str, a: f64, b: f64) -> f64 {
    match op {
        "add" => a + b,
        "sub" => a - b,
        "mul" => a * b,
        "div" => a / b,
        _ => a.max(b),
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn broadcasting_ops_match_reference_and_finite_differences(
        (sa, sb) in shapes(),
        op in 0usize..OPS.len(),
        seed in any::<u64>(),
    ) {
        let op = OPS[op];
        let out_shape = broadcast_shape(&sa, &sb);
        let na: usize = sa.iter().product();
        let nb: usize = sb.iter().product();
        // Values: positive for div's denominator, spread apart for maximum's comparisons.
        let mut x: Vec<f64> = (0..na + nb)
            .map(|i| {
                let h = (seed.wrapping_mul(6364136223846793005).wrapping_add((i as u64).wrapping_mul(1442695040888963407)) >> 11) as f64
                    / (1u64 << 53) as f64;
                0.5 + 1.5 * h + 0.013 * i as f64
            })
            .collect();
        if op == "maximum" {
            // Interleave a and b values so ties are impossible.
            for (i, v) in x.iter_mut().enumerate() {
                *v = 0.1 * i as f64 + if i < na { 0.0 } else { 0.05 };
            }
        }
        let mut layout = ParamLayout::new();
        layout.add("a", &sa);
        layout.add("b", &sb);
        let g = Graph::<f64>::new();
        let (a, b) = (g.param(&layout, "a"), g.param(&layout, "b"));
        let y = apply(op, a, b);
        prop_assert_eq!(y.shape_fixed().unwrap(), out_shape.clone());

        // Forward against the reference.
        let mut fwd = Compiler::new(&g, &layout).inputs(&[]).output(y).build();
        fwd.run(&x, &[], None).unwrap();
        let got = fwd.output(0).unwrap().data.to_vec();
        let n: usize = out_shape.iter().product();
        for (k, &got_k) in got.iter().enumerate().take(n) {
            let mut idx = vec![0; out_shape.len()];
            let mut r = k;
            for d in (0..out_shape.len()).rev() {
                idx[d] = r % out_shape[d];
                r /= out_shape[d];
            }
            let want = scalar(op, at(&x[..na], &sa, &out_shape, &idx), at(&x[na..], &sb, &out_shape, &idx));
            prop_assert_eq!(got_k, want);
        }

        // Gradient against finite differences.
        let w = common::random_const(&g, &out_shape, &mut <rand::rngs::StdRng as rand::SeedableRng>::seed_from_u64(seed));
        let cost = (y * w).sum_all();
        let mut f = Compiler::new(&g, &layout).inputs(&[]).value_and_grad(cost).build();
        let rep = check_gradient(&mut f, &layout, &x, &[] as &[TensorRef<'_, f64>], &GradCheckOptions::default()).unwrap();
        prop_assert!(rep.passed, "{} {:?} {:?}\n{}", op, sa, sb, rep);
    }
}
