//! Rough timing of the MNIST autoencoder's F and ∇F at batch 1000 (criterion has the real bench).
use std::time::Instant;
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{dims, Compiler, Graph, Scalar, TensorRef};

fn run<T: Scalar>() {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let t0 = Instant::now();
    let g = Graph::<T>::new();
    let b = g.symbol("batch");
    let x = g.input("X", dims![b, 784]);
    let fwd = ae.forward(&g, &layout, x);
    let cost = Autoencoder::cross_entropy(x, fwd.output);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let tc = t0.elapsed();
    let params: Vec<T> = ae.init(&layout, 0.1, 1);
    let data: Vec<T> = (0..1000 * 784)
        .map(|i| T::from_f64(((i * 7919) % 1000) as f64 / 1000.0))
        .collect();
    let mut grad = vec![T::zero(); layout.len()];
    let inp = [TensorRef::new(&[1000, 784], &data)];
    let v = f.value_and_grad(&params, &inp, &mut grad).unwrap();
    let mut times = vec![];
    for _ in 0..10 {
        let t = Instant::now();
        f.value_and_grad(&params, &inp, &mut grad).unwrap();
        times.push(t.elapsed().as_secs_f64() * 1e3);
    }
    f.set_profiling(true);
    for _ in 0..5 {
        f.value_and_grad(&params, &inp, &mut grad).unwrap();
    }
    for (k, t, n) in f.profile() {
        println!("  {k:28} {:8.2} ms/call  ({n} instrs)", t * 1e3 / 5.0);
    }
    times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    println!(
        "{}: compile {:?}, nodes {}, f = {v}, median {:.1} ms, min {:.1} ms, stats {:?}",
        T::NAME,
        tc,
        g.len(),
        times[5],
        times[0],
        f.stats()
    );
}

fn main() {
    run::<f32>();
    run::<f64>();
}
