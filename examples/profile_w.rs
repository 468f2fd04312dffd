//! Where the time of workload W goes: per-op totals of the MNIST autoencoder's F and ∇F at
//! batch 1000 (f32 and f64), from `Function::set_profiling`, averaged over 10 calls.
//!
//! With `--steps`, also the program with its buffer plan and the time of every step.
//!
//! Run: `cargo run --release --example profile_w [-- --steps]`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{Compiler, Graph, Scalar, TensorRef};

fn run<T: Scalar>() {
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
    let data: Vec<T> = (0..1000 * 784)
        .map(|_| T::from_f64(rng.random::<f64>()))
        .collect();
    let mut gr = vec![T::zero(); layout.len()];
    let shape = [1000, 784];
    let inputs = [TensorRef::new(&shape, &data)];
    f.value_and_grad(&p, &inputs, &mut gr)
        .expect("shapes are right");
    f.set_profiling(true);
    let calls = 10;
    for _ in 0..calls {
        f.value_and_grad(&p, &inputs, &mut gr)
            .expect("shapes are right");
    }
    println!("{}: ms per call by op (instructions)", T::NAME);
    for (op, secs, count) in f.profile() {
        println!("  {op:28} {:8.2}  ({count})", secs * 1e3 / calls as f64);
    }
    if std::env::args().any(|a| a == "--steps") {
        print!("{}", f.describe());
        for (i, label, secs) in f.profile_steps() {
            println!("  ${i:<4} {:8.3}  {label}", secs * 1e3 / calls as f64);
        }
    }
}

fn main() {
    run::<f32>();
    run::<f64>();
}
