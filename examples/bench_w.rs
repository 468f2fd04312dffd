//! Times workload W (the MNIST autoencoder's F and ∇F) and prints one line per precision: the
//! median of `--reps` calls after a warm-up call. With `--inputs DIR` it reads the parameters
//! and data that benches/compare/compare.py gives every peer (params.npy, data.npy) and
//! prints JSON lines for that harness (as `--json` does); without, it draws its own.
//!
//! Run: `cargo run --release --example bench_w -- [--batch B] [--reps R] [--inputs DIR]
//! [--dtype float32|float64] [--literal] [--json]`

use std::path::Path;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::compile::Options;
use symgrad::models::autoencoder::Autoencoder;
use symgrad::tensor::kernels::Simd;
use symgrad::{Compiler, Graph, Scalar, TensorRef};

struct Args {
    batch: usize,
    reps: usize,
    inputs: Option<String>,
    dtypes: Vec<String>,
    literal: bool,
    json: bool,
}

fn run<T: Scalar>(a: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let opts = if a.literal {
        Options::literal()
    } else {
        Options::default()
    };
    let g = Graph::<T>::new();
    let (x, cost) = ae.literal_cost(&g, &layout);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .options(opts)
        .build();
    let (p, data): (Vec<T>, Vec<T>) = match &a.inputs {
        Some(dir) => {
            let p = symgrad::data::read_npy(&Path::new(dir).join("params.npy"))?;
            let d = symgrad::data::read_npy(&Path::new(dir).join("data.npy"))?;
            if p.data().len() != layout.len() || d.shape()[0] < a.batch {
                return Err(format!(
                    "{dir}: expected {} parameters and at least {} rows of data",
                    layout.len(),
                    a.batch
                )
                .into());
            }
            (
                p.data().iter().map(|&v| T::from_f64(v)).collect(),
                d.data()[..a.batch * 784]
                    .iter()
                    .map(|&v| T::from_f64(v))
                    .collect(),
            )
        }
        None => {
            let mut rng = StdRng::seed_from_u64(1);
            (
                ae.init(&layout, 0.1, 1),
                (0..a.batch * 784)
                    .map(|_| T::from_f64(rng.random::<f64>()))
                    .collect(),
            )
        }
    };
    let mut gr = vec![T::zero(); layout.len()];
    let shape = [a.batch, 784];
    let inputs = [TensorRef::new(&shape, &data)];
    // Compile time: build, every stage, lowering, and the buffer plan with its arena for
    // this batch (`prepare`); median of 9 (the first warms the caches). Every function is
    // kept until all nine are timed, so that each arena is memory the allocator has not
    // handed out before, as at a process's first compile: an arena freed and allocated
    // again would come back from glibc's heap (its mmap threshold rises to the size of the
    // last freed block) and be cleared with a memset, which made the f32 figure 1.6-2.8 ms
    // instead of about 0.5 (docs/PERFORMANCE.md).
    let mut kept = Vec::with_capacity(9);
    let mut cts: Vec<f64> = (0..9)
        .map(|_| {
            let t0 = Instant::now();
            let g = Graph::<T>::new();
            let (x, cost) = ae.literal_cost(&g, &layout);
            let mut f = Compiler::new(&g, &layout)
                .inputs(&[x])
                .value_and_grad(cost)
                .options(opts)
                .build();
            f.prepare(&inputs).expect("shapes are right");
            let t = t0.elapsed().as_secs_f64();
            kept.push(f);
            t
        })
        .collect();
    drop(kept);
    cts.sort_by(f64::total_cmp);
    let compile = cts[4];
    let mut v = f.value_and_grad(&p, &inputs, &mut gr)?;
    let mut ts: Vec<f64> = Vec::with_capacity(a.reps);
    for _ in 0..a.reps {
        let t = Instant::now();
        v = f.value_and_grad(&p, &inputs, &mut gr)?;
        ts.push(t.elapsed().as_secs_f64());
    }
    ts.sort_by(f64::total_cmp);
    let median = ts.get(ts.len() / 2).copied().unwrap_or(f64::NAN);
    let threads = rayon::current_num_threads();
    if a.json {
        println!(
            "{{\"peer\": \"symgrad{}\", \"dtype\": \"{}\", \"batch\": {}, \"threads\": {threads}, \"ms\": {}, \"f\": {}, \"compile_ms\": {}, \"version\": \"{} (elementwise kernels: {})\"}}",
            if a.literal { "-literal" } else { "" },
            if T::NAME == "f32" { "float32" } else { "float64" },
            a.batch,
            1e3 * median,
            v.to_f64_lossless(),
            1e3 * compile,
            env!("CARGO_PKG_VERSION"),
            Simd::detected().name()
        );
    } else {
        println!(
            "symgrad {} batch={} threads={threads}: median {:.1} ms, f = {:.4} (elementwise kernels: {})",
            T::NAME,
            a.batch,
            1e3 * median,
            v.to_f64_lossless(),
            Simd::detected().name()
        );
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let get = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let num = |name: &str, default: usize| -> Result<usize, String> {
        get(name).map_or(Ok(default), |v| {
            v.parse()
                .map_err(|_| format!("{name}: expected a number, got `{v}`"))
        })
    };
    let dtypes: Vec<String> = args
        .iter()
        .enumerate()
        .filter(|(_, a)| *a == "--dtype")
        .filter_map(|(i, _)| args.get(i + 1).cloned())
        .collect();
    let a = Args {
        batch: num("--batch", 1000)?,
        reps: num("--reps", 15)?,
        inputs: get("--inputs"),
        dtypes: if dtypes.is_empty() {
            vec!["float32".into(), "float64".into()]
        } else {
            dtypes
        },
        literal: args.iter().any(|a| a == "--literal"),
        json: args.iter().any(|a| a == "--json") || get("--inputs").is_some(),
    };
    for d in &a.dtypes {
        match d.as_str() {
            "float32" | "f32" => run::<f32>(&a)?,
            "float64" | "f64" => run::<f64>(&a)?,
            other => {
                return Err(format!("--dtype: expected float32 or float64, got `{other}`").into())
            }
        }
    }
    Ok(())
}
