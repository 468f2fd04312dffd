//! The linear-algebra family (`ops/linalg.rs`) by value, at sizes up to 64: each op against
//! a direct check of what it computes (L Lᵀ = A, A X = B, A A⁻¹ = I, ...), batched against
//! one matrix at a time, f32 against f64, the failures at call time as typed errors, and
//! the text form. Gradients to second order are rows of tests/op_table.rs.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::graph::parse;
use symgrad::{Compiler, Expr, Graph, ParamLayout, Scalar, Tensor};

/// A random `rows x cols` matrix, uniform in [-1, 1].
fn random(rows: usize, cols: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..rows * cols)
        .map(|_| rng.random_range(-1.0..1.0))
        .collect()
}

/// `M Mᵀ + n I` for a random `n x n` M: symmetric positive definite, well conditioned.
fn spd(n: usize, seed: u64) -> Vec<f64> {
    let m = random(n, n, seed);
    let mut a = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..n {
            a[i * n + j] = (0..n).map(|k| m[i * n + k] * m[j * n + k]).sum::<f64>();
        }
        a[i * n + i] += n as f64;
    }
    a
}

fn matmul(a: &[f64], b: &[f64], n: usize, k: usize, m: usize) -> Vec<f64> {
    let mut c = vec![0.0; n * m];
    for i in 0..n {
        for j in 0..m {
            c[i * m + j] = (0..k).map(|l| a[i * k + l] * b[l * m + j]).sum();
        }
    }
    c
}

fn transpose(a: &[f64], r: usize, c: usize) -> Vec<f64> {
    (0..c * r).map(|x| a[(x % r) * c + x / r]).collect()
}

fn max_diff(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).fold(0.0, |m, (x, y)| m.max((x - y).abs()))
}

fn eval<T: Scalar>(e: Expr<'_, T>) -> Tensor<T> {
    e.eval(&[]).expect("evaluates")
}

fn constant<'g, T: Scalar>(g: &'g Graph<T>, shape: &[usize], v: &[f64]) -> Expr<'g, T> {
    g.constant(Tensor::from_vec(
        shape.to_vec(),
        v.iter().map(|&x| T::from_f64(x)).collect(),
    ))
}

const N: usize = 64;

// Mistakes caught: a factor that is not lower triangular, or whose product is not A (a
// row-major/column-major mix-up in the faer conversion reads Aᵀ, invisible for a symmetric
// A, so the check uses an A whose upper triangle differs and expects its symmetric part).
#[test]
fn linalg_cholesky_factors_the_symmetric_part() {
    let a = spd(N, 1);
    let mut skewed = a.clone();
    for i in 0..N {
        for j in i + 1..N {
            skewed[i * N + j] += 0.3;
            skewed[j * N + i] -= 0.3;
        }
    }
    let g = Graph::<f64>::new();
    let l = eval(constant(&g, &[N, N], &skewed).cholesky());
    let l = l.data();
    for i in 0..N {
        for j in i + 1..N {
            assert_eq!(l[i * N + j], 0.0, "L[{i},{j}] above the diagonal");
        }
        assert!(l[i * N + i] > 0.0);
    }
    let llt = matmul(l, &transpose(l, N, N), N, N, N);
    assert!(max_diff(&llt, &a) < 1e-11, "{}", max_diff(&llt, &a));
}

// Mistakes caught: a flag of the triangular solve ignored or inverted (lower/upper,
// transposed), or the other triangle read.
#[test]
fn linalg_solve_triangular_every_flag() {
    let k = 5;
    let mut t = random(N, N, 2);
    for i in 0..N {
        t[i * N + i] += 4.0;
    }
    let b = random(N, k, 3);
    let g = Graph::<f64>::new();
    let (te, be) = (constant(&g, &[N, N], &t), constant(&g, &[N, k], &b));
    for lower in [true, false] {
        // The triangle the op reads; the other holds garbage it must ignore.
        let tri: Vec<f64> = (0..N * N)
            .map(|x| {
                let (i, j) = (x / N, x % N);
                if (lower && j <= i) || (!lower && j >= i) {
                    t[x]
                } else {
                    0.0
                }
            })
            .collect();
        for transpose_a in [false, true] {
            let x = eval(te.solve_triangular(be, lower, transpose_a));
            let op = if transpose_a {
                transpose(&tri, N, N)
            } else {
                tri.clone()
            };
            let back = matmul(&op, x.data(), N, N, k);
            let d = max_diff(&back, &b);
            assert!(d < 1e-12, "lower={lower} transpose_a={transpose_a}: {d}");
        }
    }
}

// Mistakes caught: solve, inverse, logdet or sign_det wrong for a non-symmetric matrix
// (a transposed read), or logdet's sign lost (det < 0 here: one row negated).
#[test]
fn linalg_solve_inverse_logdet_by_value() {
    let mut a = random(N, N, 4);
    for i in 0..N {
        a[i * N + i] += 8.0;
    }
    for v in &mut a[..N] {
        *v = -*v; // row 0 negated: det < 0
    }
    let b = random(N, 3, 5);
    let g = Graph::<f64>::new();
    let (ae, be) = (constant(&g, &[N, N], &a), constant(&g, &[N, 3], &b));
    let x = eval(ae.solve(be));
    assert!(max_diff(&matmul(&a, x.data(), N, N, 3), &b) < 1e-12);
    let inv = eval(ae.inv());
    let mut eye = vec![0.0; N * N];
    for i in 0..N {
        eye[i * N + i] = 1.0;
    }
    assert!(max_diff(&matmul(&a, inv.data(), N, N, N), &eye) < 1e-12);
    // logdet of A against 2 Σ log L_ii of the Cholesky factor of A Aᵀ, halved.
    let aat = matmul(&a, &transpose(&a, N, N), N, N, N);
    let l = eval(constant(&g, &[N, N], &aat).cholesky());
    let direct: f64 = (0..N).map(|i| l.data()[i * N + i].ln()).sum();
    let ld = eval(ae.logdet()).data()[0];
    assert!(
        (ld - direct).abs() < 1e-10 * direct.abs(),
        "{ld} vs {direct}"
    );
    assert_eq!(eval(ae.sign_det()).data(), &[-1.0]);
    let pos = constant(&g, &[N, N], &spd(N, 6));
    assert_eq!(eval(pos.sign_det()).data(), &[1.0]);
}

// Mistakes caught: eigenvalues out of order, or not those of the symmetric part; vectors
// that are not orthonormal or do not diagonalise A.
#[test]
fn linalg_eigh_by_value() {
    let m = random(N, N, 7);
    let sym: Vec<f64> = (0..N * N)
        .map(|x| 0.5 * (m[x] + m[(x % N) * N + x / N]))
        .collect();
    let g = Graph::<f64>::new();
    let me = constant(&g, &[N, N], &m);
    let w = eval(me.eigvalsh());
    let w = w.data();
    assert!(w.windows(2).all(|p| p[0] <= p[1]), "not ascending");
    let trace: f64 = (0..N).map(|i| sym[i * N + i]).sum();
    assert!((w.iter().sum::<f64>() - trace).abs() < 1e-11);
    let v = eval(me.eigh_vectors());
    let v = v.data();
    let vtv = matmul(&transpose(v, N, N), v, N, N, N);
    let mut eye = vec![0.0; N * N];
    for i in 0..N {
        eye[i * N + i] = 1.0;
    }
    assert!(max_diff(&vtv, &eye) < 1e-12);
    let vw: Vec<f64> = (0..N * N).map(|x| v[x] * w[x % N]).collect();
    let back = matmul(&vw, &transpose(v, N, N), N, N, N);
    assert!(max_diff(&back, &sym) < 1e-12);
}

// Mistake caught: batch elements mixed up (an offset per batch element wrong), for every op
// that takes a batch.
#[test]
fn linalg_batched_matches_one_matrix_at_a_time() {
    let n = 7;
    let (a0, a1) = (spd(n, 8), spd(n, 9));
    let (b0, b1) = (random(n, 2, 10), random(n, 2, 11));
    let g = Graph::<f64>::new();
    let ab = constant(&g, &[2, n, n], &[a0.clone(), a1.clone()].concat());
    let bb = constant(&g, &[2, n, 2], &[b0.clone(), b1.clone()].concat());
    type F = for<'a> fn(Expr<'a, f64>, Expr<'a, f64>) -> Expr<'a, f64>;
    let one = |a: &[f64], b: &[f64], f: F| {
        let g1 = Graph::<f64>::new();
        eval(f(constant(&g1, &[n, n], a), constant(&g1, &[n, 2], b)))
            .data()
            .to_vec()
    };
    let ops: [(&str, F); 8] = [
        ("cholesky", |a, _| a.cholesky()),
        ("solve_triangular", |a, b| a.solve_triangular(b, true, true)),
        ("solve", |a, b| a.solve(b)),
        ("inv", |a, _| a.inv()),
        ("logdet", |a, _| a.logdet()),
        ("sign_det", |a, _| a.sign_det()),
        ("eigvalsh", |a, _| a.eigvalsh()),
        ("triangle", |a, _| a.triangle(true)),
    ];
    for (name, f) in ops {
        let batched = eval(f(ab, bb)).data().to_vec();
        let each = [one(&a0, &b0, f), one(&a1, &b1, f)].concat();
        assert!(max_diff(&batched, &each) < 1e-13, "{name}");
    }
}

// Mistakes caught: an f32 kernel that is not computed (or rounded) like the f64 one, for
// each op (the kernels widen f32 to f64 and round the result once).
#[test]
fn linalg_f32_matches_f64() {
    let n = 32;
    let a = spd(n, 12);
    let b = random(n, 4, 13);
    fn all<T: Scalar>(a: &[f64], b: &[f64], n: usize) -> Vec<f64> {
        let g = Graph::<T>::new();
        let (ae, be) = (constant(&g, &[n, n], a), constant(&g, &[n, 4], b));
        let outs = [
            ae.cholesky(),
            ae.solve_triangular(be, true, false),
            ae.solve(be),
            ae.inv(),
            ae.logdet(),
            ae.eigvalsh(),
        ];
        outs.iter()
            .flat_map(|e| {
                eval(*e)
                    .data()
                    .iter()
                    .map(|v| v.to_f64_lossless())
                    .collect::<Vec<_>>()
            })
            .collect()
    }
    let (x32, x64) = (all::<f32>(&a, &b, n), all::<f64>(&a, &b, n));
    for (i, (p, q)) in x32.iter().zip(&x64).enumerate() {
        assert!(
            (p - q).abs() <= 1e-5 * (1.0 + q.abs()),
            "value {i}: {p} vs {q}"
        );
    }
}

// Mistakes caught: Cholesky of a matrix that is not positive definite panicking, or
// returning garbage (or NaN) without an error; the error not naming the op, the step, the
// batch element; the same for an exactly singular solve and inverse. Also with the value
// computed as a gradient's input through a compiled function with parameters, and in f32.
#[test]
fn linalg_failures_are_typed_errors() {
    let g = Graph::<f64>::new();
    let bad = constant(&g, &[3, 3], &[1.0, 2.0, 0.0, 2.0, 1.0, 0.0, 0.0, 0.0, 1.0]);
    let e = bad.cholesky().eval(&[]).unwrap_err();
    assert_eq!(e.kind(), "linalg");
    let msg = e.to_string();
    assert!(
        msg.contains("cholesky") && msg.contains("not positive definite"),
        "{msg}"
    );

    let batch = constant(&g, &[2, 2, 2], &[2.0, 0.0, 0.0, 2.0, 1.0, 0.0, 0.0, -1.0]);
    let msg = batch.cholesky().eval(&[]).unwrap_err().to_string();
    assert!(msg.contains("batch element 1"), "{msg}");
    assert!(msg.contains("`cholesky(const"), "the expression: {msg}");
    assert!(msg.contains("the user's expression"), "{msg}");

    let singular = constant(&g, &[2, 2], &[1.0, 2.0, 2.0, 4.0]);
    let rhs = constant(&g, &[2, 1], &[1.0, 1.0]);
    for e in [singular.solve(rhs), singular.inv()] {
        let err = e.eval(&[]).unwrap_err();
        assert_eq!(err.kind(), "linalg");
        assert!(err.to_string().contains("singular"), "{err}");
    }
    assert_eq!(eval(singular.logdet()).data(), &[f64::NEG_INFINITY]);
    assert_eq!(eval(singular.sign_det()).data(), &[0.0]);

    // Through a compiled value-and-gradient with a parameter: the forward step fails.
    let mut layout = ParamLayout::new();
    layout.add("a", &[2, 2]);
    let g = Graph::<f32>::new();
    let a = g.param(&layout, "a");
    let cost = a.cholesky().sum_all();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[])
        .value_and_grad(cost)
        .build();
    let mut grad = vec![0.0f32; 4];
    let err = f
        .value_and_grad(&[1.0, 0.0, 0.0, -1.0], &[], &mut grad)
        .unwrap_err();
    assert_eq!(err.kind(), "linalg");
    // And the same function computes at a positive definite point afterwards.
    f.value_and_grad(&[4.0, 0.0, 0.0, 9.0], &[], &mut grad)
        .unwrap();

    // A failure inside a gradient: logdet of a singular matrix is -inf, and its gradient
    // A⁻ᵀ does not exist; the error names the gradient rule that made the inverse.
    let g = Graph::<f64>::new();
    let a = g.param(&layout, "a");
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[])
        .value_and_grad(a.logdet())
        .build();
    let mut grad = vec![0.0; 4];
    let err = f
        .value_and_grad(&[1.0, 2.0, 2.0, 4.0], &[], &mut grad)
        .unwrap_err();
    assert_eq!(err.kind(), "linalg");
    assert!(err.to_string().contains("gradient rule of node"), "{err}");
}

// Mistakes caught: an op that prints a name or attributes the parser does not read back, or
// reads back as another op.
#[test]
fn linalg_text_form_round_trips() {
    let g = Graph::<f64>::new();
    let a = g.input("a", [4, 4]);
    let b = g.input("b", [4, 2]);
    let outs = [
        a.cholesky(),
        a.solve_triangular(b, true, false),
        a.solve_triangular(b, false, true),
        a.solve(b),
        a.inv(),
        a.logdet(),
        a.sign_det(),
        a.eigvalsh(),
        a.eigh_vectors(),
        a.triangle(false),
        a.triangle(true),
    ];
    let roots: Vec<_> = outs.iter().map(|e| e.id()).collect();
    let text = g.to_text(&roots);
    for name in [
        "cholesky(",
        "solve_triangular[lower](",
        "solve_triangular[upper, transpose_a](",
        "solve(",
        "inv(",
        "logdet(",
        "sign_det(",
        "eigvalsh(",
        "eigh_vectors(",
        "tril(",
        "triu(",
    ] {
        assert!(text.contains(name), "{name} not in\n{text}");
    }
    let p = parse::<f64>(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(p.graph.to_text(&p.outputs), text);
    let err =
        parse::<f64>("input a: [4, 4]\ninput b: [4, 2]\nout solve_triangular[sideways](a, b)")
            .unwrap_err();
    assert!(err.message.contains("lower"), "{}", err.message);
    let err = parse::<f64>("input a: [4, 3]\nout cholesky(a)").unwrap_err();
    assert!(err.message.contains("square"), "{}", err.message);
}

/// The gradient, in `T`, of a cost that uses every differentiable op at once, over the
/// entries of M (`[n, n]`) with A = M Mᵀ + n I, for a right-hand side `b` (`[n, k]`) whose
/// number of columns `k` is symbolic (bound at call time).
fn mixed_gradient<T: Scalar>(m: &[f64], b: &[f64], n: usize) -> (f64, Vec<f64>) {
    let mut layout = ParamLayout::new();
    layout.add("m", &[n, n]);
    let g = Graph::<T>::new();
    let k = g.symbol("k");
    let bi = g.input("b", symgrad::dims![n, k]);
    let mp = g.param(&layout, "m");
    let eye = g.constant(Tensor::from_vec(
        [n, n],
        (0..n * n)
            .map(|x| T::from_f64(if x % (n + 1) == 0 { n as f64 } else { 0.0 }))
            .collect(),
    ));
    let a = mp.matmul_t(mp, false, true) + eye;
    let l = a.cholesky();
    let cost = l.solve_triangular(bi, true, false).square().sum_all()
        + a.logdet()
        + a.solve(bi).sum_all()
        + a.inv().sum_all()
        + a.sign_det() * a.logdet()
        + a.eigvalsh().square().sum_all()
        + (mp + eye).solve_triangular(bi, false, true).sum_all();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[bi])
        .value_and_grad(cost)
        .build();
    let x: Vec<T> = m.iter().map(|&v| T::from_f64(v)).collect();
    let bt: Vec<T> = b.iter().map(|&v| T::from_f64(v)).collect();
    let mut grad = vec![T::zero(); n * n];
    let v = f
        .value_and_grad(&x, &[symgrad::TensorRef::new(&[n, 2], &bt)], &mut grad)
        .unwrap();
    (
        v.to_f64_lossless(),
        grad.iter().map(|g| g.to_f64_lossless()).collect(),
    )
}

// Mistakes caught: a gradient rule that only works in f64 (a constant of the wrong type, a
// rounding that loses the f32 gradient), or that needs fixed dimensions (the solves' right-
// hand side here has a symbolic number of rows).
#[test]
fn linalg_f32_gradients_match_f64_with_a_symbolic_dimension() {
    let n = 12;
    let m = random(n, n, 14);
    let b = random(n, 2, 15);
    let (v64, g64) = mixed_gradient::<f64>(&m, &b, n);
    let (v32, g32) = mixed_gradient::<f32>(&m, &b, n);
    assert!((v32 - v64).abs() < 1e-4 * v64.abs(), "{v32} vs {v64}");
    let scale = g64.iter().fold(0.0f64, |s, v| s.max(v.abs()));
    assert!(scale > 0.0);
    for (i, (p, q)) in g32.iter().zip(&g64).enumerate() {
        assert!((p - q).abs() < 1e-3 * scale, "gradient {i}: {p} vs {q}");
    }
}

// Mistakes caught: a kernel that panics, hangs or calls a NaN or an infinity in its input
// something else without saying so: every op given such a matrix returns a NaN-holding value
// or the typed error, and Cholesky's error says the matrix is not finite.
#[test]
fn linalg_non_finite_inputs_neither_panic_nor_hang() {
    for bad in [f64::NAN, f64::INFINITY] {
        let mut a = spd(6, 16);
        a[2 * 6 + 3] = bad;
        let g = Graph::<f64>::new();
        let ae = constant(&g, &[6, 6], &a);
        let be = constant(&g, &[6, 1], &random(6, 1, 17));
        let outs = [
            ae.cholesky(),
            ae.solve_triangular(be, true, false),
            ae.solve_triangular(be, false, false),
            ae.solve(be),
            ae.inv(),
            ae.logdet(),
            ae.sign_det(),
            ae.eigvalsh(),
            ae.eigh_vectors(),
        ];
        for e in outs {
            let text = g.expr_text(&[e.id()]);
            match e.eval(&[]) {
                Ok(t) => assert!(
                    t.data().iter().any(|v| !v.is_finite())
                        || text.starts_with("solve_triangular[lower]"),
                    "{text}: {:?}",
                    t.data()
                ),
                Err(err) => assert_eq!(err.kind(), "linalg", "{text}: {err}"),
            }
        }
        let err = ae.cholesky().eval(&[]).unwrap_err().to_string();
        assert!(err.contains("not finite"), "{err}");
    }
}

// The review's defects: the symmetric part computed as (a + b) / 2 overflowed for entries
// near f64::MAX, refusing a positive definite matrix; a 0 x 0 eigendecomposition panicked
// inside faer in builds with overflow checks (this test profile).
#[test]
fn huge_entries_and_empty_matrices() {
    let g = symgrad::Graph::<f64>::new();
    let a = g.constant(symgrad::Tensor::from_vec(
        [2, 2],
        vec![1e308, 0.0, 0.0, 1.0],
    ));
    let l = a.cholesky().eval(&[]).unwrap();
    assert_eq!(l.data()[3], 1.0);
    assert!((l.data()[0] / 1e154 - 1.0).abs() < 1e-12);
    // finite, the largest exact; the smallest within the solver's absolute accuracy
    // (eps times the norm), as any backward-stable solver gives it
    let w = a.eigvalsh().eval(&[]).unwrap();
    assert_eq!(w.data()[1], 1e308);
    assert!(w.data()[0].abs() <= 1e308 * 1e-15, "{:?}", w.data());
    let z = g.constant(symgrad::Tensor::from_vec([0, 0], vec![]));
    assert_eq!(z.eigh_vectors().eval(&[]).unwrap().shape(), &[0, 0]);
    assert_eq!(z.eigvalsh().eval(&[]).unwrap().shape(), &[0]);
    assert_eq!(z.logdet().eval(&[]).unwrap().data(), &[0.0]);
    assert_eq!(z.sign_det().eval(&[]).unwrap().data(), &[1.0]);
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]

    // Mistakes caught: a kernel that reads or writes a batch element at the wrong offset,
    // a transposed copy in or out of faer, a right-hand side of the wrong width, for random
    // sizes (n 1..24, k 1..5, batch 0..3): L Lᵀ = A for cholesky, A X = B for solve and
    // for solve_triangular with op(L), A A⁻¹ = I, and logdet against the Cholesky
    // factor's diagonal, in f64.
    #[test]
    fn factorizations_hold_at_random_sizes(
        n in 1usize..24,
        k in 1usize..5,
        batch in 0usize..3,
        seed in 0u64..1000,
    ) {
        let mut rng = StdRng::seed_from_u64(seed);
        let lead: Vec<usize> = if batch == 0 { vec![] } else { vec![batch] };
        let count = batch.max(1);
        let shape = |r: usize, c: usize| [lead.clone(), vec![r, c]].concat();
        let m: Vec<f64> = (0..count * n * n).map(|_| rng.random_range(-1.0..1.0)).collect();
        let b: Vec<f64> = (0..count * n * k).map(|_| rng.random_range(-1.0..1.0)).collect();
        let g = Graph::<f64>::new();
        let mv = g.constant(Tensor::from_vec(shape(n, n), m));
        let bv = g.constant(Tensor::from_vec(shape(n, k), b.clone()));
        let eye = g.constant(Tensor::from_vec(
            [n, n],
            (0..n * n).map(|i| f64::from(i % (n + 1) == 0)).collect(),
        ));
        let a = mv.matmul_t(mv, false, true) + eye * n as f64; // SPD
        let ev = |e: Expr<'_, f64>| e.eval(&[]).unwrap().data().to_vec();
        let close = |x: &[f64], y: &[f64], what: &str| {
            for (p, q) in x.iter().zip(y) {
                assert!((p - q).abs() <= 1e-9 * (1.0 + q.abs()), "{what}: {p} vs {q}");
            }
        };
        let l = a.cholesky();
        close(&ev(l.matmul_t(l, false, true)), &ev(a), "L Lᵀ");
        close(&ev(a.matmul(a.solve(bv))), &b, "A solve(A, B)");
        close(&ev(a.matmul(a.inv())), &ev(eye.broadcast_to(a.shape())), "A inv(A)");
        for (lower, ta) in [(true, false), (true, true)] {
            let x = l.solve_triangular(bv, lower, ta);
            close(&ev(l.matmul_t(x, ta, false)), &b, "op(L) X");
        }
        let diag = (l * eye).sum(&[-1], false).log().sum(&[-1], false) * 2.0;
        close(&ev(a.logdet()), &ev(diag), "logdet");
    }
}
