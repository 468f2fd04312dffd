//! Compiled functions: one function for several batch sizes, typed errors for bad arrays,
//! `Expr::eval`, no allocation in the steady state, in-place updates, the flat gradient's
//! placement, a Hessian-vector product, and the panics of shape mistakes made in code.

use symgrad::{dims, grad, Compiler, Error, Graph, ParamLayout, Tensor, TensorRef};

fn linear_model() -> ParamLayout {
    let mut l = ParamLayout::new();
    l.add("W", &[3, 2]);
    l.add("b", &[2]);
    l
}

#[test]
fn one_function_serves_every_batch_size() {
    let l = linear_model();
    let g = Graph::<f64>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 3]);
    let y = x.matmul(g.param(&l, "W")) + g.param(&l, "b");
    let cost = y.square().sum_all();
    let mut f = Compiler::new(&g, &l)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let params: Vec<f64> = (0..l.len()).map(|i| 0.1 * i as f64 - 0.3).collect();
    let rows: Vec<f64> = (0..3 * 2500)
        .map(|i| ((i * 37) % 101) as f64 / 50.0 - 1.0)
        .collect();
    let mut total = 0.0;
    let mut gsum = vec![0.0; l.len()];
    // Summing the cost of batches of 100 and 400 and 2000 rows equals the cost of all 2500.
    let mut start = 0;
    for b in [100usize, 400, 2000] {
        let mut gr = vec![0.0; l.len()];
        total += f
            .value_and_grad(
                &params,
                &[TensorRef::new(&[b, 3], &rows[start * 3..(start + b) * 3])],
                &mut gr,
            )
            .unwrap();
        gsum.iter_mut().zip(&gr).for_each(|(s, v)| *s += v);
        start += b;
    }
    let mut gall = vec![0.0; l.len()];
    let all = f
        .value_and_grad(&params, &[TensorRef::new(&[2500, 3], &rows)], &mut gall)
        .unwrap();
    assert!((all - total).abs() < 1e-9 * all.abs());
    for (a, b) in gall.iter().zip(&gsum) {
        assert!((a - b).abs() < 1e-9 * a.abs().max(1.0));
    }
    assert_eq!(f.stats().plans_built, 4);
}

#[test]
fn steady_state_builds_no_plan_and_grows_no_buffer() {
    let l = linear_model();
    let g = Graph::<f32>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 3]);
    let cost = (x.matmul(g.param(&l, "W")) + g.param(&l, "b"))
        .sigmoid()
        .sum_all();
    let mut f = Compiler::new(&g, &l)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let params = vec![0.5f32; l.len()];
    let data = vec![0.25f32; 3 * 64];
    let mut gr = vec![0.0f32; l.len()];
    f.value_and_grad(&params, &[TensorRef::new(&[64, 3], &data)], &mut gr)
        .unwrap();
    let first = f.stats();
    for _ in 0..10 {
        f.value_and_grad(&params, &[TensorRef::new(&[64, 3], &data)], &mut gr)
            .unwrap();
    }
    let after = f.stats();
    assert_eq!(
        (after.plans_built, after.arena_grows),
        (first.plans_built, first.arena_grows)
    );
    assert_eq!(after.calls, first.calls + 10);
    // A smaller batch reuses the arena.
    f.value_and_grad(&params, &[TensorRef::new(&[8, 3], &data[..24])], &mut gr)
        .unwrap();
    assert_eq!(f.stats().arena_grows, first.arena_grows);
}

#[test]
fn only_calls_with_work_to_split_enter_the_thread_pool() {
    let none = ParamLayout::new();
    let g = Graph::<f64>::new();
    let n = g.symbol("n");
    let a = g.input("A", dims![n, n]);
    let b = g.input("B", dims![n, n]);
    // Elementwise work and a product: the product is the first to split, at 48 x 48.
    let mut f = Compiler::new(&g, &none)
        .inputs(&[a, b])
        .output((a.matmul(b) + a).exp().sum_all())
        .build();
    let data = vec![0.01; 48 * 48];
    let mut pooled = |side: usize| {
        let shape = [side, side];
        let before = f.stats().pooled_calls;
        let args = [
            TensorRef::new(&shape, &data[..side * side]),
            TensorRef::new(&shape, &data[..side * side]),
        ];
        f.run(&[], &args, None).unwrap();
        f.stats().pooled_calls - before
    };
    assert_eq!(pooled(2), 0);
    assert_eq!(pooled(47), 0);
    assert_eq!(pooled(48), 1);
    assert_eq!(pooled(3), 0);
    // The result does not depend on where it ran: 2 x 2 inline equals the same 2 x 2 block
    // of arithmetic done by hand.
    let two = [1.0, 2.0, 3.0, 4.0];
    let shape = [2, 2];
    let args = [TensorRef::new(&shape, &two), TensorRef::new(&shape, &two)];
    f.run(&[], &args, None).unwrap();
    let ab = [7.0, 10.0, 15.0, 22.0];
    let want: f64 = ab.iter().zip(&two).map(|(p, q)| (p + q).exp()).sum();
    let got = f.scalar_output(0).unwrap();
    assert!((got - want).abs() <= 1e-12 * want, "{got} against {want}");
}

#[test]
fn bad_arrays_give_typed_errors_naming_the_input() {
    let l = linear_model();
    let g = Graph::<f64>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 3]);
    let t = g.input("T", dims![n, 2]);
    let cost = (x.matmul(g.param(&l, "W")) - t).square().sum_all();
    let mut f = Compiler::new(&g, &l)
        .inputs(&[x, t])
        .value_and_grad(cost)
        .build();
    let p = vec![0.0; l.len()];
    let mut gr = vec![0.0; l.len()];
    let d = vec![0.0; 100];

    let e = f
        .value_and_grad(&p, &[TensorRef::new(&[4, 3], &d[..12])], &mut gr)
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InputCount {
                expected: 2,
                given: 1,
                ..
            }
        ),
        "{e}"
    );

    let e = f
        .value_and_grad(
            &p,
            &[
                TensorRef::new(&[4, 5], &d[..20]),
                TensorRef::new(&[4, 2], &d[..8]),
            ],
            &mut gr,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "input `X`: expected shape [batch, 3], got [4, 5]"
    );

    let e = f
        .value_and_grad(
            &p,
            &[
                TensorRef::new(&[4, 3], &d[..11]),
                TensorRef::new(&[4, 2], &d[..8]),
            ],
            &mut gr,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "input `X`: shape [4, 3] needs 12 values, got 11"
    );

    let e = f
        .value_and_grad(
            &p,
            &[
                TensorRef::new(&[4, 3], &d[..12]),
                TensorRef::new(&[5, 2], &d[..10]),
            ],
            &mut gr,
        )
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "symbolic dimension `batch` is 4 in input `X` but 5 in input `T`"
    );

    let ok_inputs = [
        TensorRef::new(&[4, 3], &d[..12]),
        TensorRef::new(&[4, 2], &d[..8]),
    ];
    let e = f.value_and_grad(&p[..5], &ok_inputs, &mut gr).unwrap_err();
    assert_eq!(e.to_string(), "parameter vector: expected length 8, got 5");
    let e = f.value_and_grad(&p, &ok_inputs, &mut gr[..3]).unwrap_err();
    assert_eq!(e.to_string(), "gradient vector: expected length 8, got 3");
    let e = f.run(&p, &ok_inputs, None).unwrap_err();
    assert!(matches!(e, Error::GradientMissing { expected: 8 }));
    assert!(f.value_and_grad(&p, &ok_inputs, &mut gr).is_ok());
    assert!(matches!(
        f.output(3),
        Err(Error::UnknownOutput { index: 3, count: 1 })
    ));
}

#[test]
fn eval_computes_what_a_compiled_function_computes_and_names_what_is_missing() {
    let l = linear_model();
    let g = Graph::<f64>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 3]);
    let y = (x.matmul(g.param(&l, "W")) + g.param(&l, "b")).sigmoid();
    let params: Vec<f64> = (0..l.len()).map(|i| 0.1 * i as f64 - 0.3).collect();
    let rows = [0.5, -1.0, 2.0, 0.0, 1.5, -0.5];
    let xv = TensorRef::new(&[2, 3], &rows);
    let mut f = Compiler::new(&g, &l).inputs(&[x]).output(y).build();
    f.run(&params, &[xv], None).unwrap();
    let want = f.output(0).unwrap();
    let got = y.eval_at(&l, &params, &[(x, xv)]).unwrap();
    assert_eq!(got.shape(), want.shape);
    assert_eq!(got.data(), want.data);

    // What is missing is named; nothing is compiled for it.
    assert_eq!(
        y.eval_at(&l, &params, &[]),
        Err(Error::Unbound {
            what: "input",
            name: "X".into()
        })
    );
    let e = y.eval(&[(x, xv)]).unwrap_err();
    assert_eq!(
        e,
        Error::Unbound {
            what: "parameter",
            name: "W".into()
        }
    );
    assert_eq!(
        e.to_string(),
        "eval: the expression reads parameter `W`, and no value was given for it"
    );
    // Bad values get the compiled function's typed errors.
    assert!(matches!(
        y.eval_at(&l, &params, &[(x, TensorRef::new(&[3, 2], &rows))]),
        Err(Error::InputShape { .. })
    ));
    assert!(matches!(
        y.eval_at(&l, &params[1..], &[(x, xv)]),
        Err(Error::Length { .. })
    ));
}

#[test]
fn updates_apply_in_place_after_reading_the_old_parameters() {
    let l = linear_model();
    let g = Graph::<f64>::new();
    let x = g.input("X", dims![5, 3]);
    let (w, b) = (g.param(&l, "W"), g.param(&l, "b"));
    let cost = (x.matmul(w) + b).square().mean_all();
    let gs = grad(cost, &[w, b]);
    let lr = 0.1;
    let mut step = Compiler::new(&g, &l)
        .inputs(&[x])
        .output(cost)
        .update("W", w - gs[0].unwrap() * lr)
        .update("b", b - gs[1].unwrap() * lr)
        .build();
    let mut vg = Compiler::new(&g, &l)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let data: Vec<f64> = (0..15).map(|i| (i as f64 * 0.7).sin()).collect();
    let inp = [TensorRef::new(&[5, 3], &data)];
    let mut p: Vec<f64> = (0..l.len()).map(|i| 0.2 * i as f64 - 0.5).collect();
    let mut gr = vec![0.0; l.len()];
    let c0 = vg.value_and_grad(&p, &inp, &mut gr).unwrap();
    let want: Vec<f64> = p.iter().zip(&gr).map(|(p, g)| p - lr * g).collect();
    assert!(matches!(
        step.run(&p, &inp, None),
        Err(Error::UpdatesNeedMut)
    ));
    step.run_update(&mut p, &inp, None).unwrap();
    assert_eq!(step.scalar_output(0).unwrap(), c0);
    for (a, b) in p.iter().zip(&want) {
        assert!((a - b).abs() < 1e-15);
    }
    // Descending lowers the cost.
    for _ in 0..50 {
        step.run_update(&mut p, &inp, None).unwrap();
    }
    assert!(vg.value_and_grad(&p, &inp, &mut gr).unwrap() < c0);
}

#[test]
fn unreached_parameters_get_zero_gradient_and_leaf_gradients_are_copied() {
    let mut l = ParamLayout::new();
    l.add("used", &[3]);
    l.add("unused", &[2]);
    l.add("linear", &[3]);
    let g = Graph::<f64>::new();
    let u = g.param(&l, "used");
    let lin = g.param(&l, "linear");
    let c = g.constant(Tensor::from_vec(vec![3], vec![1.0, 2.0, 3.0]));
    // d/d linear of sum(linear * c) is the constant c itself: a leaf, copied into place.
    let cost = u.square().sum_all() + (lin * c).sum_all();
    let mut f = Compiler::new(&g, &l).value_and_grad(cost).build();
    let p = vec![1.0, 2.0, 3.0, 9.0, 9.0, 0.0, 0.0, 0.0];
    let mut gr = vec![f64::NAN; 8];
    f.value_and_grad(&p, &[], &mut gr).unwrap();
    assert_eq!(gr, vec![2.0, 4.0, 6.0, 0.0, 0.0, 1.0, 2.0, 3.0]);
}

#[test]
fn gradients_are_graphs_hessian_vector_product_matches_finite_differences() {
    // F(w) = sum(softplus(X w) * t) + 0.5 |w|^4 ; Hv = grad <grad F, v>, with v an input
    // so that one compiled function serves every direction.
    let mut l = ParamLayout::new();
    l.add("w", &[4, 2]);
    let g = Graph::<f64>::new();
    let x = g.input("X", dims![6, 4]);
    let v = g.input("v", dims![4, 2]);
    let w = g.param(&l, "w");
    let f = (x.matmul(w).softplus() * 0.7).sum_all() + w.square().sum_all().square() * 0.5;
    let gw = grad(f, &[w])[0].unwrap();
    let hv = grad((gw * v).sum_all(), &[w])[0].unwrap();
    assert!(
        g.listing(&[hv.id()]).contains("# grad of"),
        "the HVP is an ordinary graph"
    );
    let mut fh = Compiler::new(&g, &l).inputs(&[x, v]).output(hv).build();
    let mut fg = Compiler::new(&g, &l).inputs(&[x, v]).output(gw).build();
    let xd: Vec<f64> = (0..24).map(|i| ((i * 7 % 11) as f64 - 5.0) / 5.0).collect();
    let vd: Vec<f64> = (0..8).map(|i| (i as f64 * 1.3).cos()).collect();
    let wd: Vec<f64> = (0..8).map(|i| (i as f64 * 0.9).sin() * 0.5).collect();
    let inp = [TensorRef::new(&[6, 4], &xd), TensorRef::new(&[4, 2], &vd)];
    fh.run(&wd, &inp, None).unwrap();
    let hv_val = fh.output(0).unwrap().data.to_vec();
    let h = 1e-5;
    let shifted = |s: f64, fg: &mut symgrad::Function<f64>| {
        let wp: Vec<f64> = wd.iter().zip(&vd).map(|(w, v)| w + s * h * v).collect();
        fg.run(&wp, &inp, None).unwrap();
        fg.output(0).unwrap().data.to_vec()
    };
    let gp = shifted(1.0, &mut fg);
    let gm = shifted(-1.0, &mut fg);
    for k in 0..8 {
        let fd = (gp[k] - gm[k]) / (2.0 * h);
        assert!(
            (fd - hv_val[k]).abs() < 1e-6 * fd.abs().max(1.0),
            "coordinate {k}: {} vs {fd}",
            hv_val[k]
        );
    }
}

#[test]
#[should_panic(
    expected = "symgrad: add: shapes do not broadcast; inputs: input `A` of shape [3, 4], input `B` of shape [5, 6]"
)]
fn a_shape_mistake_in_code_panics_naming_op_shapes_and_inputs() {
    let g = Graph::<f32>::new();
    let a = g.input("A", dims![3, 4]);
    let b = g.input("B", dims![5, 6]);
    let _ = a + b;
}

#[test]
#[should_panic(
    expected = "symgrad: matmul: inner dimensions differ; inputs: param `W` of shape [3, 2], input `X` of shape [4, 3]"
)]
fn a_matmul_mistake_names_both_sides() {
    let l = linear_model();
    let g = Graph::<f32>::new();
    let x = g.input("X", dims![4, 3]);
    let _ = g.param(&l, "W").matmul(x);
}

#[test]
fn printing_shows_the_graph_and_its_gradient() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![]);
    let y = (x.exp() + 1.0).log();
    let dy = grad(y, &[x])[0].unwrap();
    assert_eq!(y.to_string(), "log(exp(x) + 1)");
    let text = g.listing(&[dy.id()]);
    assert!(text.contains("= input x : []"));
    assert!(
        text.contains("%6 = div(%5, %3) : []   # grad of %4"),
        "{text}"
    );
    assert!(
        text.contains("%7 = mul(%6, %1) : []   # grad of %1"),
        "{text}"
    );
    assert!(g.to_dot(&[dy.id()]).starts_with("digraph"));
}

#[test]
fn printing_a_graph_with_exponential_sharing_is_bounded() {
    // y <- y * y + y, forty times: 2^40 leaves if every shared node were expanded.
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![]);
    let mut y = x;
    for _ in 0..40 {
        y = y * y + y;
    }
    let text = y.to_string();
    // The cap stops expansion; the enclosing levels (at most 64) still write their operators
    // and close their brackets.
    assert!(
        text.len() <= symgrad::graph::INFIX_MAX + 64 * 8 && text.contains('…'),
        "{} characters",
        text.len()
    );
    assert_eq!(
        g.listing(&[y.id()]).lines().count(),
        81,
        "the listing prints each node once"
    );
}

#[test]
fn where_gradients_are_not_poisoned_by_the_branch_not_taken() {
    // d/dx where(x > 0, sqrt(x), 0) is 1 / (2 sqrt x) for x > 0 and 0 elsewhere, including at
    // 0 (where sqrt's own rule divides 0 by 0) and below (where sqrt is NaN).
    let mut l = ParamLayout::new();
    l.add("x", &[4]);
    let g = Graph::<f64>::new();
    let x = g.param(&l, "x");
    let y = x.gt(0.0).select(x.sqrt(), 0.0).sum_all()
        + x.lt(0.5).select(x * 3.0, (x - 0.5).log()).sum_all();
    let dx = grad(y, &[x])[0].unwrap();
    let mut f = Compiler::new(&g, &l).output(y).output(dx).build();
    let xs = [0.0, -1.0, 4.0, 1.5];
    f.run(&xs, &[], None).unwrap();
    let d = f.output(1).unwrap().data.to_vec();
    // sqrt branch: 0, 0, 1/4, 1/(2 sqrt 1.5); log branch: 3, 3, 1/3.5, 1/1.
    let want = [3.0, 3.0, 0.25 + 1.0 / 3.5, 0.5 / 1.5f64.sqrt() + 1.0];
    for (a, b) in d.iter().zip(&want) {
        assert!((a - b).abs() < 1e-12, "{d:?} vs {want:?}");
    }
    assert!(f.output(0).unwrap().data[0].is_finite());
    // Second order stays finite too: d2/dx2 of the sqrt branch is -1/(4 x^1.5) for x > 0.
    let h = grad(dx.sum_all(), &[x])[0].unwrap();
    let mut f2 = Compiler::new(&g, &l).output(h).build();
    f2.run(&xs, &[], None).unwrap();
    let h = f2.output(0).unwrap().data.to_vec();
    assert!(h.iter().all(|v| v.is_finite()), "{h:?}");
    assert!(
        (h[2] - (-1.0 / (4.0 * 8.0) - 1.0 / 3.5f64.powi(2))).abs() < 1e-12,
        "{h:?}"
    );
}

/// The mistakes caught: two parameters whose gradients are the same node both given that
/// node's step to write in place (only the last range would be written, the first left as
/// it was), and a gradient that is also a value output written into the gradient (the
/// output would then not be in the arena). Mutation P6 of the planner's tests.
#[test]
fn shared_gradient_nodes_fill_every_range_and_outputs_stay_readable() {
    let mut l = ParamLayout::new();
    l.add("p", &[3]);
    l.add("q", &[3]);
    let g = Graph::<f64>::new();
    let x = g.input("x", [3]);
    let (p, q) = (g.param(&l, "p"), g.param(&l, "q"));
    // d/dp = d/dq = x: one node after merging.
    let cost = (p * x).sum_all() + (q * x).sum_all();
    let mut f = Compiler::new(&g, &l)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let mut grad = vec![f64::NAN; 6];
    let xs = [1.0, -2.0, 0.5];
    f.value_and_grad(&[0.0; 6], &[TensorRef::new(&[3], &xs)], &mut grad)
        .unwrap();
    assert_eq!(grad, [1.0, -2.0, 0.5, 1.0, -2.0, 0.5]);
    // A given gradient that is also an output.
    let twice = p * 2.0;
    let mut f = Compiler::new(&g, &l)
        .inputs(&[])
        .output(twice)
        .flat_gradient(&[Some(twice), None])
        .build();
    let mut grad = vec![f64::NAN; 6];
    f.run(&[1.0, 2.0, 3.0, 0.0, 0.0, 0.0], &[], Some(&mut grad))
        .unwrap();
    assert_eq!(grad, [2.0, 4.0, 6.0, 0.0, 0.0, 0.0]);
    assert_eq!(f.output(0).unwrap().data, &[2.0, 4.0, 6.0]);
}

/// The mistake caught: an output's block returned to the planner after its last reader, so
/// that a later step (here the fused `y * 3 + 1`, in place) writes over the value the caller
/// reads after the call. Mutation P2 of the planner's tests.
#[test]
fn an_output_that_later_steps_read_keeps_its_value() {
    let g = Graph::<f64>::new();
    let none = ParamLayout::new();
    let x = g.input("x", [1000]);
    let y = x.exp();
    let z = (y * 3.0 + 1.0).sum_all();
    let mut f = Compiler::new(&g, &none)
        .inputs(&[x])
        .output(y)
        .output(z)
        .build();
    let xs: Vec<f64> = (0..1000).map(|i| i as f64 / 1000.0).collect();
    f.run(&[], &[TensorRef::new(&[1000], &xs)], None).unwrap();
    let ys = f.output(0).unwrap().data.to_vec();
    for (a, b) in xs.iter().zip(&ys) {
        assert!((a.exp() - b).abs() <= 1e-15 * b.abs(), "{a}: {b}");
    }
    let want: f64 = ys.iter().map(|v| v * 3.0 + 1.0).sum();
    assert!((f.scalar_output(1).unwrap() - want).abs() < 1e-9 * want);
}
