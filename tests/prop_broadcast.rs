//! proptest over random broadcastable shapes and values: forward values of the broadcasting
//! binary ops against a naive index-by-index reference, and their gradients against finite
//! differences; and, a few cases each, shapes large enough for the parallel paths (the
//! elementwise split from `kernels::PARALLEL_MIN` elements, the parallel band of a reduction
//! that keeps its inner axis, and products split between threads from 48³ multiply-adds),
//! forward and gradient against naive loops.

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

/// Deterministic values in about [0.5, 2] from a seed and an index.
fn val(seed: u64, i: usize) -> f64 {
    let h = (seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add((i as u64).wrapping_mul(1442695040888963407))
        >> 11) as f64
        / (1u64 << 53) as f64;
    0.5 + 1.5 * h
}

fn close(got: f64, want: f64, scale: f64) -> bool {
    (got - want).abs() <= 1e-12 * scale.max(1.0)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(4))]

    // Mistake caught: the parallel elementwise split or the parallel reduction band writing
    // a piece twice, skipping one, or with the wrong operand offsets (rows cut at a piece's
    // edge, a broadcast operand's stride lost): y = a (op) b over [p, q, c] with
    // p q c >= 33,600 > PARALLEL_MIN, b broadcast as [c], [p, 1, c] or full; then
    // y summed over the middle axis (kept inner axis of c >= 700 columns: the band, split
    // for up to 10 threads) and the gradient of sum(y w) (sum_to over the broadcast axes).
    // (A lone elementwise op is compiled into a fused kernel: its parallel split runs here;
    // `kernels`' own tests run map2's.)
    #[test]
    fn large_shapes_take_the_parallel_elementwise_and_reduction_paths(
        p in 4usize..8,
        q in 12usize..20,
        c in 700usize..900,
        which_b in 0usize..3,
        mul in any::<bool>(),
        seed in any::<u64>(),
    ) {
        let out = vec![p, q, c];
        let sb = match which_b {
            0 => vec![c],
            1 => vec![p, 1, c],
            _ => out.clone(),
        };
        let (na, nb) = (p * q * c, sb.iter().product::<usize>());
        prop_assert!(na >= 32_768);
        let x: Vec<f64> = (0..na + nb).map(|i| val(seed, i)).collect();
        let wv: Vec<f64> = (0..na).map(|i| val(seed ^ 0x5555, i) - 1.25).collect();
        let mut layout = ParamLayout::new();
        layout.add("a", &out);
        layout.add("b", &sb);
        let g = Graph::<f64>::new();
        let (a, b) = (g.param(&layout, "a"), g.param(&layout, "b"));
        let y = if mul { a * b } else { a + b };
        let w = g.constant(symgrad::Tensor::from_vec(out.clone(), wv.clone()));
        let cost = (y * w).sum_all();
        let mut f = Compiler::new(&g, &layout)
            .inputs(&[])
            .output(y)
            .output(y.sum(&[1], true))
            .value_and_grad(cost)
            .build();
        let mut grad = vec![0.0; na + nb];
        f.run(&x, &[], Some(&mut grad)).unwrap();
        let (xa, xb) = x.split_at(na);
        let b_at = |i: usize, k: usize| match which_b {
            0 => xb[k],
            1 => xb[(i / (q * c)) * c + k],
            _ => xb[i],
        };
        let got = f.output(0).unwrap().data.to_vec();
        let mut want_sum = vec![0.0; p * c];
        let (mut ga, mut gb) = (vec![0.0; na], vec![0.0; nb]);
        for i in 0..na {
            let k = i % c;
            let (av, bv) = (xa[i], b_at(i, k));
            let want = if mul { av * bv } else { av + bv };
            prop_assert_eq!(got[i], want, "element {}", i);
            want_sum[(i / (q * c)) * c + k] += want;
            ga[i] = if mul { wv[i] * bv } else { wv[i] };
            let bi = match which_b {
                0 => k,
                1 => (i / (q * c)) * c + k,
                _ => i,
            };
            gb[bi] += if mul { wv[i] * av } else { wv[i] };
        }
        let sums = f.output(1).unwrap().data.to_vec();
        prop_assert_eq!(sums.len(), p * c);
        for (j, (&s, &w)) in sums.iter().zip(&want_sum).enumerate() {
            prop_assert!(close(s, w, 4.0 * q as f64), "sum {}: {} vs {}", j, s, w);
        }
        for (j, (&s, &w)) in grad.iter().zip(ga.iter().chain(&gb)).enumerate() {
            prop_assert!(close(s, w, 4.0 * (na / nb) as f64), "gradient {}: {} vs {}", j, s, w);
        }
    }

    // Mistake caught: the split of a product between threads (rows, or columns when there
    // are fewer than half as many rows) cutting at the wrong row or column, or with an
    // operand's offset or stride wrong for a transposed side: products with m n k >= 48³
    // (120,000 and up) and max(m, n) >= 2 x threads for up to 25 threads, every transpose,
    // forward and the gradient of sum((A B) W), against naive loops.
    #[test]
    fn large_products_take_the_split_between_threads(
        m in 50usize..110,
        n in 60usize..120,
        k in 40usize..70,
        ta in any::<bool>(),
        tb in any::<bool>(),
        seed in any::<u64>(),
    ) {
        prop_assert!(m * n * k >= 48 * 48 * 48);
        let sa = if ta { vec![k, m] } else { vec![m, k] };
        let sb = if tb { vec![n, k] } else { vec![k, n] };
        let x: Vec<f64> = (0..m * k + k * n).map(|i| val(seed, i) - 1.25).collect();
        let wv: Vec<f64> = (0..m * n).map(|i| val(seed ^ 0xaaaa, i) - 1.25).collect();
        let mut layout = ParamLayout::new();
        layout.add("a", &sa);
        layout.add("b", &sb);
        let g = Graph::<f64>::new();
        let (a, b) = (g.param(&layout, "a"), g.param(&layout, "b"));
        let c = a.matmul_t(b, ta, tb);
        let w = g.constant(symgrad::Tensor::from_vec(vec![m, n], wv.clone()));
        let mut f = Compiler::new(&g, &layout)
            .inputs(&[])
            .output(c)
            .value_and_grad((c * w).sum_all())
            .build();
        let mut grad = vec![0.0; x.len()];
        f.run(&x, &[], Some(&mut grad)).unwrap();
        let (xa, xb) = x.split_at(m * k);
        let a_at = |i: usize, l: usize| if ta { xa[l * m + i] } else { xa[i * k + l] };
        let b_at = |l: usize, j: usize| if tb { xb[j * k + l] } else { xb[l * n + j] };
        let got = f.output(0).unwrap().data.to_vec();
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|l| a_at(i, l) * b_at(l, j)).sum();
                prop_assert!(close(got[i * n + j], want, k as f64), "C[{}, {}]: {} vs {}", i, j, got[i * n + j], want);
            }
        }
        // dA = W Bᵀ (stored as A is), dB = Aᵀ W.
        for i in 0..m {
            for l in 0..k {
                let want: f64 = (0..n).map(|j| wv[i * n + j] * b_at(l, j)).sum();
                let at = if ta { l * m + i } else { i * k + l };
                prop_assert!(close(grad[at], want, n as f64), "dA[{}, {}]", i, l);
            }
        }
        for l in 0..k {
            for j in 0..n {
                let want: f64 = (0..m).map(|i| a_at(i, l) * wv[i * n + j]).sum();
                let at = m * k + if tb { j * k + l } else { l * n + j };
                prop_assert!(close(grad[at], want, m as f64), "dB[{}, {}]", l, j);
            }
        }
    }
}
