//! `symgrad demo`: the MNIST deep autoencoder's cost built, differentiated, compiled and timed
//! in f32 and f64, then a small autoencoder's gradient checked and the autoencoder trained on
//! made data.

use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
use symgrad::optim::{LearningRate, Momentum};
use symgrad::{check_gradient, dims, grad, Compiler, GradCheckOptions, Graph, Scalar, TensorRef};

use crate::AnyError;

/// `symgrad demo --batch B --steps S --seed N`.
pub fn demo(batch: usize, steps: usize, seed: u64) -> Result<(), AnyError> {
    // A rough bound of what timing the network at this batch takes (the data and every
    // layer's activations, forward and back, in f64), checked before anything is allocated.
    let need = batch.saturating_mul(784 * 8 * 16);
    let limit = symgrad::tensor::memory_limit();
    if need > limit {
        return Err(format!(
            "--batch {batch}: the timing would need about {}, more than the memory limit of {} \
             (--memory-limit or SYMGRAD_MEMORY_LIMIT raise it)",
            symgrad::tensor::fmt_bytes(need),
            symgrad::tensor::fmt_bytes(limit)
        )
        .into());
    }
    if batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    say!(
        "1. The MNIST deep autoencoder 784-1000-500-250-30 (untied, {} parameters)",
        Autoencoder::mnist().layout().len()
    );
    time_autoencoder::<f32>(batch, seed)?;
    time_autoencoder::<f64>(batch, seed)?;

    say!("\n2. Gradient check of a small autoencoder 12-6-2 in f64 against finite differences");
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
    let cost = ae.cost(Loss::CrossEntropy, x, &ae.forward(&g, &layout, x));
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

    say!("\n3. Training it by gradient descent with momentum 0.9, learning rate 0.1, full batch of 64");
    let mut p = p0;
    let mut opt = Momentum::<f64>::new(LearningRate::Constant(0.1), 0.9);
    let mut gr = vec![0.0; p.len()];
    let inputs = [TensorRef::new(&[64, 12], &data)];
    let t = Instant::now();
    for step in 0..=steps {
        let c = f.value_and_grad(&p, &inputs, &mut gr)?;
        if step % (steps / 6).max(1) == 0 {
            say!("   step {step:4}: cross-entropy per image {c:.4}");
        }
        // One full batch: every step is in epoch 0.
        opt.step(&mut p, &gr, 0);
    }
    say!("   {} steps in {:.2} s", steps, t.elapsed().as_secs_f64());
    Ok(())
}

/// Images with structure: each row is a noisy mix of a few fixed prototypes, in (0, 1).
/// Not `symgrad::data::curves_like`: its images have 784 pixels, and the demo's network has
/// 12 inputs so that the finite-difference check and the training steps take a fraction of a
/// second.
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

fn time_autoencoder<T: Scalar>(batch: usize, seed: u64) -> Result<(), AnyError> {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let t0 = Instant::now();
    let g = Graph::<T>::new();
    let (x, cost) = ae.literal_cost(&g, &layout);
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
    say!(
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
