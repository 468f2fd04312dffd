//! An encoder layer as a restricted Boltzmann machine: sampled states of its hidden units,
//! and its contrastive-divergence update (CD-k) as a graph. The update is not a gradient,
//! but the compiler's `flat_gradient` writes any expressions into the parameters' ranges, so
//! the negated CD statistics are compiled like a gradient and stepped like one; the sampling
//! noise is an input array.

use super::autoencoder::{Autoencoder, Unit};
use super::shallow::Layer;
use crate::graph::{Expr, Graph};
use crate::params::ParamLayout;
use crate::Scalar;

/// A sampled state of RBM hidden units from their pre-activations `a`, given noise `u`
/// (uniform on [0, 1) or standard normal, as [`hidden_noise_is_normal`] says): binary
/// `[sigmoid(a) > u]` for logistic units; `±1` with P(+1) = (1 + tanh a) / 2, whose mean is
/// `tanh a`, for tanh units; `a + u` for linear (Gaussian) units; and for ReLU units the noisy
/// rectified linear unit of Nair & Hinton (2010), `max(0, a + u·sqrt(sigmoid a))`.
///
/// ```
/// use symgrad::models::autoencoder::Unit;
/// use symgrad::models::rbm::hidden_sample;
/// use symgrad::{Graph, Tensor};
/// let g = Graph::<f64>::new();
/// let a = g.constant(Tensor::from_vec([3], vec![-2.0, 0.0, 2.0]));
/// let u = g.constant(Tensor::from_vec([3], vec![0.5, 0.4, 0.99]));
/// // tanh: P(+1) = 0.018, 0.5, 0.982 against u.
/// let h = hidden_sample(Unit::Tanh, a, u).eval(&[])?;
/// assert_eq!(h.data(), &[-1.0, 1.0, -1.0]);
/// # Ok::<(), symgrad::Error>(())
/// ```
pub fn hidden_sample<'g, T: Scalar>(unit: Unit, a: Expr<'g, T>, u: Expr<'g, T>) -> Expr<'g, T> {
    match unit {
        Unit::Logistic => a.sigmoid().gt(u),
        Unit::Tanh => ((a.tanh() + 1.0) * 0.5).gt(u) * 2.0 - 1.0,
        Unit::Linear => a + u,
        Unit::Relu => (a + u * a.sigmoid().sqrt()).relu(),
    }
}

/// Whether [`hidden_sample`] takes standard normal noise for these units (linear and ReLU)
/// rather than uniform noise on [0, 1) (logistic and tanh).
pub fn hidden_noise_is_normal(unit: Unit) -> bool {
    matches!(unit, Unit::Linear | Unit::Relu)
}

/// The graph of one contrastive-divergence update of a layer.
pub struct Cd<'g, T: Scalar> {
    /// The negated CD statistics of `W`, `b_hidden` and `b_visible`, in the layout's order:
    /// what a descent step follows, as it would a gradient (for `flat_gradient`).
    pub gradient: [Expr<'g, T>; 3],
    /// The squared error of the negative phase's visible units against the data, summed
    /// over units and averaged over the batch ([`Autoencoder::squared_error`]).
    pub error: Expr<'g, T>,
}

impl Layer {
    /// The layer as an RBM: CD-k on the data `x` (`[batch, n_in]`) with the sampling noise
    /// `noise` (`[batch, n_out]`, drawn as [`hidden_noise_is_normal`] says). The positive
    /// phase takes the hidden units' means and states sampled from their pre-activations
    /// ([`hidden_sample`]); the visible units are reconstructed as means. Further Gibbs steps
    /// (`k > 1`) reuse the same noise, a variant of CD-k.
    pub fn contrastive_divergence<'g, T: Scalar>(
        &self,
        g: &'g Graph<T>,
        layout: &ParamLayout,
        x: Expr<'g, T>,
        noise: Expr<'g, T>,
        k: usize,
    ) -> Cd<'g, T> {
        let (w, bh, bv) = self.params(g, layout);
        let (hidden, visible) = (self.hidden, self.visible);
        let a_pos = x.matmul(w) + bh;
        let pos = hidden.apply(a_pos);
        let mut hs = hidden_sample(hidden, a_pos, noise);
        let mut neg_v = visible.apply(hs.matmul_t(w, false, true) + bv);
        let mut a_neg = neg_v.matmul(w) + bh;
        for _ in 1..k.max(1) {
            hs = hidden_sample(hidden, a_neg, noise);
            neg_v = visible.apply(hs.matmul_t(w, false, true) + bv);
            a_neg = neg_v.matmul(w) + bh;
        }
        let neg_h = hidden.apply(a_neg);
        let n = x.numel(&[0]);
        let gw = -(x.matmul_t(pos, true, false) - neg_v.matmul_t(neg_h, true, false)) / n;
        let gbh = -(pos.sum(&[0], false) - neg_h.sum(&[0], false)) / n;
        let gbv = -(x.sum(&[0], false) - neg_v.sum(&[0], false)) / n;
        Cd {
            gradient: [gw, gbh, gbv],
            error: Autoencoder::squared_error(x, neg_v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Graph, Tensor};

    /// Each unit type's sampled states, over noise at the evenly spaced quantiles of its
    /// distribution: their mean is the unit's output (ReLU's: the noisy rectifier's mean,
    /// above max(0, a)), and their values are the unit's states.
    ///
    /// Mistake caught: a sampler without its noise (a noiseless ReLU or linear unit, whose
    /// mean is max(0, a) or a; the old tolerance of 0.35 on ReLU passed one) or with noise
    /// of the wrong scale.
    #[test]
    fn hidden_samples_have_the_units_states_and_means() {
        let n = 2000;
        for &a0 in &[-1.5f64, -0.2, 0.0, 0.7, 2.5] {
            for unit in [Unit::Logistic, Unit::Tanh, Unit::Linear, Unit::Relu] {
                // Quantiles of U(0, 1); for the units that take normal noise, of a logistic
                // distribution with mean 0 and variance 1 (symmetric like the normal, which
                // is all these means need).
                let u: Vec<f64> = (0..n)
                    .map(|i| {
                        let q = (i as f64 + 0.5) / n as f64;
                        if hidden_noise_is_normal(unit) {
                            (q / (1.0 - q)).ln() * 3f64.sqrt() / std::f64::consts::PI
                        } else {
                            q
                        }
                    })
                    .collect();
                let g = Graph::<f64>::new();
                let a = g.constant(Tensor::from_vec([n], vec![a0; n]));
                let noise = g.constant(Tensor::from_vec([n], u));
                let h = hidden_sample(unit, a, noise).eval(&[]).unwrap();
                let mean = h.data().iter().sum::<f64>() / n as f64;
                let states_ok = h.data().iter().all(|&v| match unit {
                    Unit::Logistic => v == 0.0 || v == 1.0,
                    Unit::Tanh => v == -1.0 || v == 1.0,
                    Unit::Linear => v.is_finite(),
                    Unit::Relu => v >= 0.0,
                });
                assert!(states_ok, "{unit:?} at {a0}");
                // The noise's logistic scale (variance 1) and the rectifier's noise scale.
                let b = 3f64.sqrt() / std::f64::consts::PI;
                let s = (1.0 / (1.0 + (-a0).exp())).sqrt();
                let (want, tol) = match unit {
                    Unit::Logistic => (1.0 / (1.0 + (-a0).exp()), 2.0 / n as f64),
                    Unit::Tanh => (a0.tanh(), 4.0 / n as f64),
                    Unit::Linear => (a0, 1e-9),
                    // max(0, a + s L) with L logistic of scale b has the mean
                    // s b ln(1 + exp(a / (s b))): 0.27 above max(0, a) at a = 0, 0.13 at
                    // a = -1.5, so a noiseless rectifier (or noise of another scale) fails.
                    Unit::Relu => (s * b * (a0 / (s * b)).exp().ln_1p(), 2e-3),
                };
                assert!(
                    (mean - want).abs() <= tol,
                    "{unit:?} at {a0}: mean {mean}, want {want}"
                );
                // The linear unit's samples spread as its unit-variance noise does (its mean
                // alone would pass without noise).
                if unit == Unit::Linear {
                    let var = h.data().iter().map(|v| (v - a0).powi(2)).sum::<f64>() / n as f64;
                    assert!((var - 1.0).abs() < 0.02, "linear at {a0}: variance {var}");
                }
            }
        }
    }
}
