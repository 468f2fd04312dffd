//! Black-box minimizers: they see only F(x) and ∇F(x) on one flat vector x, and choose their
//! own steps. Nothing here knows of graphs: any pair of closures can be minimized, and so can
//! a compiled symgrad function (through [`CompiledObjective`], which passes x without a copy).
//!
//! | item | what |
//! | --- | --- |
//! | [`Objective`] | dimension, value, gradient, and the fused value-and-gradient |
//! | [`linesearch`] | More–Thuente, Hager–Zhang, backtracking, and Rasmussen's `minimize.m` search, behind one trait |
//! | [`NonlinearCg`] | nonlinear CG with six beta formulas and restarts |
//! | [`minimize_m`] | Rasmussen's `minimize.m`, faithfully, with its budget in line searches or evaluations |
//! | [`Lbfgs`] | limited-memory BFGS, two-loop recursion |
//! | [`Momentum`] | gradient descent with classical or Nesterov momentum over mini-batches |
//! | [`fmin_cg`] | `fmin_cg(f, fprime, x0)`, as in the seed and scipy |
//!
//! Every minimizer works in place on `&mut [T]` and returns a [`Report`] with exact counts of
//! evaluations (those inside line searches included), a typed [`StopReason`] carrying the value
//! that triggered it, and a per-iteration history.

mod cg;
mod lbfgs;
pub mod linesearch;
mod momentum;
pub mod problems;

use std::ops::ControlFlow;
use std::time::Duration;

pub use cg::{fmin_cg, minimize_m, Beta, Budget, NonlinearCg};
pub use lbfgs::Lbfgs;
pub use linesearch::{LineSearch, LineSearchFailure, Trial};
pub use momentum::{LearningRate, Momentum};

use crate::compile::Function;
use crate::error::Result;
use crate::tensor::TensorRef;
use crate::Scalar;

/// A function to minimize: the seed's `F(x)` and `∇F(x)`, plus the call that computes both
/// with one shared forward pass.
///
/// ```
/// use symgrad::optim::{Objective, FnObjective};
/// let mut obj = FnObjective::new(2, |x: &[f64]| x[0] * x[0] + 3.0 * x[1] * x[1], |x: &[f64], g: &mut [f64]| {
///     g[0] = 2.0 * x[0];
///     g[1] = 6.0 * x[1];
/// });
/// let mut g = [0.0; 2];
/// assert_eq!(obj.value_and_grad(&[1.0, 1.0], &mut g), 4.0);
/// assert_eq!(g, [2.0, 6.0]);
/// ```
pub trait Objective<T: Scalar> {
    /// The length of x.
    fn dim(&self) -> usize;

    /// F(x) and ∇F(x), the gradient written into `g`.
    fn value_and_grad(&mut self, x: &[T], g: &mut [T]) -> T;

    /// F(x) alone. The default computes the gradient too and drops it.
    fn value(&mut self, x: &[T]) -> T {
        let mut g = vec![T::zero(); self.dim()];
        self.value_and_grad(x, &mut g)
    }

    /// ∇F(x) alone.
    fn gradient(&mut self, x: &[T], g: &mut [T]) {
        self.value_and_grad(x, g);
    }
}

/// A pair of closures `(f, fprime)` as an [`Objective`].
pub struct FnObjective<F, G> {
    n: usize,
    f: F,
    fprime: G,
}

impl<F, G> FnObjective<F, G> {
    /// Pairs `f(x) -> T` with `fprime(x, g)` for x of length `n`.
    pub fn new(n: usize, f: F, fprime: G) -> Self {
        FnObjective { n, f, fprime }
    }
}

impl<T: Scalar, F: FnMut(&[T]) -> T, G: FnMut(&[T], &mut [T])> Objective<T> for FnObjective<F, G> {
    fn dim(&self) -> usize {
        self.n
    }
    fn value_and_grad(&mut self, x: &[T], g: &mut [T]) -> T {
        (self.fprime)(x, g);
        (self.f)(x)
    }
    fn value(&mut self, x: &[T]) -> T {
        (self.f)(x)
    }
    fn gradient(&mut self, x: &[T], g: &mut [T]) {
        (self.fprime)(x, g)
    }
}

/// One closure computing both, scipy's `jac=True`: `fg(x, g) -> F(x)`.
pub struct FusedObjective<F> {
    n: usize,
    fg: F,
}

impl<F> FusedObjective<F> {
    /// Wraps `fg(x, g) -> F(x)` for x of length `n`.
    ///
    /// ```
    /// use symgrad::optim::{FusedObjective, Lbfgs, Objective};
    /// // f and its gradient share exp(x0): scipy's `jac=True`
    /// let mut obj = FusedObjective::new(2, |x: &[f64], g: &mut [f64]| {
    ///     let e = x[0].exp();
    ///     g[0] = e - 2.0;
    ///     g[1] = 2.0 * x[1];
    ///     e - 2.0 * x[0] + x[1] * x[1]
    /// });
    /// let mut x = [0.0, 1.0];
    /// let report = Lbfgs::new().minimize(&mut obj, &mut x);
    /// assert!((x[0] - 2f64.ln()).abs() < 1e-6 && x[1].abs() < 1e-6, "{report}");
    /// ```
    pub fn new(n: usize, fg: F) -> Self {
        FusedObjective { n, fg }
    }
}

impl<T: Scalar, F: FnMut(&[T], &mut [T]) -> T> Objective<T> for FusedObjective<F> {
    fn dim(&self) -> usize {
        self.n
    }
    fn value_and_grad(&mut self, x: &[T], g: &mut [T]) -> T {
        (self.fg)(x, g)
    }
}

/// A compiled symgrad function (output 0 a scalar cost, with a flat gradient) over fixed
/// input arrays, as an [`Objective`]. x is handed to the function as it is: no copy.
pub struct CompiledObjective<'a, T: Scalar> {
    f: &'a mut Function<T>,
    inputs: Vec<TensorRef<'a, T>>,
}

impl<'a, T: Scalar> CompiledObjective<'a, T> {
    /// Binds the input arrays. The shapes are checked here, so evaluations cannot fail later.
    ///
    /// ```
    /// use symgrad::optim::{CompiledObjective, Lbfgs};
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// // Least squares in symgrad, minimized by L-BFGS: fit y = a x + b.
    /// let mut layout = ParamLayout::new();
    /// layout.add("a", &[]);
    /// layout.add("b", &[]);
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let (x, y) = (g.input("x", dims![n]), g.input("y", dims![n]));
    /// let fit = x * g.param(&layout, "a") + g.param(&layout, "b");
    /// let cost = (fit - y).square().mean_all();
    /// let mut f = Compiler::new(&g, &layout).inputs(&[x, y]).value_and_grad(cost).build();
    /// let (xs, ys) = ([0.0, 1.0, 2.0, 3.0], [1.0, 3.0, 5.0, 7.0]);
    /// let data = [TensorRef::new(&[4], &xs), TensorRef::new(&[4], &ys)];
    /// let mut obj = CompiledObjective::new(&mut f, &data)?;
    /// let mut p = [0.0, 0.0];
    /// Lbfgs::new().minimize(&mut obj, &mut p);
    /// assert!((p[0] - 2.0).abs() < 1e-6 && (p[1] - 1.0).abs() < 1e-6);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn new(f: &'a mut Function<T>, inputs: &[TensorRef<'a, T>]) -> Result<Self> {
        f.check_inputs(inputs)?;
        if !f.has_gradient() {
            return Err(crate::Error::NoGradient {
                needed_by: "a compiled objective",
            });
        }
        Ok(CompiledObjective {
            f,
            inputs: inputs.to_vec(),
        })
    }

    /// Replaces the input arrays (the next mini-batch), checking their shapes.
    pub fn set_inputs(&mut self, inputs: &[TensorRef<'a, T>]) -> Result<()> {
        self.f.check_inputs(inputs)?;
        self.inputs.clear();
        self.inputs.extend_from_slice(inputs);
        Ok(())
    }
}

impl<T: Scalar> Objective<T> for CompiledObjective<'_, T> {
    fn dim(&self) -> usize {
        self.f.x_len()
    }
    fn value_and_grad(&mut self, x: &[T], g: &mut [T]) -> T {
        // Shapes were checked when the inputs were bound; a length mistake by a minimizer
        // shows as NaN, which every minimizer survives and reports.
        self.f
            .value_and_grad(x, &self.inputs, g)
            .unwrap_or_else(|_| T::nan())
    }
}

/// Which norm a gradient tolerance is measured in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Norm {
    /// Euclidean.
    L2,
    /// Largest absolute component (scipy's `norm=inf`, L-BFGS-B's `pgtol`).
    Inf,
}

impl Norm {
    /// The norm of `g`.
    ///
    /// ```
    /// use symgrad::optim::Norm;
    /// assert_eq!(Norm::L2.of(&[3.0f64, -4.0]), 5.0);
    /// assert_eq!(Norm::Inf.of(&[3.0f32, -4.0]), 4.0);
    /// ```
    pub fn of<T: Scalar>(self, g: &[T]) -> f64 {
        match self {
            Norm::L2 => dot(g, g).sqrt(),
            Norm::Inf => g.iter().fold(0.0, |m, v| m.max(v.to_f64_lossless().abs())),
        }
    }
}

/// When to stop. A limit of 0 means none.
#[derive(Clone, Debug, PartialEq)]
pub struct Stop {
    /// Stop when the gradient's norm is at most this.
    pub grad_tol: f64,
    /// The norm `grad_tol` is measured in.
    pub grad_norm: Norm,
    /// Stop when an iteration lowers f by at most `f_rel_tol * max(|f|, |f_new|, 1)` (0: off).
    pub f_rel_tol: f64,
    /// Iteration limit.
    pub max_iter: usize,
    /// Limit on evaluations of F (each fused call counts once for F and once for ∇F).
    pub max_evals: usize,
}

impl Default for Stop {
    fn default() -> Self {
        Stop {
            grad_tol: 1e-5,
            grad_norm: Norm::Inf,
            f_rel_tol: 0.0,
            max_iter: 0,
            max_evals: 0,
        }
    }
}

impl Stop {
    /// The rule that stops a run before its next iteration, if one holds: the gradient
    /// norm, the iteration limit, the evaluation limit, in that order.
    pub(crate) fn check(
        &self,
        grad_norm: f64,
        iterations: usize,
        evals: usize,
    ) -> Option<StopReason> {
        if grad_norm <= self.grad_tol {
            Some(StopReason::GradientNorm {
                norm: grad_norm,
                tol: self.grad_tol,
                kind: self.grad_norm,
            })
        } else if self.max_iter > 0 && iterations >= self.max_iter {
            Some(StopReason::MaxIterations(iterations))
        } else if self.max_evals > 0 && evals >= self.max_evals {
            Some(StopReason::MaxEvaluations(evals))
        } else {
            None
        }
    }

    /// The relative-decrease rule after an iteration from `f_prev` to `f`, if it is on and
    /// holds.
    pub(crate) fn decrease(&self, f_prev: f64, f: f64) -> Option<StopReason> {
        if self.f_rel_tol <= 0.0 {
            return None;
        }
        let rel = (f_prev - f) / f.abs().max(f_prev.abs()).max(1.0);
        (rel <= self.f_rel_tol).then_some(StopReason::RelativeDecrease {
            decrease: rel,
            tol: self.f_rel_tol,
        })
    }
}

/// Why a minimizer stopped, with the value that triggered it.
#[derive(Clone, Debug, PartialEq)]
pub enum StopReason {
    /// The gradient's norm fell to its tolerance.
    GradientNorm {
        /// The norm reached.
        norm: f64,
        /// The tolerance.
        tol: f64,
        /// Which norm.
        kind: Norm,
    },
    /// An iteration lowered f by less than the relative tolerance.
    RelativeDecrease {
        /// The relative decrease of the last iteration.
        decrease: f64,
        /// The tolerance.
        tol: f64,
    },
    /// The iteration limit was reached.
    MaxIterations(usize),
    /// The evaluation limit was reached.
    MaxEvaluations(usize),
    /// The line-search budget (`minimize.m`'s positive `length`) was spent.
    MaxLineSearches(usize),
    /// A line search failed (twice in a row for `minimize.m`); x is the best point seen.
    LineSearchFailed(LineSearchFailure),
    /// F or ∇F was not finite at the starting point.
    NonFinite {
        /// What was not finite.
        what: &'static str,
    },
    /// The callback asked to stop.
    Callback,
}

impl StopReason {
    /// The reason's name without its values, as reports count them: `MaxLineSearches`,
    /// `LineSearchFailed`, ...
    ///
    /// ```
    /// use symgrad::optim::StopReason;
    /// assert_eq!(StopReason::MaxIterations(100).name(), "MaxIterations");
    /// assert_eq!(StopReason::Callback.name(), "Callback");
    /// ```
    pub fn name(&self) -> &'static str {
        match self {
            StopReason::GradientNorm { .. } => "GradientNorm",
            StopReason::RelativeDecrease { .. } => "RelativeDecrease",
            StopReason::MaxIterations(_) => "MaxIterations",
            StopReason::MaxEvaluations(_) => "MaxEvaluations",
            StopReason::MaxLineSearches(_) => "MaxLineSearches",
            StopReason::LineSearchFailed(_) => "LineSearchFailed",
            StopReason::NonFinite { .. } => "NonFinite",
            StopReason::Callback => "Callback",
        }
    }
}

/// One iteration of a minimizer.
#[derive(Clone, Debug, PartialEq)]
pub struct IterRecord {
    /// Iteration number, from 1.
    pub iter: usize,
    /// F after the iteration.
    pub f: f64,
    /// The gradient's norm after the iteration (in the stop rule's norm).
    pub grad_norm: f64,
    /// The step length taken along the search direction.
    pub step: f64,
    /// The CG beta used for the next direction, if any.
    pub beta: Option<f64>,
    /// Whether the next direction was reset to steepest descent.
    pub restart: bool,
    /// Evaluations of F so far.
    pub evals: usize,
}

/// What a minimizer did.
#[derive(Clone, Debug, PartialEq)]
pub struct Report {
    /// Final F.
    pub f: f64,
    /// F at the start.
    pub f0: f64,
    /// Final gradient norm (in the stop rule's norm).
    pub grad_norm: f64,
    /// Iterations.
    pub iterations: usize,
    /// Line searches made.
    pub line_searches: usize,
    /// Evaluations of F, line searches included.
    pub f_evals: usize,
    /// Evaluations of ∇F, line searches included.
    pub g_evals: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// Why it stopped.
    pub stop: StopReason,
    /// One record per iteration.
    pub history: Vec<IterRecord>,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "f {:.6e} -> {:.6e}, |g| {:.3e}, {} iterations, {} line searches, {} f / {} g evaluations, {:.3} s, stop: {:?}",
            self.f0,
            self.f,
            self.grad_norm,
            self.iterations,
            self.line_searches,
            self.f_evals,
            self.g_evals,
            self.elapsed.as_secs_f64(),
            self.stop
        )
    }
}

/// The bookkeeping every minimizer shares, turned into its [`Report`] at the end.
pub(crate) struct Tally {
    pub start: std::time::Instant,
    pub f0: f64,
    pub iterations: usize,
    pub line_searches: usize,
    pub history: Vec<IterRecord>,
}

impl Tally {
    pub fn new(f0: f64) -> Self {
        Tally {
            start: std::time::Instant::now(),
            f0,
            iterations: 0,
            line_searches: 0,
            history: Vec::new(),
        }
    }

    /// The report: final F, gradient norm, why it stopped, and the evaluation counts.
    pub fn report<T: Scalar, O: Objective<T> + ?Sized>(
        self,
        stop: StopReason,
        f: f64,
        grad_norm: f64,
        obj: &Counted<'_, T, O>,
    ) -> Report {
        Report {
            f,
            f0: self.f0,
            grad_norm,
            iterations: self.iterations,
            line_searches: self.line_searches,
            f_evals: obj.f_evals,
            g_evals: obj.g_evals,
            elapsed: self.start.elapsed(),
            stop,
            history: self.history,
        }
    }
}

/// The iterations a history is reserved for at a run's start, when at most `limit` (0: no
/// limit) can be made: all of them up to 4096, so that a bounded run allocates nothing per
/// iteration; an unbounded one grows its history by doubling (about log2(iterations)
/// allocations in all).
pub(crate) fn history_capacity(limit: usize) -> usize {
    limit.min(4096)
}

/// A callback after every iteration; `ControlFlow::Break(())` stops the run.
pub type Callback<'a, T> = dyn FnMut(&IterRecord, &[T]) -> ControlFlow<()> + 'a;

/// Counts evaluations on the way to an objective.
pub(crate) struct Counted<'o, T: Scalar, O: Objective<T> + ?Sized> {
    pub obj: &'o mut O,
    pub f_evals: usize,
    pub g_evals: usize,
    _t: std::marker::PhantomData<T>,
}

impl<'o, T: Scalar, O: Objective<T> + ?Sized> Counted<'o, T, O> {
    pub fn new(obj: &'o mut O) -> Self {
        Counted {
            obj,
            f_evals: 0,
            g_evals: 0,
            _t: std::marker::PhantomData,
        }
    }
    pub fn fg(&mut self, x: &[T], g: &mut [T]) -> f64 {
        self.f_evals += 1;
        self.g_evals += 1;
        self.obj.value_and_grad(x, g).to_f64_lossless()
    }
}

/// `sum a_i b_i`, accumulated in f64.
pub(crate) fn dot<T: Scalar>(a: &[T], b: &[T]) -> f64 {
    // Four accumulators, as BLAS ddot kernels keep: more accurate than one running sum,
    // and it vectorises.
    let mut acc = [0.0f64; 4];
    let (ca, cb) = (a.chunks_exact(4), b.chunks_exact(4));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..4 {
            acc[k] += x[k].to_f64_lossless() * y[k].to_f64_lossless();
        }
    }
    let tail: f64 = ra
        .iter()
        .zip(rb)
        .map(|(x, y)| x.to_f64_lossless() * y.to_f64_lossless())
        .sum();
    (acc[0] + acc[1]) + (acc[2] + acc[3]) + tail
}

/// `y += alpha * x`.
pub(crate) fn axpy<T: Scalar>(alpha: f64, x: &[T], y: &mut [T]) {
    let a = T::from_f64(alpha);
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `out = x + alpha * d`.
pub(crate) fn step_to<T: Scalar>(x: &[T], alpha: f64, d: &[T], out: &mut [T]) {
    let a = T::from_f64(alpha);
    for ((o, &xi), &di) in out.iter_mut().zip(x).zip(d) {
        *o = xi + a * di;
    }
}

pub(crate) fn all_finite<T: Scalar>(v: &[T]) -> bool {
    v.iter().all(|x| x.is_finite())
}

/// The function along a line, `phi(a) = F(x + a d)`, that line searches see. It keeps the
/// last trial and the best trial so the minimizer can take either without re-evaluating.
pub(crate) struct Probe<'p, 'o, T: Scalar, O: Objective<T> + ?Sized> {
    pub obj: &'p mut Counted<'o, T, O>,
    pub x: &'p [T],
    pub d: &'p [T],
    pub xt: &'p mut [T],
    pub gt: &'p mut [T],
    pub last_step: f64,
    pub last_f: f64,
    /// When set, copies of the best trial (`minimize.m`'s X0, dF0), so that a failed search
    /// can fall back to it without another evaluation.
    pub best: Option<Best<'p, T>>,
}

/// The best trial of a line search, kept by copy.
pub(crate) struct Best<'p, T> {
    pub x: &'p mut [T],
    pub g: &'p mut [T],
    pub f: f64,
    pub step: f64,
}

impl<'p, 'o, T: Scalar, O: Objective<T> + ?Sized> Probe<'p, 'o, T, O> {
    pub fn new(
        obj: &'p mut Counted<'o, T, O>,
        x: &'p [T],
        d: &'p [T],
        xt: &'p mut [T],
        gt: &'p mut [T],
    ) -> Self {
        Probe {
            obj,
            x,
            d,
            xt,
            gt,
            last_step: f64::NAN,
            last_f: f64::NAN,
            best: None,
        }
    }
}

impl<T: Scalar, O: Objective<T> + ?Sized> linesearch::LineFn for Probe<'_, '_, T, O> {
    fn eval(&mut self, step: f64) -> (f64, f64) {
        step_to(self.x, step, self.d, self.xt);
        let f = self.obj.fg(self.xt, self.gt);
        self.last_step = step;
        self.last_f = f;
        if let Some(b) = self.best.as_mut() {
            if f < b.f && all_finite(self.gt) {
                b.x.copy_from_slice(self.xt);
                b.g.copy_from_slice(self.gt);
                b.f = f;
                b.step = step;
            }
        }
        // Non-finite exactly when some component of the gradient is (inf * 0 is NaN too).
        let slope = dot(self.gt, self.d);
        (f, slope)
    }
}

impl<T: Scalar, O: Objective<T> + ?Sized> Probe<'_, '_, T, O> {
    /// Makes `xt`, `gt` hold the point at `step` (re-evaluating only if the last trial was
    /// elsewhere) and returns F there.
    pub fn settle(&mut self, step: f64) -> f64 {
        if step == self.last_step {
            self.last_f
        } else {
            use linesearch::LineFn;
            self.eval(step).0
        }
    }
}
