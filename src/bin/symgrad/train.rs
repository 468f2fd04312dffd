//! `symgrad train` (and `train --resume`): the arguments translated into the library's
//! `RunConfig`, the run with its progress bars, then the table of test errors and the pictures.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use symgrad::models::autoencoder::{Loss, Unit};
use symgrad::train::run::{
    load_data, load_params, train_run, DataSource, Precision, RunConfig, RunError,
};
use symgrad::train::{Finetune, PretrainConfig, PretrainMethod};
use symgrad::Scalar;

use crate::progress::Bars;
use crate::{AnyError, DataArg, FinetuneArg, LossArg, PrecisionArg, PretrainArg, TrainArgs};

fn config_from(a: &TrainArgs) -> Result<RunConfig, AnyError> {
    let mut c = RunConfig::preset(&a.preset).ok_or_else(|| {
        format!(
            "--preset: expected demo, curves or mnist, got `{}`",
            a.preset
        )
    })?;
    if let Some(d) = a.data {
        c.data = match d {
            DataArg::Curves => DataSource::Curves,
            DataArg::Mnist => DataSource::Mnist { dir: None },
        };
    }
    if let Some(dir) = &a.mnist_dir {
        c.data = DataSource::Mnist {
            dir: Some(dir.clone()),
        };
    }
    if a.train_size == Some(0) {
        return Err("--train-size must be at least 1".into());
    }
    if a.test_size == Some(0) {
        return Err("--test-size must be at least 1".into());
    }
    c.train_size = a.train_size.or(c.train_size);
    c.test_size = a.test_size.or(c.test_size);
    if let Some(sizes) = &a.layers {
        c.network.sizes = sizes.clone();
        // Default units for a new shape: logistic, linear code.
        let k = sizes.len().saturating_sub(1);
        c.network.units = (0..k)
            .map(|i| {
                if i + 1 == k {
                    Unit::Linear
                } else {
                    Unit::Logistic
                }
            })
            .collect();
    }
    if let Some(units) = &a.units {
        c.network.units = units
            .iter()
            .map(|u| {
                Unit::from_name(u).ok_or_else(|| {
                    format!("--units: expected logistic, linear, relu or tanh, got `{u}`")
                })
            })
            .collect::<Result<_, _>>()?;
    }
    c.network.tied = a.tied || c.network.tied;
    if let Some(u) = &a.output_unit {
        c.network.output_unit = Unit::from_name(u)
            .ok_or_else(|| format!("--output-unit: expected logistic or linear, got `{u}`"))?;
    }
    if let Some(l) = a.loss {
        c.loss = match l {
            LossArg::CrossEntropy => Loss::CrossEntropy,
            LossArg::SquaredError => Loss::SquaredError,
        };
        c.finetune.loss = c.loss;
    }
    match a.pretrain {
        Some(PretrainArg::None) => c.pretrain = None,
        Some(PretrainArg::Rbm) => {
            c.pretrain = Some(PretrainConfig {
                epochs: c.pretrain.as_ref().map_or(10, |p| p.epochs),
                ..PretrainConfig::paper(10)
            })
        }
        Some(PretrainArg::Ae) => {
            c.pretrain = Some(PretrainConfig {
                epochs: c.pretrain.as_ref().map_or(10, |p| p.epochs),
                ..PretrainConfig::autoencoder(10)
            })
        }
        None => {}
    }
    if let Some(p) = c.pretrain.as_mut() {
        p.epochs = a.pretrain_epochs.unwrap_or(p.epochs);
        p.batch = a.pretrain_batch.unwrap_or(p.batch);
        if p.batch == 0 {
            return Err("--pretrain-batch must be at least 1".into());
        }
    }
    let batch = a.batch;
    if batch == Some(0) {
        return Err("--batch must be at least 1".into());
    }
    if let Some(f) = a.finetune {
        c.finetune.method = match f {
            FinetuneArg::MinimizeM => Finetune::MinimizeM {
                batch: batch.unwrap_or(1000),
                line_searches: 3,
            },
            FinetuneArg::Lbfgs => Finetune::Lbfgs { iterations: 20 },
            FinetuneArg::Momentum => Finetune::Momentum {
                batch: batch.unwrap_or(100),
                lr: 0.001,
                momentum: 0.9,
            },
        };
    } else if let Some(b) = batch {
        match &mut c.finetune.method {
            Finetune::MinimizeM { batch, .. } | Finetune::Momentum { batch, .. } => *batch = b,
            Finetune::Lbfgs { .. } => {
                return Err("--batch does not apply to full-batch L-BFGS".into())
            }
        }
    }
    c.finetune.epochs = a.epochs.unwrap_or(c.finetune.epochs);
    c.seed = a.seed.unwrap_or(c.seed);
    if let Some(p) = a.precision {
        c.precision = match p {
            PrecisionArg::F32 => Precision::F32,
            PrecisionArg::F64 => Precision::F64,
        };
    }
    c.validate()?;
    Ok(c)
}

/// `symgrad train`: a new run from the arguments, or `--resume FOLDER`.
pub fn train(a: &TrainArgs) -> Result<(), AnyError> {
    if let Some(t) = a.threads {
        // A bound, so that `--threads 100000` is refused rather than spawning threads for
        // minutes: more threads than this only wait for the cores.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let most = (8 * cores).max(64);
        if t == 0 || t > most {
            return Err(format!(
                "--threads {t}: give 1 to {most} (this machine has {cores} cores)"
            )
            .into());
        }
        rayon::ThreadPoolBuilder::new()
            .num_threads(t)
            .build_global()
            .map_err(|e| format!("--threads: {e}"))?;
    }
    let (cfg, dir, resume) = match &a.resume {
        Some(dir) => {
            let c: RunConfig = read_config(dir)?;
            (c, dir.clone(), true)
        }
        None => (config_from(a)?, a.out.clone(), false),
    };
    let stop = Arc::new(AtomicBool::new(false));
    {
        let stop = stop.clone();
        ctrlc::set_handler(move || {
            if stop.swap(true, Ordering::SeqCst) {
                // A second Ctrl-C: leave at once; the last checkpoint is on disk.
                std::process::exit(130);
            }
        })
        .map_err(|e| format!("cannot install the Ctrl-C handler: {e}"))?;
    }
    let n = &cfg.network;
    say!(
        "symgrad train: {:?} network {:?} ({} parameters), {} pre-training, fine-tuning {:?} for {} epochs, {:?}, into {}",
        cfg.data,
        n.sizes,
        n.layout().len(),
        cfg.pretrain.as_ref().map_or("no".to_string(), |p| format!("{} epochs of {}", p.epochs, match p.method {
            PretrainMethod::Rbm { .. } => "RBM",
            PretrainMethod::Autoencoder => "shallow-autoencoder",
        })),
        cfg.finetune.method,
        cfg.finetune.epochs,
        cfg.precision,
        dir.display()
    );
    let mut bars = Bars::new(
        stop,
        cfg.pretrain.as_ref().map_or(0, |p| p.epochs),
        cfg.finetune.epochs,
    );
    let t = Instant::now();
    let result = match cfg.precision {
        Precision::F32 => finish::<f32>(&cfg, &dir, resume, &mut bars),
        Precision::F64 => finish::<f64>(&cfg, &dir, resume, &mut bars),
    };
    bars.finish();
    match result {
        Err(e) if matches!(e.downcast_ref::<RunError>(), Some(RunError::Interrupted(_))) => {
            eprintln!("symgrad: {e}");
            std::process::exit(130);
        }
        other => other?,
    }
    say!(
        "done in {:.1} s; parameters, report and pictures are in {}",
        t.elapsed().as_secs_f64(),
        dir.display()
    );
    Ok(())
}

fn read_config(dir: &Path) -> Result<RunConfig, AnyError> {
    let path = dir.join("checkpoint.safetensors");
    let (_, meta) = symgrad::train::run::load_tensors::<f64>(&path)?;
    let c = meta
        .get("config")
        .ok_or_else(|| format!("{}: no configuration in the checkpoint", path.display()))?;
    Ok(serde_json::from_str(c).map_err(|e| format!("{}: configuration: {e}", path.display()))?)
}

fn finish<T: Scalar>(
    cfg: &RunConfig,
    dir: &Path,
    resume: bool,
    bars: &mut Bars,
) -> Result<(), AnyError> {
    let report = train_run::<T>(cfg, dir, resume, &mut |e| bars.on(e))?;
    bars.finish();
    let (_, test) = load_data::<T>(cfg)?;
    say!();
    say!(
        "test error per image (sum of squared pixel errors, mean over {} test images):",
        test.n
    );
    say!("  {:<32} {:>10}", "method", "test error");
    if let Some(u) = report.unrolled_test_error {
        say!("  {:<32} {:>10.3}", "unrolled, before fine-tuning", u);
    }
    say!("  {:<32} {:>10.3}", "deep autoencoder", report.test_error);
    say!(
        "  {:<32} {:>10.3}",
        format!(
            "PCA, {} components",
            cfg.network.sizes.last().expect("validated")
        ),
        report.pca_test_error
    );
    let (ae, x) = load_params::<T>(&dir.join("params.safetensors"))?;
    symgrad::train::picture::reconstructions(&dir.join("reconstructions.png"), &ae, &x, &test)?;
    symgrad::train::picture::learning_curve(
        &dir.join("learning_curve.png"),
        &report.state.records,
        report.pca_test_error,
    )?;
    if ae.sizes.last() == Some(&2) {
        symgrad::train::picture::codes(&dir.join("codes.png"), &ae, &x, &test)?;
    }
    // The first layer's filters: the weights into each of its first 100 hidden units.
    let layout = ae.layout();
    let w1 = layout.view(&x, "W1")?.data;
    symgrad::train::picture::filters(&dir.join("filters.png"), w1, ae.sizes[0], 100, 10)?;
    Ok(())
}
