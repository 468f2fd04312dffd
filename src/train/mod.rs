//! Training the deep autoencoder: greedy layer-wise pre-training (shallow autoencoders or
//! RBMs), unrolling into the deep network, fine-tuning with any minimizer, and PCA as the
//! baseline. Progress is reported through a callback, so the library prints nothing.
//!
//! Randomness is derived from the seed and the position in the schedule (phase, layer,
//! epoch), never carried along, so a run resumed from a checkpoint draws the same numbers as
//! one that was not interrupted.
//!
//! The whole recipe, small (`symgrad train` adds checkpoints, pictures and a report; see
//! [`run`]):
//!
//! ```
//! use std::ops::ControlFlow;
//! use symgrad::data::curves_like;
//! use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
//! use symgrad::train::{
//!     unroll, Event, Finetune, FinetuneConfig, Finetuner, PretrainConfig, Pretrainer,
//! };
//!
//! let (train, test) = (curves_like::<f32>(500, 1), curves_like::<f32>(200, 2));
//! let ae = Autoencoder {
//!     sizes: vec![784, 64, 6],
//!     units: vec![Unit::Logistic, Unit::Linear],
//!     output_unit: Unit::Logistic,
//!     tied: false,
//! };
//! // 1. Pre-train each layer as an RBM on the codes of the layer below.
//! let mut quiet = |_: &Event| ControlFlow::Continue(()); // or a progress bar
//! let mut pre = Pretrainer::<f32>::new(&ae, PretrainConfig::paper(3));
//! for _ in 0..ae.depth() {
//!     pre.train_next_layer(&train, None, &mut quiet, &mut |_, _, _, _| Ok(()))?;
//! }
//! // 2. Unroll the layers into one flat vector x of the deep network's parameters.
//! let mut ft = Finetuner::<f32>::new(&ae, Loss::CrossEntropy);
//! let mut x = unroll(&ae, &pre.layers, &ft.layout)?;
//! let unrolled = ft.error(&x, &test)?;
//! // 3. Fine-tune all layers at once: minimize.m, 3 line searches per mini-batch.
//! let cfg = FinetuneConfig {
//!     method: Finetune::MinimizeM { batch: 100, line_searches: 3 },
//!     epochs: 3,
//!     loss: Loss::CrossEntropy,
//!     seed: 1,
//! };
//! let mut no_checkpoints = |_: &_, _: &_, _: &_| Ok(());
//! let (from_epoch, velocity) = (0, Vec::new()); // where to resume from
//! let epochs =
//!     ft.run(&mut x, &train, &test, &cfg, from_epoch, velocity, &mut quiet, &mut no_checkpoints)?;
//! let tuned = epochs.last().unwrap().test_error;
//! assert!(tuned < unrolled); // 34.0 to 23.0 here; the full recipe: docs/RESULTS.md
//! # Ok::<(), symgrad::Error>(())
//! ```

mod finetune;
mod pca;
pub mod picture;
mod pretrain;
pub mod run;

pub use finetune::{reconstruction_error, EpochRecord, Finetune, FinetuneConfig, Finetuner};
pub use pca::Pca;
// The RBM's sampling lives with its graph in `models::rbm`; the names stay here too.
pub use crate::models::rbm::{hidden_noise_is_normal, hidden_sample};
pub use pretrain::{unroll, LayerParams, PretrainConfig, PretrainMethod, Pretrainer};

/// What a long phase reports as it goes.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    /// A mini-batch of pre-training layer `layer` (from 0) was done.
    PretrainBatch {
        /// Layer.
        layer: usize,
        /// Epoch (from 0).
        epoch: usize,
        /// Batch (from 0).
        batch: usize,
        /// Batches per epoch.
        batches: usize,
        /// The batch's reconstruction error (squared, per example).
        error: f64,
    },
    /// An epoch of pre-training ended.
    PretrainEpoch {
        /// Layer.
        layer: usize,
        /// Epoch (from 0).
        epoch: usize,
        /// Mean reconstruction error over the epoch's batches.
        error: f64,
    },
    /// A mini-batch of fine-tuning was done.
    FinetuneBatch {
        /// Epoch (from 0).
        epoch: usize,
        /// Batch (from 0).
        batch: usize,
        /// Batches per epoch.
        batches: usize,
        /// The training cost on that batch after the step.
        cost: f64,
    },
    /// An epoch of fine-tuning ended, with its errors.
    FinetuneEpoch(EpochRecord),
    /// A phase without batches started (such as fitting PCA), for a spinner.
    Phase(&'static str),
}

/// Seed for one position in the schedule.
pub(crate) fn seed_for(seed: u64, phase: u64, layer: u64, epoch: u64) -> u64 {
    // SplitMix64 finaliser over a mix of the parts: well spread, cheap, stable.
    let mut z = seed
        ^ phase.wrapping_mul(0x9E37_79B9_7F4A_7C15)
        ^ layer.wrapping_mul(0xBF58_476D_1CE4_E5B9)
        ^ epoch.wrapping_mul(0x94D0_49BB_1331_11EB);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
