//! Gradient checking in the public API (Theano's `verify_grad`): a compiled gradient against
//! central finite differences, along a random direction and per coordinate, with the worst
//! coordinates reported by parameter name and index.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, StandardNormal};

use crate::compile::Function;
use crate::error::{Error, Result};
use crate::params::ParamLayout;
use crate::tensor::TensorRef;
use crate::Scalar;

/// Settings of [`check_gradient`].
#[derive(Clone, Debug)]
pub struct GradCheckOptions {
    /// Finite-difference step, relative to `max(1, |x_i|)`; `None`: the cube root of the
    /// float type's epsilon (the step that balances truncation and rounding error).
    pub step: Option<f64>,
    /// At most this many coordinates are checked one by one (a seeded random subset when x
    /// is longer); every coordinate enters the directional check.
    pub max_coords: usize,
    /// Seed of the random direction and subset.
    pub seed: u64,
    /// How many worst coordinates the report keeps.
    pub worst: usize,
    /// Relative tolerance; `None`: 1e-5 for f64, 2e-2 for f32.
    pub rtol: Option<f64>,
    /// Absolute tolerance; `None`: 1e-7 for f64, 2e-3 for f32.
    pub atol: Option<f64>,
}

impl Default for GradCheckOptions {
    fn default() -> Self {
        GradCheckOptions {
            step: None,
            max_coords: 200,
            seed: 0x5eed,
            worst: 5,
            rtol: None,
            atol: None,
        }
    }
}

/// One coordinate's comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct CoordError {
    /// Coordinate of x.
    pub index: usize,
    /// Parameter holding it.
    pub param: String,
    /// Its multi-index inside the parameter.
    pub at: Vec<usize>,
    /// The compiled gradient's value.
    pub analytic: f64,
    /// The central difference.
    pub numeric: f64,
    /// `|analytic - numeric|`.
    pub abs_err: f64,
    /// `abs_err / max(|analytic|, |numeric|)` (0 when both are 0).
    pub rel_err: f64,
}

/// What [`check_gradient`] found.
#[derive(Clone, Debug)]
pub struct GradCheckReport {
    /// `<grad, v>` for the random direction v.
    pub directional_analytic: f64,
    /// `(F(x + h v) - F(x - h v)) / 2h`.
    pub directional_numeric: f64,
    /// Coordinates checked one by one.
    pub coords_checked: usize,
    /// The worst coordinates, worst first (measured against the tolerance).
    pub worst: Vec<CoordError>,
    /// Whether the directional check and every coordinate are within tolerance.
    pub passed: bool,
    /// The tolerances used, `(rtol, atol)`.
    pub tolerance: (f64, f64),
}

impl std::fmt::Display for GradCheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "gradient check {}: direction {:.6e} (compiled) vs {:.6e} (finite differences); {} coordinates",
            if self.passed { "passed" } else { "FAILED" },
            self.directional_analytic,
            self.directional_numeric,
            self.coords_checked
        )?;
        for c in &self.worst {
            writeln!(
                f,
                "  {}{:?} (x[{}]): compiled {:.6e}, numeric {:.6e}, abs err {:.2e}, rel err {:.2e}",
                c.param, c.at, c.index, c.analytic, c.numeric, c.abs_err, c.rel_err
            )?;
        }
        Ok(())
    }
}

fn within(a: f64, n: f64, rtol: f64, atol: f64) -> bool {
    (a - n).abs() <= atol + rtol * a.abs().max(n.abs())
}

/// Compares the flat gradient of `f` (output 0 must be a scalar cost) with central finite
/// differences of output 0 at `x`.
///
/// ```
/// use symgrad::{check_gradient, dims, Compiler, GradCheckOptions, Graph, ParamLayout};
/// let mut layout = ParamLayout::new();
/// layout.add("w", &[4]);
/// let g = Graph::<f64>::new();
/// let w = g.param(&layout, "w");
/// let cost = w.sigmoid().log().sum_all();
/// let mut f = Compiler::new(&g, &layout).value_and_grad(cost).build();
/// let x = [0.1, -0.5, 2.0, 0.3];
/// let report = check_gradient(&mut f, &layout, &x, &[], &GradCheckOptions::default()).unwrap();
/// assert!(report.passed, "{report}");
/// ```
pub fn check_gradient<T: Scalar>(
    f: &mut Function<T>,
    layout: &ParamLayout,
    x: &[T],
    inputs: &[TensorRef<'_, T>],
    opts: &GradCheckOptions,
) -> Result<GradCheckReport> {
    if !f.has_gradient() {
        return Err(Error::NoGradient {
            needed_by: "check_gradient",
        });
    }
    if f.output_count() == 0 {
        return Err(Error::UnknownOutput { index: 0, count: 0 });
    }
    let is_f32 = T::EPS > 1e-10;
    let rtol = opts.rtol.unwrap_or(if is_f32 { 2e-2 } else { 1e-5 });
    let atol = opts.atol.unwrap_or(if is_f32 { 2e-3 } else { 1e-7 });
    let h0 = opts.step.unwrap_or(T::EPS.cbrt());
    let n = x.len();
    let mut grad = vec![T::zero(); n];
    f.run(x, inputs, Some(&mut grad))?;
    f.scalar_output(0)?;
    let grad: Vec<f64> = grad.iter().map(|v| v.to_f64_lossless()).collect();
    let mut scratch = vec![T::zero(); n];
    let mut xp: Vec<T> = x.to_vec();
    let mut eval = |xp: &[T], scratch: &mut [T]| -> Result<f64> {
        f.run(xp, inputs, Some(scratch))?;
        Ok(f.scalar_output(0)?.to_f64_lossless())
    };

    // Along a random direction.
    let mut rng = StdRng::seed_from_u64(opts.seed);
    let v: Vec<f64> = (0..n).map(|_| StandardNormal.sample(&mut rng)).collect();
    let scale = x
        .iter()
        .fold(1.0f64, |m, xi| m.max(xi.to_f64_lossless().abs()));
    let h = h0 * scale / v.iter().fold(1e-300f64, |m, vi| m.max(vi.abs()));
    for i in 0..n {
        xp[i] = T::from_f64(x[i].to_f64_lossless() + h * v[i]);
    }
    let fp = eval(&xp, &mut scratch)?;
    for i in 0..n {
        xp[i] = T::from_f64(x[i].to_f64_lossless() - h * v[i]);
    }
    let fm = eval(&xp, &mut scratch)?;
    xp.copy_from_slice(x);
    let dir_numeric = (fp - fm) / (2.0 * h);
    let dir_analytic: f64 = grad.iter().zip(&v).map(|(g, v)| g * v).sum();
    // The directional tolerance scales with the sum of the terms, not their cancelling sum.
    let dir_scale: f64 = grad.iter().zip(&v).map(|(g, v)| (g * v).abs()).sum();
    let mut passed =
        (dir_analytic - dir_numeric).abs() <= atol + rtol * dir_scale.max(dir_numeric.abs());

    // Coordinate by coordinate.
    let coords: Vec<usize> = if n <= opts.max_coords {
        (0..n).collect()
    } else {
        rand::seq::index::sample(&mut rng, n, opts.max_coords).into_vec()
    };
    let mut errs = Vec::with_capacity(coords.len());
    for &i in &coords {
        let xi = x[i].to_f64_lossless();
        let hi = h0 * xi.abs().max(1.0);
        xp[i] = T::from_f64(xi + hi);
        let hp = xp[i].to_f64_lossless() - xi; // the step actually taken after rounding
        let fp = eval(&xp, &mut scratch)?;
        xp[i] = T::from_f64(xi - hi);
        let hm = xi - xp[i].to_f64_lossless();
        let fm = eval(&xp, &mut scratch)?;
        xp[i] = x[i];
        let numeric = (fp - fm) / (hp + hm);
        let analytic = grad[i];
        let abs_err = (analytic - numeric).abs();
        let denom = analytic.abs().max(numeric.abs());
        let rel_err = if denom == 0.0 { 0.0 } else { abs_err / denom };
        passed &= within(analytic, numeric, rtol, atol);
        let (param, at) = layout
            .locate(i)
            .map(|(p, a)| (p.to_string(), a))
            .unwrap_or_default();
        errs.push(CoordError {
            index: i,
            param,
            at,
            analytic,
            numeric,
            abs_err,
            rel_err,
        });
    }
    let badness =
        |c: &CoordError| c.abs_err / (atol + rtol * c.analytic.abs().max(c.numeric.abs()));
    errs.sort_by(|a, b| badness(b).total_cmp(&badness(a)));
    errs.truncate(opts.worst);
    Ok(GradCheckReport {
        directional_analytic: dir_analytic,
        directional_numeric: dir_numeric,
        coords_checked: coords.len(),
        worst: errs,
        passed,
        tolerance: (rtol, atol),
    })
}
