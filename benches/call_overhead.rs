//! The fixed cost of one call of a compiled function, where the work itself is tiny: a scalar
//! expression (`log(1 + exp(x y)) + y²`, value only) and a logistic regression's F and ∇F
//! over 32 examples of 10 features (f64). What these time is the executor's own work per call:
//! binding the inputs, finding the buffer plan, walking the program, and the kernels' set-up.
//!
//! Run: `cargo bench --bench call_overhead`. Figures go to docs/PERFORMANCE.md.

use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};

fn scalar(c: &mut Criterion) {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![]);
    let y = g.input("y", dims![]);
    let f = (1.0 + (x * y).exp()).log() + y.square();
    let none = ParamLayout::new();
    let mut fun = Compiler::new(&g, &none).inputs(&[x, y]).output(f).build();
    let (a, b) = ([1.0], [2.0]);
    let inputs = [TensorRef::new(&[], &a), TensorRef::new(&[], &b)];
    let mut group = c.benchmark_group("call_overhead");
    group.bench_function("scalar_expression", |bch| {
        bch.iter(|| fun.run(&[], &inputs, None).expect("valid inputs"))
    });
    group.finish();
}

fn logistic_regression(c: &mut Criterion) {
    let mut layout = ParamLayout::new();
    layout.add("w", &[10, 1]);
    layout.add("b", &[1]);
    let g = Graph::<f64>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 10]);
    let y = g.input("y", dims![n, 1]);
    let (w, b) = (g.param(&layout, "w"), g.param(&layout, "b"));
    let cost = (-y * (x.matmul(w) + b)).softplus().mean_all();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(cost)
        .build();
    let params = vec![0.1; layout.len()];
    let mut grad = vec![0.0; layout.len()];
    let xs: Vec<f64> = (0..320).map(|i| (i % 7) as f64 / 7.0).collect();
    let ys: Vec<f64> = (0..32)
        .map(|i| if i % 2 == 0 { 1.0 } else { -1.0 })
        .collect();
    let (sx, sy) = ([32, 10], [32, 1]);
    let inputs = [TensorRef::new(&sx, &xs), TensorRef::new(&sy, &ys)];
    let mut group = c.benchmark_group("call_overhead");
    group.bench_function("logistic_regression_32", |bch| {
        bch.iter(|| {
            f.value_and_grad(&params, &inputs, &mut grad)
                .expect("valid inputs")
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(50)
        .measurement_time(Duration::from_secs(2))
}

criterion_group! {
    name = call_overhead;
    config = config();
    targets = scalar, logistic_regression
}
criterion_main!(call_overhead);
