//! The deep autoencoder of Hinton & Salakhutdinov (2006): layer sizes, unit types, a mirrored
//! decoder, and its cost, built with the public graph API only.

use rand::rngs::StdRng;
use rand::SeedableRng;
use rand_distr::{Distribution, Normal};
use serde::{Deserialize, Serialize};

use crate::graph::{Dim, Expr, Graph};
use crate::params::ParamLayout;
use crate::Scalar;

/// The nonlinearity of a layer's output units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
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
    /// The unit called `name` (`logistic`, `linear`, `relu`, `tanh`).
    pub fn from_name(name: &str) -> Option<Unit> {
        match name {
            "logistic" | "sigmoid" => Some(Unit::Logistic),
            "linear" | "gaussian" => Some(Unit::Linear),
            "relu" => Some(Unit::Relu),
            "tanh" => Some(Unit::Tanh),
            _ => None,
        }
    }

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

/// How a reconstruction is scored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Loss {
    /// Cross-entropy of logistic outputs, from the logits: `softplus(z) - x z` summed over
    /// pixels (equal to `-[x log y + (1 - x) log(1 - y)]` with `y = sigmoid(z)`, but finite
    /// for any z), averaged over the batch.
    CrossEntropy,
    /// Squared error summed over pixels, averaged over the batch (for linear, "Gaussian"
    /// visible units).
    SquaredError,
}

/// A deep autoencoder: encoder sizes `sizes[0] -> ... -> sizes[k]`, the decoder mirrors it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Autoencoder {
    /// Layer sizes of the encoder, input first, code last.
    pub sizes: Vec<usize>,
    /// Units of each encoder layer's output (`sizes.len() - 1` entries); the decoder's
    /// layers use the mirrored units, and the output layer `output_unit`.
    pub units: Vec<Unit>,
    /// Units of the reconstruction (`Linear` for Gaussian visible units).
    pub output_unit: Unit,
    /// Decoder layer `j` uses the transpose of encoder layer `2k + 1 - j`'s weights (the
    /// paper's networks are untied: the decoder has its own copies).
    pub tied: bool,
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
    ///
    /// ```
    /// use symgrad::models::autoencoder::Autoencoder;
    /// let ae = Autoencoder::mnist();
    /// assert_eq!(ae.layout().len(), 2_837_314);
    /// assert_eq!(ae.layers().len(), 8); // unrolled: 4 encoder, 4 decoder layers
    /// ```
    pub fn mnist() -> Self {
        Autoencoder {
            sizes: vec![784, 1000, 500, 250, 30],
            units: vec![Unit::Logistic, Unit::Logistic, Unit::Logistic, Unit::Linear],
            output_unit: Unit::Logistic,
            tied: false,
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
            tied: false,
        }
    }

    /// Whether the network holds together: at least two layer sizes, none zero, one unit
    /// type per encoder layer, and a parameter count that fits in memory's address range.
    /// Networks read from files are checked with it before anything is built from them.
    ///
    /// ```
    /// use symgrad::models::autoencoder::{Autoencoder, Unit};
    /// assert!(Autoencoder::mnist().check().is_ok());
    /// let one_layer = Autoencoder { sizes: vec![784], units: vec![], output_unit: Unit::Logistic, tied: false };
    /// assert!(one_layer.check().unwrap_err().contains("at least 2 layer sizes"));
    /// ```
    pub fn check(&self) -> Result<(), String> {
        if self.sizes.len() < 2 {
            return Err(format!(
                "the network needs at least 2 layer sizes, got {:?}",
                self.sizes
            ));
        }
        if self.sizes.contains(&0) {
            return Err(format!(
                "layer sizes must be positive, got {:?}",
                self.sizes
            ));
        }
        if self.units.len() != self.sizes.len() - 1 {
            return Err(format!(
                "{} layer sizes need {} unit types, got {}",
                self.sizes.len(),
                self.sizes.len() - 1,
                self.units.len()
            ));
        }
        if self.parameter_count().is_none() {
            return Err(format!(
                "layer sizes {:?} have more parameters than fit in memory",
                self.sizes
            ));
        }
        Ok(())
    }

    /// The number of parameters (weights and biases of the unrolled network), or `None` if it
    /// overflows.
    pub fn parameter_count(&self) -> Option<usize> {
        let mut n = 0usize;
        for w in self.sizes.windows(2) {
            let weights = w[0].checked_mul(w[1])?;
            let copies = if self.tied { 1 } else { 2 };
            n = n
                .checked_add(weights.checked_mul(copies)?)?
                .checked_add(w[0])?
                .checked_add(w[1])?;
        }
        Some(n)
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

    /// The flat layout: `W1, b1, ..., W{2k}, b{2k}`, each `Wi` of shape `[inputs, outputs]`;
    /// when tied, the decoder layers have biases only (`b{k+1} ... b{2k}`).
    ///
    /// ```
    /// use symgrad::models::autoencoder::Autoencoder;
    /// let mut ae = Autoencoder::mnist();
    /// ae.sizes = vec![4, 3, 2];
    /// let l = ae.layout();
    /// let names: Vec<&str> = l.entries().iter().map(|e| e.name.as_str()).collect();
    /// assert_eq!(names, ["W1", "b1", "W2", "b2", "W3", "b3", "W4", "b4"]);
    /// // the decoder mirrors the encoder
    /// assert_eq!(l.lookup("W3").unwrap().shape.as_slice(), &[2, 3]);
    /// ae.tied = true;
    /// assert_eq!(ae.layout().len(), l.len() - 4 * 3 - 3 * 2); // no decoder weights
    /// ```
    pub fn layout(&self) -> ParamLayout {
        let k = self.depth();
        let mut l = ParamLayout::new();
        for (i, (n_in, n_out, _)) in self.layers().into_iter().enumerate() {
            if !self.tied || i < k {
                l.add(&format!("W{}", i + 1), &[n_in, n_out]);
            }
            l.add(&format!("b{}", i + 1), &[n_out]);
        }
        l
    }

    /// The weight matrix of layer `i` (from 0) as used in the forward pass: its own, or, for
    /// a tied decoder layer, the transpose of its mirror's.
    fn weight<'g, T: Scalar>(
        &self,
        g: &'g Graph<T>,
        layout: &ParamLayout,
        i: usize,
    ) -> (Expr<'g, T>, bool) {
        let k = self.depth();
        if self.tied && i >= k {
            (g.param(layout, &format!("W{}", 2 * k - i)), true)
        } else {
            (g.param(layout, &format!("W{}", i + 1)), false)
        }
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
    ///
    /// ```
    /// use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
    /// use symgrad::{dims, Compiler, Graph, TensorRef};
    /// let ae = Autoencoder {
    ///     sizes: vec![4, 3, 2],
    ///     units: vec![Unit::Logistic, Unit::Linear],
    ///     output_unit: Unit::Logistic,
    ///     tied: false,
    /// };
    /// let layout = ae.layout();
    /// let g = Graph::<f64>::new();
    /// let batch = g.symbol("batch");
    /// let x = g.input("X", dims![batch, 4]);
    /// let net = ae.forward(&g, &layout, x);
    /// assert_eq!(g.fmt_shape(&net.code.shape()), "[batch, 2]");
    /// let cost = ae.cost(Loss::CrossEntropy, x, &net);
    /// let mut f = Compiler::new(&g, &layout)
    ///     .inputs(&[x])
    ///     .value_and_grad(cost)
    ///     .output(net.code)
    ///     .build();
    /// let params = ae.init::<f64>(&layout, 0.1, 1);
    /// let mut grad = vec![0.0; layout.len()];
    /// let data = [0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75, 0.5];
    /// let f0 = f.value_and_grad(&params, &[TensorRef::new(&[2, 4], &data)], &mut grad)?;
    /// assert!(f0 > 0.0 && grad.iter().any(|&v| v != 0.0));
    /// assert_eq!(f.output(1)?.shape, &[2, 2]); // the codes
    /// # Ok::<(), symgrad::Error>(())
    /// ```
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
            let (w, transposed) = self.weight(g, layout, i);
            let b = g.param(layout, &format!("b{}", i + 1));
            logits = h.matmul_t(w, false, transposed) + b;
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

    /// The training cost of a reconstruction with logits `z` of the data `x`.
    ///
    /// # Panics
    /// If `loss` is cross-entropy and the output units are not logistic.
    pub fn cost<'g, T: Scalar>(
        &self,
        loss: Loss,
        x: Expr<'g, T>,
        f: &Forward<'g, T>,
    ) -> Expr<'g, T> {
        match loss {
            Loss::CrossEntropy => {
                assert_eq!(
                    self.output_unit,
                    Unit::Logistic,
                    "symgrad: cross-entropy needs logistic output units"
                );
                Self::cross_entropy_logits(x, f.logits)
            }
            Loss::SquaredError => Self::squared_error(x, f.output),
        }
    }

    /// The cross-entropy of logistic units from their logits `z`, for the data `x`:
    /// `softplus(z) - x z` summed over pixels and averaged over the batch. Equal to
    /// [`Autoencoder::cross_entropy`] of `sigmoid(z)`, but finite for any z; the fine-tuning
    /// cost ([`Loss::CrossEntropy`]) and the shallow autoencoders' pre-training cost.
    pub fn cross_entropy_logits<'g, T: Scalar>(x: Expr<'g, T>, z: Expr<'g, T>) -> Expr<'g, T> {
        (z.softplus() - x * z).sum(&[1], false).mean_all()
    }

    /// The paper's fine-tuning cost written literally: the cross-entropy of the logistic
    /// reconstruction `y`, summed over pixels and averaged over the batch,
    /// `-mean_n sum_i [x log y + (1 - x) log(1 - y)]`.
    pub fn cross_entropy<'g, T: Scalar>(x: Expr<'g, T>, y: Expr<'g, T>) -> Expr<'g, T> {
        -(x * y.log() + (1.0 - x) * (1.0 - y).log())
            .sum(&[1], false)
            .mean_all()
    }

    /// Workload W, the benchmark of docs/PERFORMANCE.md: this network's input `X` of shape
    /// `[batch, d]` (`batch` symbolic) and its cross-entropy written literally,
    /// `-mean(sum(x·log y + (1-x)·log(1-y)))`, for the compiler's rewrites to make stable.
    /// Returns (X, cost).
    ///
    /// ```
    /// use symgrad::models::autoencoder::Autoencoder;
    /// use symgrad::Graph;
    /// let ae = Autoencoder::mnist();
    /// let layout = ae.layout();
    /// let g = Graph::<f32>::new();
    /// let (x, cost) = ae.literal_cost(&g, &layout);
    /// assert_eq!((x.rank(), cost.rank()), (2, 0));
    /// ```
    pub fn literal_cost<'g, T: Scalar>(
        &self,
        g: &'g Graph<T>,
        layout: &ParamLayout,
    ) -> (Expr<'g, T>, Expr<'g, T>) {
        let n = g.symbol("batch");
        let x = g.input("X", [Dim::Sym(n), Dim::Fixed(self.sizes[0])]);
        let cost = Self::cross_entropy(x, self.forward(g, layout, x).output);
        (x, cost)
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
        let tied = Autoencoder {
            tied: true,
            ..Autoencoder::mnist()
        };
        assert_eq!(
            tied.layout().len(),
            784 * 1000
                + 1000 * 500
                + 500 * 250
                + 250 * 30
                + 1000
                + 500
                + 250
                + 30
                + 250
                + 500
                + 1000
                + 784
        );
    }

    #[test]
    fn stable_cross_entropy_equals_the_literal_form_and_stays_finite() {
        use crate::{dims, Compiler, TensorRef};
        let ae = Autoencoder {
            sizes: vec![6, 3],
            units: vec![Unit::Linear],
            output_unit: Unit::Logistic,
            tied: true,
        };
        let layout = ae.layout();
        let g = Graph::<f64>::new();
        let x = g.input("x", dims![2, 6]);
        let f = ae.forward(&g, &layout, x);
        let stable = ae.cost(Loss::CrossEntropy, x, &f);
        let literal = Autoencoder::cross_entropy(x, f.output);
        let mut fun = Compiler::new(&g, &layout)
            .inputs(&[x])
            .output(stable)
            .output(literal)
            .build();
        // Compiled as built, with no rewrites: the literal form as written.
        let mut as_built = Compiler::new(&g, &layout)
            .inputs(&[x])
            .output(literal)
            .options(crate::compile::Options::literal())
            .build();
        let data = [0.0, 0.2, 0.5, 0.9, 1.0, 0.3, 1.0, 0.0, 0.1, 0.7, 0.4, 0.6];
        let mut p: Vec<f64> = (0..layout.len())
            .map(|i| ((i * 7 % 5) as f64 - 2.0) * 0.3)
            .collect();
        fun.run(&p, &[TensorRef::new(&[2, 6], &data)], None)
            .unwrap();
        let (a, b) = (fun.scalar_output(0).unwrap(), fun.scalar_output(1).unwrap());
        assert!((a - b).abs() < 1e-12 * a.abs(), "{a} vs {b}");
        // Huge weights: logits of +-1000s. The literal form as built overflows to infinity;
        // the stable one does not, and neither does the literal one once the stability rules
        // have rewritten it into the stable form.
        p.iter_mut().for_each(|v| *v *= 3000.0);
        fun.run(&p, &[TensorRef::new(&[2, 6], &data)], None)
            .unwrap();
        let (a, b) = (fun.scalar_output(0).unwrap(), fun.scalar_output(1).unwrap());
        assert!(
            a.is_finite() && (a - b).abs() <= 1e-12 * a.abs(),
            "{a} vs {b}"
        );
        as_built
            .run(&p, &[TensorRef::new(&[2, 6], &data)], None)
            .unwrap();
        assert!(!as_built.scalar_output(0).unwrap().is_finite());
    }
}
