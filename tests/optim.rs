//! The minimizers on the standard problems of Moré, Garbow & Hillstrom, with upper bounds on
//! their evaluation counts (argmin's practice: a regression in a line search or a beta
//! formula shows as more evaluations before it shows as a wrong answer); scipy's counts on
//! the Rosenbrock problems at n = 1000; non-finite values; budgets; callbacks; a compiled
//! symgrad function as the objective.

use std::cell::Cell;
use std::ops::ControlFlow;

use symgrad::optim::linesearch::HagerZhang;
use symgrad::optim::problems::{self, Problem};
use symgrad::optim::{
    fmin_cg, minimize_m, Beta, Budget, CompiledObjective, FnObjective, FusedObjective, Lbfgs,
    LearningRate, Momentum, NonlinearCg, Objective, Report, StopReason,
};
use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};

fn solved(p: &Problem, r: &Report) -> bool {
    r.f - p.f_min <= p.f_tol && matches!(r.stop, StopReason::GradientNorm { .. })
}

/// An objective that counts the calls that reach it, whatever the minimizer's own tally
/// says: `(value and gradient, value alone, gradient alone)`.
struct CallCounter<O> {
    inner: O,
    calls: [usize; 3],
}

impl<O> CallCounter<O> {
    fn new(inner: O) -> Self {
        CallCounter {
            inner,
            calls: [0; 3],
        }
    }
    /// Evaluations of F and of ∇F that reached the objective.
    fn f_and_g(&self) -> (usize, usize) {
        let [both, f, g] = self.calls;
        (both + f, both + g)
    }
}

impl<O: Objective<f64>> Objective<f64> for CallCounter<O> {
    fn dim(&self) -> usize {
        self.inner.dim()
    }
    fn value_and_grad(&mut self, x: &[f64], g: &mut [f64]) -> f64 {
        self.calls[0] += 1;
        self.inner.value_and_grad(x, g)
    }
    fn value(&mut self, x: &[f64]) -> f64 {
        self.calls[1] += 1;
        self.inner.value(x)
    }
    fn gradient(&mut self, x: &[f64], g: &mut [f64]) {
        self.calls[2] += 1;
        self.inner.gradient(x, g)
    }
}

/// The report and the evaluations of (F, ∇F) counted outside the minimizer.
fn run_cg(p: &Problem, beta: Beta, hz: bool) -> (Report, (usize, usize)) {
    let mut obj = CallCounter::new(FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| {
        p.fg(x, g)
    }));
    let mut x = p.x0.clone();
    let mut cg = NonlinearCg::new(beta);
    cg.stop.max_evals = 20_000;
    if hz {
        cg.line_search = Box::new(HagerZhang::default());
    }
    let r = cg.minimize(&mut obj, &mut x);
    (r, obj.f_and_g())
}

fn run_lbfgs(p: &Problem, hz: bool) -> (Report, (usize, usize)) {
    let mut obj = CallCounter::new(FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| {
        p.fg(x, g)
    }));
    let mut x = p.x0.clone();
    let mut lb = Lbfgs::new();
    if hz {
        lb.line_search = Box::new(HagerZhang::default());
    }
    let r = lb.minimize(&mut obj, &mut x);
    (r, obj.f_and_g())
}

/// Evaluation bounds per problem (rows in `problems::standard()` order) and solver: the counts
/// measured on 2026-11-27 plus 50% and 10, rounded up (print them with `cargo test --test optim
/// -- --ignored --nocapture measured_counts`). `None`: the solver is known to fail there (see
/// `known_failures_report_why`).
#[rustfmt::skip]
const BOUNDS: [[Option<usize>; 10]; 9] = [
    //  FR      PR      PR+     HS      DY      HZ      PR+/HZ ls  L-BFGS  L-BFGS/HZ  minimize.m
    [Some(153), Some(151), Some(151), Some(151), Some(153), Some(156), Some(321), Some(78), Some(93), Some(115)], // Rosenbrock (1)
    [Some(145), Some(132), Some(112), Some(126), Some(153), Some(135), Some(265), Some(78), Some(103), Some(145)], // extended Rosenbrock (21)
    [Some(184), Some(153), Some(193), Some(220), Some(150), Some(181), Some(1761), Some(57), Some(79), Some(138)], // Powell singular (13)
    [Some(172), Some(160), Some(159), Some(163), Some(162), Some(205), Some(2028), Some(58), Some(58), Some(288)], // extended Powell singular (22)
    [Some(51), Some(48), Some(46), Some(42), Some(54), Some(64), Some(249), Some(34), Some(34), Some(55)], // Beale (5)
    [Some(190), Some(58), Some(99), Some(58), None, None, Some(1426), Some(51), Some(58), Some(168)], // Brown badly scaled (4)
    [Some(526), Some(138), Some(132), Some(106), Some(480), Some(727), Some(1732), Some(177), Some(229), Some(595)], // Wood (14)
    [Some(180), Some(144), Some(144), Some(141), Some(145), Some(189), Some(891), Some(60), Some(60), Some(258)], // helical valley (7)
    [Some(103), Some(102), Some(100), Some(99), Some(102), Some(94), Some(141), Some(52), Some(54), Some(100)], // trigonometric (26)
];

const BETAS: [Beta; 6] = [
    Beta::FletcherReeves,
    Beta::PolakRibiere,
    Beta::PolakRibierePlus,
    Beta::HestenesStiefel,
    Beta::DaiYuan,
    Beta::HagerZhang,
];

/// The evaluations each solver needs (the minimize.m column: the smallest budget, in steps
/// of 5, that reaches the minimum), as the rows of `BOUNDS` with 50% and 10 added. Long runs
/// on ill-conditioned problems move by tens of percent when only the order of a sum changes.
#[test]
#[ignore = "prints the measurements behind BOUNDS"]
fn measured_counts() {
    for p in problems::standard() {
        let mut row: Vec<Option<usize>> = Vec::new();
        for beta in BETAS {
            let (r, _) = run_cg(&p, beta, false);
            row.push(solved(&p, &r).then_some(r.f_evals));
        }
        let (r, _) = run_cg(&p, Beta::PolakRibierePlus, true);
        row.push(solved(&p, &r).then_some(r.f_evals));
        for hz in [false, true] {
            let (r, _) = run_lbfgs(&p, hz);
            row.push(solved(&p, &r).then_some(r.f_evals));
        }
        let mut obj = FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| p.fg(x, g));
        let budget = (5..=5000).step_by(5).find(|&b| {
            let mut x = p.x0.clone();
            minimize_m(&mut obj, &mut x, Budget::Evaluations(b)).f - p.f_min <= p.f_tol
        });
        row.push(budget);
        let cells: Vec<String> = row
            .iter()
            .map(|c| {
                c.map_or("None".into(), |v| {
                    format!("Some({})", (v as f64 * 1.5).ceil() as usize + 10)
                })
            })
            .collect();
        println!("    [{}], // {}", cells.join(", "), p.name);
    }
}

// Mistake caught: a report whose evaluation counts are not the calls the objective saw (a
// line-search trial left uncounted, or counted twice). The counts are compared with a
// counter outside the minimizer; comparing `f_evals` with `g_evals`, which the minimizer's
// own tally increments together, could not fail.
#[test]
fn every_solver_reaches_the_known_minimum_within_its_evaluation_bound() {
    let mut failures = Vec::new();
    for (p, bounds) in problems::standard().iter().zip(BOUNDS) {
        let mut check = |label: &str, (r, seen): (Report, (usize, usize)), bound: Option<usize>| {
            let Some(bound) = bound else { return };
            if !solved(p, &r) || r.f_evals > bound || (r.f_evals, r.g_evals) != seen {
                failures.push(format!(
                    "{} / {label}: f = {:e}, {} / {} evaluations reported, {seen:?} seen (bound {bound}), {:?}",
                    p.name, r.f, r.f_evals, r.g_evals, r.stop
                ));
            }
        };
        for (k, beta) in BETAS.iter().enumerate() {
            check(&format!("CG {beta:?}"), run_cg(p, *beta, false), bounds[k]);
        }
        check(
            "CG PR+ with Hager-Zhang search",
            run_cg(p, Beta::PolakRibierePlus, true),
            bounds[6],
        );
        check("L-BFGS", run_lbfgs(p, false), bounds[7]);
        check(
            "L-BFGS with Hager-Zhang search",
            run_lbfgs(p, true),
            bounds[8],
        );
        // minimize.m stops only on its budget: give it the bound, then check where it got.
        let budget = bounds[9].expect("minimize.m solves every problem");
        let mut obj = CallCounter::new(FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| {
            p.fg(x, g)
        }));
        let mut x = p.x0.clone();
        let r = minimize_m(&mut obj, &mut x, Budget::Evaluations(budget));
        if r.f - p.f_min > p.f_tol || r.f_evals > budget || (r.f_evals, r.g_evals) != obj.f_and_g()
        {
            failures.push(format!(
                "{} / minimize.m: f = {:e} after {} of {budget} evaluations ({:?} seen)",
                p.name,
                r.f,
                r.f_evals,
                obj.f_and_g()
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn known_failures_report_why() {
    // Dai-Yuan and Hager-Zhang's beta jam on Brown's badly scaled function:
    // at x1 ~ 1e6 the curvature along x2 is ~2e12, steps fall below x1's resolution, and
    // even steepest descent cannot move. They must still lower f and say why they stopped.
    let p = problems::brown_badly_scaled();
    for beta in [Beta::DaiYuan, Beta::HagerZhang] {
        let (r, _) = run_cg(&p, beta, false);
        assert!(r.f < 1e-2 * r.f0, "{beta:?}: {r}");
        match &r.stop {
            StopReason::LineSearchFailed(f) => {
                assert!(
                    f.reason.contains("rounding errors prevent progress"),
                    "{beta:?}: {}",
                    f.reason
                );
                assert!(!f.trials.is_empty());
            }
            other => panic!("{beta:?}: expected a line-search failure, got {other:?}"),
        }
    }
}

/// scipy 1.17 on this machine, as the issue recorded it (benches/compare/scipy_optim.py):
/// fmin_cg(gtol=1e-5, norm=inf) and L-BFGS-B (m=10, ftol=0, gtol=1e-5), evaluations of f
/// (= of g). docs/PERFORMANCE.md has a later run of scipy beside symgrad's counts.
///
/// Mistake caught: a regression in CG's line search or restarts on the long chained
/// Rosenbrock run. scipy's 16,522 is twice what symgrad needs, so CG's bound is 10% above
/// its own measured count, 8,314 (9,146); L-BFGS's measured 5,793 is within 0.3% of scipy's
/// 5,805, which stays its bound (`cargo test --test optim -- --nocapture
/// as_good_as_scipy_counted` prints the counts; measured 2026-12-07).
#[test]
fn as_good_as_scipy_counted() {
    // (problem, scipy's CG count, scipy's L-BFGS count, symgrad's CG bound, L-BFGS bound)
    let cases = [
        (problems::extended_rosenbrock(1000), 64, 44, 64, 44),
        (problems::chained_rosenbrock(1000), 16522, 5805, 9146, 5805),
    ];
    for (p, scipy_cg, scipy_lbfgs, cg_bound, lb_bound) in cases {
        let (cg, seen) = run_cg(&p, Beta::PolakRibierePlus, false);
        println!(
            "{}: CG {} evaluations, scipy {scipy_cg}",
            p.name, cg.f_evals
        );
        assert!(
            solved(&p, &cg)
                && cg.f_evals <= scipy_cg.min(cg_bound)
                && (cg.f_evals, cg.g_evals) == seen,
            "{}: CG {cg} (bound {cg_bound}, {seen:?} seen)",
            p.name
        );
        let (lb, seen) = run_lbfgs(&p, false);
        println!(
            "{}: L-BFGS {} evaluations, scipy {scipy_lbfgs}",
            p.name, lb.f_evals
        );
        assert!(
            solved(&p, &lb)
                && lb.f_evals <= scipy_lbfgs.min(lb_bound)
                && (lb.f_evals, lb.g_evals) == seen,
            "{}: L-BFGS {lb} (bound {lb_bound}, {seen:?} seen)",
            p.name
        );
    }
}

/// sqrt(1 + (x - 1)^2), NaN beyond x = 3 (start at -30): nearly linear far from its minimum, so line
/// searches extrapolate into the NaN region and must back off. Counts the NaN evaluations.
fn huber_with_a_hole(hits: &Cell<usize>) -> impl FnMut(&[f64], &mut [f64]) -> f64 + '_ {
    move |x: &[f64], g: &mut [f64]| {
        if x[0] > 3.0 {
            hits.set(hits.get() + 1);
            g[0] = f64::NAN;
            return f64::NAN;
        }
        let r = (1.0 + (x[0] - 1.0).powi(2)).sqrt();
        g[0] = (x[0] - 1.0) / r;
        r
    }
}

#[test]
fn non_finite_values_are_survived_and_reported() {
    for (label, which) in [("CG", 0), ("L-BFGS", 1), ("minimize.m", 2)] {
        let hits = Cell::new(0);
        let mut obj = FusedObjective::new(1, huber_with_a_hole(&hits));
        let mut x = [-30.0];
        let r = match which {
            0 => NonlinearCg::new(Beta::PolakRibierePlus).minimize(&mut obj, &mut x),
            1 => Lbfgs::new().minimize(&mut obj, &mut x),
            _ => minimize_m(&mut obj, &mut x, Budget::Evaluations(200)),
        };
        assert!(
            hits.get() > 0,
            "{label}: the search never met the NaN region; the test would prove nothing"
        );
        assert!(
            r.f.is_finite() && (x[0] - 1.0).abs() < 1e-4,
            "{label}: x = {x:?}, {r}"
        );
    }
    // A NaN at the start is reported, not iterated on.
    let hits = Cell::new(0);
    let mut obj = FusedObjective::new(1, huber_with_a_hole(&hits));
    let mut x = [5.0];
    let r = NonlinearCg::new(Beta::PolakRibierePlus).minimize(&mut obj, &mut x);
    assert!(matches!(r.stop, StopReason::NonFinite { .. }), "{r}");
    assert_eq!(x, [5.0]);
}

// Mistake caught: a budget that is not spent exactly: a line search given more evaluations
// than are left (over-spending), or a run that stops early with budget left, or a count
// that differs from the calls the objective saw. `minimize.m` with `length < 0` evaluates
// until `i == |length|` (its first evaluation included), so the count is the budget exactly
// unless two line searches fail in a row, which extended Rosenbrock from its standard start
// does not cause.
#[test]
fn minimize_m_budgets_are_exact() {
    let p = problems::extended_rosenbrock(10);
    let mut obj = CallCounter::new(FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| {
        p.fg(x, g)
    }));
    for k in [1, 2, 3, 7] {
        let mut x = p.x0.clone();
        let before = obj.f_and_g();
        let r = minimize_m(&mut obj, &mut x, Budget::LineSearches(k));
        assert_eq!(r.line_searches, k);
        assert_eq!(r.stop, StopReason::MaxLineSearches(k));
        assert!(r.f < r.f0);
        let seen = obj.f_and_g();
        assert_eq!(
            (r.f_evals, r.g_evals),
            (seen.0 - before.0, seen.1 - before.1)
        );
    }
    for k in [1, 2, 5, 23, 100, 101] {
        let mut x = p.x0.clone();
        let before = obj.f_and_g();
        let r = minimize_m(&mut obj, &mut x, Budget::Evaluations(k));
        let seen = obj.f_and_g();
        assert_eq!(
            (r.f_evals, r.g_evals),
            (k, k),
            "a budget of {k} evaluations: {r}"
        );
        assert_eq!(seen, (before.0 + k, before.1 + k), "budget {k}");
        assert_eq!(r.stop, StopReason::MaxEvaluations(k));
        if k > 1 {
            assert!(r.f < r.f0, "budget {k}: {r}");
        }
    }
}

#[test]
fn reports_count_every_evaluation_and_the_callback_can_stop() {
    let p = problems::rosenbrock();
    let calls = Cell::new(0usize);
    let mut obj = FusedObjective::new(2, |x: &[f64], g: &mut [f64]| {
        calls.set(calls.get() + 1);
        p.fg(x, g)
    });
    let mut x = p.x0.clone();
    let mut cg = NonlinearCg::new(Beta::PolakRibierePlus);
    cg.callback = Some(Box::new(|rec, _x| {
        if rec.iter == 5 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }));
    let r = cg.minimize(&mut obj, &mut x);
    assert_eq!(r.stop, StopReason::Callback);
    assert_eq!(r.iterations, 5);
    assert_eq!(r.history.len(), 5);
    assert_eq!(
        r.f_evals,
        calls.get(),
        "line-search evaluations are counted"
    );
    assert!(
        r.history.windows(2).all(|w| w[1].f <= w[0].f),
        "f never rises"
    );
}

// Mistake caught: f or fprime called without being counted (or counted without a call).
// Counted by the closures themselves; f_evals == g_evals of the report alone was a
// tautology (both are incremented together).
#[test]
fn fmin_cg_mirrors_the_seed() {
    let p = problems::rosenbrock();
    let (f_calls, g_calls) = (Cell::new(0usize), Cell::new(0usize));
    let (x, r) = fmin_cg(
        |x: &[f64]| {
            f_calls.set(f_calls.get() + 1);
            p.f(x)
        },
        |x: &[f64], g: &mut [f64]| {
            g_calls.set(g_calls.get() + 1);
            p.fg(x, g);
        },
        &p.x0,
    );
    assert!(
        (x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4,
        "{r}"
    );
    // f and fprime are separate closures here: each trial calls both once.
    assert!(f_calls.get() > 0);
    assert_eq!(
        (r.f_evals, r.g_evals),
        (f_calls.get(), g_calls.get()),
        "{r}"
    );
}

#[test]
fn momentum_classical_and_nesterov_minimize_a_stream_of_batches() {
    // f = sum over 10 batches of |A_k x - b_k|^2 / 10 with x* known.
    let n = 5;
    let x_star: Vec<f64> = (0..n).map(|i| i as f64 - 2.0).collect();
    let a = |k: usize, i: usize, j: usize| {
        ((k * 31 + i * 7 + j * 3) % 11) as f64 / 11.0 + if i == j { 1.0 } else { 0.0 }
    };
    let fg = |k: usize, x: &[f64], g: &mut [f64]| -> f64 {
        g.fill(0.0);
        let mut f = 0.0;
        for i in 0..n {
            let r: f64 = (0..n).map(|j| a(k, i, j) * (x[j] - x_star[j])).sum();
            f += r * r / 10.0;
            for (j, gj) in g.iter_mut().enumerate() {
                *gj += 2.0 * r * a(k, i, j) / 10.0;
            }
        }
        f
    };
    for nesterov in [false, true] {
        let mut opt = Momentum::new(LearningRate::Constant(0.05), 0.9);
        opt.nesterov = nesterov;
        let mut x = vec![0.0; n];
        let r = opt.minimize_batches(&mut x, 60, 10, fg);
        assert_eq!(r.f_evals, 600);
        assert!(
            x.iter().zip(&x_star).all(|(a, b)| (a - b).abs() < 1e-3),
            "nesterov={nesterov}: {x:?} {r}"
        );
        assert!(r.history.last().unwrap().f < 1e-6 * r.f0);
    }
    // The paper's schedule: momentum 0.5 for five epochs, then 0.9.
    let mut opt = Momentum::<f64>::new(
        LearningRate::Step {
            initial: 0.1,
            factor: 0.5,
            every: 10,
        },
        0.5,
    );
    opt.momentum = vec![(0, 0.5), (5, 0.9)];
    assert_eq!((opt.momentum_at(4), opt.momentum_at(5)), (0.5, 0.9));
    assert_eq!((opt.lr.at(9), opt.lr.at(10)), (0.1, 0.05));
}

// Mistake caught: Nesterov's look-ahead dropped (a no-op `nesterov` flag), or taken with the
// wrong momentum. On f = x^2 / 2 (gradient x) from x = 1 with lr 0.1 and momentum 0.9, both
// take the gradient at x0 first (v = 0): x1 = 0.9, v1 = -0.1. Then classical takes it at
// x1 = 0.9 (v2 = -0.09 - 0.09 = -0.18, x2 = 0.72) and Nesterov at x1 + 0.9 v1 = 0.81
// (v2 = -0.09 - 0.081 = -0.171, x2 = 0.729).
#[test]
fn nesterov_takes_its_gradient_ahead_of_classical_momentum() {
    let run = |nesterov: bool| {
        let mut opt = Momentum::<f64>::new(LearningRate::Constant(0.1), 0.9);
        opt.nesterov = nesterov;
        let mut x = [1.0];
        let mut seen = Vec::new();
        opt.minimize_batches(&mut x, 2, 1, |_, x, g| {
            seen.push(x[0]);
            g[0] = x[0];
            x[0] * x[0] / 2.0
        });
        (seen, x[0])
    };
    let close = |a: f64, b: f64| (a - b).abs() < 1e-15;
    let (seen, x) = run(false);
    assert!(
        close(seen[0], 1.0) && close(seen[1], 0.9) && close(x, 0.72),
        "classical: {seen:?} {x}"
    );
    let (seen, x) = run(true);
    assert!(
        close(seen[0], 1.0) && close(seen[1], 0.81) && close(x, 0.729),
        "Nesterov: {seen:?} {x}"
    );
}

// Mistake caught: `powell_restart` ignored, or its test inverted. With the periodic restart
// pushed out of reach, every iteration after which consecutive gradients satisfy Powell's
// `|g+ . g| >= 0.2 |g+|^2` (computed here from the points the callback sees) must restart,
// and at least one of those iterations does not restart without the option.
#[test]
fn powell_restarts_happen_where_consecutive_gradients_are_far_from_orthogonal() {
    let p = problems::extended_rosenbrock(10);
    let run = |powell: Option<f64>| {
        let mut obj = FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| p.fg(x, g));
        let mut x = p.x0.clone();
        let mut g_prev = vec![0.0; p.n];
        p.fg(&p.x0, &mut g_prev);
        // (iteration, Powell's condition holds, the record says restart)
        let mut marks = Vec::new();
        let mut cg = NonlinearCg::new(Beta::PolakRibierePlus);
        cg.restart_every = Some(100_000);
        cg.powell_restart = powell;
        cg.callback = Some(Box::new(|rec, x| {
            let mut g = vec![0.0; x.len()];
            p.fg(x, &mut g);
            let gg: f64 = g.iter().map(|v| v * v).sum();
            let cross: f64 = g.iter().zip(&g_prev).map(|(a, b)| a * b).sum();
            marks.push((rec.iter, cross.abs() >= 0.2 * gg, rec.restart));
            g_prev = g;
            ControlFlow::Continue(())
        }));
        let r = cg.minimize(&mut obj, &mut x);
        drop(cg);
        assert!(solved(&p, &r), "powell {powell:?}: {r}");
        marks
    };
    let with = run(Some(0.2));
    let due: Vec<usize> = with.iter().filter(|m| m.1).map(|m| m.0).collect();
    assert!(
        !due.is_empty(),
        "Powell's condition never held: the test proves nothing"
    );
    assert!(
        with.iter().all(|&(_, cond, restart)| !cond || restart),
        "an iteration where Powell's condition held did not restart: {with:?}"
    );
    let without = run(None);
    assert!(
        without.iter().any(|&(_, cond, restart)| cond && !restart),
        "without the option every such iteration restarted anyway: {without:?}"
    );
}

#[test]
fn a_compiled_symgrad_function_is_an_objective() {
    // Least squares through a compiled graph, minimized by L-BFGS with no copy of x.
    let mut layout = ParamLayout::new();
    layout.add("w", &[3, 1]);
    let g = Graph::<f64>::new();
    let n = g.symbol("n");
    let x = g.input("X", dims![n, 3]);
    let y = g.input("y", dims![n, 1]);
    let cost = (x.matmul(g.param(&layout, "w")) - y).square().mean_all();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(cost)
        .build();
    let xs: Vec<f64> = (0..30)
        .map(|i| ((i * 17 % 13) as f64 - 6.0) / 6.0)
        .collect();
    let ys: Vec<f64> = xs
        .chunks(3)
        .map(|r| 2.0 * r[0] - r[1] + 0.5 * r[2])
        .collect();
    let (xshape, yshape) = ([10, 3], [10, 1]);
    let bad = [7, 3];
    assert!(CompiledObjective::new(
        &mut f,
        &[
            TensorRef::new(&bad, &xs[..21]),
            TensorRef::new(&yshape, &ys)
        ]
    )
    .is_err());
    let mut obj = CompiledObjective::new(
        &mut f,
        &[TensorRef::new(&xshape, &xs), TensorRef::new(&yshape, &ys)],
    )
    .unwrap();
    assert_eq!(obj.dim(), 3);
    let mut w = vec![0.0; 3];
    let r = Lbfgs::new().minimize(&mut obj, &mut w);
    assert!(
        (w[0] - 2.0).abs() < 1e-5 && (w[1] + 1.0).abs() < 1e-5 && (w[2] - 0.5).abs() < 1e-5,
        "{w:?} {r}"
    );
    // The same through a pair of closures.
    let mut pair = FnObjective::new(
        1,
        |x: &[f64]| (x[0] - 3.0).powi(2),
        |x: &[f64], g: &mut [f64]| g[0] = 2.0 * (x[0] - 3.0),
    );
    let mut z = [0.0];
    NonlinearCg::new(Beta::FletcherReeves).minimize(&mut pair, &mut z);
    assert!((z[0] - 3.0).abs() < 1e-6);
}

// Mistake caught: `CompiledObjective::set_inputs` that keeps evaluating the old arrays, or
// that accepts arrays of the wrong shape (or drops the old ones when it refuses new ones).
#[test]
fn set_inputs_moves_a_compiled_objective_to_the_next_batch() {
    let mut layout = ParamLayout::new();
    layout.add("w", &[2, 1]);
    let g = Graph::<f64>::new();
    let n = g.symbol("n");
    let x = g.input("X", dims![n, 2]);
    let y = g.input("y", dims![n, 1]);
    let cost = (x.matmul(g.param(&layout, "w")) - y).square().sum_all();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x, y])
        .value_and_grad(cost)
        .build();
    let (xa, ya) = ([1.0, 0.0, 0.0, 1.0], [1.0, 2.0]);
    let (xb, yb) = ([1.0, 1.0, 2.0, 0.0, 0.0, 3.0], [0.0, 1.0, -1.0]);
    let (sa, sya, sb, syb) = ([2, 2], [2, 1], [3, 2], [3, 1]);
    let w = [0.5, -1.0];
    // The costs by hand: sum over rows of (x . w - y)^2.
    let by_hand = |xs: &[f64], ys: &[f64]| -> f64 {
        xs.chunks(2)
            .zip(ys)
            .map(|(r, y)| (r[0] * w[0] + r[1] * w[1] - y).powi(2))
            .sum()
    };
    let mut grad = [0.0; 2];
    let mut obj = CompiledObjective::new(
        &mut f,
        &[TensorRef::new(&sa, &xa), TensorRef::new(&sya, &ya)],
    )
    .unwrap();
    assert_eq!(obj.value_and_grad(&w, &mut grad), by_hand(&xa, &ya));
    obj.set_inputs(&[TensorRef::new(&sb, &xb), TensorRef::new(&syb, &yb)])
        .unwrap();
    assert_eq!(obj.value_and_grad(&w, &mut grad), by_hand(&xb, &yb));
    // Refused batches (X of 3 columns; X and y of different lengths) leave the last one bound.
    let bad_x = [2, 3];
    assert!(obj
        .set_inputs(&[TensorRef::new(&bad_x, &xb), TensorRef::new(&sya, &ya)])
        .is_err());
    assert!(obj
        .set_inputs(&[TensorRef::new(&sa, &xa), TensorRef::new(&syb, &yb)])
        .is_err());
    assert_eq!(obj.value_and_grad(&w, &mut grad), by_hand(&xb, &yb));
}
