//! One encoder layer of the deep autoencoder on its own, as greedy pre-training trains it:
//! its parameters (`W`, `b_hidden`, `b_visible`), its encoder, and its cost as a shallow
//! autoencoder with tied weights. Its contrastive-divergence update as an RBM is in
//! [`rbm`](super::rbm).

use super::autoencoder::{Autoencoder, Unit};
use crate::graph::{Expr, Graph};
use crate::params::ParamLayout;
use crate::Scalar;

/// Encoder layer `i` of a deep autoencoder trained alone: `n_in` visible units below,
/// `n_out` hidden units above, with weights `W` (`[n_in, n_out]`) shared by the encoder and
/// the mirrored decoder, and a bias for each side.
///
/// ```
/// use symgrad::models::autoencoder::{Autoencoder, Unit};
/// use symgrad::models::shallow::Layer;
/// let ae = Autoencoder::mnist();
/// let top = Layer::of(&ae, 3); // 250 logistic units -> a linear code of 30
/// assert_eq!((top.n_in, top.n_out, top.hidden, top.visible), (250, 30, Unit::Linear, Unit::Logistic));
/// assert_eq!(top.layout().len(), 250 * 30 + 30 + 250);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Layer {
    /// Visible units.
    pub n_in: usize,
    /// Hidden units.
    pub n_out: usize,
    /// The hidden units' type: the encoder layer's.
    pub hidden: Unit,
    /// The visible units' type: the data's (the network's output units) for the first
    /// layer, the units of the layer below for the others.
    pub visible: Unit,
}

impl Layer {
    /// Encoder layer `i` (from 0) of `ae`.
    ///
    /// # Panics
    /// If `ae` has no layer `i`.
    pub fn of(ae: &Autoencoder, i: usize) -> Layer {
        Layer {
            n_in: ae.sizes[i],
            n_out: ae.sizes[i + 1],
            hidden: ae.units[i],
            visible: if i == 0 {
                ae.output_unit
            } else {
                ae.units[i - 1]
            },
        }
    }

    /// The flat layout: `W` (`[n_in, n_out]`), `b_hidden` (`[n_out]`), `b_visible`
    /// (`[n_in]`).
    pub fn layout(&self) -> ParamLayout {
        let mut l = ParamLayout::new();
        l.add("W", &[self.n_in, self.n_out]);
        l.add("b_hidden", &[self.n_out]);
        l.add("b_visible", &[self.n_in]);
        l
    }

    /// The nodes of `W`, `b_hidden` and `b_visible` in `g`.
    pub(crate) fn params<'g, T: Scalar>(
        &self,
        g: &'g Graph<T>,
        layout: &ParamLayout,
    ) -> (Expr<'g, T>, Expr<'g, T>, Expr<'g, T>) {
        (
            g.param(layout, "W"),
            g.param(layout, "b_hidden"),
            g.param(layout, "b_visible"),
        )
    }

    /// The hidden units' values for the visible values `x` (`[batch, n_in]`):
    /// `hidden(x W + b_hidden)`, means rather than samples.
    pub fn encode<'g, T: Scalar>(
        &self,
        g: &'g Graph<T>,
        layout: &ParamLayout,
        x: Expr<'g, T>,
    ) -> Expr<'g, T> {
        self.hidden
            .apply(x.matmul(g.param(layout, "W")) + g.param(layout, "b_hidden"))
    }

    /// The layer as a shallow autoencoder with tied weights on the data `x`
    /// (`[batch, n_in]`): `h = hidden(x W + b_hidden)`, reconstruction logits
    /// `z = h W^T + b_visible`. Returns its training cost, the cross-entropy from the logits
    /// for logistic visible units ([`Autoencoder::cross_entropy_logits`]) and the squared
    /// error of `visible(z)` for the others, and the squared reconstruction error
    /// ([`Autoencoder::squared_error`]), which pre-training reports.
    ///
    /// ```
    /// use symgrad::models::autoencoder::{Autoencoder, Unit};
    /// use symgrad::models::shallow::Layer;
    /// use symgrad::{dims, Compiler, Graph, TensorRef};
    /// let layer = Layer { n_in: 4, n_out: 2, hidden: Unit::Logistic, visible: Unit::Logistic };
    /// let layout = layer.layout();
    /// let g = Graph::<f64>::new();
    /// let x = g.input("X", dims![3, 4]);
    /// let (cost, error) = layer.autoencoder_cost(&g, &layout, x);
    /// let mut f = Compiler::new(&g, &layout).inputs(&[x]).output(error).value_and_grad(cost).build();
    /// let mut grad = vec![0.0; layout.len()];
    /// let data = [0.0, 1.0, 0.5, 0.25, 1.0, 0.0, 0.75, 0.5, 0.1, 0.2, 0.3, 0.4];
    /// f.value_and_grad(&vec![0.0; layout.len()], &[TensorRef::new(&[3, 4], &data)], &mut grad)?;
    /// // All weights 0: every reconstruction is sigmoid(0) = 0.5.
    /// let want = data.iter().map(|v| (v - 0.5) * (v - 0.5)).sum::<f64>() / 3.0;
    /// assert!((f.scalar_output(0)? - want).abs() < 1e-12);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn autoencoder_cost<'g, T: Scalar>(
        &self,
        g: &'g Graph<T>,
        layout: &ParamLayout,
        x: Expr<'g, T>,
    ) -> (Expr<'g, T>, Expr<'g, T>) {
        let (w, bh, bv) = self.params(g, layout);
        let visible = self.visible;
        let h = self.hidden.apply(x.matmul(w) + bh);
        let z = h.matmul_t(w, false, true) + bv;
        let cost = match visible {
            Unit::Logistic => Autoencoder::cross_entropy_logits(x, z),
            _ => Autoencoder::squared_error(x, visible.apply(z)),
        };
        let err = Autoencoder::squared_error(x, visible.apply(z));
        (cost, err)
    }
}
