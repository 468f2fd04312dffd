//! Fine-tuning the unrolled network: all layers at once, by any minimizer, on the whole
//! parameter vector x; train and test errors after every epoch in the paper's metric (the
//! squared reconstruction error summed over pixels, averaged over images).

use std::ops::ControlFlow;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::{seed_for, Event};
use crate::data::Dataset;
use crate::models::autoencoder::{Autoencoder, Loss};
use crate::optim::{
    minimize_m, Budget, CompiledObjective, Lbfgs, LearningRate, Momentum, Stop, StopReason,
};
use crate::{dims, Compiler, Error, Function, Graph, ParamLayout, Scalar, TensorRef};

/// The fine-tuning scheme.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Finetune {
    /// The paper's: each epoch walks the shuffled training set in mini-batches, running
    /// `minimize.m` for `line_searches` line searches on each, afresh (no CG memory kept).
    MinimizeM {
        /// Batch size (the paper: 1000).
        batch: usize,
        /// Line searches per batch (the paper: 3).
        line_searches: usize,
    },
    /// L-BFGS on the whole training set, `iterations` per epoch, each epoch a fresh L-BFGS
    /// (its memory of curvature pairs starts empty): a checkpoint holds x alone, so a run
    /// resumed at an epoch continues exactly as an uninterrupted one, which memory carried
    /// across epochs would break (tests/train_paths.rs).
    Lbfgs {
        /// Iterations per epoch.
        iterations: usize,
    },
    /// Gradient descent with momentum on mini-batches.
    Momentum {
        /// Batch size.
        batch: usize,
        /// Learning rate.
        lr: f64,
        /// Momentum.
        momentum: f64,
    },
}

/// Fine-tuning settings.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneConfig {
    /// The scheme.
    pub method: Finetune,
    /// Epochs.
    pub epochs: usize,
    /// The training cost.
    pub loss: Loss,
    /// Seed (shuffling).
    pub seed: u64,
}

/// One epoch's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EpochRecord {
    /// Epoch (from 1).
    pub epoch: usize,
    /// Mean over training images of the summed squared error.
    pub train_error: f64,
    /// Mean over test images of the summed squared error.
    pub test_error: f64,
    /// Seconds the epoch took (errors excluded).
    pub seconds: f64,
    /// Evaluations of F and ∇F in the epoch.
    pub evaluations: usize,
    /// Line searches in the epoch (0 for momentum).
    #[serde(default)]
    pub line_searches: usize,
    /// How the minimizer's runs in the epoch stopped, counted by reason (e.g. 60 times
    /// `MaxLineSearches` for the paper's scheme over 60 mini-batches).
    #[serde(default)]
    pub stops: std::collections::BTreeMap<String, usize>,
}

/// Called after each fine-tuning epoch with its record, x and the momentum velocity (for
/// checkpoints).
pub type EpochHook<'a, T> = dyn FnMut(&EpochRecord, &[T], &[T]) -> Result<(), Error> + 'a;

/// The compiled functions of a network: F and ∇F of the training cost, and the error metric.
pub struct Finetuner<T: Scalar> {
    /// The network.
    pub ae: Autoencoder,
    /// Its layout.
    pub layout: ParamLayout,
    cost: Function<T>,
    error: Function<T>,
}

impl<T: Scalar> Finetuner<T> {
    /// Builds and compiles the network's cost, gradient and error metric.
    pub fn new(ae: &Autoencoder, loss: Loss) -> Self {
        let layout = ae.layout();
        let g = Graph::<T>::new();
        let b = g.symbol("batch");
        let x = g.input("X", dims![b, ae.sizes[0]]);
        let f = ae.forward(&g, &layout, x);
        let cost_expr = ae.cost(loss, x, &f);
        let cost = Compiler::new(&g, &layout)
            .inputs(&[x])
            .value_and_grad(cost_expr)
            .build();
        // The batch's total (not mean) squared error: `reconstruction_error` divides once.
        let err = (x - f.output).square().sum_all();
        let error = Compiler::new(&g, &layout).inputs(&[x]).output(err).build();
        Finetuner {
            ae: ae.clone(),
            layout,
            cost,
            error,
        }
    }

    /// The paper's error metric on `data` at x: the mean over images of the summed squared
    /// reconstruction error, computed in batches of 1000.
    pub fn error(&mut self, x: &[T], data: &Dataset<T>) -> Result<f64, Error> {
        reconstruction_error(&mut self.error, x, data)
    }

    /// Runs epochs `start_epoch + 1 ..= cfg.epochs`, updating x in place; calls
    /// `on_epoch_end(record, x)` after each (for checkpoints and reports).
    #[allow(clippy::too_many_arguments)] // the run's inputs, its resume point, and two hooks
    pub fn run(
        &mut self,
        x: &mut [T],
        train: &Dataset<T>,
        test: &Dataset<T>,
        cfg: &FinetuneConfig,
        start_epoch: usize,
        start_velocity: Vec<T>,
        progress: &mut dyn FnMut(&Event) -> ControlFlow<()>,
        on_epoch_end: &mut EpochHook<'_, T>,
    ) -> Result<Vec<EpochRecord>, Error> {
        let dim = self.ae.sizes[0];
        let mut records = Vec::new();
        let mut velocity: Vec<T> = start_velocity;
        for epoch in start_epoch..cfg.epochs {
            let t = Instant::now();
            let mut evaluations = 0;
            let mut searches = 0;
            let mut stops = std::collections::BTreeMap::new();
            let mut note = |r: &crate::optim::Report| {
                *stops.entry(r.stop.name().to_string()).or_insert(0) += 1;
                r.line_searches
            };
            match &cfg.method {
                Finetune::MinimizeM {
                    batch,
                    line_searches,
                } => {
                    let data = train.shuffled(seed_for(cfg.seed, 4, 0, epoch as u64));
                    let batches = data.batches(*batch);
                    for k in 0..batches {
                        let (rows, xs) = data.batch(k, *batch);
                        let shape = [rows, dim];
                        let mut obj =
                            CompiledObjective::new(&mut self.cost, &[TensorRef::new(&shape, xs)])?;
                        let r = minimize_m(&mut obj, x, Budget::LineSearches(*line_searches));
                        evaluations += r.f_evals;
                        searches += note(&r);
                        if progress(&Event::FinetuneBatch {
                            epoch,
                            batch: k,
                            batches,
                            cost: r.f,
                        })
                        .is_break()
                        {
                            return Err(Error::Interrupted);
                        }
                    }
                }
                Finetune::Lbfgs { iterations } => {
                    let shape = [train.n, dim];
                    let mut obj = CompiledObjective::new(
                        &mut self.cost,
                        &[TensorRef::new(&shape, &train.x)],
                    )?;
                    let iterations = *iterations;
                    let mut lb = Lbfgs::new();
                    lb.stop = Stop {
                        grad_tol: 0.0,
                        max_iter: iterations,
                        ..Stop::default()
                    };
                    lb.keep_history = false;
                    lb.callback = Some(Box::new(|rec, _| {
                        progress(&Event::FinetuneBatch {
                            epoch,
                            batch: rec.iter - 1,
                            batches: iterations,
                            cost: rec.f,
                        })
                    }));
                    let r = lb.minimize(&mut obj, x);
                    drop(lb);
                    evaluations += r.f_evals;
                    searches += note(&r);
                    if r.stop == StopReason::Callback {
                        return Err(Error::Interrupted);
                    }
                }
                Finetune::Momentum {
                    batch,
                    lr,
                    momentum,
                } => {
                    let data = train.shuffled(seed_for(cfg.seed, 4, 0, epoch as u64));
                    let mut opt = Momentum::<T>::new(LearningRate::Constant(*lr), *momentum);
                    opt.velocity = std::mem::take(&mut velocity);
                    let batches = data.batches(*batch);
                    let mut g = vec![T::zero(); x.len()];
                    for k in 0..batches {
                        let (rows, xs) = data.batch(k, *batch);
                        let shape = [rows, dim];
                        let c =
                            self.cost
                                .value_and_grad(x, &[TensorRef::new(&shape, xs)], &mut g)?;
                        opt.step(x, &g, epoch);
                        evaluations += 1;
                        if progress(&Event::FinetuneBatch {
                            epoch,
                            batch: k,
                            batches,
                            cost: c.to_f64_lossless(),
                        })
                        .is_break()
                        {
                            return Err(Error::Interrupted);
                        }
                    }
                    velocity = opt.velocity;
                }
            }
            let seconds = t.elapsed().as_secs_f64();
            let rec = EpochRecord {
                epoch: epoch + 1,
                train_error: self.error(x, train)?,
                test_error: self.error(x, test)?,
                seconds,
                evaluations,
                line_searches: searches,
                stops,
            };
            on_epoch_end(&rec, x, &velocity)?;
            records.push(rec.clone());
            if progress(&Event::FinetuneEpoch(rec)).is_break() {
                return Err(Error::Interrupted);
            }
        }
        Ok(records)
    }
}

/// Mean over the images of `data` of the summed squared error, with `f` a compiled function
/// whose output 0 is the batch's total squared error.
pub fn reconstruction_error<T: Scalar>(
    f: &mut Function<T>,
    x: &[T],
    data: &Dataset<T>,
) -> Result<f64, Error> {
    let mut total = 0.0;
    for k in 0..data.batches(1000) {
        let (rows, xs) = data.batch(k, 1000);
        let shape = [rows, data.dim];
        f.run(x, &[TensorRef::new(&shape, xs)], None)?;
        total += f.scalar_output(0)?.to_f64_lossless();
    }
    Ok(total / data.n as f64)
}
