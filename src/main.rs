//! The `symgrad` command line: a thin layer over the library.

use std::process::ExitCode;
use std::time::Instant;

use clap::{Parser, Subcommand};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::models::autoencoder::{Autoencoder, Unit};
use symgrad::{check_gradient, dims, grad, Compiler, GradCheckOptions, Graph, Scalar, TensorRef};

#[derive(Parser)]
#[command(
    name = "symgrad",
    version,
    about = "Symbolic differentiation and compiled gradients, Theano-style, in Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Build the MNIST deep autoencoder's cost, differentiate it, check and time the compiled
    /// F and gradient, then train a small autoencoder on made data (the default).
    Demo {
        /// Batch size for the timing.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Descent steps for the small autoencoder.
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Seed of the made data and the initial weights.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or(Command::Demo {
        batch: 1000,
        steps: 300,
        seed: 1,
    }) {
        Command::Demo { batch, steps, seed } => demo(batch, steps, seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("symgrad: {e}");
            ExitCode::FAILURE
        }
    }
}

fn demo(batch: usize, steps: usize, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    if batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    println!(
        "1. The MNIST deep autoencoder 784-1000-500-250-30 (untied, {} parameters)",
        Autoencoder::mnist().layout().len()
    );
    time_autoencoder::<f32>(batch, seed)?;
    time_autoencoder::<f64>(batch, seed)?;

    println!("\n2. Gradient check of a small autoencoder 12-6-2 in f64 against finite differences");
    let ae = Autoencoder {
        sizes: vec![12, 6, 2],
        units: vec![Unit::Logistic, Unit::Linear],
        output_unit: Unit::Logistic,
        tied: false,
    };
    let layout = ae.layout();
    let g = Graph::<f64>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 12]);
    let cost = Autoencoder::cross_entropy(x, ae.forward(&g, &layout, x).output);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let data = made_data(64, 12, seed);
    let p0: Vec<f64> = ae.init(&layout, 0.5, seed);
    let report = check_gradient(
        &mut f,
        &layout,
        &p0,
        &[TensorRef::new(&[64, 12], &data)],
        &GradCheckOptions::default(),
    )?;
    print!("{report}");

    println!("\n3. Training it by gradient descent with momentum 0.9, learning rate 0.1, full batch of 64");
    let mut p = p0;
    let mut v = vec![0.0; p.len()];
    let mut gr = vec![0.0; p.len()];
    let inputs = [TensorRef::new(&[64, 12], &data)];
    let t = Instant::now();
    for step in 0..=steps {
        let c = f.value_and_grad(&p, &inputs, &mut gr)?;
        if step % (steps / 6).max(1) == 0 {
            println!("   step {step:4}: cross-entropy per image {c:.4}");
        }
        for ((pi, vi), gi) in p.iter_mut().zip(&mut v).zip(&gr) {
            *vi = 0.9 * *vi - 0.1 * gi;
            *pi += *vi;
        }
    }
    println!("   {} steps in {:.2} s", steps, t.elapsed().as_secs_f64());
    Ok(())
}

/// Images with structure: each row is a noisy mix of a few fixed prototypes, in (0, 1).
fn made_data(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let protos: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..d).map(|_| rng.random::<f64>()).collect())
        .collect();
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let k = rng.random_range(0..protos.len());
        for &pv in &protos[k] {
            out.push((pv + 0.05 * (rng.random::<f64>() - 0.5)).clamp(0.01, 0.99));
        }
    }
    out
}

fn time_autoencoder<T: Scalar>(batch: usize, seed: u64) -> Result<(), Box<dyn std::error::Error>> {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let t0 = Instant::now();
    let g = Graph::<T>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 784]);
    let cost = Autoencoder::cross_entropy(x, ae.forward(&g, &layout, x).output);
    let forward_nodes = g.len();
    let params: Vec<_> = layout.ids().map(|id| g.param_id(&layout, id)).collect();
    let grads = grad(cost, &params);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .output(cost)
        .flat_gradient(&grads)
        .build();
    let compile = t0.elapsed();
    let p: Vec<T> = ae.init(&layout, 0.1, seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let data: Vec<T> = (0..batch * 784)
        .map(|_| T::from_f64(rng.random::<f64>()))
        .collect();
    let mut gr = vec![T::zero(); layout.len()];
    let shape = [batch, 784];
    let inputs = [TensorRef::new(&shape, &data)];
    let c = f.value_and_grad(&p, &inputs, &mut gr)?;
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f.value_and_grad(&p, &inputs, &mut gr)
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    times.sort_by(f64::total_cmp);
    let gnorm = gr
        .iter()
        .map(|v| v.to_f64_lossless().powi(2))
        .sum::<f64>()
        .sqrt();
    println!(
        "   {}: {} nodes built, {} after grad; compiled in {:.1} ms; F = {:.3}, |grad F| = {:.3}; F and grad at batch {batch}: {:.1} ms (median of 5)",
        T::NAME,
        forward_nodes,
        g.len(),
        compile.as_secs_f64() * 1e3,
        c.to_f64_lossless(),
        gnorm,
        times[2]
    );
    Ok(())
}
