//! The GEMM ceiling of workload W: only the 23 matrix products one F and ∇F call needs, at
//! W's shapes and with W's transpose flags (8 forward `h W`, 8 weight gradients `hᵀ d`, 7
//! input gradients `d Wᵀ`), through the same GEMM calls symgrad makes, with nothing else.
//! Prints JSON lines (median of `--reps` after a warm-up).
//!
//! Run: `cargo run --release --example gemm_ceiling -- [--batch B] [--reps R]`

use std::time::Instant;

use symgrad::compile::Options;
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{dims, Compiler, Expr, Graph, ParamLayout, Scalar, TensorRef};

fn run<T: Scalar>(batch: usize, reps: usize) {
    let ae = Autoencoder::mnist();
    let layers = ae.layers();
    let g = Graph::<T>::new();
    let none = ParamLayout::new();
    let mut ins: Vec<Expr<'_, T>> = Vec::new();
    let mut outs: Vec<Expr<'_, T>> = Vec::new();
    for (i, &(n_in, n_out, _)) in layers.iter().enumerate() {
        let h = g.input(&format!("h{i}"), dims![batch, n_in]);
        let w = g.input(&format!("W{i}"), dims![n_in, n_out]);
        let d = g.input(&format!("d{i}"), dims![batch, n_out]);
        outs.push(h.matmul(w));
        outs.push(h.matmul_t(d, true, false));
        if i > 0 {
            outs.push(d.matmul_t(w, false, true));
        }
        ins.extend([h, w, d]);
    }
    let mut c = Compiler::new(&g, &none)
        .inputs(&ins)
        .options(Options::literal());
    for o in &outs {
        c = c.output(*o);
    }
    let mut f = c.build();
    let data: Vec<Vec<T>> = ins
        .iter()
        .map(|e| {
            let n: usize = e.shape_fixed().expect("fixed").iter().product();
            (0..n)
                .map(|k| T::from_f64(((k % 97) as f64) * 0.01))
                .collect()
        })
        .collect();
    let shapes: Vec<Vec<usize>> = ins
        .iter()
        .map(|e| e.shape_fixed().expect("fixed"))
        .collect();
    let refs: Vec<TensorRef<'_, T>> = shapes
        .iter()
        .zip(&data)
        .map(|(s, d)| TensorRef::new(s, d))
        .collect();
    f.run(&[], &refs, None).expect("shapes are right");
    let mut ts: Vec<f64> = (0..reps)
        .map(|_| {
            let t = Instant::now();
            f.run(&[], &refs, None).expect("shapes are right");
            t.elapsed().as_secs_f64()
        })
        .collect();
    ts.sort_by(f64::total_cmp);
    let flop: usize = layers
        .iter()
        .enumerate()
        .map(|(i, &(a, b, _))| 2 * batch * a * b * if i > 0 { 3 } else { 2 })
        .sum();
    println!(
        "{{\"peer\": \"gemm-crate\", \"dtype\": \"{}\", \"batch\": {batch}, \"threads\": {}, \"ms\": {}, \"gflop\": {}, \"products\": {}}}",
        if T::NAME == "f32" { "float32" } else { "float64" },
        rayon::current_num_threads(),
        1e3 * ts[ts.len() / 2],
        flop as f64 / 1e9,
        outs.len()
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let get = |n: &str, d: usize| {
        args.iter()
            .position(|a| a == n)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(d)
    };
    let (batch, reps) = (get("--batch", 1000), get("--reps", 15));
    run::<f32>(batch, reps);
    run::<f64>(batch, reps);
}
