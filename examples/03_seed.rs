//! Step 3 of the learner's path: the seed, line by line. A single-layer autoencoder whose
//! parameters `weights || bias_hidden || bias_visible` are ranges of ONE vector x; a cost
//! function and a gradient function compiled from the graph; x0 from a few epochs of
//! momentum pre-training on mini-batches; then `fmin_cg(cost, grad, x0)`.
//!
//! Run: `cargo run --release --example 03_seed`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::optim::{fmin_cg, LearningRate, Momentum};
use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};

/// 6x6 images of one random horizontal and one random vertical bar, pixels in (0, 1).
fn bars(n: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n * 36);
    for _ in 0..n {
        let (r, c) = (rng.random_range(0..6), rng.random_range(0..6));
        for i in 0..6 {
            for j in 0..6 {
                out.push(if i == r || j == c { 0.95 } else { 0.05 });
            }
        }
    }
    out
}

fn main() -> Result<(), symgrad::Error> {
    let (visible, hidden, n) = (36usize, 8usize, 200usize);
    let data = bars(n, 7);

    // x = weights || bias_hidden || bias_visible: each a named range of one flat vector.
    let mut layout = ParamLayout::new();
    layout.add("weights", &[visible, hidden]);
    layout.add("bias_hidden", &[hidden]);
    layout.add("bias_visible", &[visible]);

    // The model (tied weights): h = sigmoid(v W + b_h), v' = sigmoid(h W^T + b_v);
    // cost = mean over the batch of the cross-entropy summed over pixels.
    let g = Graph::<f64>::new();
    let batch = g.symbol("batch");
    let v = g.input("v", dims![batch, visible]);
    let w = g.param(&layout, "weights");
    let h = (v.matmul(w) + g.param(&layout, "bias_hidden")).sigmoid();
    let logits = h.matmul_t(w, false, true) + g.param(&layout, "bias_visible");
    let recon = logits.sigmoid();
    let cost = -(v * recon.log() + (1.0 - v) * (1.0 - recon).log())
        .sum(&[1], false)
        .mean_all();

    // The seed's two functions, compiled from the graph: cost(x) and grad(x). And one that
    // computes both at once, for the pre-training.
    let mut cost_fn = Compiler::new(&g, &layout).inputs(&[v]).output(cost).build();
    let mut grad_fn = Compiler::new(&g, &layout)
        .inputs(&[v])
        .value_and_grad(cost)
        .build();
    let mut both = Compiler::new(&g, &layout)
        .inputs(&[v])
        .value_and_grad(cost)
        .build();

    // x0: small random weights, then a few epochs of momentum on mini-batches of 20.
    let mut rng = StdRng::seed_from_u64(1);
    let mut x0 = vec![0.0; layout.len()];
    for wi in layout.view_mut(&mut x0, "weights")? {
        *wi = 0.1 * (rng.random::<f64>() - 0.5);
    }
    let all = [n, visible];
    let full = [TensorRef::new(&all, &data)];
    println!(
        "cost at the random start:        {:.4}",
        cost_fn.value(&x0, &full)?
    );
    let mb = [20, visible];
    let mut momentum = Momentum::new(LearningRate::Constant(0.05), 0.9);
    let pre = momentum.minimize_batches(&mut x0, 5, n / 20, |k, x, gr| {
        let batch = [TensorRef::new(
            &mb,
            &data[k * 20 * visible..(k + 1) * 20 * visible],
        )];
        both.value_and_grad(x, &batch, gr)
            .expect("shapes are fixed")
    });
    println!(
        "after 5 epochs of momentum:      {:.4}   ({} mini-batch steps)",
        cost_fn.value(&x0, &full)?,
        pre.f_evals
    );

    // fmin_cg(cost, grad, x0): the black box sees only the two functions of x.
    let cost_of = |x: &[f64]| cost_fn.value(x, &full).expect("shapes are fixed");
    let grad_of = |x: &[f64], out: &mut [f64]| {
        grad_fn
            .value_and_grad(x, &full, out)
            .expect("shapes are fixed");
    };
    let (x, report) = fmin_cg(cost_of, grad_of, &x0);
    println!("after fmin_cg:                   {:.4}", report.f);
    println!("report: {report}");
    let bh = layout.view(&x, "bias_hidden")?;
    println!(
        "bias_hidden, a view of x[{}..{}]: {:?}",
        layout.lookup("bias_hidden")?.range().start,
        layout.lookup("bias_hidden")?.range().end,
        &bh.data[..4]
    );
    Ok(())
}
