//! Limited-memory BFGS: the two-loop recursion over the last `m` curvature pairs.
//!
//! References: Nocedal, "Updating quasi-Newton matrices with limited storage", Math. Comp. 35
//! (1980); Liu & Nocedal, Math. Prog. 45 (1989); Nocedal & Wright (2006), Algorithm 7.4;
//! Byrd, Lu, Nocedal & Zhu, L-BFGS-B (1995) for the line-search settings.

use std::ops::ControlFlow;

use super::linesearch::{LineSearch, MoreThuente};
use super::{
    all_finite, axpy, dot, history_capacity, Callback, Counted, IterRecord, LineSearchFailure,
    Objective, Probe, Report, Stop, StopReason, Tally,
};
use crate::Scalar;

/// L-BFGS with memory `m` (default 10).
///
/// The initial inverse Hessian is `gamma I` with `gamma = s.y / y.y` from the newest pair; a
/// pair with `s.y <= eps y.y` (curvature condition failed) is not stored. The line search is
/// More–Thuente with L-BFGS-B's settings (c1 = 1e-3, c2 = 0.9, xtol = 0.1); the first step is
/// `1 / |g|`, later ones 1. A failed search clears the memory and tries steepest descent once
/// before giving up.
///
/// ```
/// use symgrad::optim::{FnObjective, Lbfgs};
/// let mut obj = FnObjective::new(3, |x: &[f64]| x.iter().enumerate().map(|(i, v)| (i + 1) as f64 * v * v).sum::<f64>(),
///     |x: &[f64], g: &mut [f64]| for i in 0..3 { g[i] = 2.0 * (i + 1) as f64 * x[i] });
/// let mut x = [1.0, -2.0, 3.0];
/// let r = Lbfgs::new().minimize(&mut obj, &mut x);
/// assert!(x.iter().all(|v| v.abs() < 1e-5), "{r}");
/// ```
pub struct Lbfgs<'c, T: Scalar> {
    /// Pairs kept.
    pub m: usize,
    /// The line search.
    pub line_search: Box<dyn LineSearch + 'c>,
    /// When to stop.
    pub stop: Stop,
    /// Keep a record per iteration in the report.
    pub keep_history: bool,
    /// Called after every iteration.
    pub callback: Option<Box<Callback<'c, T>>>,
}

impl<T: Scalar> Default for Lbfgs<'_, T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'c, T: Scalar> Lbfgs<'c, T> {
    /// L-BFGS with m = 10 and the defaults.
    pub fn new() -> Self {
        Lbfgs {
            m: 10,
            line_search: Box::new(MoreThuente::lbfgs()),
            stop: Stop::default(),
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
        let m = self.m.max(1);
        let mut obj = Counted::new(obj);
        let mut g = vec![T::zero(); n];
        let mut d = vec![T::zero(); n];
        let mut xt = vec![T::zero(); n];
        let mut gt = vec![T::zero(); n];
        let mut trials = Vec::with_capacity(32);
        // Ring of pairs: s_k = x_{k+1} - x_k, y_k = g_{k+1} - g_k, rho_k = 1 / y.s.
        let mut ss: Vec<Vec<T>> = Vec::with_capacity(m);
        let mut ys: Vec<Vec<T>> = Vec::with_capacity(m);
        let mut rho: Vec<f64> = Vec::with_capacity(m);
        let mut alpha = vec![0.0f64; m];
        let (mut newest, mut count) = (0usize, 0usize);
        let mut f = obj.fg(x, &mut g);
        let mut tally = Tally::new(f);
        if !f.is_finite() || !all_finite(&g) {
            return tally.report(
                StopReason::NonFinite {
                    what: "value or gradient at x0",
                },
                f,
                f64::NAN,
                &obj,
            );
        }
        if self.keep_history {
            tally.history.reserve(history_capacity(self.stop.max_iter));
        }
        let mut gnorm = self.stop.grad_norm.of(&g);
        let mut retried = false;
        loop {
            if let Some(stop) = self.stop.check(gnorm, tally.iterations, obj.f_evals) {
                return tally.report(stop, f, gnorm, &obj);
            }
            // Two-loop recursion: d = -H g.
            d.copy_from_slice(&g);
            for k in 0..count {
                let i = (newest + m - k) % m;
                alpha[i] = rho[i] * dot(&ss[i], &d);
                axpy(-alpha[i], &ys[i], &mut d);
            }
            if count > 0 {
                let gamma = 1.0 / (rho[newest] * dot(&ys[newest], &ys[newest]));
                let gm = T::from_f64(gamma);
                d.iter_mut().for_each(|v| *v *= gm);
            }
            for k in (0..count).rev() {
                let i = (newest + m - k) % m;
                let b = rho[i] * dot(&ys[i], &d);
                axpy(alpha[i] - b, &ss[i], &mut d);
            }
            d.iter_mut().for_each(|v| *v = -*v);
            let mut slope = dot(&g, &d);
            if slope.is_nan() || slope >= 0.0 {
                // Not a descent direction (rounding, or a bad pair): steepest descent.
                count = 0;
                d.iter_mut().zip(&g).for_each(|(di, &gi)| *di = -gi);
                slope = dot(&g, &d);
            }
            let step0 = if count == 0 {
                (1.0 / dot(&d, &d).sqrt()).min(1.0)
            } else {
                1.0
            };
            let mut probe = Probe::new(&mut obj, x, &d, &mut xt, &mut gt);
            let r = self
                .line_search
                .search(&mut probe, f, slope, step0, &mut trials);
            tally.line_searches += 1;
            if r.step == 0.0 || !r.f.is_finite() || r.f > f {
                if count > 0 && !retried {
                    count = 0;
                    retried = true;
                    continue;
                }
                let failure = LineSearchFailure {
                    reason: r.failure.unwrap_or_else(|| "no decrease".into()),
                    trials: trials.clone(),
                };
                return tally.report(StopReason::LineSearchFailed(failure), f, gnorm, &obj);
            }
            retried = false;
            let f_new = probe.settle(r.step);
            tally.iterations += 1;
            // The new pair.
            let slot = if count == 0 { 0 } else { (newest + 1) % m };
            if ss.len() <= slot {
                ss.push(vec![T::zero(); n]);
                ys.push(vec![T::zero(); n]);
                rho.push(0.0);
            }
            for j in 0..n {
                ss[slot][j] = xt[j] - x[j];
                ys[slot][j] = gt[j] - g[j];
            }
            let sy = dot(&ss[slot], &ys[slot]);
            let yy = dot(&ys[slot], &ys[slot]);
            if sy > f64::EPSILON * yy {
                rho[slot] = 1.0 / sy;
                newest = slot;
                count = (count + 1).min(m);
            }
            x.copy_from_slice(&xt);
            g.copy_from_slice(&gt);
            let f_prev = f;
            f = f_new;
            gnorm = self.stop.grad_norm.of(&g);
            let rec = IterRecord {
                iter: tally.iterations,
                f,
                grad_norm: gnorm,
                step: r.step,
                beta: None,
                restart: count == 0,
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
            if let Some(stop) = self.stop.decrease(f_prev, f) {
                return tally.report(stop, f, gnorm, &obj);
            }
        }
    }
}
