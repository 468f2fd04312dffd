//! Times F and ∇F of the models of benches/compare/models.py, one JSON line per model and
//! precision (the median of `--reps` calls after a warm-up call), for that harness to set
//! beside JAX's:
//! - `softmax`: softmax regression on MNIST's 60,000 training images with their `u8` labels
//!   (cross-entropy by `take_along_axis` of `log_softmax`), W and b set by a formula every
//!   peer shares;
//! - `gp`: a Gaussian process regression's negative log marginal likelihood at n points
//!   (RBF kernel, Cholesky, two triangular solves, the log-determinant from the factor's
//!   diagonal), with respect to its three log-hyperparameters, on data every peer makes by
//!   the same formula;
//! - `embedding` (`embedding-onehot`): an embedding lookup's F and ∇F, 512 ids into a
//!   `[--n, 64]` table, by `take` (by a one-hot product), to show how its cost grows with
//!   the vocabulary.
//!
//! Run: `cargo run --release --example bench_models -- [--model softmax|gp|embedding|embedding-onehot] [--n N]
//! [--reps R] [--dtype float32|float64]` (MNIST from `$SYMGRAD_MNIST` or
//! `../shared/data/mnist`).

use std::time::Instant;

use symgrad::data::{find_mnist, load_mnist};
use symgrad::{dims, Arg, Compiler, Function, Graph, ParamLayout, Scalar, Tensor};

/// Median seconds of `reps` calls after a warm-up, and the last F.
fn timed<T: Scalar>(
    reps: usize,
    mut call: impl FnMut() -> Result<T, symgrad::Error>,
) -> Result<(f64, f64), symgrad::Error> {
    let mut f = call()?;
    let mut ts = Vec::with_capacity(reps);
    for _ in 0..reps {
        let t = Instant::now();
        f = call()?;
        ts.push(t.elapsed().as_secs_f64());
    }
    ts.sort_by(f64::total_cmp);
    Ok((ts[ts.len() / 2], f.to_f64_lossless()))
}

/// With `SYMGRAD_PROFILE` set, `reps` more calls with profiling on, and the time of each
/// step (seconds, summed over the calls) on standard error.
fn profile_if_asked<T: Scalar>(
    f: &mut Function<T>,
    reps: usize,
    mut call: impl FnMut(&mut Function<T>) -> Result<T, symgrad::Error>,
) -> Result<(), symgrad::Error> {
    if std::env::var_os("SYMGRAD_PROFILE").is_none() {
        return Ok(());
    }
    f.set_profiling(true);
    for _ in 0..reps {
        call(f)?;
    }
    for (i, label, s) in f.profile_steps() {
        eprintln!("{i:3} {label:40} {s:.3}");
    }
    Ok(())
}

/// The softmax regression's parameters, as every peer sets them.
fn softmax_params<T: Scalar>(d: usize, k: usize) -> Vec<T> {
    let mut x: Vec<T> = (0..d * k)
        .map(|i| {
            let (r, c) = (i / k, i % k);
            T::from_f64(1e-3 * (((r * 7 + c * 13) % 17) as f64 - 8.0))
        })
        .collect();
    x.extend((0..k).map(|c| T::from_f64(0.01 * c as f64)));
    x
}

fn softmax<T: Scalar>(reps: usize) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let dir = find_mnist().ok_or("MNIST not found: set SYMGRAD_MNIST")?;
    let train = load_mnist::<T>(&dir)?.train;
    let labels = train.labels.as_ref().ok_or("no labels")?;
    let (d, k) = (train.dim, 10);
    let mut layout = ParamLayout::new();
    layout.add("W", &[d, k]);
    layout.add("b", &[k]);
    let g = Graph::<T>::new();
    let n = g.symbol("n");
    let (x, y) = (g.input("X", dims![n, d]), g.index_input("y", dims![n]));
    let logits = x.matmul(g.param(&layout, "W")) + g.param(&layout, "b");
    let nll = -logits
        .log_softmax(1)
        .take_along_axis(y.reshape(dims![n, 1]), 1)
        .mean_all();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(nll)
        .build();
    let p = softmax_params::<T>(d, k);
    let mut grad = vec![T::zero(); p.len()];
    let (xs, ys) = ([train.n, d], [train.n]);
    let args = [Arg::values(&xs, &train.x), Arg::indices(&ys, labels)];
    let r = timed(reps, || f.value_and_grad_with(&p, &args, &mut grad))?;
    profile_if_asked(&mut f, reps, |f| {
        f.value_and_grad_with(&p, &args, &mut grad)
    })?;
    Ok(r)
}

/// The GP's data: n points on [0, 10), y = sin(x) + a deterministic ripple as noise.
fn gp_data(n: usize) -> (Vec<f64>, Vec<f64>) {
    let x: Vec<f64> = (0..n).map(|i| 10.0 * i as f64 / n as f64).collect();
    let y = x
        .iter()
        .enumerate()
        .map(|(i, &v)| v.sin() + 0.1 * (37.0 * i as f64).sin())
        .collect();
    (x, y)
}

/// The GP regression's negative log marginal likelihood over `n` points as a compiled
/// function of the log-hyperparameters `[log s, log l, log sigma]`.
pub fn gp_function<T: Scalar>(n: usize) -> (Function<T>, Vec<T>, Vec<T>) {
    let mut layout = ParamLayout::new();
    layout.add("theta", &[3]);
    let g = Graph::<T>::new();
    let (xs, ys) = gp_data(n);
    let xv = g.constant(Tensor::from_vec(
        [n, 1],
        xs.iter().map(|&v| T::from_f64(v)).collect(),
    ));
    let yv = g.constant(Tensor::from_vec(
        [n, 1],
        ys.iter().map(|&v| T::from_f64(v)).collect(),
    ));
    let theta = g.param(&layout, "theta");
    let (log_s, log_l, log_sigma) = (
        theta.slice(0, 0, 1),
        theta.slice(0, 1, 2),
        theta.slice(0, 2, 3),
    );
    let d2 = (xv - xv.t()).square();
    let eye = g.constant(Tensor::from_vec(
        [n, n],
        (0..n * n)
            .map(|i| {
                if i % (n + 1) == 0 {
                    T::one()
                } else {
                    T::zero()
                }
            })
            .collect(),
    ));
    let k = (log_s * 2.0).exp() * (-d2 * (log_l * -2.0).exp() * 0.5).exp()
        + eye * (log_sigma * 2.0).exp();
    let l = k.cholesky();
    let alpha = l.solve_triangular(yv, true, false);
    let half_logdet = (l * eye).sum(&[1], false).log().sum_all();
    let nll = alpha.square().sum_all() * 0.5
        + half_logdet
        + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln();
    let f = Compiler::new(&g, &layout)
        .inputs(&[])
        .value_and_grad(nll)
        .build();
    let theta0 = vec![T::zero(), T::zero(), T::from_f64(0.1f64.ln())];
    let _ = ys;
    (f, theta0, vec![T::zero(); 3])
}

fn gp<T: Scalar>(n: usize, reps: usize) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let (mut f, theta, mut grad) = gp_function::<T>(n);
    let r = timed(reps, || f.value_and_grad(&theta, &[], &mut grad))?;
    profile_if_asked(&mut f, reps, |f| f.value_and_grad(&theta, &[], &mut grad))?;
    Ok(r)
}

/// An embedding lookup's F and ∇F: `sum(take(E, ids)^2) / 2` for 512 ids into a
/// `[vocab, 64]` table, by `take` (`one_hot = false`) or by the one-hot product
/// `one_hot(ids, vocab) @ E` (`true`).
fn embedding<T: Scalar>(
    vocab: usize,
    one_hot: bool,
    reps: usize,
) -> Result<(f64, f64), Box<dyn std::error::Error>> {
    let (dim, batch) = (64, 512);
    let mut layout = ParamLayout::new();
    layout.add("E", &[vocab, dim]);
    let g = Graph::<T>::new();
    let b = g.symbol("b");
    let ids = g.index_input("ids", dims![b]);
    let e = g.param(&layout, "E");
    let rows = if one_hot {
        ids.one_hot(vocab).matmul(e)
    } else {
        e.take(ids, 0)
    };
    let cost = rows.square().sum_all() * 0.5;
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[ids])
        .value_and_grad(cost)
        .build();
    let x: Vec<T> = (0..vocab * dim)
        .map(|i| T::from_f64((i % 101) as f64 * 1e-2))
        .collect();
    let id: Vec<u32> = (0..batch).map(|i| ((i * 7919) % vocab) as u32).collect();
    let mut grad = vec![T::zero(); x.len()];
    let shape = [batch];
    let args = [Arg::indices(&shape, &id)];
    Ok(timed(reps, || f.value_and_grad_with(&x, &args, &mut grad))?)
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
    let model = get("--model").unwrap_or_else(|| "softmax".into());
    let (reps, n) = (num("--reps", 9)?, num("--n", 2000)?);
    let dtypes: Vec<String> = match get("--dtype") {
        Some(d) => vec![d],
        None => vec!["float32".into(), "float64".into()],
    };
    for dtype in dtypes {
        let (t, f) = match (model.as_str(), dtype.as_str()) {
            ("softmax", "float32") => softmax::<f32>(reps)?,
            ("softmax", "float64") => softmax::<f64>(reps)?,
            ("gp", "float32") => gp::<f32>(n, reps)?,
            ("gp", "float64") => gp::<f64>(n, reps)?,
            ("embedding" | "embedding-onehot", "float32") => {
                embedding::<f32>(n, model == "embedding-onehot", reps)?
            }
            ("embedding" | "embedding-onehot", "float64") => {
                embedding::<f64>(n, model == "embedding-onehot", reps)?
            }
            (m, d) => return Err(format!("unknown model `{m}` or dtype `{d}`").into()),
        };
        let size = if model == "softmax" { 60_000 } else { n };
        println!(
            "{{\"peer\": \"symgrad\", \"model\": \"{model}\", \"dtype\": \"{dtype}\", \"n\": {size}, \"threads\": {}, \"ms\": {}, \"f\": {f}}}",
            rayon::current_num_threads(),
            1e3 * t
        );
    }
    Ok(())
}
