//! Nonlinear conjugate gradient: six beta formulas, restarts, any line search; Rasmussen's
//! `minimize.m`, reproduced; and `fmin_cg(f, fprime, x0)`.
//!
//! References: Nocedal & Wright, *Numerical Optimization* (2006), §5.2; Hager & Zhang, "A
//! survey of nonlinear conjugate gradient methods", Pacific J. Optim. 2 (2006); Powell,
//! "Restart procedures for the conjugate gradient method", Math. Prog. 12 (1977);
//! C. E. Rasmussen, `minimize.m`.

use std::ops::ControlFlow;

use super::linesearch::{LineSearch, MoreThuente, Rasmussen};
use super::{
    all_finite, dot, history_capacity, Best, Callback, Counted, FnObjective, IterRecord,
    LineSearchFailure, Norm, Objective, Probe, Report, Stop, StopReason, Tally,
};
use crate::Scalar;

/// The CG update `d_{k+1} = -g_{k+1} + beta d_k`, with `y = g_{k+1} - g_k`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Beta {
    /// Fletcher–Reeves: `|g+|^2 / |g|^2`.
    FletcherReeves,
    /// Polak–Ribière: `g+ . y / |g|^2`.
    PolakRibiere,
    /// Polak–Ribière with `max(0, beta)` (PR+), scipy's choice.
    PolakRibierePlus,
    /// Hestenes–Stiefel: `g+ . y / d . y`.
    HestenesStiefel,
    /// Dai–Yuan: `|g+|^2 / d . y`.
    DaiYuan,
    /// Hager–Zhang: `(y - 2 d |y|^2 / d.y) . g+ / d.y`, bounded below by
    /// `-1 / (|d| min(0.01, |g|))` (CG_DESCENT).
    HagerZhang,
}

/// The five inner products the beta formulas need, in one pass over the vectors.
struct Dots {
    gg_new: f64,
    gg_old: f64,
    g_new_old: f64,
    dg_new: f64,
    dg_old: f64,
}

impl Dots {
    fn of<T: Scalar>(g_new: &[T], g_old: &[T], d: &[T]) -> Self {
        let mut s = [0.0f64; 5];
        for ((&a, &b), &c) in g_new.iter().zip(g_old).zip(d) {
            let (a, b, c) = (
                a.to_f64_lossless(),
                b.to_f64_lossless(),
                c.to_f64_lossless(),
            );
            s[0] += a * a;
            s[1] += b * b;
            s[2] += a * b;
            s[3] += c * a;
            s[4] += c * b;
        }
        Dots {
            gg_new: s[0],
            gg_old: s[1],
            g_new_old: s[2],
            dg_new: s[3],
            dg_old: s[4],
        }
    }
}

impl Beta {
    fn compute(self, k: &Dots, d_norm: impl FnOnce() -> f64) -> f64 {
        let gy = k.gg_new - k.g_new_old; // g+ . y
        let dy = k.dg_new - k.dg_old; // d . y
        match self {
            Beta::FletcherReeves => k.gg_new / k.gg_old,
            Beta::PolakRibiere => gy / k.gg_old,
            Beta::PolakRibierePlus => (gy / k.gg_old).max(0.0),
            Beta::HestenesStiefel => gy / dy,
            Beta::DaiYuan => k.gg_new / dy,
            Beta::HagerZhang => {
                let yy = k.gg_new - 2.0 * k.g_new_old + k.gg_old;
                let b = (gy - 2.0 * yy * k.dg_new / dy) / dy;
                let eta = -1.0 / (d_norm() * 0.01f64.min(k.gg_old.sqrt()));
                b.max(eta)
            }
        }
    }
}

/// Nonlinear conjugate gradient.
///
/// Restarts with steepest descent every `restart_every` iterations (default: the dimension),
/// when the new direction is not a sufficient descent direction (`d . g > -0.01 |g|^2`, the
/// test scipy applies to PR+), and, if `powell_restart` is set, when consecutive gradients
/// are far from orthogonal (Powell: `|g+ . g| >= 0.2 |g+|^2`; off by default, since on the
/// Rosenbrock problems it costs evaluations). The first step is `min(1, 1.01 / |g|)` and later ones
/// `min(1, 1.01 * 2 (f_k - f_{k-1}) / phi'(0))`, as in scipy.
///
/// ```
/// use symgrad::optim::{Beta, FnObjective, NonlinearCg};
/// let mut obj = FnObjective::new(2, |x: &[f64]| (x[0] - 1.0).powi(2) + 10.0 * (x[1] + 2.0).powi(2),
///     |x: &[f64], g: &mut [f64]| { g[0] = 2.0 * (x[0] - 1.0); g[1] = 20.0 * (x[1] + 2.0); });
/// let mut x = [0.0, 0.0];
/// let report = NonlinearCg::new(Beta::PolakRibierePlus).minimize(&mut obj, &mut x);
/// assert!((x[0] - 1.0).abs() < 1e-5 && (x[1] + 2.0).abs() < 1e-5, "{report}");
/// ```
pub struct NonlinearCg<'c, T: Scalar> {
    /// The beta formula.
    pub beta: Beta,
    /// The line search (default: More–Thuente with c1 = 1e-4, c2 = 0.1).
    pub line_search: Box<dyn LineSearch + 'c>,
    /// When to stop.
    pub stop: Stop,
    /// Restart period (default: the dimension).
    pub restart_every: Option<usize>,
    /// Powell's restart: steepest descent when `|g+ . g| >= c |g+|^2` (default: off; 0.2 is
    /// Powell's constant).
    pub powell_restart: Option<f64>,
    /// Keep a record per iteration in the report.
    pub keep_history: bool,
    /// Called after every iteration.
    pub callback: Option<Box<Callback<'c, T>>>,
}

impl<'c, T: Scalar> NonlinearCg<'c, T> {
    /// CG with this beta and the defaults.
    pub fn new(beta: Beta) -> Self {
        NonlinearCg {
            beta,
            line_search: Box::new(MoreThuente::default()),
            stop: Stop::default(),
            restart_every: None,
            powell_restart: None,
            keep_history: true,
            callback: None,
        }
    }

    /// Minimizes `obj` from `x`, in place.
    pub fn minimize<O: Objective<T> + ?Sized>(&mut self, obj: &mut O, x: &mut [T]) -> Report {
        let n = x.len();
        assert_eq!(
            obj.dim(),
            n,
            "symgrad: x has length {n}, the objective dimension {}",
            obj.dim()
        );
        let mut obj = Counted::new(obj);
        let mut g = vec![T::zero(); n];
        let mut g_old = vec![T::zero(); n];
        let mut d = vec![T::zero(); n];
        let mut xt = vec![T::zero(); n];
        let mut gt = vec![T::zero(); n];
        let mut trials = Vec::with_capacity(32);
        let mut f = obj.fg(x, &mut g);
        let mut tally = Tally::new(f);
        if !f.is_finite() || !all_finite(&g) {
            let what = if f.is_finite() {
                "gradient at x0"
            } else {
                "value at x0"
            };
            return tally.report(StopReason::NonFinite { what }, f, f64::NAN, &obj);
        }
        if self.keep_history {
            tally.history.reserve(history_capacity(self.stop.max_iter));
        }
        let mut gnorm = self.stop.grad_norm.of(&g);
        for (di, &gi) in d.iter_mut().zip(&g) {
            *di = -gi;
        }
        let mut f_prev = f + dot(&g, &g).sqrt() / 2.0; // scipy's old_old_fval
        let restart_every = self.restart_every.unwrap_or(n).max(1);
        let mut since_restart = 0;
        loop {
            if let Some(stop) = self.stop.check(gnorm, tally.iterations, obj.f_evals) {
                return tally.report(stop, f, gnorm, &obj);
            }
            let slope = dot(&g, &d);
            let mut step0 = (1.01 * 2.0 * (f - f_prev) / slope).min(1.0);
            if !(step0 > 0.0 && step0.is_finite()) {
                step0 = 1.0;
            }
            let mut probe = Probe::new(&mut obj, x, &d, &mut xt, &mut gt);
            let r = self
                .line_search
                .search(&mut probe, f, slope, step0, &mut trials);
            tally.line_searches += 1;
            let improved = r.step > 0.0 && r.f.is_finite() && r.f < f;
            if !r.ok && (!improved || since_restart == 0) {
                if improved {
                    // Take what the failed search gained, then go on along steepest descent.
                    probe.settle(r.step);
                } else if since_restart > 0 {
                    for (di, &gi) in d.iter_mut().zip(&g) {
                        *di = -gi;
                    }
                    since_restart = 0;
                    continue;
                } else {
                    let failure = LineSearchFailure {
                        reason: r.failure.unwrap_or_else(|| "no decrease".into()),
                        trials: trials.clone(),
                    };
                    return tally.report(StopReason::LineSearchFailed(failure), f, gnorm, &obj);
                }
            }
            let f_new = probe.settle(r.step);
            tally.iterations += 1;
            // Accept the point: x by copy (it is the caller's), the gradients by swapping.
            x.copy_from_slice(&xt);
            std::mem::swap(&mut g_old, &mut g);
            std::mem::swap(&mut g, &mut gt);
            f_prev = f;
            let decrease = f - f_new;
            f = f_new;
            gnorm = self.stop.grad_norm.of(&g);
            // The next direction (steepest descent after a failed search).
            since_restart += 1;
            let dots = Dots::of(&g, &g_old, &d);
            let gg = dots.gg_new;
            let mut restart = !r.ok
                || since_restart >= restart_every
                || self
                    .powell_restart
                    .is_some_and(|c| dots.g_new_old.abs() >= c * gg);
            let mut beta = None;
            if !restart {
                let b = self.beta.compute(&dots, || dot(&d, &d).sqrt());
                if b.is_finite() {
                    for (di, &gi) in d.iter_mut().zip(&g) {
                        *di = T::from_f64(b) * *di - gi;
                    }
                    beta = Some(b);
                    restart = dot(&d, &g) > -0.01 * gg;
                } else {
                    restart = true;
                }
            }
            if restart {
                for (di, &gi) in d.iter_mut().zip(&g) {
                    *di = -gi;
                }
                since_restart = 0;
            }
            let rec = IterRecord {
                iter: tally.iterations,
                f,
                grad_norm: gnorm,
                step: r.step,
                beta,
                restart,
                evals: obj.f_evals,
            };
            let stop_cb = self
                .callback
                .as_mut()
                .is_some_and(|cb| cb(&rec, x) == ControlFlow::Break(()));
            if self.keep_history {
                tally.history.push(rec);
            }
            if stop_cb {
                return tally.report(StopReason::Callback, f, gnorm, &obj);
            }
            if let Some(stop) = self.stop.decrease(f + decrease, f) {
                return tally.report(stop, f, gnorm, &obj);
            }
        }
    }
}

/// The budget of [`minimize_m`], as `minimize.m`'s `length`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Budget {
    /// At most this many line searches (`length > 0`): the fine-tuning recipe uses 3.
    LineSearches(usize),
    /// At most this many evaluations of F and ∇F (`length < 0`).
    Evaluations(usize),
}

/// Rasmussen's `minimize.m`: Polak–Ribière CG (no `max(0, beta)`; steepest descent when the
/// new direction is not a descent direction) with its own line search ([`Rasmussen`]), the
/// first step `red / (1 + |g|^2)` (`red = 1`), each later initial step scaled by
/// `min(RATIO, slope_old / slope_new)` with RATIO = 10. A failed line search restores the best
/// point seen and retries along steepest descent with step `1 / (1 + |g|^2)`; two failures in
/// a row stop the run. x ends at the best point seen.
///
/// ```
/// use symgrad::optim::{minimize_m, Budget, FnObjective};
/// let mut obj = FnObjective::new(2, |x: &[f64]| x[0].powi(2) + 5.0 * x[1].powi(2),
///     |x: &[f64], g: &mut [f64]| { g[0] = 2.0 * x[0]; g[1] = 10.0 * x[1]; });
/// let mut x = [3.0, 1.0];
/// let r = minimize_m(&mut obj, &mut x, Budget::LineSearches(3));
/// assert_eq!(r.line_searches, 3);
/// assert!(r.f < 1e-3 * r.f0); // inexact searches: |slope| <= 0.1 |slope(0)| suffices
/// let r = minimize_m(&mut obj, &mut x, Budget::Evaluations(40));
/// assert!(r.f_evals <= 40 && r.f < 1e-12);
/// ```
pub fn minimize_m<T: Scalar, O: Objective<T> + ?Sized>(
    obj: &mut O,
    x: &mut [T],
    budget: Budget,
) -> Report {
    let n = x.len();
    assert_eq!(
        obj.dim(),
        n,
        "symgrad: x has length {n}, the objective dimension {}",
        obj.dim()
    );
    let search = Rasmussen::default();
    let (ratio, red) = (10.0f64, 1.0f64);
    let (limit, count_evals) = match budget {
        Budget::LineSearches(k) => (k, false),
        Budget::Evaluations(k) => (k, true),
    };
    let mut obj = Counted::new(obj);
    let mut df0 = vec![T::zero(); n];
    let mut s = vec![T::zero(); n];
    let mut xt = vec![T::zero(); n];
    let mut gt = vec![T::zero(); n];
    let mut trials = Vec::with_capacity(32);
    let mut xb = vec![T::zero(); n];
    let mut gb = vec![T::zero(); n];
    let mut f0 = obj.fg(x, &mut df0);
    let mut tally = Tally::new(f0);
    let mut i = usize::from(count_evals);
    if !f0.is_finite() || !all_finite(&df0) {
        return tally.report(
            StopReason::NonFinite {
                what: "value or gradient at x0",
            },
            f0,
            Norm::L2.of(&df0),
            &obj,
        );
    }
    // At most one iteration per line search (and per evaluation): no push below allocates.
    tally.history.reserve(history_capacity(limit));
    for (si, &gi) in s.iter_mut().zip(&df0) {
        *si = -gi;
    }
    let mut d0 = -dot(&s, &s);
    let mut x3 = red / (1.0 - d0);
    let mut ls_failed = false;
    while i < limit {
        i += usize::from(!count_evals);
        let m = if count_evals {
            search.max.min(limit.saturating_sub(i))
        } else {
            search.max
        };
        let evals_before = obj.f_evals;
        let mut probe = Probe::new(&mut obj, x, &s, &mut xt, &mut gt);
        probe.best = Some(Best {
            x: &mut xb,
            g: &mut gb,
            f: f0,
            step: 0.0,
        });
        let r = search.search_budget(&mut probe, f0, d0, x3, m, &mut trials);
        tally.line_searches += 1;
        let used = probe.obj.f_evals - evals_before;
        if count_evals {
            i += used;
        }
        if r.ok {
            let f3 = probe.settle(r.step);
            tally.iterations += 1;
            x.copy_from_slice(&xt);
            f0 = f3;
            // Polak-Ribiere: s = (df3.df3 - df0.df3) / (df0.df0) s - df3.
            let b = (dot(&gt, &gt) - dot(&df0, &gt)) / dot(&df0, &df0);
            for (si, &g3) in s.iter_mut().zip(gt.iter()) {
                *si = T::from_f64(b) * *si - g3;
            }
            df0.copy_from_slice(&gt);
            let d3 = d0;
            d0 = dot(&df0, &s);
            let mut restart = false;
            if d0 > 0.0 {
                for (si, &gi) in s.iter_mut().zip(&df0) {
                    *si = -gi;
                }
                d0 = -dot(&s, &s);
                restart = true;
            }
            x3 = r.step * ratio.min(d3 / (d0 - f64::MIN_POSITIVE));
            ls_failed = false;
            tally.history.push(IterRecord {
                iter: tally.iterations,
                f: f0,
                grad_norm: Norm::L2.of(&df0),
                step: r.step,
                beta: Some(b),
                restart,
                evals: obj.f_evals,
            });
        } else {
            // Restore the best point the search saw (never worse than the start), from the
            // copies kept during the search, as minimize.m does.
            let (best_f, best_step) = probe.best.as_ref().map_or((f0, 0.0), |b| (b.f, b.step));
            if best_step > 0.0 && best_f < f0 {
                f0 = best_f;
                x.copy_from_slice(&xb);
                df0.copy_from_slice(&gb);
            }
            if ls_failed || i > limit {
                let failure = LineSearchFailure {
                    reason: r.failure.unwrap_or_default(),
                    trials: trials.clone(),
                };
                return tally.report(
                    StopReason::LineSearchFailed(failure),
                    f0,
                    Norm::L2.of(&df0),
                    &obj,
                );
            }
            for (si, &gi) in s.iter_mut().zip(&df0) {
                *si = -gi;
            }
            d0 = -dot(&s, &s);
            x3 = 1.0 / (1.0 - d0);
            ls_failed = true;
        }
    }
    let stop = if count_evals {
        StopReason::MaxEvaluations(obj.f_evals)
    } else {
        StopReason::MaxLineSearches(tally.line_searches)
    };
    tally.report(stop, f0, Norm::L2.of(&df0), &obj)
}

/// `fmin_cg(f, fprime, x0)`: minimizes with Polak–Ribière+ CG and the More–Thuente line search
/// (scipy's `fmin_cg` with `gtol = 1e-5`, `norm = inf`), returning the minimizer and the report.
///
/// ```
/// use symgrad::optim::fmin_cg;
/// let rosen = |x: &[f64]| (1.0 - x[0]).powi(2) + 100.0 * (x[1] - x[0] * x[0]).powi(2);
/// let grad = |x: &[f64], g: &mut [f64]| {
///     g[0] = -2.0 * (1.0 - x[0]) - 400.0 * x[0] * (x[1] - x[0] * x[0]);
///     g[1] = 200.0 * (x[1] - x[0] * x[0]);
/// };
/// let (x, report) = fmin_cg(rosen, grad, &[-1.2, 1.0]);
/// assert!((x[0] - 1.0).abs() < 1e-4 && (x[1] - 1.0).abs() < 1e-4, "{report}");
/// ```
pub fn fmin_cg<T: Scalar>(
    f: impl FnMut(&[T]) -> T,
    fprime: impl FnMut(&[T], &mut [T]),
    x0: &[T],
) -> (Vec<T>, Report) {
    let mut obj = FnObjective::new(x0.len(), f, fprime);
    let mut x = x0.to_vec();
    let report = NonlinearCg::new(Beta::PolakRibierePlus).minimize(&mut obj, &mut x);
    (x, report)
}
