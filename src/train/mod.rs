//! Training the deep autoencoder: greedy layer-wise pre-training (shallow autoencoders or
//! RBMs), unrolling into the deep network, fine-tuning with any minimizer, and PCA as the
//! baseline. Progress is reported through a callback, so the library prints nothing.
//!
//! Randomness is derived from the seed and the position in the schedule (phase, layer,
//! epoch), never carried along, so a run resumed from a checkpoint draws the same numbers as
//! one that was not interrupted.

mod finetune;
mod pca;
pub mod picture;
mod pretrain;
pub mod run;

pub use finetune::{reconstruction_error, EpochRecord, Finetune, FinetuneConfig, Finetuner};
pub use pca::Pca;
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
