//! Step 6 of the learner's path: an op of your own. The standard normal CDF Φ is not among
//! symgrad's primitives; here it is added as one (`ops::CustomOp`: its shape rule, its
//! kernel over slices for f32 and f64, its gradient rule built from graph nodes), used in a
//! probit regression `P(y = 1 | x) = Φ(x·w + b)` whose gradient is checked against finite
//! differences to second order, and trained by L-BFGS. It is registered with the text form,
//! so the printed cost reads back. Then two gradient overrides: a straight-through estimator
//! (`custom_gradient`) and `clip_gradient`.
//!
//! Run: `cargo run --release --example 09_custom_op`

use std::sync::Arc;

use symgrad::graph::{Dim, SymShape};
use symgrad::ops::{erf, register, CustomOp};
use symgrad::optim::{CompiledObjective, Lbfgs};
use symgrad::tensor::TensorRef;
use symgrad::{check_gradient, dims, grad, Compiler, Expr, GradCheckOptions, Graph};
use symgrad::{ParamLayout, Scalar};

/// Φ(x) = (1 + erf(x/√2)) / 2, elementwise.
struct NormCdf;

impl<T: Scalar> CustomOp<T> for NormCdf {
    fn name(&self) -> &'static str {
        "norm_cdf"
    }
    fn arity(&self) -> usize {
        1
    }
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        Ok(ins[0].iter().copied().collect())
    }
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _shape: &[usize]) {
        for (o, &x) in out.iter_mut().zip(ins[0].data) {
            let x = x.to_f64_lossless();
            *o = T::from_f64(0.5 * (1.0 + erf(x * std::f64::consts::FRAC_1_SQRT_2)));
        }
    }
    /// dΦ(x) = φ(x) dx, φ(x) = exp(-x²/2)/√(2π): graph nodes, so Φ has a second derivative.
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        _y: Expr<'g, T>,
        gy: Expr<'g, T>,
        _needs: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        let inv_sqrt_2pi = 0.5 * std::f64::consts::FRAC_2_SQRT_PI * std::f64::consts::FRAC_1_SQRT_2;
        vec![Some(gy * (x[0].square() * -0.5).exp() * inv_sqrt_2pi)]
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Data: 2,000 points in 5 dimensions, labels drawn from a probit model with known w.
    let (n, d) = (2000, 5);
    let true_w = [1.5, -2.0, 0.5, 0.0, 1.0];
    let mut state = 7u64;
    let mut uniform = || {
        state = state
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((state >> 11) as f64 + 0.5) / (1u64 << 53) as f64
    };
    let mut xs = Vec::with_capacity(n * d);
    let mut ys = Vec::with_capacity(n);
    for _ in 0..n {
        let row: Vec<f64> = (0..d).map(|_| 2.0 * uniform() - 1.0).collect();
        let z: f64 = row.iter().zip(&true_w).map(|(a, b)| a * b).sum::<f64>() + 0.3;
        let p = 0.5 * (1.0 + erf(z * std::f64::consts::FRAC_1_SQRT_2));
        ys.push(if uniform() < p { 1.0 } else { 0.0 });
        xs.extend(row);
    }

    // The model, with the new op in it.
    let mut layout = ParamLayout::new();
    layout.add("w", &[d]);
    layout.add("b", &[]);
    let g = Graph::<f64>::new();
    let batch = g.symbol("batch");
    let x = g.input("X", dims![batch, d]);
    let y = g.input("y", dims![batch]);
    let z = x
        .matmul(g.param(&layout, "w").reshape(dims![d, 1]))
        .reshape(dims![batch])
        + g.param(&layout, "b");
    let p = z.custom(NormCdf, &[]);
    let nll = -(y * p.log() + (1.0 - y) * (1.0 - p).log()).mean_all();

    // Registered, the printed cost parses back.
    register::<f64>(Arc::new(NormCdf))?;
    let text = g.to_text(&[nll.id()]);
    let back = symgrad::graph::parse::<f64>(&text)?;
    println!("the cost in the text form:\n{text}");
    assert_eq!(back.graph.to_text(&back.outputs), text);

    // F and ∇F compiled; the gradient checked on 50 points, then to second order.
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(nll)
        .build();
    let mut params = vec![0.1; layout.len()];
    let (few_x, few_y) = ([50, d], [50]);
    let few = [
        TensorRef::new(&few_x, &xs[..50 * d]),
        TensorRef::new(&few_y, &ys[..50]),
    ];
    let report = check_gradient(&mut f, &layout, &params, &few, &GradCheckOptions::default())?;
    println!("gradient check: {report}");
    assert!(report.passed);
    let v = g.constant(symgrad::Tensor::from_vec(
        vec![d],
        vec![0.3, -0.1, 0.2, 0.5, -0.4],
    ));
    let gw = grad(nll, &[g.param(&layout, "w")])[0].expect("w reaches the cost");
    let mut f2 = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad((gw * v).sum_all())
        .build();
    let report2 = check_gradient(
        &mut f2,
        &layout,
        &params,
        &few,
        &GradCheckOptions::default(),
    )?;
    println!("second order (Hessian times a direction): {report2}");
    assert!(report2.passed);

    // Trained by L-BFGS on all 2,000 points.
    let (all_x, all_y) = ([n, d], [n]);
    let all = [TensorRef::new(&all_x, &xs), TensorRef::new(&all_y, &ys)];
    let result = {
        let mut obj = CompiledObjective::new(&mut f, &all)?;
        Lbfgs::new().minimize(&mut obj, &mut params)
    };
    println!("L-BFGS: {result}");
    println!(
        "w = {:.2?}, b = {:.2} (drawn from w = {true_w:?}, b = 0.3)",
        &params[..d],
        params[d]
    );

    // A straight-through estimator: binarized activations forward, identity backward.
    let h = g.input("h", dims![4]);
    let bin = h.sign().custom_gradient(&[h], |_, _, gy| vec![Some(gy)]);
    let cost = (bin * h).sum_all();
    let dh = grad(cost, &[h])[0].expect("h reaches the cost");
    let at = TensorRef::new(&[4], &[0.5, -1.5, 2.0, -0.25]);
    println!(
        "straight-through: sign(h) = {:?}, d sum(sign(h) h)/dh = {:?} (sign + h, as if d sign/dh = 1)",
        bin.eval(&[(h, at)])?.data(),
        dh.eval(&[(h, at)])?.data()
    );

    // Gradient clipping inside the graph.
    let clipped = grad((h.clip_gradient(-1.0, 1.0) * h * 3.0).sum_all(), &[h])[0].unwrap();
    println!(
        "clip_gradient: d sum(clip_grad(h) * 3h)/dh = {:?} (the part through the clip is bounded by 1)",
        clipped.eval(&[(h, at)])?.data()
    );
    Ok(())
}
