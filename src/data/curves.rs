//! A "curves-like" data set after Hinton & Salakhutdinov's CURVES: 28 x 28 images of a cubic
//! spline through three random points. The original inking code is not available; this is
//! how this generator inks, so the distribution is only close to the original's:
//!
//! 1. Three points `(x_k, y_k)`: `x_0` uniform in [2, 22], `x_1` in [x_0 + 2, 24], `x_2` in
//!    [x_1 + 2, 26] (each x at least 2 past the previous one), every `y_k` uniform in
//!    [2, 26]; x is the column, y the row, pixel centres at integers.
//! 2. The natural cubic spline `y(x)` through them (second derivative 0 at both ends).
//! 3. The curve is sampled every 0.02 in x and drawn with a round Gaussian pen: a pixel's
//!    intensity is `max over samples of exp(-d^2 / (2 * 0.7^2))`, `d` the distance from the
//!    pixel centre to the sample, so intensities lie in [0, 1] and the stroke is about two
//!    pixels wide. The spline may leave the image; what leaves is not drawn.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::Dataset;
use crate::Scalar;

/// Side of a curves image.
pub const CURVES_SIDE: usize = 28;

const PEN_SIGMA: f64 = 0.7;

/// `n` curves-like images (`[n, 784]`, values in [0, 1]), seeded.
///
/// ```
/// let d = symgrad::data::curves_like::<f32>(3, 1);
/// assert_eq!((d.n, d.dim), (3, 784));
/// assert!(d.x.iter().all(|&v| (0.0..=1.0).contains(&v)));
/// assert_eq!(d, symgrad::data::curves_like::<f32>(3, 1));
/// ```
pub fn curves_like<T: Scalar>(n: usize, seed: u64) -> Dataset<T> {
    curves_like_range(0, n, seed)
}

/// Images `skip .. skip + n` of the sequence that [`curves_like`] draws with `seed`, without
/// inking the first `skip`: their three points are drawn and dropped (six numbers each), so
/// the test set that follows a training set of 20,000 costs no more than its own images.
///
/// ```
/// use symgrad::data::{curves_like, curves_like_range};
/// let all = curves_like::<f64>(5, 3);
/// let tail = curves_like_range::<f64>(3, 2, 3);
/// assert_eq!(tail.x, all.x[3 * 784..]);
/// ```
pub fn curves_like_range<T: Scalar>(skip: usize, n: usize, seed: u64) -> Dataset<T> {
    let mut rng = StdRng::seed_from_u64(seed);
    for _ in 0..skip {
        curve_points(&mut rng);
    }
    let side = CURVES_SIDE;
    let mut x = vec![T::zero(); n * side * side];
    let mut img = vec![0.0f64; side * side];
    for k in 0..n {
        ink(curve_points(&mut rng), &mut img);
        for (o, &v) in x[k * side * side..(k + 1) * side * side]
            .iter_mut()
            .zip(&img)
        {
            *o = T::from_f64(v);
        }
    }
    Dataset {
        n,
        dim: side * side,
        x,
        labels: None,
    }
}

/// Step 1: the three points of one image, `(xs, ys)`: six draws from `rng`, always six.
fn curve_points(rng: &mut StdRng) -> ([f64; 3], [f64; 3]) {
    let x0 = rng.random_range(2.0..=22.0);
    let x1 = rng.random_range(x0 + 2.0..=24.0);
    let x2 = rng.random_range(x1 + 2.0..=26.0);
    let ys: [f64; 3] = std::array::from_fn(|_| rng.random_range(2.0..=26.0));
    ([x0, x1, x2], ys)
}

/// Steps 2 and 3: the spline through the points, drawn with the pen into `img`.
fn ink((xs, ys): ([f64; 3], [f64; 3]), img: &mut [f64]) {
    let side = CURVES_SIDE;
    let [x0, x1, x2] = xs;
    let (h0, h1) = (x1 - x0, x2 - x1);
    let m1 = 3.0 * ((ys[2] - ys[1]) / h1 - (ys[1] - ys[0]) / h0) / (h0 + h1);
    let m = [0.0, m1, 0.0];
    let spline = |t: f64| {
        let i = if t <= x1 { 0 } else { 1 };
        let (xa, xb, h) = (xs[i], xs[i + 1], xs[i + 1] - xs[i]);
        m[i] * (xb - t).powi(3) / (6.0 * h)
            + m[i + 1] * (t - xa).powi(3) / (6.0 * h)
            + (ys[i] / h - m[i] * h / 6.0) * (xb - t)
            + (ys[i + 1] / h - m[i + 1] * h / 6.0) * (t - xa)
    };
    img.iter_mut().for_each(|v| *v = 0.0);
    let mut t = x0;
    while t <= x2 {
        let y = spline(t);
        let (c0, r0) = (t.round() as i64, y.round() as i64);
        for r in r0 - 2..=r0 + 2 {
            for c in c0 - 2..=c0 + 2 {
                if r < 0 || c < 0 || r >= side as i64 || c >= side as i64 {
                    continue;
                }
                let d2 = (c as f64 - t).powi(2) + (r as f64 - y).powi(2);
                let v = (-d2 / (2.0 * PEN_SIGMA * PEN_SIGMA)).exp();
                let p = &mut img[r as usize * side + c as usize];
                *p = p.max(v);
            }
        }
        t += 0.02;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strokes_are_inked_and_images_differ() {
        let d = curves_like::<f64>(50, 7);
        for i in 0..d.n {
            let row = d.row(i);
            let ink: f64 = row.iter().sum();
            // A curve at least 4 pixels long, about 2 pixels wide.
            assert!(ink > 8.0 && ink < 300.0, "image {i}: ink {ink}");
            assert!(row.iter().any(|&v| v > 0.9));
        }
        assert_ne!(d.row(0), d.row(1));
        let mean: f64 = d.x.iter().sum::<f64>() / d.x.len() as f64;
        assert!(mean > 0.02 && mean < 0.3, "mean intensity {mean}");
    }

    /// Catches a range that drifts from the sequence (a skipped image that draws a different
    /// count of numbers than an inked one): the test set of a run would change on `eval`.
    #[test]
    fn a_range_is_the_tail_of_the_whole_sequence() {
        let all = curves_like::<f32>(300, 11);
        for (skip, n) in [(0, 300), (1, 5), (250, 50), (299, 1)] {
            let part = curves_like_range::<f32>(skip, n, 11);
            assert_eq!(
                part.x,
                all.x[skip * 784..(skip + n) * 784],
                "skip {skip}, n {n}"
            );
        }
    }
}
