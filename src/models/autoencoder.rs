//! The deep autoencoder of Hinton & Salakhutdinov (2006): layer sizes, unit types, a mirrored
//! decoder, and its cost, built with the public graph API only.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};

use crate::graph::{Expr, Graph};
use crate::params::ParamLayout;
use crate::Scalar;

/// The nonlinearity of a layer's output units.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unit {
    /// `sigmoid(a)`.
    Logistic,
    /// `a` (the code layer of the paper's networks).
    Linear,
    /// `max(a, 0)`.
    Relu,
    /// `tanh(a)`.
    Tanh,
}

impl Unit {
    /// Applies the unit's nonlinearity.
    pub fn apply<'g, T: Scalar>(self, a: Expr<'g, T>) -> Expr<'g, T> {
        match self {
            Unit::Logistic => a.sigmoid(),
            Unit::Linear => a,
            Unit::Relu => a.relu(),
            Unit::Tanh => a.tanh(),
        }
    }
}

/// A deep autoencoder: encoder sizes `sizes[0] -> ... -> sizes[k]`, the decoder mirrors it.
#[derive(Clone, Debug, PartialEq)]
pub struct Autoencoder {
    /// Layer sizes of the encoder, input first, code last.
    pub sizes: Vec<usize>,
    /// Units of each encoder layer's output (`sizes.len() - 1` entries); the decoder's
    /// layers use the mirrored units, and the output layer `output_unit`.
    pub units: Vec<Unit>,
    /// Units of the reconstruction.
    pub output_unit: Unit,
}

/// The nodes of an autoencoder applied to an input.
pub struct Forward<'g, T: Scalar> {
    /// The code (output of the last encoder layer).
    pub code: Expr<'g, T>,
    /// The reconstruction's pre-activation.
    pub logits: Expr<'g, T>,
    /// The reconstruction.
    pub output: Expr<'g, T>,
}

impl Autoencoder {
    /// The paper's MNIST network, 784-1000-500-250-30: logistic units, a linear 30-unit code,
    /// logistic outputs (2,837,314 parameters, untied).
    pub fn mnist() -> Self {
        Autoencoder {
            sizes: vec![784, 1000, 500, 250, 30],
            units: vec![Unit::Logistic, Unit::Logistic, Unit::Logistic, Unit::Linear],
            output_unit: Unit::Logistic,
        }
    }

    /// The paper's CURVES network, 784-400-200-100-50-25-6 (842,340 parameters, untied).
    pub fn curves() -> Self {
        Autoencoder {
            sizes: vec![784, 400, 200, 100, 50, 25, 6],
            units: vec![
                Unit::Logistic,
                Unit::Logistic,
                Unit::Logistic,
                Unit::Logistic,
                Unit::Logistic,
                Unit::Linear,
            ],
            output_unit: Unit::Logistic,
        }
    }

    /// Number of encoder layers.
    pub fn depth(&self) -> usize {
        self.sizes.len() - 1
    }

    /// `(inputs, outputs, unit)` of each of the `2 * depth` layers of the unrolled network.
    pub fn layers(&self) -> Vec<(usize, usize, Unit)> {
        let k = self.depth();
        let mut v: Vec<(usize, usize, Unit)> = (0..k)
            .map(|i| (self.sizes[i], self.sizes[i + 1], self.units[i]))
            .collect();
        for i in (0..k).rev() {
            let unit = if i == 0 {
                self.output_unit
            } else {
                self.units[i - 1]
            };
            v.push((self.sizes[i + 1], self.sizes[i], unit));
        }
        v
    }

    /// The flat layout: `W1, b1, ..., W{2k}, b{2k}`, each `Wi` of shape `[inputs, outputs]`.
    pub fn layout(&self) -> ParamLayout {
        let mut l = ParamLayout::new();
        for (i, (n_in, n_out, _)) in self.layers().into_iter().enumerate() {
            l.add(&format!("W{}", i + 1), &[n_in, n_out]);
            l.add(&format!("b{}", i + 1), &[n_out]);
        }
        l
    }

    /// Random initial parameters: weights `scale * N(0, 1)`, biases 0 (the paper's
    /// initialisation of RBM weights, with `scale = 0.1`).
    pub fn init<T: Scalar>(&self, layout: &ParamLayout, scale: f64, seed: u64) -> Vec<T> {
        let mut rng = StdRng::seed_from_u64(seed);
        let normal = Normal::new(0.0, scale).expect("finite scale");
        let mut x = vec![T::zero(); layout.len()];
        for e in layout.entries() {
            if e.name.starts_with('W') {
                for v in &mut x[e.range()] {
                    *v = T::from_f64(normal.sample(&mut rng));
                }
            }
        }
        x
    }

    /// Applies the unrolled network to `x` (shape `[batch, sizes[0]]`).
    pub fn forward<'g, T: Scalar>(
        &self,
        g: &'g Graph<T>,
        layout: &ParamLayout,
        x: Expr<'g, T>,
    ) -> Forward<'g, T> {
        let k = self.depth();
        let mut h = x;
        let mut code = x;
        let mut logits = x;
        for (i, (_, _, unit)) in self.layers().into_iter().enumerate() {
            let w = g.param(layout, &format!("W{}", i + 1));
            let b = g.param(layout, &format!("b{}", i + 1));
            logits = h.matmul(w) + b;
            h = unit.apply(logits);
            if i + 1 == k {
                code = h;
            }
        }
        Forward {
            code,
            logits,
            output: h,
        }
    }

    /// The paper's fine-tuning cost written literally: the cross-entropy of the logistic
    /// reconstruction `y`, summed over pixels and averaged over the batch,
    /// `-mean_n sum_i [x log y + (1 - x) log(1 - y)]`.
    pub fn cross_entropy<'g, T: Scalar>(x: Expr<'g, T>, y: Expr<'g, T>) -> Expr<'g, T> {
        -(x * y.log() + (1.0 - x) * (1.0 - y).log())
            .sum(&[1], false)
            .mean_all()
    }

    /// Squared reconstruction error summed over pixels and averaged over the batch (the
    /// paper's error metric).
    pub fn squared_error<'g, T: Scalar>(x: Expr<'g, T>, y: Expr<'g, T>) -> Expr<'g, T> {
        (x - y).square().sum(&[1], false).mean_all()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameter_counts_match_the_paper() {
        assert_eq!(Autoencoder::mnist().layout().len(), 2_837_314);
        assert_eq!(Autoencoder::curves().layout().len(), 842_340);
    }
}
