//! Standard test problems of Moré, Garbow & Hillstrom, "Testing unconstrained optimization
//! software", ACM TOMS 7 (1981), with their standard starting points and known minima. Each
//! is `f(x) = sum_i r_i(x)^2` for residuals `r_i`; the gradient is written by hand.

/// A test problem.
#[derive(Clone, Debug)]
pub struct Problem {
    /// Its name (MGH numbering in parentheses).
    pub name: &'static str,
    /// Dimension.
    pub n: usize,
    /// The standard starting point.
    pub x0: Vec<f64>,
    /// The known minimum value (from the standard start).
    pub f_min: f64,
    /// How far above `f_min` a point with `|g|_inf <= 1e-5` may lie (the singular Hessian of
    /// Powell's function leaves f near 1e-8 there).
    pub f_tol: f64,
    kind: Kind,
}

#[derive(Clone, Copy, Debug)]
enum Kind {
    Rosenbrock,
    ExtendedRosenbrock,
    ChainedRosenbrock,
    PowellSingular,
    Beale,
    BrownBadlyScaled,
    Wood,
    HelicalValley,
    Trigonometric,
}

impl Problem {
    /// f(x), with the gradient written into `g`.
    pub fn fg(&self, x: &[f64], g: &mut [f64]) -> f64 {
        g.fill(0.0);
        match self.kind {
            Kind::Rosenbrock | Kind::ExtendedRosenbrock => {
                let mut f = 0.0;
                for i in (0..self.n).step_by(2) {
                    let (a, b) = (x[i], x[i + 1]);
                    let r1 = 10.0 * (b - a * a);
                    let r2 = 1.0 - a;
                    f += r1 * r1 + r2 * r2;
                    g[i] += -40.0 * a * r1 - 2.0 * r2;
                    g[i + 1] += 20.0 * r1;
                }
                f
            }
            Kind::ChainedRosenbrock => {
                // scipy.optimize.rosen: sum 100 (x_{i+1} - x_i^2)^2 + (1 - x_i)^2.
                let mut f = 0.0;
                for i in 0..self.n - 1 {
                    let (a, b) = (x[i], x[i + 1]);
                    let t = b - a * a;
                    f += 100.0 * t * t + (1.0 - a) * (1.0 - a);
                    g[i] += -400.0 * a * t - 2.0 * (1.0 - a);
                    g[i + 1] += 200.0 * t;
                }
                f
            }
            Kind::PowellSingular => {
                let mut f = 0.0;
                for i in (0..self.n).step_by(4) {
                    let (a, b, c, d) = (x[i], x[i + 1], x[i + 2], x[i + 3]);
                    let r1 = a + 10.0 * b;
                    let r2 = 5f64.sqrt() * (c - d);
                    let r3 = (b - 2.0 * c).powi(2);
                    let r4 = 10f64.sqrt() * (a - d).powi(2);
                    f += r1 * r1 + r2 * r2 + r3 * r3 + r4 * r4;
                    let s5 = 5f64.sqrt();
                    let s10 = 10f64.sqrt();
                    g[i] += 2.0 * r1 + 2.0 * r4 * s10 * 2.0 * (a - d);
                    g[i + 1] += 20.0 * r1 + 2.0 * r3 * 2.0 * (b - 2.0 * c);
                    g[i + 2] += 2.0 * r2 * s5 - 2.0 * r3 * 4.0 * (b - 2.0 * c);
                    g[i + 3] += -2.0 * r2 * s5 - 2.0 * r4 * s10 * 2.0 * (a - d);
                }
                f
            }
            Kind::Beale => {
                let (a, b) = (x[0], x[1]);
                let ys = [1.5, 2.25, 2.625];
                let mut f = 0.0;
                for (k, &y) in ys.iter().enumerate() {
                    let p = (k + 1) as i32;
                    let r = y - a * (1.0 - b.powi(p));
                    f += r * r;
                    g[0] += 2.0 * r * -(1.0 - b.powi(p));
                    g[1] += 2.0 * r * a * p as f64 * b.powi(p - 1);
                }
                f
            }
            Kind::BrownBadlyScaled => {
                let (a, b) = (x[0], x[1]);
                let (r1, r2, r3) = (a - 1e6, b - 2e-6, a * b - 2.0);
                g[0] = 2.0 * r1 + 2.0 * r3 * b;
                g[1] = 2.0 * r2 + 2.0 * r3 * a;
                r1 * r1 + r2 * r2 + r3 * r3
            }
            Kind::Wood => {
                let (a, b, c, d) = (x[0], x[1], x[2], x[3]);
                let r = [
                    10.0 * (b - a * a),
                    1.0 - a,
                    90f64.sqrt() * (d - c * c),
                    1.0 - c,
                    10f64.sqrt() * (b + d - 2.0),
                    (b - d) / 10f64.sqrt(),
                ];
                g[0] = 2.0 * r[0] * -20.0 * a - 2.0 * r[1];
                g[1] = 2.0 * r[0] * 10.0 + 2.0 * r[4] * 10f64.sqrt() + 2.0 * r[5] / 10f64.sqrt();
                g[2] = 2.0 * r[2] * 90f64.sqrt() * -2.0 * c - 2.0 * r[3];
                g[3] = 2.0 * r[2] * 90f64.sqrt() + 2.0 * r[4] * 10f64.sqrt()
                    - 2.0 * r[5] / 10f64.sqrt();
                r.iter().map(|v| v * v).sum()
            }
            Kind::HelicalValley => {
                let (a, b, c) = (x[0], x[1], x[2]);
                let tau = std::f64::consts::TAU;
                let theta = b.atan2(a) / tau;
                let rad = (a * a + b * b).sqrt();
                let r1 = 10.0 * (c - 10.0 * theta);
                let r2 = 10.0 * (rad - 1.0);
                let r3 = c;
                // d theta / da = -b / (tau rad^2), d theta / db = a / (tau rad^2).
                let (dta, dtb) = (-b / (tau * rad * rad), a / (tau * rad * rad));
                g[0] = 2.0 * r1 * -100.0 * dta + 2.0 * r2 * 10.0 * a / rad;
                g[1] = 2.0 * r1 * -100.0 * dtb + 2.0 * r2 * 10.0 * b / rad;
                g[2] = 2.0 * r1 * 10.0 + 2.0 * r3;
                r1 * r1 + r2 * r2 + r3 * r3
            }
            Kind::Trigonometric => {
                let n = self.n;
                let sc: f64 = x.iter().map(|v| v.cos()).sum();
                let r: Vec<f64> = (0..n)
                    .map(|i| n as f64 - sc + (i + 1) as f64 * (1.0 - x[i].cos()) - x[i].sin())
                    .collect();
                let sr: f64 = r.iter().sum();
                for j in 0..n {
                    // dr_i/dx_j = sin x_j + [i == j] ((j+1) sin x_j - cos x_j)
                    g[j] = 2.0 * sr * x[j].sin()
                        + 2.0 * r[j] * ((j + 1) as f64 * x[j].sin() - x[j].cos());
                }
                r.iter().map(|v| v * v).sum()
            }
        }
    }

    /// f(x) alone.
    pub fn f(&self, x: &[f64]) -> f64 {
        let mut g = vec![0.0; self.n];
        self.fg(x, &mut g)
    }
}

fn alternating(n: usize, a: f64, b: f64) -> Vec<f64> {
    (0..n).map(|i| if i % 2 == 0 { a } else { b }).collect()
}

/// Rosenbrock (1), n = 2.
pub fn rosenbrock() -> Problem {
    Problem {
        name: "Rosenbrock (1)",
        n: 2,
        x0: vec![-1.2, 1.0],
        f_min: 0.0,
        f_tol: 1e-8,
        kind: Kind::Rosenbrock,
    }
}

/// Extended Rosenbrock (21): independent pairs, n even.
pub fn extended_rosenbrock(n: usize) -> Problem {
    assert!(n.is_multiple_of(2), "extended Rosenbrock needs an even n");
    Problem {
        name: "extended Rosenbrock (21)",
        n,
        x0: alternating(n, -1.2, 1.0),
        f_min: 0.0,
        f_tol: 1e-8,
        kind: Kind::ExtendedRosenbrock,
    }
}

/// Chained Rosenbrock, as `scipy.optimize.rosen`.
pub fn chained_rosenbrock(n: usize) -> Problem {
    Problem {
        name: "chained Rosenbrock (scipy.optimize.rosen)",
        n,
        x0: alternating(n, -1.2, 1.0),
        f_min: 0.0,
        f_tol: 1e-8,
        kind: Kind::ChainedRosenbrock,
    }
}

/// Powell singular (13) and extended Powell (22), n a multiple of 4.
pub fn powell_singular(n: usize) -> Problem {
    assert!(
        n.is_multiple_of(4),
        "Powell singular needs n a multiple of 4"
    );
    let x0 = (0..n).map(|i| [3.0, -1.0, 0.0, 1.0][i % 4]).collect();
    let name = if n == 4 {
        "Powell singular (13)"
    } else {
        "extended Powell singular (22)"
    };
    Problem {
        name,
        n,
        x0,
        f_min: 0.0,
        f_tol: 1e-6,
        kind: Kind::PowellSingular,
    }
}

/// Beale (5).
pub fn beale() -> Problem {
    Problem {
        name: "Beale (5)",
        n: 2,
        x0: vec![1.0, 1.0],
        f_min: 0.0,
        f_tol: 1e-8,
        kind: Kind::Beale,
    }
}

/// Brown badly scaled (4).
pub fn brown_badly_scaled() -> Problem {
    Problem {
        name: "Brown badly scaled (4)",
        n: 2,
        x0: vec![1.0, 1.0],
        f_min: 0.0,
        f_tol: 1e-8,
        kind: Kind::BrownBadlyScaled,
    }
}

/// Wood (14).
pub fn wood() -> Problem {
    Problem {
        name: "Wood (14)",
        n: 4,
        x0: vec![-3.0, -1.0, -3.0, -1.0],
        f_min: 0.0,
        f_tol: 1e-8,
        kind: Kind::Wood,
    }
}

/// Helical valley (7).
pub fn helical_valley() -> Problem {
    Problem {
        name: "helical valley (7)",
        n: 3,
        x0: vec![-1.0, 0.0, 0.0],
        f_min: 0.0,
        f_tol: 1e-8,
        kind: Kind::HelicalValley,
    }
}

/// Trigonometric (26), n = 10: from the standard start the minimum reached is the local one,
/// f = 2.79506e-5 (MGH's table).
pub fn trigonometric(n: usize) -> Problem {
    assert_eq!(n, 10, "the known minimum is recorded for n = 10");
    Problem {
        name: "trigonometric (26)",
        n,
        x0: vec![1.0 / n as f64; n],
        f_min: 2.79506e-5,
        f_tol: 1e-8,
        kind: Kind::Trigonometric,
    }
}

/// The problems every solver is tested on.
///
/// ```
/// use symgrad::optim::problems::standard;
/// use symgrad::optim::{FusedObjective, Lbfgs};
/// let problems = standard();
/// assert_eq!(problems.len(), 9);
/// for p in problems {
///     let mut obj = FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| p.fg(x, g));
///     let mut x = p.x0.clone();
///     let report = Lbfgs::new().minimize(&mut obj, &mut x);
///     assert!(p.f(&x) - p.f_min <= p.f_tol, "{}: {report}", p.name);
/// }
/// ```
pub fn standard() -> Vec<Problem> {
    vec![
        rosenbrock(),
        extended_rosenbrock(10),
        powell_singular(4),
        powell_singular(20),
        beale(),
        brown_badly_scaled(),
        wood(),
        helical_valley(),
        trigonometric(10),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_written_gradients_match_finite_differences() {
        let mut all = standard();
        all.push(chained_rosenbrock(7));
        for p in all {
            let x: Vec<f64> =
                p.x0.iter()
                    .enumerate()
                    .map(|(i, v)| v + 0.1 * (i as f64 * 0.7).sin() + 0.05)
                    .collect();
            let mut g = vec![0.0; p.n];
            p.fg(&x, &mut g);
            for i in 0..p.n {
                let h = 1e-6 * x[i].abs().max(1.0);
                let (mut xp, mut xm) = (x.clone(), x.clone());
                xp[i] += h;
                xm[i] -= h;
                let fd = (p.f(&xp) - p.f(&xm)) / (2.0 * h);
                // The quotient's own error: truncation, plus rounding of f (Brown's f is ~1e12).
                let tol = 1e-5 * fd.abs().max(1.0) + 4.0 * f64::EPSILON * p.f(&x).abs() / h;
                assert!(
                    (fd - g[i]).abs() <= tol,
                    "{} coordinate {i}: {} vs {fd}",
                    p.name,
                    g[i]
                );
            }
        }
    }
}
