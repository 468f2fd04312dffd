//! The parts of a compiled function's API besides calling it, outside doctests: `prepare`
//! (plan and arena ahead of the first call), `check_inputs` (every error kind), the
//! per-op and per-step profiles, and `explain`'s program listing after a call.

use symgrad::{dims, Compiler, Error, Graph, ParamLayout, TensorRef};

fn model(g: &Graph<f64>, l: &ParamLayout) -> symgrad::Function<f64> {
    let n = g.symbol("n");
    let x = g.input("x", dims![n, 3]);
    let y = g.input("y", dims![n, 1]);
    let w = g.param(l, "w");
    let cost = (x.matmul(w) - y).square().mean_all();
    Compiler::new(g, l)
        .inputs(&[x, y])
        .value_and_grad(cost)
        .build()
}

fn layout() -> ParamLayout {
    let mut l = ParamLayout::new();
    l.add("w", &[3, 1]);
    l
}

/// The mistakes caught: `prepare` computing (it must not count a call), not caching the
/// plan (a later call with the same shapes would build another), or not growing the arena
/// (the call would grow it).
#[test]
fn prepare_plans_once_and_the_call_reuses_it() {
    let (g, l) = (Graph::new(), layout());
    let mut f = model(&g, &l);
    let (x, y) = (vec![0.5; 12], vec![1.0; 4]);
    let inputs = [TensorRef::new(&[4, 3], &x), TensorRef::new(&[4, 1], &y)];
    f.prepare(&inputs).unwrap();
    let s = f.stats();
    assert_eq!((s.calls, s.plans_built, s.arena_grows), (0, 1, 1));
    assert!(f.arena_len().unwrap() > 0);
    let mut grad = vec![0.0; 3];
    f.value_and_grad(&[1.0, 1.0, 1.0], &inputs, &mut grad)
        .unwrap();
    let s = f.stats();
    assert_eq!((s.calls, s.plans_built, s.arena_grows), (1, 1, 1));
}

/// The mistakes caught: each kind of bad input reported as another kind (or not at all):
/// count, rank, a fixed size, a symbol bound two ways, data of the wrong length.
#[test]
fn check_inputs_names_each_kind_of_mistake() {
    let (g, l) = (Graph::new(), layout());
    let mut f = model(&g, &l);
    let (x, y) = (vec![0.0; 12], vec![0.0; 4]);
    let ok = [TensorRef::new(&[4, 3], &x), TensorRef::new(&[4, 1], &y)];
    assert_eq!(f.check_inputs(&ok), Ok(()));
    let e = f.check_inputs(&ok[..1]).unwrap_err();
    assert!(
        matches!(
            e,
            Error::InputCount {
                expected: 2,
                given: 1,
                ..
            }
        ),
        "{e:?}"
    );
    let e = f
        .check_inputs(&[TensorRef::new(&[12], &x), ok[1]])
        .unwrap_err();
    assert_eq!(e.to_string(), "input `x`: expected shape [n, 3], got [12]");
    let e = f
        .check_inputs(&[TensorRef::new(&[6, 2], &x), ok[1]])
        .unwrap_err();
    assert!(matches!(e, Error::InputShape { .. }), "{e:?}");
    let e = f
        .check_inputs(&[ok[0], TensorRef::new(&[2, 1], &y[..2])])
        .unwrap_err();
    assert!(
        matches!(&e, Error::SymbolConflict { symbol, first: 4, second: 2, .. } if symbol == "n"),
        "{e:?}"
    );
    let e = f
        .check_inputs(&[TensorRef::new(&[4, 3], &x[..11]), ok[1]])
        .unwrap_err();
    assert!(
        matches!(
            e,
            Error::InputLength {
                needed: 12,
                given: 11,
                ..
            }
        ),
        "{e:?}"
    );
    // Nothing was planned or run by the checks.
    assert_eq!((f.stats().calls, f.stats().plans_built), (0, 0));
}

/// The mistakes caught: profiles that time nothing, count leaves as steps, or keep timing
/// after profiling is turned off.
#[test]
fn profiles_cover_every_step_and_stop_when_turned_off() {
    let (g, l) = (Graph::new(), layout());
    let mut f = model(&g, &l);
    let (x, y) = (vec![0.25; 3000], vec![1.0; 1000]);
    let inputs = [
        TensorRef::new(&[1000, 3], &x),
        TensorRef::new(&[1000, 1], &y),
    ];
    let mut grad = vec![0.0; 3];
    f.set_profiling(true);
    for _ in 0..3 {
        f.value_and_grad(&[0.1, 0.2, 0.3], &inputs, &mut grad)
            .unwrap();
    }
    let steps = f.profile_steps();
    let computed = f.steps().iter().filter(|s| !s.kernel.is_leaf()).count();
    assert_eq!(steps.len(), computed);
    assert!(steps.iter().map(|s| s.2).sum::<f64>() > 0.0);
    let by_op = f.profile();
    assert_eq!(by_op.iter().map(|o| o.2).sum::<usize>(), computed);
    assert!(
        by_op.iter().any(|(op, _, _)| op.starts_with("matmul")),
        "{by_op:?}"
    );
    assert!(by_op.windows(2).all(|w| w[0].1 >= w[1].1), "largest first");
    f.set_profiling(false);
    f.value_and_grad(&[0.1, 0.2, 0.3], &inputs, &mut grad)
        .unwrap();
    assert!(f.profile().is_empty() && f.profile_steps().is_empty());
}

/// The mistake caught: `explain` without the plan after a call, or with a plan before one.
#[test]
fn explain_shows_the_plan_only_after_a_call() {
    let (g, l) = (Graph::new(), layout());
    let mut f = model(&g, &l);
    assert!(f.explain().contains("no call yet, so no buffer plan"));
    let (x, y) = (vec![0.0; 6], vec![0.0; 2]);
    let mut grad = vec![0.0; 3];
    f.value_and_grad(
        &[0.0; 3],
        &[TensorRef::new(&[2, 3], &x), TensorRef::new(&[2, 1], &y)],
        &mut grad,
    )
    .unwrap();
    let text = f.explain();
    assert!(text.contains("and buffer plan of the last call"), "{text}");
    assert!(text.contains("arena:"), "{text}");
}
