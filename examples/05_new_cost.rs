//! Step 5 of the learner's path: a cost of your own. A sparse autoencoder (Ng's lecture
//! notes): reconstruction error, plus a KL penalty that pulls each hidden unit's mean
//! activation over the batch towards a small target rho, plus weight decay. Written
//! symbolically in a few lines, differentiated by symgrad, its gradient checked against
//! finite differences, then minimized by L-BFGS, which sees only F and ∇F on one flat x.
//!
//! Run: `cargo run --release --example 05_new_cost`

use symgrad::data::curves_like;
use symgrad::optim::{CompiledObjective, Lbfgs};
use symgrad::train::picture::filters;
use symgrad::{check_gradient, dims, Compiler, GradCheckOptions, Graph, ParamLayout, TensorRef};

/// Hidden units, target mean activation, weight of the penalty, weight decay.
const HIDDEN: usize = 49;
const RHO: f64 = 0.05;
const BETA: f64 = 3.0;
const DECAY: f64 = 1e-4;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let data = curves_like::<f64>(1000, 1);
    let d = data.dim;

    // Parameters: ranges of one flat x.
    let mut layout = ParamLayout::new();
    layout.add("W", &[d, HIDDEN]);
    layout.add("b_h", &[HIDDEN]);
    layout.add("b_v", &[d]);

    // The cost, as one would write it on paper.
    let g = Graph::<f64>::new();
    let batch = g.symbol("batch");
    let x = g.input("X", dims![batch, d]);
    let w = g.param(&layout, "W");
    let h = (x.matmul(w) + g.param(&layout, "b_h")).sigmoid(); // [batch, HIDDEN]
    let y = (h.matmul(w.t()) + g.param(&layout, "b_v")).sigmoid(); // tied decoder
    let reconstruction = (x - y).square().sum(&[1], false).mean_all() * 0.5;
    let rho_hat = h.mean(&[0], false); // each unit's mean activation over the batch
    let kl = (rho_hat.log() * -RHO
        + (1.0 - rho_hat).log() * -(1.0 - RHO)
        + RHO * RHO.ln()
        + (1.0 - RHO) * (1.0 - RHO).ln())
    .sum_all();
    let cost = reconstruction + kl * BETA + w.square().sum_all() * (DECAY / 2.0);

    // F and ∇F in one compiled function; a second output reports the mean activation.
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .output(rho_hat.mean_all())
        .build();

    // Small weights spread over [-0.05, 0.05) by the golden-ratio sequence; zero biases.
    let mut params = vec![0.0; layout.len()];
    for (i, v) in layout.view_mut(&mut params, "W")?.iter_mut().enumerate() {
        *v = 0.1 * ((i as f64 * 0.618_033_988_7).fract() - 0.5);
    }

    // Is the gradient right? Checked on a batch of 20, against central differences.
    let (rows, few) = data.batch(0, 20);
    let small_shape = [rows, d];
    let small = [TensorRef::new(&small_shape, few)];
    let report = check_gradient(
        &mut f,
        &layout,
        &params,
        &small,
        &GradCheckOptions::default(),
    )?;
    println!("gradient check on 20 images: {report}");
    assert!(report.passed);

    // Minimize on all 1000 images with L-BFGS.
    let shape = [data.n, d];
    let all = [TensorRef::new(&shape, &data.x)];
    let mut grad = vec![0.0; layout.len()];
    let before = f.value_and_grad(&params, &all, &mut grad)?;
    let mean_before = f.scalar_output(1)?;
    let mut lbfgs = Lbfgs::new();
    lbfgs.stop.max_iter = 200;
    let result = {
        let mut obj = CompiledObjective::new(&mut f, &all)?;
        lbfgs.minimize(&mut obj, &mut params)
    };
    let after = f.value_and_grad(&params, &all, &mut grad)?;
    let mean_after = f.scalar_output(1)?;
    println!("L-BFGS: {result}");
    println!("cost {before:.4} -> {after:.4}");
    println!("mean hidden activation {mean_before:.3} -> {mean_after:.3} (target {RHO})");
    assert!(after < before);

    // What each hidden unit has learned: its weights as a 28x28 picture.
    let w = layout.view(&params, "W")?.data;
    std::fs::create_dir_all("target").ok();
    let path = std::path::Path::new("target/sparse-filters.png");
    filters(path, w, d, HIDDEN, 7)?;
    println!("wrote {} (one tile per hidden unit)", path.display());
    Ok(())
}
