//! F and ∇F of the MNIST deep autoencoder 784-1000-500-250-30-250-500-1000-784 (untied,
//! logistic units, linear 30-unit code, logistic outputs, cross-entropy averaged over the
//! batch) at batch 1000, in f32 and f64; and the compile time of F and ∇F.
//!
//! Run: `cargo bench --bench autoencoder`. Figures go to docs/PERFORMANCE.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{Compiler, Function, Graph, ParamLayout, Scalar, TensorRef};

fn compile<T: Scalar>(ae: &Autoencoder, layout: &ParamLayout) -> Function<T> {
    let g = Graph::<T>::new();
    let (x, cost) = ae.literal_cost(&g, layout);
    Compiler::new(&g, layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .build()
}

fn bench_type<T: Scalar>(c: &mut Criterion) {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let mut f = compile::<T>(&ae, &layout);
    let p: Vec<T> = ae.init(&layout, 0.1, 1);
    let mut rng = StdRng::seed_from_u64(2);
    let batch = 1000;
    let data: Vec<T> = (0..batch * 784)
        .map(|_| T::from_f64(rng.random::<f64>()))
        .collect();
    let mut grad = vec![T::zero(); layout.len()];
    let shape = [batch, 784];
    let inputs = [TensorRef::new(&shape, &data)];
    let mut group = c.benchmark_group("autoencoder_f_and_grad_batch1000");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(8));
    group.bench_function(T::NAME, |b| {
        b.iter(|| f.value_and_grad(&p, &inputs, &mut grad).unwrap())
    });
    group.finish();
}

fn bench_compile(c: &mut Criterion) {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    c.bench_function("autoencoder_compile_f_and_grad_f32", |b| {
        b.iter(|| compile::<f32>(&ae, &layout))
    });
}

fn benches(c: &mut Criterion) {
    bench_type::<f32>(c);
    bench_type::<f64>(c);
    bench_compile(c);
}

criterion_group!(group, benches);
criterion_main!(group);
