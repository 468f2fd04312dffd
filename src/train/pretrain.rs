//! Greedy layer-wise pre-training: each layer is trained alone on the codes of the layer
//! below, as a shallow autoencoder (mini-batch gradient descent with momentum on its
//! reconstruction cost) or as an RBM (contrastive divergence CD-k, the paper's method).
//! The layers' graphs are built in [`models::shallow`](crate::models::shallow) and
//! [`models::rbm`](crate::models::rbm); here they are compiled and run over the data, and
//! their parameters stepped by `Momentum` (CD's update is a graph whose "gradient" outputs
//! are the negated CD statistics, written into the layer's flat vector).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use std::ops::ControlFlow;

use super::{seed_for, Event};
use crate::data::Dataset;
use crate::models::autoencoder::{Autoencoder, Unit};
use crate::models::rbm::hidden_noise_is_normal;
use crate::models::shallow::Layer;
use crate::optim::{LearningRate, Momentum};
use crate::{dims, Compiler, Error, Graph, ParamLayout, Scalar, TensorRef};

/// The learning rate of a layer with these hidden and visible units: [`PretrainConfig::lr`],
/// or [`PretrainConfig::lr_linear`] for linear hidden units (the code layer); and when the
/// visible units are unbounded (linear or ReLU: real-valued data, or the codes of a linear
/// or ReLU layer below), at most `lr * lr_scale_unbounded_visible`. Such visible units make
/// CD's statistics and the reconstruction's gradient grow with the codes' scale, and at the
/// rate for binary units the layer diverges or its units die (Hinton, "A practical guide to
/// training RBMs", 2010, §13.2: one or two orders of magnitude smaller).
fn layer_lr(cfg: &PretrainConfig, hidden: Unit, visible: Unit) -> f64 {
    let lr = if hidden == Unit::Linear {
        cfg.lr_linear
    } else {
        cfg.lr
    };
    if matches!(visible, Unit::Linear | Unit::Relu) {
        lr.min(cfg.lr * cfg.lr_scale_unbounded_visible)
    } else {
        lr
    }
}

/// How each layer is pre-trained.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PretrainMethod {
    /// A shallow autoencoder with tied weights, by gradient descent with momentum.
    Autoencoder,
    /// A restricted Boltzmann machine by contrastive divergence with `k` Gibbs steps.
    Rbm {
        /// Gibbs steps per update (the paper: 1).
        k: usize,
    },
}

/// Pre-training settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct PretrainConfig {
    /// The method.
    pub method: PretrainMethod,
    /// Epochs per layer.
    pub epochs: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// Learning rate for layers with logistic hidden units.
    pub lr: f64,
    /// Learning rate for a layer with linear hidden units (the code layer).
    pub lr_linear: f64,
    /// For a layer with linear or ReLU visible units, the learning rate is at most
    /// `lr` times this (0.01: Hinton's guide to RBMs asks for one or two orders of magnitude
    /// less than for binary visible units). Checkpoints written before this field read as 0.01.
    #[serde(default = "default_lr_scale_unbounded_visible")]
    pub lr_scale_unbounded_visible: f64,
    /// Momentum schedule: `(first epoch, momentum)`.
    pub momentum: Vec<(usize, f64)>,
    /// L2 weight decay on the weights (not the biases).
    pub weight_decay: f64,
    /// Initial weights: `init_scale * N(0, 1)`; biases start at 0.
    pub init_scale: f64,
    /// Seed.
    pub seed: u64,
}

fn default_lr_scale_unbounded_visible() -> f64 {
    0.01
}

impl PretrainConfig {
    /// The paper's RBM recipe (its released code): CD-1, batches of 100, learning rate 0.1
    /// (0.001 for the linear code layer, and for layers above linear or ReLU units, which
    /// the paper does not have), momentum 0.5 for 5 epochs then 0.9, weight decay
    /// 0.0002, initial weights 0.1 N(0, 1).
    pub fn paper(epochs: usize) -> Self {
        PretrainConfig {
            method: PretrainMethod::Rbm { k: 1 },
            epochs,
            batch: 100,
            lr: 0.1,
            lr_linear: 0.001,
            lr_scale_unbounded_visible: default_lr_scale_unbounded_visible(),
            momentum: vec![(0, 0.5), (5, 0.9)],
            weight_decay: 0.0002,
            init_scale: 0.1,
            seed: 1,
        }
    }

    /// Shallow autoencoders by momentum descent: batches of 100, learning rate 0.1 (0.01
    /// for the linear code layer, 0.001 for layers above linear or ReLU units), momentum 0.5 then 0.9, no weight decay.
    pub fn autoencoder(epochs: usize) -> Self {
        PretrainConfig {
            method: PretrainMethod::Autoencoder,
            lr: 0.1,
            lr_linear: 0.01,
            weight_decay: 0.0,
            ..Self::paper(epochs)
        }
    }
}

/// The parameters of one pre-trained layer: `w` is `[inputs, outputs]` row-major.
#[derive(Clone, Debug, PartialEq)]
pub struct LayerParams<T> {
    /// Weights.
    pub w: Vec<T>,
    /// Hidden biases (the encoder's).
    pub b_hidden: Vec<T>,
    /// Visible biases (the mirrored decoder's).
    pub b_visible: Vec<T>,
}

/// Called after each pre-training epoch with the epoch, its mean reconstruction error (the
/// one the `PretrainEpoch` event reports next), the layer's flat vector and the momentum
/// velocity (for checkpoints, which must hold the error: an interruption at the event that
/// follows would lose it otherwise).
pub type LayerEpochHook<'a, T> = dyn FnMut(usize, f64, &[T], &[T]) -> Result<(), Error> + 'a;

/// Pre-trains the encoder layers of an autoencoder, one after the other.
pub struct Pretrainer<'a, T: Scalar> {
    /// The network.
    pub ae: &'a Autoencoder,
    /// Settings.
    pub cfg: PretrainConfig,
    /// The trained layers so far.
    pub layers: Vec<LayerParams<T>>,
}

impl<'a, T: Scalar> Pretrainer<'a, T> {
    /// A pre-trainer with no layer trained yet.
    pub fn new(ae: &'a Autoencoder, cfg: PretrainConfig) -> Self {
        Pretrainer {
            ae,
            cfg,
            layers: Vec::new(),
        }
    }

    /// The codes of `data` after the layers trained so far (probabilities for logistic
    /// units, no sampling).
    pub fn codes(&self, data: &Dataset<T>) -> Result<Dataset<T>, Error> {
        let mut cur = data.clone();
        for (i, p) in self.layers.iter().enumerate() {
            let layer = Layer::of(self.ae, i);
            let (n_in, n_out) = (layer.n_in, layer.n_out);
            let l = layer.layout();
            let g = Graph::<T>::new();
            let b = g.symbol("batch");
            let x = g.input("X", dims![b, n_in]);
            let h = layer.encode(&g, &l, x);
            let mut f = Compiler::new(&g, &l).inputs(&[x]).output(h).build();
            let flat: Vec<T> =
                p.w.iter()
                    .chain(&p.b_hidden)
                    .chain(&p.b_visible)
                    .copied()
                    .collect();
            let mut out = Vec::with_capacity(cur.n * n_out);
            for k in 0..cur.batches(1000) {
                let (rows, xs) = cur.batch(k, 1000);
                let shape = [rows, n_in];
                f.run(&flat, &[TensorRef::new(&shape, xs)], None)?;
                out.extend_from_slice(f.output(0)?.data);
            }
            cur = Dataset {
                n: cur.n,
                dim: n_out,
                x: out,
                labels: cur.labels.clone(),
            };
        }
        Ok(cur)
    }

    /// Trains the next layer on the codes of the layers below, for `cfg.epochs` epochs (from
    /// epoch `start_epoch`, with `state` the layer's flat vector and momentum velocity when
    /// resuming), calling `on_epoch_end(epoch, error, x, velocity)` after each epoch (for
    /// checkpoints).
    pub fn train_next_layer(
        &mut self,
        data: &Dataset<T>,
        resume: Option<(usize, Vec<T>, Vec<T>)>,
        progress: &mut dyn FnMut(&Event) -> ControlFlow<()>,
        on_epoch_end: &mut LayerEpochHook<'_, T>,
    ) -> Result<(), Error> {
        let i = self.layers.len();
        assert!(
            i < self.ae.depth(),
            "symgrad: every layer is trained already"
        );
        let codes = self.codes(data)?;
        let layer = Layer::of(self.ae, i);
        let (n_in, n_out, hidden, visible) = (layer.n_in, layer.n_out, layer.hidden, layer.visible);
        let layout = layer.layout();
        let cfg = &self.cfg;
        let (mut p, velocity, start) = match resume {
            Some((epoch, x, v)) => (x, v, epoch),
            None => {
                let mut rng = StdRng::seed_from_u64(seed_for(cfg.seed, 1, i as u64, u64::MAX));
                let mut p = vec![T::zero(); layout.len()];
                for v in &mut p[layout.lookup("W")?.range()] {
                    let z: f64 = rng.sample(StandardNormal);
                    *v = T::from_f64(cfg.init_scale * z);
                }
                (p, Vec::new(), 0)
            }
        };
        let lr = layer_lr(cfg, hidden, visible);
        let mut opt = Momentum::<T>::new(LearningRate::Constant(lr), 0.0);
        opt.momentum = cfg.momentum.clone();
        opt.weight_decay = cfg.weight_decay;
        opt.decay_ranges = vec![layout.lookup("W")?.range()];
        opt.velocity = velocity;

        let g = Graph::<T>::new();
        let bs = g.symbol("batch");
        let x = g.input("X", dims![bs, n_in]);
        let noise = g.input("U", dims![bs, n_out]);
        // Both methods take the noise input (the shallow autoencoder leaves it unused), so
        // one loop runs either.
        let mut step = match cfg.method {
            PretrainMethod::Autoencoder => {
                let (cost, err) = layer.autoencoder_cost(&g, &layout, x);
                Compiler::new(&g, &layout)
                    .inputs(&[x, noise])
                    .output(err)
                    .value_and_grad(cost)
                    .build()
            }
            PretrainMethod::Rbm { k } => {
                let cd = layer.contrastive_divergence(&g, &layout, x, noise, k);
                let [gw, gbh, gbv] = cd.gradient;
                Compiler::new(&g, &layout)
                    .inputs(&[x, noise])
                    .output(cd.error)
                    .flat_gradient(&[Some(gw), Some(gbh), Some(gbv)])
                    .build()
            }
        };
        let batches = codes.batches(cfg.batch);
        let mut grad = vec![T::zero(); layout.len()];
        let mut u = vec![T::zero(); cfg.batch * n_out];
        for epoch in start..cfg.epochs {
            let shuffled = codes.shuffled(seed_for(cfg.seed, 2, i as u64, epoch as u64));
            let mut rng = StdRng::seed_from_u64(seed_for(cfg.seed, 3, i as u64, epoch as u64));
            let mut sum = 0.0;
            for b in 0..batches {
                let (rows, xs) = shuffled.batch(b, cfg.batch);
                let noise_data = &mut u[..rows * n_out];
                for v in noise_data.iter_mut() {
                    let r: f64 = if hidden_noise_is_normal(hidden) {
                        rng.sample(StandardNormal)
                    } else {
                        rng.random()
                    };
                    *v = T::from_f64(r);
                }
                let (xshape, ushape) = ([rows, n_in], [rows, n_out]);
                step.run(
                    &p,
                    &[
                        TensorRef::new(&xshape, xs),
                        TensorRef::new(&ushape, noise_data),
                    ],
                    Some(&mut grad),
                )?;
                let err = step.scalar_output(0)?.to_f64_lossless();
                opt.step(&mut p, &grad, epoch);
                sum += err;
                if progress(&Event::PretrainBatch {
                    layer: i,
                    epoch,
                    batch: b,
                    batches,
                    error: err,
                })
                .is_break()
                {
                    return Err(Error::Interrupted);
                }
            }
            // The checkpoint first, so that an interruption reported below loses nothing.
            let error = sum / batches as f64;
            on_epoch_end(epoch, error, &p, &opt.velocity)?;
            if progress(&Event::PretrainEpoch {
                layer: i,
                epoch,
                error,
            })
            .is_break()
            {
                return Err(Error::Interrupted);
            }
        }
        let (rw, rh, rv) = (
            layout.lookup("W")?.range(),
            layout.lookup("b_hidden")?.range(),
            layout.lookup("b_visible")?.range(),
        );
        self.layers.push(LayerParams {
            w: p[rw].to_vec(),
            b_hidden: p[rh].to_vec(),
            b_visible: p[rv].to_vec(),
        });
        Ok(())
    }
}

/// The unrolled network's flat vector from pre-trained layers: encoder layer i gets `W_i`,
/// `b_hidden_i`; the mirrored decoder layer gets `W_i^T` (untied: its own copy) and
/// `b_visible_i`.
pub fn unroll<T: Scalar>(
    ae: &Autoencoder,
    layers: &[LayerParams<T>],
    layout: &ParamLayout,
) -> Result<Vec<T>, Error> {
    let k = ae.depth();
    assert_eq!(
        layers.len(),
        k,
        "symgrad: unroll needs every layer pre-trained"
    );
    let mut x = vec![T::zero(); layout.len()];
    for (i, p) in layers.iter().enumerate() {
        let (n_in, n_out) = (ae.sizes[i], ae.sizes[i + 1]);
        layout
            .view_mut(&mut x, &format!("W{}", i + 1))?
            .copy_from_slice(&p.w);
        layout
            .view_mut(&mut x, &format!("b{}", i + 1))?
            .copy_from_slice(&p.b_hidden);
        let j = 2 * k - i; // the mirror layer, numbered from 1
        if !ae.tied {
            let wt = layout.view_mut(&mut x, &format!("W{j}"))?;
            for r in 0..n_in {
                for c in 0..n_out {
                    wt[c * n_in + r] = p.w[r * n_out + c];
                }
            }
        }
        layout
            .view_mut(&mut x, &format!("b{j}"))?
            .copy_from_slice(&p.b_visible);
    }
    Ok(x)
}
