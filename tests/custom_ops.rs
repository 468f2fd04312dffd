//! Ops of your own (`ops::CustomOp`), `custom_gradient` and `clip_gradient`: values, first
//! and second derivatives against finite differences in f64, f32 through a compiled
//! function, printing, parsing back once registered, `explain`, hash-consing, and the
//! removal of gradient markers from compiled programs.

mod common;

use std::sync::Arc;

use common::{check_first_and_second, layout_for, BuildFn};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::graph::{Dim, SymShape};
use symgrad::ops::{erf, register, CustomOp};
use symgrad::tensor::TensorRef;
use symgrad::{dims, grad, Compiler, Expr, GradCheckOptions, Graph, Scalar};

/// Φ(x) = (1 + erf(x/√2)) / 2, the standard normal CDF, as examples/09_custom_op.rs adds it.
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
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _: &[usize]) {
        for (o, &x) in out.iter_mut().zip(ins[0].data) {
            let x = x.to_f64_lossless() * std::f64::consts::FRAC_1_SQRT_2;
            *o = T::from_f64(0.5 * (1.0 + erf(x)));
        }
    }
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        _: Expr<'g, T>,
        gy: Expr<'g, T>,
        _: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        let inv_sqrt_2pi = 0.398_942_280_401_432_7;
        vec![Some(gy * (x[0].square() * -0.5).exp() * inv_sqrt_2pi)]
    }
}

/// `hypot(a, b) = sqrt(a² + b²)`, broadcasting its two inputs: a custom op whose
/// cotangents come at the broadcast shape and must be summed back to each input's.
struct Hypot;

impl<T: Scalar> CustomOp<T> for Hypot {
    fn name(&self) -> &'static str {
        "hypot"
    }
    fn arity(&self) -> usize {
        2
    }
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        symgrad::ops::broadcast_shapes(ins[0], ins[1])
    }
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], shape: &[usize]) {
        // Broadcasting by index arithmetic over the output, as a user's kernel might.
        let (a, b) = (&ins[0], &ins[1]);
        let at = |t: &TensorRef<'_, T>, mut i: usize| -> T {
            let mut off = 0;
            let mut stride = 1;
            let rank = shape.len();
            let tr = t.shape.len();
            for d in (0..rank).rev() {
                let k = i % shape[d];
                i /= shape[d];
                if d + tr >= rank {
                    let td = d + tr - rank;
                    if t.shape[td] != 1 {
                        off += k * stride;
                    }
                    stride *= t.shape[td];
                }
            }
            t.data[off]
        };
        for (i, o) in out.iter_mut().enumerate() {
            let (x, y) = (at(a, i), at(b, i));
            *o = (x * x + y * y).sqrt();
        }
    }
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        _: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        vec![Some(gy * x[0] / y), Some(gy * x[1] / y)]
    }
}

fn opts() -> GradCheckOptions {
    GradCheckOptions::default()
}

fn points(n: usize, lo: f64, hi: f64, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..n).map(|_| rng.random_range(lo..hi)).collect()
}

// Mistakes caught: a wrong derivative of a custom op's rule (the factor, the exponent),
// a rule that is not built of graph nodes (its second derivative would be missing), and a
// cotangent of a broadcasting custom op not summed back to its input's shape.
#[test]
fn custom_ops_match_finite_differences_to_second_order() {
    let layout = layout_for(&[vec![5, 6]]);
    let x = points(30, -2.5, 2.5, 1);
    let cdf: &BuildFn<f64> = &|_, p| p[0].custom(NormCdf, &[]);
    check_first_and_second::<f64>("norm_cdf", &layout, &x, cdf, &opts(), true);
    // An exact GELU, x Φ(x), Φ(x) = (1 + erf(x / √2)) / 2.
    let gelu: &BuildFn<f64> =
        &|_, p| p[0] * ((p[0] * std::f64::consts::FRAC_1_SQRT_2).erf() + 1.0) * 0.5;
    check_first_and_second::<f64>("gelu", &layout, &x, gelu, &opts(), true);
    // hypot of a [5, 6] and a [6] (broadcast along rows), away from (0, 0).
    let layout2 = layout_for(&[vec![5, 6], vec![6]]);
    let mut x2 = points(30, 0.5, 2.0, 2);
    x2.extend(points(6, -2.0, -0.5, 3));
    let hyp: &BuildFn<f64> = &|_, p| p[0].custom(Hypot, &[p[1]]);
    check_first_and_second::<f64>("hypot", &layout2, &x2, hyp, &opts(), true);
}

// Mistake caught: a kernel that is right in f64 only (the op is generic over Scalar), or a
// custom op that the compiler's planner mishandles at a size past the parallel threshold.
#[test]
fn a_custom_op_runs_in_f32_and_f64_through_compiled_functions() {
    let n = 300_000;
    let v: Vec<f64> = points(n, -3.0, 3.0, 4);
    let g = Graph::<f32>::new();
    let x = g.input("x", dims![n]);
    let y = x.custom(NormCdf, &[]) * 2.0;
    let mut f = Compiler::new(&g, &symgrad::ParamLayout::new())
        .inputs(&[x])
        .output(y)
        .build();
    let v32: Vec<f32> = v.iter().map(|&a| a as f32).collect();
    f.run(&[], &[TensorRef::new(&[n], &v32)], None).unwrap();
    let out = f.output(0).unwrap();
    for (i, (&o, &a)) in out.data.iter().zip(&v32).enumerate() {
        let want = 1.0 + erf(a as f64 * std::f64::consts::FRAC_1_SQRT_2);
        assert!((o as f64 - want).abs() < 1e-6, "at {i}: {o} vs {want}");
    }
}

// Mistakes caught: a custom op printed under another name, not parsed back once registered
// (or parsed when it was not), a built-in name taken over, and `explain` not showing it.
#[test]
fn a_registered_op_prints_parses_back_and_shows_in_explain() {
    let text = "input x: [3]\nout sum[0](norm_cdf(x * 2))";
    let before = symgrad::graph::parse::<f32>(text);
    register::<f64>(Arc::new(NormCdf)).unwrap();
    let p = symgrad::graph::parse::<f64>(text).unwrap();
    assert_eq!(p.graph.expr_text(&p.outputs), "sum[0](norm_cdf(x * 2))");
    // Registered for f64 only: the f32 parser does not know it (parsed before or after).
    assert!(before.is_err() && symgrad::graph::parse::<f32>(text).is_err());
    assert!(register::<f64>(Arc::new(Hypot)).is_ok());
    struct Fake;
    impl CustomOp<f64> for Fake {
        fn name(&self) -> &'static str {
            "exp"
        }
        fn arity(&self) -> usize {
            1
        }
        fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
            Ok(ins[0].iter().copied().collect())
        }
        fn eval(&self, _: &[TensorRef<'_, f64>], _: &mut [f64], _: &[usize]) {}
        fn vjp<'g>(
            &self,
            _: &[Expr<'g, f64>],
            _: Expr<'g, f64>,
            _: Expr<'g, f64>,
            _: &[bool],
        ) -> Vec<Option<Expr<'g, f64>>> {
            vec![]
        }
    }
    let err = register::<f64>(Arc::new(Fake)).unwrap_err();
    assert!(err.contains("`exp` is a built-in op"), "{err}");

    let g = Graph::<f64>::new();
    let mut layout = symgrad::ParamLayout::new();
    layout.add("w", &[3]);
    let w = g.param(&layout, "w");
    let cost = w.custom(NormCdf, &[]).sum_all();
    let f = Compiler::new(&g, &layout)
        .value_and_grad(cost)
        .options(symgrad::compile::Options {
            record: true,
            ..Default::default()
        })
        .build();
    let text = f.explain();
    assert!(text.contains("= norm_cdf(%0) : [3]"), "{text}");
}

// Mistakes caught: two uses of one op not merged by the compiler's merge phase (equality by
// name and attributes), or two custom gradients with different rules merged into one (they
// compare by identity), or two clip bounds taken for one.
#[test]
fn equal_custom_ops_merge_and_distinct_rules_do_not() {
    let mut layout = symgrad::ParamLayout::new();
    layout.add("w", &[2]);
    let g = Graph::<f64>::new();
    let w = g.param(&layout, "w");
    let twice = (w.custom(NormCdf, &[]) + w.custom(NormCdf, &[])).sum_all();
    let f = Compiler::new(&g, &layout).output(twice).build();
    let erfs = f
        .steps()
        .iter()
        .filter(|s| s.label.contains("norm_cdf"))
        .count();
    assert_eq!(
        erfs,
        1,
        "{:?}",
        f.steps().iter().map(|s| &s.label).collect::<Vec<_>>()
    );
    let at = [0.3, -0.7];
    let gradient_of = |cost: Expr<'_, f64>| {
        let mut f = Compiler::new(&g, &layout).value_and_grad(cost).build();
        let mut gr = vec![0.0; 2];
        f.run(&at, &[], Some(&mut gr)).unwrap();
        gr
    };
    let a = w.custom_gradient(&[w], |_, _, gy| vec![Some(gy)]);
    let b = w.custom_gradient(&[w], |_, _, gy| vec![Some(gy * 2.0)]);
    assert_eq!(gradient_of((a + b).sum_all()), [3.0, 3.0]);
    let c = (w.clip_gradient(-1.0, 1.0) * 5.0 + w.clip_gradient(-2.0, 2.0) * 5.0).sum_all();
    assert_eq!(gradient_of(c), [3.0, 3.0]);
}

// Mistakes caught: a custom rule ignored (the subgraph differentiated instead), the
// cotangent flowing back through the subgraph as well as through the rule, a rule that
// cannot be differentiated again, and gradient markers left in the compiled program.
#[test]
fn custom_gradient_and_clip_gradient_replace_the_rule_and_leave_no_step() {
    let mut layout = symgrad::ParamLayout::new();
    layout.add("w", &[4]);
    let g = Graph::<f64>::new();
    let w = g.param(&layout, "w");
    // y = w³ computed as written, with the gradient rule of y = w² (gy · 2w): a rule chosen
    // to differ, so that following the subgraph instead would show.
    let y = w
        .powi(3)
        .custom_gradient(&[w], |xs, _, gy| vec![Some(gy * xs[0] * 2.0)]);
    let cost = y.sum_all();
    let d = grad(cost, &[w])[0].unwrap();
    let at = [0.5, -1.0, 2.0, 3.0];
    assert_eq!(
        cost.eval_at(&layout, &at, &[]).unwrap().data(),
        &[0.125 - 1.0 + 8.0 + 27.0]
    );
    assert_eq!(
        d.eval_at(&layout, &at, &[]).unwrap().data(),
        &[1.0, -2.0, 4.0, 6.0]
    );
    // Second order through the rule: d/dw sum(d · w) = d + w · 2 = 4w.
    let dd = grad((d * w).sum_all(), &[w])[0].unwrap();
    assert_eq!(
        dd.eval_at(&layout, &at, &[]).unwrap().data(),
        &[2.0, -4.0, 8.0, 12.0]
    );

    // clip_gradient: cotangents of 3 clipped to 1; value unchanged.
    let c = (w.clip_gradient(-1.0, 1.0) * 3.0).sum_all();
    let dc = grad(c, &[w])[0].unwrap();
    assert_eq!(dc.eval_at(&layout, &at, &[]).unwrap().data(), &[1.0; 4]);
    let c2 = (w.clip_gradient(-1.0, 1.0) * -3.0).sum_all();
    let dc2 = grad(c2, &[w])[0].unwrap();
    assert_eq!(dc2.eval_at(&layout, &at, &[]).unwrap().data(), &[-1.0; 4]);

    // Compiled: the markers are gone from the program, the gradients are the rule's.
    for (cost, want) in [(cost, [1.0, -2.0, 4.0, 6.0]), (c, [1.0; 4])] {
        let mut f = Compiler::new(&g, &layout).value_and_grad(cost).build();
        let names: Vec<String> = f.steps().iter().map(|s| s.label.clone()).collect();
        assert!(
            !names
                .iter()
                .any(|n| n.contains("custom_gradient") || n.contains("clip_gradient")),
            "{names:?}"
        );
        let mut gr = vec![0.0; 4];
        f.run(&at, &[], Some(&mut gr)).unwrap();
        assert_eq!(gr, want);
    }
}
