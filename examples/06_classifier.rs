//! Step 6 of the learner's path: classifiers on MNIST with integer labels. The labels go
//! to the compiled function as the `u8` array the IDX file holds (`Arg::indices`), the
//! cross-entropy picks each image's log-probability with `take_along_axis`, and accuracy
//! compares `argmax` with the labels. Softmax regression is trained by L-BFGS on all 60,000
//! images at once; a one-hidden-layer MLP by momentum on mini-batches.
//!
//! Run: `cargo run --release --example 06_classifier` (MNIST from `$SYMGRAD_MNIST` or
//! `../shared/data/mnist`; about 40 s on 2 cores).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use symgrad::data::{find_mnist, load_mnist, Dataset};
use symgrad::optim::{FusedObjective, Lbfgs, LearningRate, Momentum, Stop};
use symgrad::{dims, Arg, Compiler, Expr, Function, Graph, ParamLayout};

/// The cross-entropy of `logits` against labels `y` (an index input) and the accuracy.
fn cost_and_accuracy<'g>(
    logits: Expr<'g, f32>,
    y: Expr<'g, f32>,
    n: symgrad::SymId,
) -> (Expr<'g, f32>, Expr<'g, f32>) {
    let label = y.reshape(dims![n, 1]);
    let nll = -logits.log_softmax(1).take_along_axis(label, 1).mean_all();
    let accuracy = logits.argmax(1, false).equal(y).mean_all();
    (nll, accuracy)
}

/// Test accuracy of a function whose output 1 is the accuracy.
fn accuracy(f: &mut Function<f32>, x: &[f32], test: &Dataset<f32>) -> Result<f32, symgrad::Error> {
    let labels = test.labels.as_ref().expect("MNIST has labels");
    let mut g = vec![0.0; x.len()];
    let (xshape, yshape) = ([test.n, test.dim], [test.n]);
    let args = [Arg::values(&xshape, &test.x), Arg::indices(&yshape, labels)];
    f.value_and_grad_with(x, &args, &mut g)?;
    f.scalar_output(1)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let Some(dir) = find_mnist() else {
        println!("MNIST not found: set SYMGRAD_MNIST to the folder of its four IDX files");
        return Ok(());
    };
    let mnist = load_mnist::<f32>(&dir)?;
    let (train, test) = (&mnist.train, &mnist.test);
    let train_labels = train.labels.as_ref().expect("labels");
    let (d, classes) = (train.dim, 10);

    // Softmax regression: logits = X W + b, L2 on W, by L-BFGS over the whole training set.
    let mut layout = ParamLayout::new();
    layout.add("W", &[d, classes]);
    layout.add("b", &[classes]);
    let g = Graph::<f32>::new();
    let n = g.symbol("n");
    let (x, y) = (g.input("X", dims![n, d]), g.index_input("y", dims![n]));
    let w = g.param(&layout, "W");
    let (nll, acc) = cost_and_accuracy(x.matmul(w) + g.param(&layout, "b"), y, n);
    let cost = nll + w.square().sum_all() * 1e-4;
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(cost)
        .output(acc)
        .build();
    let mut params = vec![0.0f32; layout.len()];
    let (xshape, yshape) = ([train.n, d], [train.n]);
    let all = [
        Arg::values(&xshape, &train.x),
        Arg::indices(&yshape, train_labels),
    ];
    let mut objective = FusedObjective::new(params.len(), |p: &[f32], grad: &mut [f32]| {
        f.value_and_grad_with(p, &all, grad)
            .expect("shapes fixed above")
    });
    let mut lbfgs = Lbfgs::new();
    lbfgs.stop = Stop {
        max_iter: 150,
        ..Stop::default()
    };
    let report = lbfgs.minimize(&mut objective, &mut params);
    println!(
        "softmax regression, L-BFGS: {} iterations, cost {:.4}",
        report.iterations, report.f
    );
    let softmax_acc = accuracy(&mut f, &params, test)?;
    println!(
        "softmax regression: test accuracy {:.2}%",
        100.0 * softmax_acc
    );

    // MLP 784-256-10 with tanh, by momentum on mini-batches of 100.
    let hidden = 256;
    let mut layout = ParamLayout::new();
    layout.add("W1", &[d, hidden]);
    layout.add("b1", &[hidden]);
    layout.add("W2", &[hidden, classes]);
    layout.add("b2", &[classes]);
    let g = Graph::<f32>::new();
    let n = g.symbol("n");
    let (x, y) = (g.input("X", dims![n, d]), g.index_input("y", dims![n]));
    let p = |name| g.param(&layout, name);
    let h = (x.matmul(p("W1")) + p("b1")).tanh();
    let (nll, acc) = cost_and_accuracy(h.matmul(p("W2")) + p("b2"), y, n);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(nll)
        .output(acc)
        .build();
    let mut rng = StdRng::seed_from_u64(6);
    let mut params = vec![0.0f32; layout.len()];
    for name in ["W1", "W2"] {
        let fan_in = layout.lookup(name)?.shape[0] as f64;
        for v in layout.view_mut(&mut params, name)? {
            *v = (rng.sample::<f64, _>(StandardNormal) / fan_in.sqrt()) as f32;
        }
    }
    let mut momentum = Momentum::new(LearningRate::Constant(0.1), 0.9);
    let batch = 100;
    for epoch in 0..12 {
        let data = train.shuffled(epoch as u64);
        let labels = data.labels.as_ref().expect("labels");
        let report =
            momentum.minimize_batches(&mut params, 1, data.batches(batch), |k, p, grad| {
                let (rows, xs) = data.batch(k, batch);
                let ys = &labels[k * batch..k * batch + rows];
                let (xshape, yshape) = ([rows, d], [rows]);
                let args = [Arg::values(&xshape, xs), Arg::indices(&yshape, ys)];
                f.value_and_grad_with(p, &args, grad)
                    .expect("shapes fixed above")
            });
        println!("MLP epoch {epoch:2}: mean cost {:.4}", report.f);
    }
    let mlp_acc = accuracy(&mut f, &params, test)?;
    println!("MLP 784-256-10: test accuracy {:.2}%", 100.0 * mlp_acc);
    println!(
        "test accuracy: softmax regression {:.2}%, MLP {:.2}%",
        100.0 * softmax_acc,
        100.0 * mlp_acc
    );
    Ok(())
}
