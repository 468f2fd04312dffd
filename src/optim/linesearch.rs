//! Line searches behind one small seam: given phi(a) = F(x + a d) and its slope, find a step.
//!
//! Every search records its trials (step, value, slope, which conditions held, how the next
//! trial was chosen). A search that fails returns the best step it saw that lowered F, or 0,
//! never a worse point than the start, and says why with its real limits.
//!
//! | search | accepts | reference |
//! | --- | --- | --- |
//! | [`MoreThuente`] | strong Wolfe | Moré & Thuente, ACM TOMS 20 (1994); MINPACK-2 `dcsrch` |
//! | [`HagerZhang`] | Wolfe or approximate Wolfe | Hager & Zhang, SIAM J. Optim. 16 (2005), ACM TOMS 32 (2006) |
//! | [`Backtracking`] | Armijo | Nocedal & Wright, Algorithm 3.1 |
//! | [`Rasmussen`] | strong Wolfe, `minimize.m`'s rules | C. E. Rasmussen, `minimize.m` (2001, 2006) |

/// phi(a) = F(x + a d) and its slope phi'(a) = ∇F(x + a d) · d, in f64.
pub trait LineFn {
    /// Evaluates phi and phi' at step `a`. Either may be non-finite.
    fn eval(&mut self, a: f64) -> (f64, f64);
}

/// One evaluation made by a line search.
#[derive(Clone, Debug, PartialEq)]
pub struct Trial {
    /// The step tried.
    pub step: f64,
    /// phi there.
    pub f: f64,
    /// phi' there.
    pub slope: f64,
    /// Sufficient decrease held.
    pub armijo: bool,
    /// The search's curvature condition held.
    pub curvature: bool,
    /// How this step was chosen.
    pub how: &'static str,
}

/// Why a line search failed.
#[derive(Clone, Debug, PartialEq)]
pub struct LineSearchFailure {
    /// What went wrong, with the limits in force.
    pub reason: String,
    /// The trials made.
    pub trials: Vec<Trial>,
}

/// The outcome of a line search (its trials are in the caller's buffer).
#[derive(Clone, Debug, PartialEq)]
pub struct LineResult {
    /// The step to take (0 when nothing lowered F).
    pub step: f64,
    /// phi at that step.
    pub f: f64,
    /// Whether the search's conditions held there.
    pub ok: bool,
    /// Why it failed, when it did.
    pub failure: Option<String>,
}

/// A line search. `f0` and `slope0` are phi(0) and phi'(0) (negative); `step0` is the first
/// step to try. The search clears `trials` and records each evaluation in it: the caller owns
/// the buffer, so a minimizer reuses its memory from one iteration to the next.
pub trait LineSearch {
    /// Searches along the line.
    fn search(
        &mut self,
        phi: &mut dyn LineFn,
        f0: f64,
        slope0: f64,
        step0: f64,
        trials: &mut Vec<Trial>,
    ) -> LineResult;
    /// The search's name, for reports.
    fn name(&self) -> &'static str;
}

/// Records trials and keeps the best step that lowered phi.
struct Log<'t> {
    trials: &'t mut Vec<Trial>,
    best_step: f64,
    best_f: f64,
    f0: f64,
    slope0: f64,
    c1: f64,
    c2: f64,
}

impl<'t> Log<'t> {
    fn new(trials: &'t mut Vec<Trial>, f0: f64, slope0: f64, c1: f64, c2: f64) -> Self {
        trials.clear();
        Log {
            trials,
            best_step: 0.0,
            best_f: f0,
            f0,
            slope0,
            c1,
            c2,
        }
    }
    fn armijo(&self, a: f64, f: f64) -> bool {
        f <= self.f0 + self.c1 * a * self.slope0
    }
    fn curvature(&self, s: f64) -> bool {
        s.abs() <= -self.c2 * self.slope0
    }
    fn eval(&mut self, phi: &mut dyn LineFn, a: f64, how: &'static str) -> (f64, f64) {
        let (f, s) = phi.eval(a);
        let (armijo, curvature) = (self.armijo(a, f), self.curvature(s));
        self.trials.push(Trial {
            step: a,
            f,
            slope: s,
            armijo,
            curvature,
            how,
        });
        if f < self.best_f {
            self.best_f = f;
            self.best_step = a;
        }
        (f, s)
    }
    fn done(self, step: f64, f: f64) -> LineResult {
        LineResult {
            step,
            f,
            ok: true,
            failure: None,
        }
    }
    fn fail(self, reason: String) -> LineResult {
        LineResult {
            step: self.best_step,
            f: self.best_f,
            ok: false,
            failure: Some(reason),
        }
    }
}

fn finite(f: f64, s: f64) -> bool {
    f.is_finite() && s.is_finite()
}

/// More–Thuente: a safeguarded cubic/quadratic search for a step satisfying the strong Wolfe
/// conditions `phi(a) <= phi(0) + c1 a phi'(0)` and `|phi'(a)| <= c2 |phi'(0)|` (MINPACK-2's
/// `dcsrch`/`dcstep`, as scipy and L-BFGS-B use). A non-finite trial halves the step toward
/// the best point so far.
#[derive(Clone, Debug, PartialEq)]
pub struct MoreThuente {
    /// Sufficient-decrease constant (`ftol`).
    pub c1: f64,
    /// Curvature constant (`gtol`).
    pub c2: f64,
    /// Relative width at which the bracket is too small to go on (`xtol`).
    pub xtol: f64,
    /// Smallest step.
    pub step_min: f64,
    /// Largest step.
    pub step_max: f64,
    /// Most trials.
    pub max_trials: usize,
}

impl Default for MoreThuente {
    /// Settings for nonlinear CG: c1 = 1e-4, c2 = 0.1 (Nocedal & Wright's value for CG; scipy
    /// uses 0.4, which needs twice the evaluations on chained Rosenbrock), xtol = 1e-14.
    fn default() -> Self {
        MoreThuente {
            c1: 1e-4,
            c2: 0.1,
            xtol: 1e-14,
            step_min: 1e-100,
            step_max: 1e100,
            max_trials: 100,
        }
    }
}

impl MoreThuente {
    /// L-BFGS-B's settings: c1 = 1e-3, c2 = 0.9, xtol = 0.1.
    pub fn lbfgs() -> Self {
        MoreThuente {
            c1: 1e-3,
            c2: 0.9,
            xtol: 0.1,
            ..Default::default()
        }
    }
}

impl LineSearch for MoreThuente {
    fn name(&self) -> &'static str {
        "More-Thuente"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFn,
        f0: f64,
        slope0: f64,
        step0: f64,
        trials: &mut Vec<Trial>,
    ) -> LineResult {
        let mut log = Log::new(trials, f0, slope0, self.c1, self.c2);
        if slope0 >= 0.0 || !slope0.is_finite() {
            return log.fail(format!("not a descent direction: phi'(0) = {slope0:e}"));
        }
        let (xtrapl, xtrapu) = (1.1, 4.0);
        let gtest = self.c1 * slope0;
        let mut brackt = false;
        let mut stage1 = true;
        let mut width = self.step_max - self.step_min;
        let mut width1 = 2.0 * width;
        let (mut stx, mut fx, mut gx) = (0.0, f0, slope0);
        let (mut sty, mut fy, mut gy) = (0.0, f0, slope0);
        let mut stmin = 0.0;
        let mut stmax = step0 + xtrapu * step0;
        let mut stp = step0.clamp(self.step_min, self.step_max);
        let mut how = "initial step";
        for _ in 0..self.max_trials {
            let (mut f, mut g) = log.eval(phi, stp, how);
            // A non-finite trial: halve toward the best point until it is finite.
            while !finite(f, g) {
                if log.trials.len() >= self.max_trials {
                    return log.fail(format!(
                        "non-finite values for {} trials (limit {})",
                        self.max_trials, self.max_trials
                    ));
                }
                stp = stx + 0.5 * (stp - stx);
                stmax = stp;
                brackt = brackt || stx > 0.0;
                (f, g) = log.eval(phi, stp, "halved after a non-finite value");
            }
            let ftest = f0 + stp * gtest;
            if stage1 && f <= ftest && g >= 0.0 {
                stage1 = false;
            }
            if brackt && (stp <= stmin || stp >= stmax) {
                return log.fail(format!(
                    "rounding errors prevent progress (bracket [{stmin:e}, {stmax:e}])"
                ));
            }
            if brackt && stmax - stmin <= self.xtol * stmax {
                return log.fail(format!("bracket narrower than xtol = {:e}", self.xtol));
            }
            if stp == self.step_max && f <= ftest && g <= gtest {
                return log.fail(format!("step reached step_max = {:e}", self.step_max));
            }
            if stp == self.step_min && (f > ftest || g >= gtest) {
                return log.fail(format!("step reached step_min = {:e}", self.step_min));
            }
            if f <= ftest && g.abs() <= self.c2 * -slope0 {
                return log.done(stp, f);
            }
            if stage1 && f <= fx && f > ftest {
                // The modified function psi(a) = phi(a) - phi(0) - c1 a phi'(0).
                let (mut fxm, mut gxm) = (fx - stx * gtest, gx - gtest);
                let (mut fym, mut gym) = (fy - sty * gtest, gy - gtest);
                let (fm, gm) = (f - stp * gtest, g - gtest);
                how = dcstep(
                    &mut stx,
                    &mut fxm,
                    &mut gxm,
                    &mut sty,
                    &mut fym,
                    &mut gym,
                    &mut stp,
                    fm,
                    gm,
                    &mut brackt,
                    stmin,
                    stmax,
                );
                fx = fxm + stx * gtest;
                fy = fym + sty * gtest;
                gx = gxm + gtest;
                gy = gym + gtest;
            } else {
                how = dcstep(
                    &mut stx,
                    &mut fx,
                    &mut gx,
                    &mut sty,
                    &mut fy,
                    &mut gy,
                    &mut stp,
                    f,
                    g,
                    &mut brackt,
                    stmin,
                    stmax,
                );
            }
            if brackt {
                if (sty - stx).abs() >= 0.66 * width1 {
                    stp = stx + 0.5 * (sty - stx);
                    how = "bisection (bracket shrank too slowly)";
                }
                width1 = width;
                width = (sty - stx).abs();
            }
            if brackt {
                stmin = stx.min(sty);
                stmax = stx.max(sty);
            } else {
                stmin = stp + xtrapl * (stp - stx);
                stmax = stp + xtrapu * (stp - stx);
            }
            stp = stp.clamp(self.step_min, self.step_max);
            if brackt && (stp <= stmin || stp >= stmax || stmax - stmin <= self.xtol * stmax) {
                stp = stx;
                how = "best step (no further progress possible)";
            }
        }
        log.fail(format!(
            "no strong Wolfe step in {} trials",
            self.max_trials
        ))
    }
}

/// MINPACK-2's `dcstep`: a safeguarded step from the cubic and quadratic (secant) fits, and
/// the update of the interval [stx, sty]. Returns how the step was chosen.
#[allow(clippy::too_many_arguments)]
fn dcstep(
    stx: &mut f64,
    fx: &mut f64,
    dx: &mut f64,
    sty: &mut f64,
    fy: &mut f64,
    dy: &mut f64,
    stp: &mut f64,
    fp: f64,
    dp: f64,
    brackt: &mut bool,
    stpmin: f64,
    stpmax: f64,
) -> &'static str {
    let sgnd = dp * dx.signum();
    let how;
    let stpf;
    if fp > *fx {
        // Higher value: the minimum is bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp < *stx {
            gamma = -gamma;
        }
        let p = (gamma - *dx) + theta;
        let q = ((gamma - *dx) + gamma) + dp;
        let stpc = *stx + p / q * (*stp - *stx);
        let stpq = *stx + ((*dx / ((*fx - fp) / (*stp - *stx) + *dx)) / 2.0) * (*stp - *stx);
        if (stpc - *stx).abs() <= (stpq - *stx).abs() {
            stpf = stpc;
            how = "cubic (higher value)";
        } else {
            stpf = stpc + (stpq - stpc) / 2.0;
            how = "cubic/quadratic average (higher value)";
        }
        *brackt = true;
    } else if sgnd < 0.0 {
        // Lower value, slopes of opposite sign: bracketed.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * ((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = ((gamma - dp) + gamma) + *dx;
        let stpc = *stp + p / q * (*stx - *stp);
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if (stpc - *stp).abs() > (stpq - *stp).abs() {
            stpf = stpc;
            how = "cubic (slope changed sign)";
        } else {
            stpf = stpq;
            how = "secant (slope changed sign)";
        }
        *brackt = true;
    } else if dp.abs() < dx.abs() {
        // Lower value, same sign, slope magnitude decreasing.
        let theta = 3.0 * (*fx - fp) / (*stp - *stx) + *dx + dp;
        let s = theta.abs().max(dx.abs()).max(dp.abs());
        let mut gamma = s * 0f64.max((theta / s).powi(2) - (*dx / s) * (dp / s)).sqrt();
        if *stp > *stx {
            gamma = -gamma;
        }
        let p = (gamma - dp) + theta;
        let q = (gamma + (*dx - dp)) + gamma;
        let r = p / q;
        let stpc = if r < 0.0 && gamma != 0.0 {
            *stp + r * (*stx - *stp)
        } else if *stp > *stx {
            stpmax
        } else {
            stpmin
        };
        let stpq = *stp + (dp / (dp - *dx)) * (*stx - *stp);
        if *brackt {
            let mut v = if (stpc - *stp).abs() < (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            v = if *stp > *stx {
                v.min(*stp + 0.66 * (*sty - *stp))
            } else {
                v.max(*stp + 0.66 * (*sty - *stp))
            };
            stpf = v;
            how = "cubic or secant, kept inside the bracket";
        } else {
            let v = if (stpc - *stp).abs() > (stpq - *stp).abs() {
                stpc
            } else {
                stpq
            };
            stpf = v.clamp(stpmin, stpmax);
            how = "extrapolation (slope decreasing)";
        }
    } else {
        // Lower value, same sign, slope not decreasing.
        if *brackt {
            let theta = 3.0 * (fp - *fy) / (*sty - *stp) + *dy + dp;
            let s = theta.abs().max(dy.abs()).max(dp.abs());
            let mut gamma = s * ((theta / s).powi(2) - (*dy / s) * (dp / s)).sqrt();
            if *stp > *sty {
                gamma = -gamma;
            }
            let p = (gamma - dp) + theta;
            let q = ((gamma - dp) + gamma) + *dy;
            stpf = *stp + p / q * (*sty - *stp);
            how = "cubic toward the far end";
        } else {
            stpf = if *stp > *stx { stpmax } else { stpmin };
            how = "extrapolation to the limit";
        }
    }
    if fp > *fx {
        *sty = *stp;
        *fy = fp;
        *dy = dp;
    } else {
        if sgnd < 0.0 {
            *sty = *stx;
            *fy = *fx;
            *dy = *dx;
        }
        *stx = *stp;
        *fx = fp;
        *dx = dp;
    }
    *stp = stpf;
    how
}

/// Backtracking to the Armijo condition `phi(a) <= phi(0) + c1 a phi'(0)`: each failed step
/// is replaced by the minimiser of the quadratic through phi(0), phi'(0), phi(a), kept in
/// `[0.1 a, 0.5 a]` (plain halving after a non-finite value).
#[derive(Clone, Debug, PartialEq)]
pub struct Backtracking {
    /// Sufficient-decrease constant.
    pub c1: f64,
    /// Most trials.
    pub max_trials: usize,
}

impl Default for Backtracking {
    fn default() -> Self {
        Backtracking {
            c1: 1e-4,
            max_trials: 40,
        }
    }
}

impl LineSearch for Backtracking {
    fn name(&self) -> &'static str {
        "backtracking"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFn,
        f0: f64,
        slope0: f64,
        step0: f64,
        trials: &mut Vec<Trial>,
    ) -> LineResult {
        let mut log = Log::new(trials, f0, slope0, self.c1, 1.0);
        if slope0 >= 0.0 || !slope0.is_finite() {
            return log.fail(format!("not a descent direction: phi'(0) = {slope0:e}"));
        }
        let mut a = step0;
        let mut how = "initial step";
        for _ in 0..self.max_trials {
            let (f, _) = log.eval(phi, a, how);
            if f.is_finite() && f <= f0 + self.c1 * a * slope0 {
                return log.done(a, f);
            }
            if f.is_finite() {
                let q = -slope0 * a * a / (2.0 * (f - f0 - slope0 * a));
                a = q.clamp(0.1 * a, 0.5 * a);
                how = "quadratic backtrack";
            } else {
                a *= 0.5;
                how = "halved after a non-finite value";
            }
        }
        log.fail(format!(
            "no Armijo step in {} trials (c1 = {:e})",
            self.max_trials, self.c1
        ))
    }
}

/// Hager–Zhang: accepts Wolfe or approximate Wolfe steps
/// (`(2 delta - 1) phi'(0) >= phi'(a) >= sigma phi'(0)` with `phi(a) <= phi(0) + epsilon
/// |phi(0)|`), bracketing by expansion and shrinking the bracket by double secant steps and
/// bisection.
#[derive(Clone, Debug, PartialEq)]
pub struct HagerZhang {
    /// Sufficient-decrease constant (0.1).
    pub delta: f64,
    /// Curvature constant (0.9).
    pub sigma: f64,
    /// Relative tolerance on phi for approximate Wolfe (1e-6).
    pub epsilon: f64,
    /// Bisection point in the update (0.5).
    pub theta: f64,
    /// Required shrink of the bracket per secant step (0.66).
    pub gamma: f64,
    /// Bracket expansion factor (5).
    pub rho: f64,
    /// Most trials.
    pub max_trials: usize,
}

impl Default for HagerZhang {
    fn default() -> Self {
        HagerZhang {
            delta: 0.1,
            sigma: 0.9,
            epsilon: 1e-6,
            theta: 0.5,
            gamma: 0.66,
            rho: 5.0,
            max_trials: 60,
        }
    }
}

/// A point on the line.
#[derive(Clone, Copy)]
struct Pt {
    a: f64,
    f: f64,
    s: f64,
}

/// Stops the Hager–Zhang procedures as soon as a trial is acceptable.
enum HzStop {
    Accept(Pt),
    Fail(String),
}

struct Hz<'a> {
    p: &'a HagerZhang,
    phi: &'a mut dyn LineFn,
    log: Log<'a>,
    f0: f64,
    s0: f64,
    fmax: f64,
}

impl Hz<'_> {
    fn eval(&mut self, a: f64, how: &'static str) -> Result<Pt, HzStop> {
        if self.log.trials.len() >= self.p.max_trials {
            return Err(HzStop::Fail(format!(
                "no (approximate) Wolfe step in {} trials",
                self.p.max_trials
            )));
        }
        let (mut f, mut s) = self.log.eval(self.phi, a, how);
        let mut a = a;
        while !finite(f, s) {
            if self.log.trials.len() >= self.p.max_trials {
                return Err(HzStop::Fail(
                    "non-finite values until the trial limit".into(),
                ));
            }
            a *= 0.5;
            (f, s) = self
                .log
                .eval(self.phi, a, "halved after a non-finite value");
        }
        let (d, sg) = (self.p.delta, self.p.sigma);
        let wolfe = f - self.f0 <= d * a * self.s0 && s >= sg * self.s0;
        let approx = (2.0 * d - 1.0) * self.s0 >= s && s >= sg * self.s0 && f <= self.fmax;
        if wolfe || approx {
            return Err(HzStop::Accept(Pt { a, f, s }));
        }
        Ok(Pt { a, f, s })
    }

    /// U3: bisect [a, b] until its right end has a non-negative slope.
    fn u3(&mut self, mut a: Pt, mut b: Pt) -> Result<(Pt, Pt), HzStop> {
        loop {
            let d = self.eval(
                (1.0 - self.p.theta) * a.a + self.p.theta * b.a,
                "bisection (update U3)",
            )?;
            if d.s >= 0.0 {
                return Ok((a, d));
            }
            if d.f <= self.fmax {
                a = d;
            } else {
                b = d;
            }
        }
    }

    fn update(&mut self, a: Pt, b: Pt, c: Pt) -> Result<(Pt, Pt), HzStop> {
        if c.a <= a.a || c.a >= b.a {
            return Ok((a, b));
        }
        if c.s >= 0.0 {
            Ok((a, c))
        } else if c.f <= self.fmax {
            Ok((c, b))
        } else {
            self.u3(a, c)
        }
    }

    fn secant(a: Pt, b: Pt) -> f64 {
        (a.a * b.s - b.a * a.s) / (b.s - a.s)
    }

    fn secant2(&mut self, a: Pt, b: Pt) -> Result<(Pt, Pt), HzStop> {
        let ca = Self::secant(a, b);
        if !ca.is_finite() {
            return Ok((a, b));
        }
        let c = self.eval(ca, "secant")?;
        let (na, nb) = self.update(a, b, c)?;
        let cbar = if c.a == nb.a {
            Some(Self::secant(b, nb))
        } else if c.a == na.a {
            Some(Self::secant(a, na))
        } else {
            None
        };
        match cbar {
            Some(x) if x.is_finite() && x > na.a && x < nb.a => {
                let cb = self.eval(x, "second secant")?;
                self.update(na, nb, cb)
            }
            _ => Ok((na, nb)),
        }
    }

    fn run(&mut self, step0: f64) -> Result<(), HzStop> {
        let zero = Pt {
            a: 0.0,
            f: self.f0,
            s: self.s0,
        };
        // Bracket: expand until the slope turns or the value rises.
        let mut c = self.eval(step0, "initial step")?;
        let mut last_good = zero;
        let (mut a, mut b) = loop {
            if c.s >= 0.0 {
                break (last_good, c);
            }
            if c.f > self.fmax {
                break self.u3(zero, c)?;
            }
            last_good = c;
            c = self.eval(self.p.rho * c.a, "bracket expansion")?;
        };
        loop {
            let width = b.a - a.a;
            let (na, nb) = self.secant2(a, b)?;
            (a, b) = (na, nb);
            if b.a - a.a > self.p.gamma * width {
                let m = self.eval(0.5 * (a.a + b.a), "bisection (slow shrink)")?;
                (a, b) = self.update(a, b, m)?;
            }
            if b.a - a.a <= f64::EPSILON * b.a.abs() {
                return Err(HzStop::Fail("bracket collapsed".into()));
            }
        }
    }
}

impl LineSearch for HagerZhang {
    fn name(&self) -> &'static str {
        "Hager-Zhang"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFn,
        f0: f64,
        slope0: f64,
        step0: f64,
        trials: &mut Vec<Trial>,
    ) -> LineResult {
        let log = Log::new(trials, f0, slope0, self.delta, self.sigma);
        if slope0 >= 0.0 || !slope0.is_finite() {
            return log.fail(format!("not a descent direction: phi'(0) = {slope0:e}"));
        }
        let fmax = f0 + self.epsilon * f0.abs();
        let mut hz = Hz {
            p: self,
            phi,
            log,
            f0,
            s0: slope0,
            fmax,
        };
        match hz.run(step0) {
            Err(HzStop::Accept(p)) => hz.log.done(p.a, p.f),
            Err(HzStop::Fail(why)) => hz.log.fail(why),
            Ok(()) => unreachable!("the search loops until it accepts or fails"),
        }
    }
}

/// The line search of Rasmussen's `minimize.m`: extrapolate by cubic fits (at most `ext`
/// times the current step) until the slope is no longer steep or the value rises, then
/// interpolate (quadratic or cubic, kept `int` of the bracket away from its ends) until
/// `|phi'(a)| <= -sig phi'(0)` and `phi(a) <= phi(0) + a rho phi'(0)`; at most `max`
/// evaluations; a non-finite value or slope bisects the step back.
#[derive(Clone, Debug, PartialEq)]
pub struct Rasmussen {
    /// Interpolation margin (INT = 0.1).
    pub int: f64,
    /// Extrapolation limit (EXT = 3.0).
    pub ext: f64,
    /// Evaluations per search (MAX = 20).
    pub max: usize,
    /// Curvature constant (SIG = 0.1).
    pub sig: f64,
    /// Sufficient-decrease constant (RHO = SIG / 2).
    pub rho: f64,
}

impl Default for Rasmussen {
    fn default() -> Self {
        Rasmussen {
            int: 0.1,
            ext: 3.0,
            max: 20,
            sig: 0.1,
            rho: 0.05,
        }
    }
}

impl Rasmussen {
    /// The search with an evaluation budget `m` (minimize.m's `M`); returns the result and
    /// the evaluations it used.
    pub(crate) fn search_budget(
        &self,
        phi: &mut dyn LineFn,
        f0: f64,
        d0: f64,
        x3_start: f64,
        mut m: usize,
        trials: &mut Vec<Trial>,
    ) -> LineResult {
        let mut log = Log::new(trials, f0, d0, self.rho, self.sig);
        let (int, ext, sig, rho) = (self.int, self.ext, self.sig, self.rho);
        let mut x3 = x3_start;
        let (mut x1, mut f1, mut d1);
        let (mut x2, mut f2, mut d2);
        let (mut f3, mut d3);
        let (mut x4, mut f4, mut d4) = (f64::NAN, f64::NAN, f64::NAN);
        let mut how = "initial step";
        // Extrapolation. As in minimize.m, point 2 restarts at the origin on every pass.
        loop {
            x2 = 0.0;
            f2 = f0;
            d2 = d0;
            f3 = f0;
            d3 = d0;
            let mut success = false;
            while !success && m > 0 {
                m -= 1;
                let (f, d) = log.eval(phi, x3, how);
                if finite(f, d) {
                    (f3, d3) = (f, d);
                    success = true;
                } else {
                    x3 = (x2 + x3) / 2.0;
                    how = "bisected after a non-finite value";
                }
            }
            if !success {
                return log.fail(format!(
                    "non-finite values until the evaluation budget ran out (MAX = {})",
                    self.max
                ));
            }
            if d3 > sig * d0 || f3 > f0 + x3 * rho * d0 || m == 0 {
                break;
            }
            x1 = x2;
            f1 = f2;
            d1 = d2;
            x2 = x3;
            f2 = f3;
            d2 = d3;
            let a = 6.0 * (f1 - f2) + 3.0 * (d2 + d1) * (x2 - x1);
            let b = 3.0 * (f2 - f1) - (2.0 * d1 + d2) * (x2 - x1);
            x3 = x1 - d1 * (x2 - x1).powi(2) / (b + (b * b - a * d1 * (x2 - x1)).sqrt());
            how = "cubic extrapolation";
            if !x3.is_finite() || x3 < 0.0 || x3 > x2 * ext {
                x3 = x2 * ext;
                how = "extrapolation by EXT";
            } else if x3 < x2 + int * (x2 - x1) {
                x3 = x2 + int * (x2 - x1);
                how = "extrapolation, kept INT away";
            }
        }
        // Interpolation.
        while (d3.abs() > -sig * d0 || f3 > f0 + x3 * rho * d0) && m > 0 {
            if d3 > 0.0 || f3 > f0 + x3 * rho * d0 {
                x4 = x3;
                f4 = f3;
                d4 = d3;
            } else {
                x2 = x3;
                f2 = f3;
                d2 = d3;
            }
            if f4 > f0 {
                x3 = x2 - (0.5 * d2 * (x4 - x2).powi(2)) / (f4 - f2 - d2 * (x4 - x2));
                how = "quadratic interpolation";
            } else {
                let a = 6.0 * (f2 - f4) / (x4 - x2) + 3.0 * (d4 + d2);
                let b = 3.0 * (f4 - f2) - (2.0 * d2 + d4) * (x4 - x2);
                x3 = x2 + ((b * b - a * d2 * (x4 - x2).powi(2)).sqrt() - b) / a;
                how = "cubic interpolation";
            }
            if !x3.is_finite() {
                x3 = (x2 + x4) / 2.0;
                how = "bisection (numerical problem)";
            }
            x3 = x3.min(x4 - int * (x4 - x2)).max(x2 + int * (x4 - x2));
            let (f, d) = log.eval(phi, x3, how);
            m -= 1;
            (f3, d3) = (f, d);
            if !finite(f3, d3) {
                // minimize.m has no guard here; treat as a rise in value so that the next
                // interpolation moves back toward x2.
                f3 = f64::INFINITY;
                d3 = f64::INFINITY;
            }
        }
        if d3.abs() < -sig * d0 && f3 < f0 + x3 * rho * d0 {
            log.done(x3, f3)
        } else {
            log.fail(format!(
                "no step with |phi'| < {sig} |phi'(0)| and sufficient decrease (rho = {rho}) within {} evaluations",
                self.max
            ))
        }
    }
}

impl LineSearch for Rasmussen {
    fn name(&self) -> &'static str {
        "minimize.m"
    }

    fn search(
        &mut self,
        phi: &mut dyn LineFn,
        f0: f64,
        slope0: f64,
        step0: f64,
        trials: &mut Vec<Trial>,
    ) -> LineResult {
        if slope0 >= 0.0 || !slope0.is_finite() {
            return Log::new(trials, f0, slope0, self.rho, self.sig)
                .fail(format!("not a descent direction: phi'(0) = {slope0:e}"));
        }
        self.search_budget(phi, f0, slope0, step0, self.max, trials)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// phi(a) = (a - 2)^2 - 4 with a counter; minimum at a = 2.
    struct Quad(usize);
    impl LineFn for Quad {
        fn eval(&mut self, a: f64) -> (f64, f64) {
            self.0 += 1;
            ((a - 2.0).powi(2) - 4.0, 2.0 * (a - 2.0))
        }
    }

    /// phi(a) = -a for a < 1, NaN beyond: searches must back off.
    struct Cliff;
    impl LineFn for Cliff {
        fn eval(&mut self, a: f64) -> (f64, f64) {
            if a < 1.0 {
                ((a - 0.8).powi(2), 2.0 * (a - 0.8))
            } else {
                (f64::NAN, f64::NAN)
            }
        }
    }

    fn searches() -> Vec<Box<dyn LineSearch>> {
        vec![
            Box::new(MoreThuente::default()),
            Box::new(HagerZhang::default()),
            Box::new(Backtracking::default()),
            Box::new(Rasmussen::default()),
        ]
    }

    #[test]
    fn every_search_finds_an_acceptable_step_on_a_quadratic() {
        for mut s in searches() {
            let mut q = Quad(0);
            let mut trials = Vec::new();
            let r = s.search(&mut q, 0.0, -4.0, 0.1, &mut trials);
            assert!(r.ok, "{}: {:?}", s.name(), r.failure);
            assert!(r.f < 0.0 && r.step > 0.0, "{}: {r:?}", s.name());
            assert_eq!(
                q.0,
                trials.len(),
                "{}: every evaluation is recorded",
                s.name()
            );
        }
    }

    #[test]
    fn every_search_backs_off_from_non_finite_values() {
        for mut s in searches() {
            let mut trials = Vec::new();
            let r = s.search(&mut Cliff, 0.64, -1.6, 4.0, &mut trials);
            assert!(
                r.f <= 0.64,
                "{}: never worse than the start: {r:?}",
                s.name()
            );
            assert!(
                trials.iter().any(|t| !t.f.is_finite()),
                "{}: the NaN trial is in the trace",
                s.name()
            );
            assert!(r.step < 1.0, "{}", s.name());
        }
    }

    #[test]
    fn a_failed_search_returns_the_best_point_and_says_why() {
        // An ascent direction is refused at once.
        let mut trials = Vec::new();
        let r = MoreThuente::default().search(&mut Quad(0), 0.0, 1.0, 1.0, &mut trials);
        assert!(!r.ok && r.step == 0.0 && r.failure.unwrap().contains("not a descent direction"));
        // A budget too small to satisfy the conditions: best point kept.
        let mut ras = Rasmussen {
            max: 1,
            ..Default::default()
        };
        let r = ras.search(&mut Quad(0), 0.0, -4.0, 0.01, &mut trials);
        assert!(!r.ok);
        assert!(r
            .failure
            .as_deref()
            .unwrap()
            .contains("within 1 evaluations"));
        assert!(r.f < 0.0 && r.step == 0.01);
    }
}
