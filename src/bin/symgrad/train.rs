//! `symgrad train` (and `train --resume`): the arguments translated into the library's
//! `RunConfig`, the run with its progress bars, then the table of test errors and the pictures.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use symgrad::models::autoencoder::{Loss, Unit};
use symgrad::train::run::{
    load_params, load_test_data, train_run, DataSource, Precision, RunConfig, RunError,
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
        if matches!(a.data, Some(DataArg::Curves)) {
            return Err("--mnist-dir does not apply to --data curves (made, not read)".into());
        }
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
        Some(PretrainArg::None) => {
            for (given, name) in [
                (a.pretrain_epochs.is_some(), "--pretrain-epochs"),
                (a.pretrain_batch.is_some(), "--pretrain-batch"),
            ] {
                if given {
                    return Err(format!("{name} does not apply to --pretrain none").into());
                }
            }
            c.pretrain = None
        }
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
            FinetuneArg::Lbfgs => {
                if batch.is_some() {
                    return Err(
                        "--batch does not apply to --finetune lbfgs, which uses the \
                                whole training set at every step (full batch)"
                            .into(),
                    );
                }
                Finetune::Lbfgs { iterations: 20 }
            }
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
                return Err(
                    "--batch does not apply to this preset's L-BFGS, which uses the \
                            whole training set at every step (full batch)"
                        .into(),
                )
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
            let given = configuration_options(a);
            if !given.is_empty() {
                return Err(format!(
                    "--resume continues a run as it was configured; {} cannot be changed \
                     (start a new run with --out to train another way)",
                    given.join(", ")
                )
                .into());
            }
            if !dir.is_dir() {
                return Err(format!("--resume: no run folder at `{}`", dir.display()).into());
            }
            if !dir.join("checkpoint.safetensors").is_file() {
                return Err(format!(
                    "--resume: `{}` holds no checkpoint.safetensors to resume from",
                    dir.display()
                )
                .into());
            }
            let c: RunConfig = read_config(dir)?;
            (c, dir.clone(), true)
        }
        None => {
            let c = config_from(a)?;
            // A finished or interrupted run is not written over, but for the default folder,
            // which each new run takes (`symgrad` alone, twice, trains twice).
            let holds_run = ["params.safetensors", "checkpoint.safetensors"]
                .iter()
                .any(|f| a.out.join(f).exists());
            if holds_run && a.out != Path::new(DEFAULT_OUT) {
                return Err(format!(
                    "--out {}: it holds a run already; continue it with --resume {}, or give \
                     another folder",
                    a.out.display(),
                    a.out.display()
                )
                .into());
            }
            (c, a.out.clone(), false)
        }
    };
    crate::TRAINING.store(true, std::sync::atomic::Ordering::Relaxed);
    let existed = dir.exists();
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
    say!("{}", banner(&cfg, &dir, resume));
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
    if result.is_err() && !existed {
        // A run that failed before writing anything leaves no empty folder behind
        // (`remove_dir` removes only an empty one).
        let _ = std::fs::remove_dir(&dir);
    }
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

/// `train`'s default output folder (main.rs's `--out` default).
const DEFAULT_OUT: &str = "runs/latest";

/// The configuration options of `train` given on the command line (for `--resume`, which
/// takes none of them: the run's own come from its checkpoint).
fn configuration_options(a: &TrainArgs) -> Vec<&'static str> {
    let given = [
        (a.preset != "demo", "--preset"),
        (a.data.is_some(), "--data"),
        (a.mnist_dir.is_some(), "--mnist-dir"),
        (a.train_size.is_some(), "--train-size"),
        (a.test_size.is_some(), "--test-size"),
        (a.layers.is_some(), "--layers"),
        (a.units.is_some(), "--units"),
        (a.tied, "--tied"),
        (a.output_unit.is_some(), "--output-unit"),
        (a.loss.is_some(), "--loss"),
        (a.pretrain.is_some(), "--pretrain"),
        (a.pretrain_epochs.is_some(), "--pretrain-epochs"),
        (a.pretrain_batch.is_some(), "--pretrain-batch"),
        (a.finetune.is_some(), "--finetune"),
        (a.epochs.is_some(), "--epochs"),
        (a.batch.is_some(), "--batch"),
        (a.seed.is_some(), "--seed"),
        (a.precision.is_some(), "--precision"),
        (a.out != Path::new(DEFAULT_OUT), "--out"),
    ];
    given.iter().filter(|g| g.0).map(|g| g.1).collect()
}

/// Thousands separated by commas: 2,823,174.
fn grouped(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn unit_name(u: Unit) -> &'static str {
    match u {
        Unit::Logistic => "logistic",
        Unit::Linear => "linear",
        Unit::Relu => "relu",
        Unit::Tanh => "tanh",
    }
}

/// What `train` is about to do, as a person reads it: the data, the network, each phase,
/// the precision and where the files go.
fn banner(cfg: &RunConfig, dir: &Path, resume: bool) -> String {
    let n = &cfg.network;
    let (train_n, test_n) = cfg.sizes();
    let data = match &cfg.data {
        DataSource::Curves => format!(
            "curves-like images made from seed {} ({} training, {} test)",
            cfg.seed,
            grouped(train_n),
            grouped(test_n)
        ),
        DataSource::Mnist { dir } => format!(
            "MNIST{} ({} training, {} test images)",
            dir.as_ref()
                .map_or(String::new(), |d| format!(" from {}", d.display())),
            grouped(train_n),
            grouped(test_n)
        ),
    };
    let sizes: Vec<String> = n.sizes.iter().map(|s| s.to_string()).collect();
    let units: Vec<&str> = n.units.iter().map(|&u| unit_name(u)).collect();
    let loss = match cfg.loss {
        Loss::CrossEntropy => "cross-entropy",
        Loss::SquaredError => "squared error",
    };
    // A batch larger than the training set is the training set.
    let pretrain = match &cfg.pretrain {
        None => "none (random weights)".to_string(),
        Some(p) => format!(
            "{}, {} epoch{} a layer, batches of {}",
            match p.method {
                PretrainMethod::Rbm { k } => format!("RBMs by CD-{k}"),
                PretrainMethod::Autoencoder => "shallow autoencoders".to_string(),
            },
            p.epochs,
            if p.epochs == 1 { "" } else { "s" },
            grouped(p.batch.min(train_n))
        ),
    };
    let finetune = match cfg.finetune.method {
        Finetune::MinimizeM {
            batch,
            line_searches,
        } => format!(
            "minimize.m, {line_searches} line searches on each batch of {}",
            grouped(batch.min(train_n))
        ),
        Finetune::Lbfgs { iterations } => {
            format!("L-BFGS on the whole training set, {iterations} iterations an epoch")
        }
        Finetune::Momentum {
            batch,
            lr,
            momentum,
        } => format!(
            "gradient descent, learning rate {lr}, momentum {momentum}, batches of {}",
            grouped(batch.min(train_n))
        ),
    };
    let params = n.parameter_count().map_or("too many".to_string(), grouped);
    format!(
        "symgrad train{}\n  data:        {data}\n  network:     {} ({} units, {} output, {}; \
         {params} parameters)\n  pre-train:   {pretrain}\n  fine-tune:   {finetune}, {} \
         epoch{}, {loss}\n  precision:   {}, {} threads, seed {}\n  output:      {}",
        if resume { " (resuming)" } else { "" },
        sizes.join("-"),
        units.join(", "),
        unit_name(n.output_unit),
        if n.tied {
            "tied weights"
        } else {
            "untied weights"
        },
        cfg.finetune.epochs,
        if cfg.finetune.epochs == 1 { "" } else { "s" },
        match cfg.precision {
            Precision::F32 => "f32",
            Precision::F64 => "f64",
        },
        rayon::current_num_threads(),
        cfg.seed,
        dir.display()
    )
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
    let test = load_test_data::<T>(cfg)?;
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
        &dir.join("learning_curve.svg"),
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
