//! Where the time of workload W goes: per-op totals of the MNIST autoencoder's F and ∇F at
//! batch 1000 (f32 and f64), from `Function::set_profiling`: the median of 21 calls, each
//! profiled on its own, with the fastest and slowest call.
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
    // Each call profiled on its own, so the medians and ranges show the spread between
    // calls (a mean hides a slow call).
    let calls = 21;
    let mut ops: Vec<(String, usize, Vec<f64>)> = Vec::new();
    let mut steps: Vec<(usize, String, Vec<f64>)> = Vec::new();
    for _ in 0..calls {
        f.set_profiling(true);
        f.value_and_grad(&p, &inputs, &mut gr)
            .expect("shapes are right");
        for (op, secs, count) in f.profile() {
            match ops.iter_mut().find(|(o, _, _)| *o == op) {
                Some((_, _, v)) => v.push(secs),
                None => ops.push((op, count, vec![secs])),
            }
        }
        for (k, (i, label, secs)) in f.profile_steps().into_iter().enumerate() {
            match steps.get_mut(k) {
                Some((_, _, v)) => v.push(secs),
                None => steps.push((i, label, vec![secs])),
            }
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] * 1e3
    };
    let mut rows: Vec<(String, usize, f64, f64, f64)> = ops
        .into_iter()
        .map(|(op, count, mut v)| {
            let m = median(&mut v);
            (op, count, m, v[0] * 1e3, v[v.len() - 1] * 1e3)
        })
        .collect();
    rows.sort_by(|a, b| b.2.total_cmp(&a.2));
    println!(
        "{}: ms per call by op, median of {calls} calls (instructions) [fastest - slowest call]",
        T::NAME
    );
    for (op, count, m, lo, hi) in rows {
        println!("  {op:28} {m:8.2}  ({count})  [{lo:.2} - {hi:.2}]");
    }
    if std::env::args().any(|a| a == "--steps") {
        print!("{}", f.describe());
        for (i, label, mut v) in steps {
            println!("  ${i:<4} {:8.3}  {label}", median(&mut v));
        }
    }
}

fn main() {
    run::<f32>();
    run::<f64>();
}
