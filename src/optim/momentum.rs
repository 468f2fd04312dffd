//! Gradient descent with classical or Nesterov momentum over a stream of mini-batches: the
//! pre-trainer's optimizer.
//!
//! Classical: `v <- mu v - lr (g(x) + wd x)`, `x <- x + v`. Nesterov (in Sutskever et al.'s
//! form, ICML 2013): the gradient is taken at the look-ahead point `x + mu v`.

use std::ops::Range;
use std::time::Instant;

use super::{IterRecord, Norm, Report, StopReason};
use crate::Scalar;

/// A learning rate per epoch.
pub enum LearningRate {
    /// The same every epoch.
    Constant(f64),
    /// `initial * factor^(epoch / every)`.
    Step {
        /// Rate at epoch 0.
        initial: f64,
        /// Factor applied every `every` epochs.
        factor: f64,
        /// Period in epochs.
        every: usize,
    },
    /// `initial / (1 + decay * epoch)`.
    InverseTime {
        /// Rate at epoch 0.
        initial: f64,
        /// Decay per epoch.
        decay: f64,
    },
    /// Any function of the epoch.
    Custom(Box<dyn Fn(usize) -> f64>),
}

impl LearningRate {
    /// The rate at `epoch` (from 0).
    ///
    /// ```
    /// use symgrad::optim::LearningRate;
    /// let lr = LearningRate::Step { initial: 0.1, factor: 0.5, every: 10 };
    /// assert_eq!((lr.at(0), lr.at(9), lr.at(10), lr.at(25)), (0.1, 0.1, 0.05, 0.025));
    /// assert_eq!(LearningRate::InverseTime { initial: 1.0, decay: 0.5 }.at(2), 0.5);
    /// ```
    pub fn at(&self, epoch: usize) -> f64 {
        match self {
            LearningRate::Constant(r) => *r,
            LearningRate::Step {
                initial,
                factor,
                every,
            } => initial * factor.powi((epoch / (*every).max(1)) as i32),
            LearningRate::InverseTime { initial, decay } => initial / (1.0 + decay * epoch as f64),
            LearningRate::Custom(f) => f(epoch),
        }
    }
}

/// Gradient descent with momentum. The velocity is kept between calls (and is public, so a
/// checkpoint can save it).
///
/// ```
/// use symgrad::optim::{LearningRate, Momentum};
/// // Minimize sum_i (x_i - b_i)^2 where each "batch" is one coordinate's term.
/// let b = [1.0, -2.0, 3.0];
/// let mut x = [0.0f64; 3];
/// let mut opt = Momentum::new(LearningRate::Constant(0.1), 0.9);
/// let r = opt.minimize_batches(&mut x, 100, 3, |k, x, g| {
///     g.fill(0.0);
///     g[k] = 2.0 * (x[k] - b[k]);
///     (x[k] - b[k]).powi(2)
/// });
/// assert!(x.iter().zip(&b).all(|(x, b)| (x - b).abs() < 1e-3), "{r}");
/// ```
pub struct Momentum<T = f64> {
    /// Learning rate per epoch.
    pub lr: LearningRate,
    /// Momentum per epoch: `(first epoch, value)` pairs in increasing order, e.g. the paper's
    /// `[(0, 0.5), (5, 0.9)]`.
    pub momentum: Vec<(usize, f64)>,
    /// Use Nesterov's look-ahead gradient.
    pub nesterov: bool,
    /// L2 weight decay coefficient.
    pub weight_decay: f64,
    /// The ranges of x that weight decay applies to (all of x when empty).
    pub decay_ranges: Vec<Range<usize>>,
    /// The velocity.
    pub velocity: Vec<T>,
}

impl<T: Scalar> Momentum<T> {
    /// Classical momentum `mu` at every epoch, no weight decay.
    pub fn new(lr: LearningRate, mu: f64) -> Self {
        Momentum {
            lr,
            momentum: vec![(0, mu)],
            nesterov: false,
            weight_decay: 0.0,
            decay_ranges: Vec::new(),
            velocity: Vec::new(),
        }
    }

    /// The momentum at `epoch`.
    pub fn momentum_at(&self, epoch: usize) -> f64 {
        self.momentum
            .iter()
            .take_while(|(e, _)| *e <= epoch)
            .last()
            .map_or(0.0, |p| p.1)
    }

    fn decays(&self, i: usize) -> bool {
        self.decay_ranges.is_empty() || self.decay_ranges.iter().any(|r| r.contains(&i))
    }

    /// One update of x from the gradient `g` (taken at x, or at `x + mu v` for Nesterov: see
    /// [`Momentum::lookahead`]).
    ///
    /// ```
    /// use symgrad::optim::{LearningRate, Momentum};
    /// let mut opt = Momentum::<f64>::new(LearningRate::Constant(0.1), 0.9);
    /// let mut x = [1.0];
    /// opt.step(&mut x, &[2.0], 0); // v = -0.1 * 2
    /// assert!((x[0] - 0.8).abs() < 1e-15);
    /// opt.step(&mut x, &[2.0], 0); // v = 0.9 * v - 0.1 * 2
    /// assert!((x[0] - 0.42).abs() < 1e-15);
    /// ```
    pub fn step(&mut self, x: &mut [T], g: &[T], epoch: usize) {
        if self.velocity.len() != x.len() {
            self.velocity = vec![T::zero(); x.len()];
        }
        let (mu, lr, wd) = (
            self.momentum_at(epoch),
            self.lr.at(epoch),
            self.weight_decay,
        );
        let (mu_t, lr_t) = (T::from_f64(mu), T::from_f64(lr));
        for i in 0..x.len() {
            let mut gi = g[i];
            if wd != 0.0 && self.decays(i) {
                gi += T::from_f64(wd) * x[i];
            }
            self.velocity[i] = mu_t * self.velocity[i] - lr_t * gi;
            x[i] += self.velocity[i];
        }
    }

    /// The point where Nesterov's gradient is taken: `out = x + mu v`.
    pub fn lookahead(&self, x: &[T], epoch: usize, out: &mut [T]) {
        let mu = T::from_f64(self.momentum_at(epoch));
        for (i, o) in out.iter_mut().enumerate() {
            *o = x[i] + self.velocity.get(i).map_or(T::zero(), |&v| mu * v);
        }
    }

    /// Runs `epochs` epochs of `batches` steps; `fg(batch, x, g)` returns the batch's F at x
    /// and writes its gradient. The report's history has one record per epoch (mean F over
    /// the epoch's batches); a non-finite F stops the run.
    pub fn minimize_batches(
        &mut self,
        x: &mut [T],
        epochs: usize,
        batches: usize,
        mut fg: impl FnMut(usize, &[T], &mut [T]) -> T,
    ) -> Report {
        let start = Instant::now();
        let report = |stop, f, f0, evals, g: &[T], history| Report {
            f,
            f0,
            grad_norm: Norm::L2.of(g),
            iterations: evals,
            line_searches: 0,
            f_evals: evals,
            g_evals: evals,
            elapsed: start.elapsed(),
            stop,
            history,
        };
        let n = x.len();
        let mut g = vec![T::zero(); n];
        let mut xa = if self.nesterov {
            vec![T::zero(); n]
        } else {
            Vec::new()
        };
        let mut history = Vec::with_capacity(super::history_capacity(epochs));
        let (mut evals, mut f0, mut f_last) = (0usize, f64::NAN, f64::NAN);
        for epoch in 0..epochs {
            let mut sum = 0.0;
            for k in 0..batches {
                let f = if self.nesterov {
                    self.lookahead(x, epoch, &mut xa);
                    fg(k, &xa, &mut g)
                } else {
                    fg(k, x, &mut g)
                }
                .to_f64_lossless();
                evals += 1;
                if !f.is_finite() {
                    return report(
                        StopReason::NonFinite {
                            what: "mini-batch value",
                        },
                        f,
                        f0,
                        evals,
                        &g,
                        history,
                    );
                }
                if f0.is_nan() {
                    f0 = f;
                }
                sum += f;
                self.step(x, &g, epoch);
            }
            f_last = sum / batches.max(1) as f64;
            history.push(IterRecord {
                iter: epoch + 1,
                f: f_last,
                grad_norm: Norm::L2.of(&g),
                step: self.lr.at(epoch),
                beta: Some(self.momentum_at(epoch)),
                restart: false,
                evals,
            });
        }
        report(
            StopReason::MaxIterations(epochs),
            f_last,
            f0,
            evals,
            &g,
            history,
        )
    }
}
