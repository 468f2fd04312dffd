//! Times workload W (the MNIST autoencoder's F and ∇F, batch 1000) and prints the median in
//! the same format as benches/compare/numpy_ae.py, so that benches/compare/run.sh can
//! alternate the two in one run.
//!
//! Run: `cargo run --release --example bench_w -- [--batch B] [--reps R]`

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{Compiler, Graph, Scalar, TensorRef};

fn run<T: Scalar>(batch: usize, reps: usize) {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let g = Graph::<T>::new();
    let (x, cost) = ae.literal_cost(&g, &layout);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let p: Vec<T> = ae.init(&layout, 0.1, 1);
    let mut rng = StdRng::seed_from_u64(1);
    let data: Vec<T> = (0..batch * 784)
        .map(|_| T::from_f64(rng.random::<f64>()))
        .collect();
    let mut gr = vec![T::zero(); layout.len()];
    let shape = [batch, 784];
    let inputs = [TensorRef::new(&shape, &data)];
    let mut v = f
        .value_and_grad(&p, &inputs, &mut gr)
        .expect("shapes are right");
    let mut ts: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            v = f
                .value_and_grad(&p, &inputs, &mut gr)
                .expect("shapes are right");
            t.elapsed().as_secs_f64()
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    println!(
        "symgrad {} batch={batch} threads={}: median {:.1} ms, f = {:.4}",
        T::NAME,
        rayon::current_num_threads(),
        1e3 * ts[ts.len() / 2],
        v.to_f64_lossless()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str, default: usize| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    let (batch, reps) = (get("--batch", 1000), get("--reps", 15));
    run::<f32>(batch, reps);
    run::<f64>(batch, reps);
}
