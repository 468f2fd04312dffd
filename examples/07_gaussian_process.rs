//! Gaussian-process regression: the hyperparameters of an RBF kernel fitted by minimizing
//! the negative log marginal likelihood, written symbolically with a Cholesky factor and a
//! triangular solve, differentiated by symgrad, minimized by L-BFGS:
//!
//! NLL(θ) = ½ yᵀK⁻¹y + ½ log|K| + n/2 log 2π,   K = s² exp(-|xi - xj|²/(2ℓ²)) + σ² I,
//!
//! with K = L Lᵀ, ½ yᵀK⁻¹y = ½ |L⁻¹y|² and ½ log|K| = Σ log L_ii. θ = (log s, log ℓ, log σ).
//! The value and gradient are checked against a plain Rust computation of the NLL in f64 and
//! its central differences.
//!
//! Run: `cargo run --release --example 07_gaussian_process`

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use symgrad::optim::{CompiledObjective, Lbfgs};
use symgrad::{Compiler, Graph, ParamLayout, Tensor, TensorRef};

const N: usize = 200;

/// The NLL computed directly: K, its Cholesky factor by the textbook loop, a forward solve.
fn direct_nll(x: &[f64], y: &[f64], theta: &[f64]) -> f64 {
    let (s2, l2, n2) = (
        (2.0 * theta[0]).exp(),
        (2.0 * theta[1]).exp(),
        (2.0 * theta[2]).exp(),
    );
    let n = x.len();
    let mut l = vec![0.0; n * n];
    for i in 0..n {
        for j in 0..=i {
            let k =
                s2 * (-(x[i] - x[j]).powi(2) / (2.0 * l2)).exp() + if i == j { n2 } else { 0.0 };
            let s = k - (0..j).map(|m| l[i * n + m] * l[j * n + m]).sum::<f64>();
            l[i * n + j] = if i == j { s.sqrt() } else { s / l[j * n + j] };
        }
    }
    let mut alpha = vec![0.0; n];
    for i in 0..n {
        alpha[i] = (y[i] - (0..i).map(|m| l[i * n + m] * alpha[m]).sum::<f64>()) / l[i * n + i];
    }
    0.5 * alpha.iter().map(|a| a * a).sum::<f64>()
        + (0..n).map(|i| l[i * n + i].ln()).sum::<f64>()
        + 0.5 * n as f64 * (2.0 * std::f64::consts::PI).ln()
}

fn main() -> Result<(), symgrad::Error> {
    // Data: a sine sampled at 200 random points in [-5, 5], plus noise of standard deviation 0.2.
    let mut rng = StdRng::seed_from_u64(7);
    let xs: Vec<f64> = (0..N).map(|_| rng.random_range(-5.0..5.0)).collect();
    let ys: Vec<f64> = xs
        .iter()
        .map(|x| x.sin() + 0.2 * rng.sample::<f64, _>(StandardNormal))
        .collect();

    let mut layout = ParamLayout::new();
    for name in ["log_s", "log_l", "log_sigma"] {
        layout.add(name, &[]);
    }
    let g = Graph::<f64>::new();
    let (x, y) = (g.input("x", [N, 1]), g.input("y", [N, 1]));
    let [log_s, log_l, log_sigma] = ["log_s", "log_l", "log_sigma"].map(|p| g.param(&layout, p));
    let eye = g.constant(Tensor::from_vec(
        [N, N],
        (0..N * N).map(|k| f64::from(k % (N + 1) == 0)).collect(),
    ));
    let d2 = (x - x.t()).square(); // |xi - xj|², [N, N]
    let k = (log_s * 2.0).exp() * (-d2 / ((log_l * 2.0).exp() * 2.0)).exp()
        + (log_sigma * 2.0).exp() * eye;
    let l = k.cholesky();
    let alpha = l.solve_triangular(y, true, false); // L⁻¹ y
    let log_diag = (l * eye).sum(&[1], false).log(); // log L_ii
    let nll = alpha.square().sum_all() * 0.5
        + log_diag.sum_all()
        + 0.5 * N as f64 * (2.0 * std::f64::consts::PI).ln();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(nll)
        .build();

    let shape = [N, 1];
    let data = [TensorRef::new(&shape, &xs), TensorRef::new(&shape, &ys)];
    let mut theta = vec![0.0, 0.0, -1.0];
    let mut grad = vec![0.0; 3];
    // Value and gradient against the direct computation and its central differences.
    let value = f.value_and_grad(&theta, &data, &mut grad)?;
    let direct = direct_nll(&xs, &ys, &theta);
    println!("at θ = {theta:?}: NLL {value:.10} (direct {direct:.10})");
    assert!((value - direct).abs() < 1e-9 * direct.abs());
    for i in 0..3 {
        let h = 1e-5;
        let (mut up, mut down) = (theta.clone(), theta.clone());
        up[i] += h;
        down[i] -= h;
        let fd = (direct_nll(&xs, &ys, &up) - direct_nll(&xs, &ys, &down)) / (2.0 * h);
        println!(
            "  dNLL/dθ{i}: {:+.8} (central differences {fd:+.8})",
            grad[i]
        );
        assert!((grad[i] - fd).abs() < 1e-5 * (1.0 + fd.abs()));
    }

    let report = {
        let mut obj = CompiledObjective::new(&mut f, &data)?;
        Lbfgs::new().minimize(&mut obj, &mut theta)
    };
    println!("L-BFGS: {report}");
    let value = f.value_and_grad(&theta, &data, &mut grad)?;
    assert!((value - direct_nll(&xs, &ys, &theta)).abs() < 1e-9 * value.abs());
    let [s, ell, sigma] = [theta[0].exp(), theta[1].exp(), theta[2].exp()];
    println!("fitted s = {s:.3}, ℓ = {ell:.3}, σ = {sigma:.3} (noise made with σ = 0.2)");
    println!("NLL {:.4} -> {value:.4}", report.f0);
    Ok(())
}
