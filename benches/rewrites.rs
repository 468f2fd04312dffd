//! What the rewrites buy, measured: an elementwise-heavy expression (a chain of four
//! softplus over 10^7 elements) and workload W (the MNIST autoencoder's F and ∇F at batch
//! 1000, f32), each compiled three ways: with everything (rewrites, fusion, in-place
//! planning), with the rewrites but neither fusion nor in-place planning, and literally (as
//! built). Also the compile time of W's F and ∇F with all rewrites.
//!
//! Run: `cargo bench --bench rewrites`. Figures go to docs/PERFORMANCE.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use symgrad::compile::Options;
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};

fn variants() -> [(&'static str, Options); 3] {
    [
        ("all", Options::default()),
        ("no_fusion_no_in_place", Options::unfused()),
        ("literal", Options::literal()),
    ]
}

fn softplus_chain(c: &mut Criterion) {
    let n = 10_000_000;
    let data: Vec<f32> = (0..n).map(|i| ((i % 1000) as f32 - 500.0) * 0.01).collect();
    let mut group = c.benchmark_group("softplus_chain_1e7_f32");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(6));
    for (name, opts) in variants() {
        let layout = ParamLayout::new();
        let g = Graph::<f32>::new();
        let x = g.input("x", dims![n]);
        let mut y = x;
        for _ in 0..4 {
            y = (y * 0.9 - 0.1).softplus();
        }
        let mut f = Compiler::new(&g, &layout)
            .inputs(&[x])
            .output(y)
            .options(opts)
            .build();
        let shape = [n];
        let inputs = [TensorRef::new(&shape, &data)];
        group.bench_function(name, |b| b.iter(|| f.run(&[], &inputs, None).unwrap()));
    }
    group.finish();
}

fn workload_w(c: &mut Criterion) {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let p: Vec<f32> = ae.init(&layout, 0.1, 1);
    let batch = 1000;
    let data: Vec<f32> = (0..batch * 784)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let shape = [batch, 784];
    let inputs = [TensorRef::new(&shape, &data)];
    let mut grad = vec![0.0f32; layout.len()];
    let mut group = c.benchmark_group("w_f_and_grad_batch1000_f32");
    group
        .sample_size(15)
        .measurement_time(Duration::from_secs(8));
    for (name, opts) in variants() {
        let g = Graph::<f32>::new();
        let (x, cost) = ae.literal_cost(&g, &layout);
        let mut f = Compiler::new(&g, &layout)
            .inputs(&[x])
            .value_and_grad(cost)
            .options(opts)
            .build();
        group.bench_function(name, |b| {
            b.iter(|| f.value_and_grad(&p, &inputs, &mut grad).unwrap())
        });
    }
    group.finish();
    c.bench_function("w_compile_with_all_rewrites_f32", |b| {
        b.iter(|| {
            let g = Graph::<f32>::new();
            let (x, cost) = ae.literal_cost(&g, &layout);
            Compiler::new(&g, &layout)
                .inputs(&[x])
                .value_and_grad(cost)
                .build()
        })
    });
}

criterion_group!(group, softplus_chain, workload_w);
criterion_main!(group);
