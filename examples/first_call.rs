//! From process start to the first F and ∇F of workload W (batch 1000, f32): build the graph,
//! run every compile stage, draw parameters and a batch, make one call, print F. Time the
//! whole process from outside (`benches/compare/compare.py` does, or `time`).
//!
//! Run: `cargo run --release --example first_call`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{Compiler, Graph, TensorRef};

fn main() -> Result<(), symgrad::Error> {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let g = Graph::<f32>::new();
    let (x, cost) = ae.literal_cost(&g, &layout);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let p: Vec<f32> = ae.init(&layout, 0.1, 1);
    let mut rng = StdRng::seed_from_u64(1);
    let data: Vec<f32> = (0..1000 * 784).map(|_| rng.random::<f32>()).collect();
    let mut grad = vec![0.0f32; layout.len()];
    let v = f.value_and_grad(&p, &[TensorRef::new(&[1000, 784], &data)], &mut grad)?;
    println!("f = {v}");
    Ok(())
}
