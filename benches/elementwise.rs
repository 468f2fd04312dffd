//! The elementwise kernels' throughput: each transcendental unary op (`exp`, `expm1`, `log`,
//! `sigmoid`, `softplus`, `tanh`) over 10^6 elements, f32 and f64, on rayon's threads, as
//! `Op::Unary` runs it; and, for `tanh` and `expm1`, the same loop over the standard
//! library's function (what the kernels called before they had `Scalar::tanh_simd` and
//! `Scalar::exp_m1_simd`), to show what vectorizing them buys. Also integer powers
//! (`Op::Powi`; `square` is `powi(2)`), and three fused elementwise steps over a 1000 x 1000
//! batch as a compiled function runs them: `h g` (one member), `g (h (1 - h))` (three: the
//! backward step of a logistic layer) and `sigmoid(z + b)` with `b` a row broadcast down
//! the batch (the forward step).
//!
//! Run: `cargo bench --bench elementwise`. Figures go to docs/PERFORMANCE.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use symgrad::ops::{Op, Unary};
use symgrad::tensor::kernels::map_pieces;
use symgrad::{dims, Compiler, Graph, ParamLayout, Scalar, TensorRef};

const N: usize = 1_000_000;

fn unary<T: Scalar>(c: &mut Criterion) {
    // Values across [-8, 8), where every op is in its ordinary range.
    let a: Vec<T> = (0..N)
        .map(|i| T::from_f64(((i * 7919) % 16_000) as f64 * 1e-3 - 8.0))
        .collect();
    let mut out = vec![T::zero(); N];
    let mut group = c.benchmark_group(format!("unary_1e6_{}", T::NAME));
    group
        .throughput(Throughput::Elements(N as u64))
        .sample_size(30)
        .measurement_time(Duration::from_secs(2));
    for u in [
        Unary::Exp,
        Unary::Expm1,
        Unary::Log,
        Unary::Sigmoid,
        Unary::Softplus,
        Unary::Tanh,
    ] {
        // `log` of the absolute values (negative ones would give NaN, which is as fast).
        let input: Vec<T> = if u == Unary::Log {
            a.iter().map(|v| v.abs() + T::one()).collect()
        } else {
            a.clone()
        };
        group.bench_function(BenchmarkId::from_parameter(u.name()), |b| {
            b.iter(|| u.kernel(&input, &mut out))
        });
    }
    // Integer powers (`square` is `powi(2)`), as `Op::Powi` runs them.
    let shape = [N];
    for n in [2, 3, -1] {
        let op = Op::<T>::Powi(n);
        group.bench_function(BenchmarkId::new("powi", n), |b| {
            b.iter(|| {
                op.eval(&[TensorRef::new(&shape, &a)], &mut out, &shape)
                    .unwrap()
            })
        });
    }
    // The standard library's functions in the unary kernels' parallel pieces (`map_pieces`),
    // a call per element.
    for (name, f) in [
        ("tanh_std", T::tanh as fn(T) -> T),
        ("expm1_std", T::exp_m1),
    ] {
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                map_pieces(&a, &mut out, |a, o| {
                    for (o, &x) in o.iter_mut().zip(a) {
                        *o = f(x);
                    }
                })
            })
        });
    }
    group.finish();
}

fn fused<T: Scalar>(c: &mut Criterion) {
    let (rows, cols) = (1000, 1000);
    let g = Graph::<T>::new();
    let h = g.input("h", dims![rows, cols]);
    let gy = g.input("g", dims![rows, cols]);
    let b = g.input("b", dims![cols]);
    let none = ParamLayout::new();
    let hv: Vec<T> = (0..rows * cols)
        .map(|i| T::from_f64((i % 997) as f64 / 1000.0))
        .collect();
    let gv: Vec<T> = (0..rows * cols)
        .map(|i| T::from_f64((i % 89) as f64 / 50.0 - 1.0))
        .collect();
    let bv: Vec<T> = (0..cols)
        .map(|i| T::from_f64(i as f64 / 500.0 - 1.0))
        .collect();
    let (s2, s1) = ([rows, cols], [cols]);
    let inputs = [
        TensorRef::new(&s2, &hv),
        TensorRef::new(&s2, &gv),
        TensorRef::new(&s1, &bv),
    ];
    let mut group = c.benchmark_group(format!("fused_1e6_{}", T::NAME));
    group
        .throughput(Throughput::Elements((rows * cols) as u64))
        .sample_size(30)
        .measurement_time(Duration::from_secs(2));
    for (name, e) in [
        ("mul", h * gy),
        ("sigmoid_backward", gy * (h * (1.0 - h))),
        ("bias_sigmoid", (h + b).sigmoid()),
    ] {
        let mut f = Compiler::new(&g, &none)
            .inputs(&[h, gy, b])
            .output(e)
            .build();
        group.bench_function(BenchmarkId::from_parameter(name), |bch| {
            bch.iter(|| f.run(&[], &inputs, None).expect("valid inputs"))
        });
    }
    group.finish();
}

fn benches(c: &mut Criterion) {
    unary::<f32>(c);
    unary::<f64>(c);
    fused::<f32>(c);
    fused::<f64>(c);
}

criterion_group!(elementwise, benches);
criterion_main!(elementwise);
