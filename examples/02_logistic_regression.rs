//! Step 2 of the learner's path: logistic regression on made data, trained by plain gradient
//! descent through a compiled function that updates its parameters in place (Theano's
//! `updates`).
//!
//! Run: `cargo run --release --example 02_logistic_regression`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use symgrad::{dims, grad, Compiler, Graph, ParamLayout, TensorRef};

fn main() -> Result<(), symgrad::Error> {
    // Made data: 2-D points, labelled by which side of a known line they fall on (with noise).
    let (n, d) = (500usize, 2usize);
    let mut rng = StdRng::seed_from_u64(42);
    let true_w = [2.0, -3.0];
    let mut xs = Vec::with_capacity(n * d);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let p: [f64; 2] = [rng.sample(StandardNormal), rng.sample(StandardNormal)];
        let logit = true_w[0] * p[0] + true_w[1] * p[1] + 0.5;
        ys.push(if rng.random::<f64>() < 1.0 / (1.0 + (-logit).exp()) {
            1.0
        } else {
            0.0
        });
        xs.extend_from_slice(&p);
    }

    // The model: P(y = 1 | x) = sigmoid(x w + b); cost = mean cross-entropy.
    let mut layout = ParamLayout::new();
    layout.add("w", &[d, 1]);
    layout.add("b", &[1]);
    let g = Graph::<f64>::new();
    let batch = g.symbol("batch");
    let x = g.input("X", dims![batch, d]);
    let y = g.input("y", dims![batch, 1]);
    let (w, b) = (g.param(&layout, "w"), g.param(&layout, "b"));
    let p = (x.matmul(w) + b).sigmoid();
    let cost = -(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean_all();
    let accuracy = p.gt(0.5).equal(y).mean_all();

    // One compiled step: outputs the cost and accuracy, then writes x <- x - lr * grad.
    let gs = grad(cost, &[w, b]);
    let lr = 0.5;
    let mut step = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .output(cost)
        .output(accuracy)
        .update("w", w - gs[0].expect("cost depends on w") * lr)
        .update("b", b - gs[1].expect("cost depends on b") * lr)
        .build();

    let mut params = vec![0.0; layout.len()];
    let (xshape, yshape) = ([n, d], [n, 1]);
    let data = [TensorRef::new(&xshape, &xs), TensorRef::new(&yshape, &ys)];
    for epoch in 0..=200 {
        step.run_update(&mut params, &data, None)?;
        if epoch % 25 == 0 {
            println!(
                "step {epoch:3}: cost {:.4}, accuracy {:.3}",
                step.scalar_output(0)?,
                step.scalar_output(1)?
            );
        }
    }
    let w = layout.view(&params, "w")?;
    println!(
        "learned w = [{:.2}, {:.2}], b = {:.2} (data made with w = [2, -3], b = 0.5)",
        w.data[0], w.data[1], params[2]
    );
    Ok(())
}
