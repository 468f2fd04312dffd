//! A whole training run as the `symgrad train` command makes it: a [`RunConfig`] (with the
//! paper's presets), the data it names, greedy pre-training, unrolling, fine-tuning, PCA, and
//! what is left in the run folder: a checkpoint after every epoch (written atomically), the
//! parameters as safetensors with the layer layout in their metadata, and a JSON report.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::time::Instant;

use safetensors::tensor::{Dtype, TensorView};
use safetensors::SafeTensors;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::{
    unroll, EpochRecord, Event, Finetune, FinetuneConfig, Finetuner, LayerParams, Pca,
    PretrainConfig, Pretrainer,
};
use crate::data::{
    curves_like, curves_like_range, find_mnist, load_mnist, load_mnist_test, DataError, Dataset,
};
use crate::models::autoencoder::{Autoencoder, Loss, Unit};
use crate::{ParamLayout, Scalar};

/// Where the data comes from.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataSource {
    /// The curves-like generator (built in: no download).
    Curves,
    /// MNIST's IDX files in a folder (default: `$SYMGRAD_MNIST` or `../shared/data/mnist`).
    Mnist {
        /// The folder.
        dir: Option<PathBuf>,
    },
}

/// Float precision of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32.
    F32,
    /// f64.
    F64,
}

/// Everything a run needs; saved in its report and checkpoints.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunConfig {
    /// The data.
    pub data: DataSource,
    /// Training examples used (`None`: all; curves: 20,000).
    pub train_size: Option<usize>,
    /// Test examples used (`None`: all; curves: 10,000).
    pub test_size: Option<usize>,
    /// The network.
    pub network: Autoencoder,
    /// The fine-tuning cost.
    pub loss: Loss,
    /// Pre-training (`None`: random initialisation, `init_scale` 0.1).
    pub pretrain: Option<PretrainConfig>,
    /// Fine-tuning.
    pub finetune: FinetuneConfig,
    /// Precision.
    pub precision: Precision,
    /// Seed of everything random.
    pub seed: u64,
}

impl RunConfig {
    /// A preset: `mnist` and `curves` are the paper's recipes (RBM pre-training for 50
    /// epochs, 200 epochs of minimize.m with 3 line searches on batches of 1000); `demo` is a
    /// small curves-like run that finishes in minutes on 2 cores.
    pub fn preset(name: &str) -> Option<RunConfig> {
        let paper_ft = FinetuneConfig {
            method: Finetune::MinimizeM {
                batch: 1000,
                line_searches: 3,
            },
            epochs: 200,
            loss: Loss::CrossEntropy,
            seed: 1,
        };
        match name {
            "mnist" => Some(RunConfig {
                data: DataSource::Mnist { dir: None },
                train_size: None,
                test_size: None,
                network: Autoencoder::mnist(),
                loss: Loss::CrossEntropy,
                pretrain: Some(PretrainConfig::paper(50)),
                finetune: paper_ft,
                precision: Precision::F32,
                seed: 1,
            }),
            "curves" => Some(RunConfig {
                data: DataSource::Curves,
                train_size: Some(20_000),
                test_size: Some(10_000),
                network: Autoencoder::curves(),
                loss: Loss::CrossEntropy,
                pretrain: Some(PretrainConfig::paper(50)),
                finetune: paper_ft,
                precision: Precision::F32,
                seed: 1,
            }),
            "demo" => Some(RunConfig {
                data: DataSource::Curves,
                train_size: Some(10_000),
                test_size: Some(2000),
                network: Autoencoder {
                    sizes: vec![784, 256, 64, 6],
                    units: vec![Unit::Logistic, Unit::Logistic, Unit::Linear],
                    output_unit: Unit::Logistic,
                    tied: false,
                },
                loss: Loss::CrossEntropy,
                pretrain: Some(PretrainConfig::paper(8)),
                finetune: FinetuneConfig {
                    method: Finetune::MinimizeM {
                        batch: 500,
                        line_searches: 3,
                    },
                    epochs: 40,
                    loss: Loss::CrossEntropy,
                    seed: 1,
                },
                precision: Precision::F32,
                seed: 1,
            }),
            _ => None,
        }
    }

    /// The training and test examples the run uses: the sizes given, else the data set's
    /// defaults (curves-like: 20,000 and 10,000; MNIST: all, 60,000 and 10,000).
    ///
    /// ```
    /// use symgrad::train::run::RunConfig;
    /// assert_eq!(RunConfig::preset("demo").unwrap().sizes(), (10_000, 2000));
    /// assert_eq!(RunConfig::preset("mnist").unwrap().sizes(), (60_000, 10_000));
    /// ```
    pub fn sizes(&self) -> (usize, usize) {
        let (tr, te) = match self.data {
            DataSource::Curves => (20_000, 10_000),
            DataSource::Mnist { .. } => (60_000, 10_000),
        };
        (self.train_size.unwrap_or(tr), self.test_size.unwrap_or(te))
    }

    /// Checks the configuration's own consistency ([`train_run`] calls it before loading data).
    ///
    /// ```
    /// use symgrad::train::run::RunConfig;
    /// let mut c = RunConfig::preset("demo").unwrap();
    /// assert!(c.validate().is_ok());
    /// c.train_size = Some(0);
    /// let err = c.validate().unwrap_err();
    /// assert_eq!(err.to_string(), "configuration: train_size must be at least 1 example, got 0");
    /// ```
    pub fn validate(&self) -> Result<(), RunError> {
        let n = &self.network;
        let bad = |m: String| Err(RunError::Config(m));
        n.check().map_err(RunError::Config)?;
        if self.loss == Loss::CrossEntropy && n.output_unit != Unit::Logistic {
            return bad(
                "cross-entropy needs logistic output units (use squared error for linear ones)"
                    .into(),
            );
        }
        if n.sizes[0] != 784 {
            return bad(format!(
                "the data have 784 pixels per image, the network's input layer has {}",
                n.sizes[0]
            ));
        }
        for (what, size, most) in [
            ("train_size", self.train_size, 60_000),
            ("test_size", self.test_size, 10_000),
        ] {
            if size == Some(0) {
                return bad(format!("{what} must be at least 1 example, got 0"));
            }
            // MNIST has 60,000 training and 10,000 test images: more is a mistake, not a
            // request to be quietly cut down.
            if let (DataSource::Mnist { .. }, Some(n)) = (&self.data, size) {
                if n > most {
                    return bad(format!("{what} {n}: MNIST has {most} of them"));
                }
            }
        }
        if self.pretrain.as_ref().is_some_and(|p| p.batch == 0) {
            return bad("the pre-training batch must hold at least 1 example, got 0".into());
        }
        let ft_batch = match self.finetune.method {
            Finetune::MinimizeM { batch, .. } | Finetune::Momentum { batch, .. } => batch,
            Finetune::Lbfgs { .. } => 1,
        };
        if ft_batch == 0 {
            return bad("the fine-tuning batch must hold at least 1 example, got 0".into());
        }
        let (need, limit) = (self.memory_estimate(), crate::tensor::memory_limit());
        if need > limit {
            return bad(format!(
                "this run needs about {} (parameters, their gradient, velocity and checkpoint \
                 copies, the data, a batch's activations), more than the limit of {} (the \
                 machine's memory unless set; the command line's --memory-limit or \
                 SYMGRAD_MEMORY_LIMIT, in bytes or with a K/M/G/T suffix, raises it)",
                crate::tensor::fmt_bytes(need),
                crate::tensor::fmt_bytes(limit)
            ));
        }
        Ok(())
    }

    /// A run's memory, estimated before anything is allocated (saturating: an absurd size
    /// gives `usize::MAX`): eight copies of the parameters (x, the gradient, a velocity or
    /// the line search's trial point, L-BFGS's newest pairs, the checkpoint's buffers), the
    /// training and test data, and the activations of the largest batch forward and back.
    pub fn memory_estimate(&self) -> usize {
        let n = &self.network;
        let bytes = match self.precision {
            Precision::F32 => 4,
            Precision::F64 => 8,
        };
        let params = n.parameter_count().unwrap_or(usize::MAX);
        let pixels = n.sizes.first().copied().unwrap_or(0);
        let examples = self
            .train_size
            .unwrap_or(60_000)
            .saturating_add(self.test_size.unwrap_or(10_000));
        let train = self.train_size.unwrap_or(60_000);
        // A batch larger than the training set is the training set.
        let batch = match self.finetune.method {
            Finetune::MinimizeM { batch, .. } | Finetune::Momentum { batch, .. } => batch,
            Finetune::Lbfgs { .. } => train,
        }
        .max(self.pretrain.as_ref().map_or(0, |p| p.batch))
        .min(train);
        let units = n
            .sizes
            .iter()
            .fold(0usize, |a, &s| a.saturating_add(s))
            .saturating_mul(2);
        params
            .saturating_mul(8)
            .saturating_add(examples.saturating_mul(pixels))
            .saturating_add(batch.saturating_mul(units).saturating_mul(4))
            .saturating_mul(bytes)
    }
}

/// Errors of a run: one clear line each.
#[derive(Debug, Error)]
pub enum RunError {
    /// The configuration does not hold together.
    #[error("configuration: {0}")]
    Config(String),
    /// Data could not be read.
    #[error("data: {0}")]
    Data(#[from] DataError),
    /// A file could not be written or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// A checkpoint or parameter file is damaged or does not fit the run.
    #[error("{path}: {message}")]
    BadFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The computation failed.
    #[error("{0}")]
    Core(#[from] crate::Error),
    /// Training diverged: the parameters hold NaN or infinities. Nothing was written over
    /// the folder's parameters, report or pictures.
    #[error("training diverged: the parameters hold NaN or infinite values; {0} keeps its earlier files (try a smaller learning rate or fewer line searches)")]
    Diverged(PathBuf),
    /// Ctrl-C: the last completed epoch's checkpoint is in the folder.
    #[error("interrupted; the checkpoint of the last completed epoch is in {0} (resume with `symgrad train --resume {0}`)")]
    Interrupted(PathBuf),
}

impl RunError {
    /// A short, stable name for the kind of failure, for tests and scripts that must tell
    /// one refusal from another without matching messages. `Data` and `Core` give their
    /// error's own kind ([`DataError::kind`], [`Error::kind`](crate::Error::kind)); the
    /// others:
    ///
    /// | kind | the failure |
    /// | --- | --- |
    /// | `config` | `Config`, or a checkpoint whose configuration does not validate |
    /// | `too_large` | a configuration, file or network larger than the memory limit |
    /// | `io` | `Io`: a file could not be read or written |
    /// | `not_a_file` | a parameter file or checkpoint that is not a regular file |
    /// | `safetensors` | not a safetensors file (header, offsets, JSON) |
    /// | `dtype` | a tensor neither F32 nor F64 |
    /// | `metadata_missing` | no `network`, `config` or `state` in the metadata |
    /// | `network` | metadata `network` that does not describe a network |
    /// | `state` | a checkpoint state unreadable, or disagreeing with the network |
    /// | `missing_tensor` | a parameter or checkpoint tensor absent |
    /// | `tensor_length` | a tensor of another length than its place needs |
    /// | `velocity_length` | a velocity of another length than the parameters |
    /// | `non_finite` | NaN or infinite values in a checkpoint or parameter file |
    /// | `report_json` | a `report.json` that is not JSON (or is cut short) |
    /// | `report` | a `report.json` that is JSON but not a run report |
    /// | `bad_file` | another damage of a parameter file or checkpoint |
    /// | `diverged`, `interrupted` | `Diverged`, `Interrupted` |
    ///
    /// The kinds of `BadFile` are read from its message, here and nowhere else, so a message
    /// changed without this table fails the corpus test (tests/corpus.rs) that asserts them.
    pub fn kind(&self) -> &'static str {
        match self {
            RunError::Config(m) if m.contains("more than the limit") => "too_large",
            RunError::Config(_) => "config",
            RunError::Data(e) => e.kind(),
            RunError::Io { .. } => "io",
            RunError::BadFile { message: m, .. } => {
                let has = |p: &str| m.contains(p);
                if has("more than the memory limit") || has("more than the limit") {
                    "too_large"
                } else if has("not a regular file") {
                    "not_a_file"
                } else if m.starts_with("not a safetensors file") {
                    "safetensors"
                } else if has("expected F32 or F64") {
                    "dtype"
                } else if m.starts_with("report: not JSON") {
                    "report_json"
                } else if m.starts_with("report: ") {
                    "report"
                } else if m.starts_with("no `") && has("in the metadata") {
                    "metadata_missing"
                } else if m.starts_with("metadata `network`") {
                    "network"
                } else if m.starts_with("configuration: ") || m.starts_with("config: ") {
                    "config"
                } else if m.starts_with("state: ") || m.starts_with("the state says") {
                    "state"
                } else if m.starts_with("missing ") {
                    "missing_tensor"
                } else if m.starts_with("`velocity`") {
                    "velocity_length"
                } else if has("NaN or infinite") {
                    "non_finite"
                } else if (m.starts_with("parameter `") && has("values"))
                    || (m.starts_with("layer ") && has("the file has"))
                    || m.starts_with("`current`")
                {
                    "tensor_length"
                } else {
                    "bad_file"
                }
            }
            RunError::Core(e) => e.kind(),
            RunError::Diverged(_) => "diverged",
            RunError::Interrupted(_) => "interrupted",
        }
    }
}

/// Reads a checkpoint and checks all of it, as a resume does before it writes anything
/// (configuration, state, every vector's length, finiteness), without training: for
/// tools and tests that must know whether a run folder can be resumed.
pub fn verify_checkpoint<T: Scalar>(path: &Path) -> Result<(), RunError> {
    load_checkpoint::<T>(path).map(|_| ())
}

/// Reads a run's `report.json` (at most 16 MiB: a report is a few kilobytes) and checks its
/// configuration ([`RunConfig::validate`]).
pub fn load_report(path: &Path) -> Result<RunReport, RunError> {
    use std::io::Read;
    const MAX_REPORT: u64 = 16 << 20;
    let bad = |m: String| RunError::BadFile {
        path: path.to_path_buf(),
        message: m,
    };
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let mut text = Vec::new();
    file.take(MAX_REPORT + 1)
        .read_to_end(&mut text)
        .map_err(|e| io_err(path, e))?;
    if text.len() as u64 > MAX_REPORT {
        return Err(bad(format!(
            "a report of more than {MAX_REPORT} bytes: more than the limit for a report"
        )));
    }
    let report: RunReport = serde_json::from_slice(&text).map_err(|e| {
        bad(match e.classify() {
            serde_json::error::Category::Data => format!("report: not a run report: {e}"),
            _ => format!("report: not JSON: {e}"),
        })
    })?;
    report
        .config
        .validate()
        .map_err(|e| bad(format!("{e} (in the report)")))?;
    Ok(report)
}

fn io_err(path: &Path, e: impl std::fmt::Display) -> RunError {
    RunError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    }
}

/// Writes `bytes` to `path` atomically: a temporary file in the same folder
/// (`.symgrad-PID-K.tmp`, so that the rename cannot cross file systems), flushed to disk,
/// then renamed over `path`. Either `path` holds all of `bytes` or it is as it was; on
/// failure the temporary file is removed and the error names `path`, the file the caller
/// asked for. A symbolic link is written through (the file it names is replaced, the link
/// stays); a path that names something other than a regular file (a folder, a device such
/// as `/dev/null`, a pipe) or a read-only file is refused, not replaced; an existing file
/// keeps its permissions.
///
/// ```
/// use symgrad::train::run::write_atomic;
/// let dir = std::env::temp_dir().join(format!("symgrad-doc-atomic-{}", std::process::id()));
/// std::fs::create_dir_all(&dir).unwrap();
/// write_atomic(&dir.join("a.txt"), b"hello").unwrap();
/// assert_eq!(std::fs::read(dir.join("a.txt")).unwrap(), b"hello");
/// let err = write_atomic(&dir.join("missing/b.txt"), b"x").unwrap_err();
/// assert!(err.to_string().starts_with(&format!("{}", dir.join("missing/b.txt").display())));
/// // A folder where the file should be is refused, not replaced.
/// assert!(write_atomic(&dir, b"x").is_err() && dir.is_dir());
/// std::fs::remove_dir_all(&dir).unwrap();
/// ```
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), RunError> {
    use std::io::Write;
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let target = match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => std::fs::canonicalize(path)
            .map_err(|e| io_err(path, format!("cannot write through the symbolic link: {e}")))?,
        _ => path.to_path_buf(),
    };
    let existing = match std::fs::metadata(&target) {
        Ok(m) if !m.is_file() => {
            return Err(io_err(
                path,
                "exists and is not a regular file (a folder, a device or a pipe); give the \
                 path of a file",
            ))
        }
        Ok(m) if m.permissions().readonly() => {
            return Err(io_err(path, "is read-only; it is not written over"))
        }
        Ok(m) => Some(m.permissions()),
        Err(_) => None,
    };
    if target.file_name().is_none() {
        return Err(io_err(path, "not a file name"));
    }
    let k = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = target.with_file_name(format!(".symgrad-{}-{k}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        if let Some(p) = existing {
            f.set_permissions(p)?;
        }
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, &target)
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_err(path, format!("cannot write: {e}"))
    })
}

/// The training and test sets a configuration names.
pub fn load_data<T: Scalar>(cfg: &RunConfig) -> Result<(Dataset<T>, Dataset<T>), RunError> {
    match &cfg.data {
        DataSource::Curves => {
            let (ntr, nte) = cfg.sizes();
            Ok((
                curves_like::<T>(ntr, cfg.seed),
                curves_like_range::<T>(ntr, nte, cfg.seed),
            ))
        }
        DataSource::Mnist { dir } => {
            let m = load_mnist::<T>(&mnist_dir(dir)?)?;
            Ok((head(m.train, cfg.train_size), head(m.test, cfg.test_size)))
        }
    }
}

/// The test set alone, as [`load_data`] gives it, without making or reading the training
/// set: what scoring a finished run needs (`symgrad eval`, `encode`, `reconstruct`).
///
/// ```
/// use symgrad::train::run::{load_data, load_test_data, RunConfig};
/// let mut c = RunConfig::preset("demo").unwrap();
/// (c.train_size, c.test_size) = (Some(30), Some(4));
/// let (_, test) = load_data::<f32>(&c).unwrap();
/// assert_eq!(load_test_data::<f32>(&c).unwrap(), test);
/// ```
pub fn load_test_data<T: Scalar>(cfg: &RunConfig) -> Result<Dataset<T>, RunError> {
    match &cfg.data {
        DataSource::Curves => {
            let (ntr, nte) = cfg.sizes();
            Ok(curves_like_range::<T>(ntr, nte, cfg.seed))
        }
        DataSource::Mnist { dir } => {
            Ok(head(load_mnist_test::<T>(&mnist_dir(dir)?)?, cfg.test_size))
        }
    }
}

/// The first `n` examples of `d` (all of them, moved, not copied, for `None`).
fn head<T: Scalar>(d: Dataset<T>, n: Option<usize>) -> Dataset<T> {
    match n {
        Some(n) if n < d.n => d.head(n),
        _ => d,
    }
}

fn mnist_dir(dir: &Option<PathBuf>) -> Result<PathBuf, RunError> {
    Ok(match dir {
        Some(d) => d.clone(),
        None => find_mnist().ok_or_else(|| {
            DataError::NotFound("MNIST not found: pass --mnist-dir, set SYMGRAD_MNIST, or place the IDX files in ../shared/data/mnist".into())
        })?,
    })
}

/// Where a run stands; saved in each checkpoint.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunState {
    /// Pre-training: layers finished.
    pub layers_done: usize,
    /// Epochs finished in the layer being pre-trained.
    pub layer_epochs_done: usize,
    /// Fine-tuning epochs finished (0 until fine-tuning starts).
    pub finetune_epochs_done: usize,
    /// Whether fine-tuning has started (the flat vector is the deep network's).
    pub finetuning: bool,
    /// Mean reconstruction error per pre-training epoch, per layer.
    pub pretrain_errors: Vec<Vec<f64>>,
    /// Fine-tuning epochs.
    pub records: Vec<EpochRecord>,
    /// Seconds spent so far.
    pub seconds: f64,
    /// Test error of the unrolled network before fine-tuning, once measured (kept here so
    /// that a resumed run reports it too; absent from checkpoints written before it was).
    #[serde(default)]
    pub unrolled_test_error: Option<f64>,
}

/// What a finished run reports.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunReport {
    /// The configuration.
    pub config: RunConfig,
    /// The state at the end (errors per epoch).
    pub state: RunState,
    /// Test error of the unrolled network before fine-tuning.
    pub unrolled_test_error: Option<f64>,
    /// PCA's test error with as many components as the code has units.
    pub pca_test_error: f64,
    /// Final training and test errors.
    pub train_error: f64,
    /// Final test error.
    pub test_error: f64,
    /// Parameter count.
    pub parameters: usize,
}

/// The files of a run folder.
pub struct RunDir {
    /// The folder.
    pub dir: PathBuf,
}

impl RunDir {
    /// The checkpoint.
    pub fn checkpoint(&self) -> PathBuf {
        self.dir.join("checkpoint.safetensors")
    }
    /// The final parameters.
    pub fn params(&self) -> PathBuf {
        self.dir.join("params.safetensors")
    }
    /// The report.
    pub fn report(&self) -> PathBuf {
        self.dir.join("report.json")
    }
}

fn dtype<T: Scalar>() -> Dtype {
    if T::NAME == "f32" {
        Dtype::F32
    } else {
        Dtype::F64
    }
}

fn to_bytes<T: Scalar>(v: &[T]) -> Vec<u8> {
    let mut out = Vec::with_capacity(std::mem::size_of_val(v));
    for x in v {
        if T::NAME == "f32" {
            out.extend_from_slice(&(x.to_f64_lossless() as f32).to_le_bytes());
        } else {
            out.extend_from_slice(&x.to_f64_lossless().to_le_bytes());
        }
    }
    out
}

fn from_view<T: Scalar>(v: &TensorView<'_>, path: &Path, name: &str) -> Result<Vec<T>, RunError> {
    let d = v.data();
    match v.dtype() {
        Dtype::F32 => Ok(d
            .chunks_exact(4)
            .map(|c| T::from_f64(f32::from_le_bytes([c[0], c[1], c[2], c[3]]) as f64))
            .collect()),
        Dtype::F64 => Ok(d
            .chunks_exact(8)
            .map(|c| T::from_f64(f64::from_le_bytes(c.try_into().expect("8 bytes"))))
            .collect()),
        other => Err(RunError::BadFile {
            path: path.to_path_buf(),
            message: format!("tensor `{name}`: expected F32 or F64, found {other:?}"),
        }),
    }
}

/// Writes named vectors as one safetensors file (atomically), with metadata.
pub fn save_tensors<T: Scalar>(
    path: &Path,
    tensors: &[(String, Vec<usize>, Vec<T>)],
    meta: HashMap<String, String>,
) -> Result<(), RunError> {
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = tensors
        .iter()
        .map(|(n, s, v)| (n.clone(), s.clone(), to_bytes(v)))
        .collect();
    let views: Vec<(String, TensorView<'_>)> = bytes
        .iter()
        .map(|(n, s, b)| TensorView::new(dtype::<T>(), s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<_, _>>()
        .map_err(|e| io_err(path, e))?;
    let out = safetensors::serialize(views, Some(meta)).map_err(|e| io_err(path, e))?;
    write_atomic(path, &canonical_header(out).map_err(|e| io_err(path, e))?)
}

/// The safetensors file `bytes` with its JSON header's keys in sorted order (the metadata's
/// too), padded with spaces to a multiple of 8 bytes as the format asks. `safetensors`
/// writes the metadata map in its hash order, which differs from one `HashMap` to the
/// next, so the same parameters saved twice gave files that differed in bytes; sorted,
/// they are identical (the tensors and their offsets are untouched).
fn canonical_header(bytes: Vec<u8>) -> Result<Vec<u8>, String> {
    let n = bytes
        .get(..8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")) as usize)
        .filter(|&n| 8 + n <= bytes.len())
        .ok_or("safetensors wrote a file without a whole header")?;
    let header: std::collections::BTreeMap<String, serde_json::Value> =
        serde_json::from_slice(&bytes[8..8 + n]).map_err(|e| e.to_string())?;
    let mut json = serde_json::to_vec(&header).map_err(|e| e.to_string())?;
    json.resize(json.len().next_multiple_of(8), b' ');
    let mut out = Vec::with_capacity(8 + json.len() + bytes.len() - 8 - n);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    out.extend_from_slice(&bytes[8 + n..]);
    Ok(out)
}

/// Tensors by name, converted to T.
pub type Tensors<T> = HashMap<String, Vec<T>>;

/// Reads a safetensors file: its tensors (converted to T) and metadata.
pub fn load_tensors<T: Scalar>(
    path: &Path,
) -> Result<(Tensors<T>, HashMap<String, String>), RunError> {
    // Bounded by the memory limit, and by the file's length, before anything is read: a
    // sparse file of a terabyte, or `/dev/zero`, is refused, not read until memory ends.
    use std::io::Read;
    let too_big = |len: String| RunError::BadFile {
        path: path.to_path_buf(),
        message: format!(
            "{len}, more than the memory limit of {} (SYMGRAD_MEMORY_LIMIT raises it)",
            crate::tensor::fmt_bytes(crate::tensor::memory_limit())
        ),
    };
    let file = std::fs::File::open(path).map_err(|e| io_err(path, e))?;
    let len = file.metadata().map_err(|e| io_err(path, e))?;
    if !len.is_file() {
        return Err(RunError::BadFile {
            path: path.to_path_buf(),
            message: "not a regular file".into(),
        });
    }
    let limit = crate::tensor::memory_limit() as u64;
    if len.len() > limit {
        return Err(too_big(format!("a file of {} bytes", len.len())));
    }
    let mut bytes = Vec::new();
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| io_err(path, e))?;
    if bytes.len() as u64 > limit {
        return Err(too_big("a file growing past the limit".into()));
    }
    let st = SafeTensors::deserialize(&bytes).map_err(|e| RunError::BadFile {
        path: path.to_path_buf(),
        message: format!("not a safetensors file: {e}"),
    })?;
    let (_, meta) = SafeTensors::read_metadata(&bytes).map_err(|e| RunError::BadFile {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    let mut out = HashMap::new();
    for (name, view) in st.tensors() {
        out.insert(name.clone(), from_view::<T>(&view, path, &name)?);
    }
    Ok((out, meta.metadata().clone().unwrap_or_default()))
}

/// Saves the deep network's parameters, one tensor per parameter, with the layout and the
/// network in the metadata.
pub fn save_params<T: Scalar>(
    path: &Path,
    ae: &Autoencoder,
    layout: &ParamLayout,
    x: &[T],
) -> Result<(), RunError> {
    let tensors: Vec<(String, Vec<usize>, Vec<T>)> = layout
        .entries()
        .iter()
        .map(|e| (e.name.clone(), e.shape.to_vec(), x[e.range()].to_vec()))
        .collect();
    let layout_json: Vec<serde_json::Value> = layout
        .entries()
        .iter()
        .map(|e| serde_json::json!({"name": e.name, "shape": e.shape.to_vec(), "offset": e.offset}))
        .collect();
    let mut meta = HashMap::new();
    meta.insert(
        "layout".into(),
        serde_json::to_string(&layout_json).expect("json"),
    );
    meta.insert("network".into(), serde_json::to_string(ae).expect("json"));
    save_tensors(path, &tensors, meta)
}

/// Loads a parameter file written by [`save_params`]: the network and its flat vector.
pub fn load_params<T: Scalar>(path: &Path) -> Result<(Autoencoder, Vec<T>), RunError> {
    let (tensors, meta) = load_tensors::<T>(path)?;
    let bad = |m: String| RunError::BadFile {
        path: path.to_path_buf(),
        message: m,
    };
    let ae: Autoencoder = serde_json::from_str(
        meta.get("network")
            .ok_or_else(|| bad("no `network` in the metadata".into()))?,
    )
    .map_err(|e| bad(format!("metadata `network`: {e}")))?;
    ae.check()
        .map_err(|e| bad(format!("metadata `network`: {e}")))?;
    let layout = ae.layout();
    // Checked against memory before allocating: metadata of absurd sizes aborted here.
    let bytes = layout.len().saturating_mul(std::mem::size_of::<T>());
    if bytes > crate::tensor::memory_limit() {
        return Err(bad(format!(
            "metadata `network`: {} parameters, {}, more than the memory limit (SYMGRAD_MEMORY_LIMIT raises it)",
            layout.len(),
            crate::tensor::fmt_bytes(bytes)
        )));
    }
    let mut x = vec![T::zero(); layout.len()];
    for e in layout.entries() {
        let v = tensors
            .get(&e.name)
            .ok_or_else(|| bad(format!("missing parameter `{}`", e.name)))?;
        if v.len() != e.len() {
            return Err(bad(format!(
                "parameter `{}`: expected {} values ({:?}), found {}",
                e.name,
                e.len(),
                e.shape,
                v.len()
            )));
        }
        x[e.range()].copy_from_slice(v);
    }
    // A diverged or damaged file would evaluate to NaN errors as if it were a result.
    if x.iter().any(|v| !v.is_finite()) {
        return Err(bad(
            "the parameters hold NaN or infinite values: not a trained network".into(),
        ));
    }
    Ok((ae, x))
}

fn save_checkpoint<T: Scalar>(
    rd: &RunDir,
    cfg: &RunConfig,
    state: &RunState,
    layers: &[LayerParams<T>],
    current: &[T],
    velocity: &[T],
) -> Result<(), RunError> {
    // A diverged state never replaces the last good checkpoint.
    if current.iter().chain(velocity).any(|v| !v.is_finite()) {
        return Err(RunError::Diverged(rd.dir.clone()));
    }
    let mut tensors = Vec::new();
    for (i, p) in layers.iter().enumerate() {
        tensors.push((format!("layer{i}.W"), vec![p.w.len()], p.w.clone()));
        tensors.push((
            format!("layer{i}.b_hidden"),
            vec![p.b_hidden.len()],
            p.b_hidden.clone(),
        ));
        tensors.push((
            format!("layer{i}.b_visible"),
            vec![p.b_visible.len()],
            p.b_visible.clone(),
        ));
    }
    tensors.push(("current".into(), vec![current.len()], current.to_vec()));
    tensors.push(("velocity".into(), vec![velocity.len()], velocity.to_vec()));
    let mut meta = HashMap::new();
    meta.insert("config".into(), serde_json::to_string(cfg).expect("json"));
    meta.insert("state".into(), serde_json::to_string(state).expect("json"));
    save_tensors(&rd.checkpoint(), &tensors, meta)
}

struct Checkpoint<T> {
    cfg: RunConfig,
    state: RunState,
    layers: Vec<LayerParams<T>>,
    current: Vec<T>,
    velocity: Vec<T>,
}

fn load_checkpoint<T: Scalar>(path: &Path) -> Result<Checkpoint<T>, RunError> {
    let (mut t, meta) = load_tensors::<T>(path)?;
    let bad = |m: String| RunError::BadFile {
        path: path.to_path_buf(),
        message: m,
    };
    let cfg: RunConfig = serde_json::from_str(
        meta.get("config")
            .ok_or_else(|| bad("no `config` in the metadata".into()))?,
    )
    .map_err(|e| bad(format!("config: {e}")))?;
    let state: RunState = serde_json::from_str(
        meta.get("state")
            .ok_or_else(|| bad("no `state` in the metadata".into()))?,
    )
    .map_err(|e| bad(format!("state: {e}")))?;
    // Before anything reads the network's depth (a network of no sizes underflowed it).
    cfg.validate().map_err(|e| bad(e.to_string()))?;
    let mut take = |name: String| {
        t.remove(&name)
            .ok_or_else(|| bad(format!("missing tensor `{name}`")))
    };
    let mut layers = Vec::new();
    // Pre-trained layers are kept only until fine-tuning starts (then x holds them all).
    let kept = if state.finetuning {
        0
    } else {
        state.layers_done.min(cfg.network.depth())
    };
    for i in 0..kept {
        layers.push(LayerParams {
            w: take(format!("layer{i}.W"))?,
            b_hidden: take(format!("layer{i}.b_hidden"))?,
            b_visible: take(format!("layer{i}.b_visible"))?,
        });
    }
    let c = Checkpoint {
        current: take("current".into())?,
        velocity: take("velocity".into())?,
        cfg,
        state,
        layers,
    };
    c.check().map_err(bad)?;
    Ok(c)
}

impl<T: Scalar> Checkpoint<T> {
    /// The whole checkpoint agrees with itself before a resume writes anything: the
    /// configuration is valid, the state's counters fit the network, every vector has the
    /// length its place needs (a finished layer's weights and biases; the layer in progress,
    /// or x once fine-tuning, with a velocity of the same length or none), and every value
    /// is finite, so that a damaged or diverged checkpoint never writes over a good result.
    fn check(&self) -> Result<(), String> {
        // The configuration was validated by `load_checkpoint` before the tensors were read.
        let sizes = &self.cfg.network.sizes;
        let depth = self.cfg.network.depth();
        let st = &self.state;
        if st.layers_done > depth
            || st.pretrain_errors.len() > depth
            || (!st.finetuning && st.pretrain_errors.len() < st.layers_done)
        {
            return Err(format!(
                "the state says {} layers pre-trained ({} with errors) of a network of {depth}",
                st.layers_done,
                st.pretrain_errors.len()
            ));
        }
        let layer_len = |i: usize| sizes[i] * sizes[i + 1] + sizes[i + 1] + sizes[i];
        for (i, l) in self.layers.iter().enumerate() {
            let want = [sizes[i] * sizes[i + 1], sizes[i + 1], sizes[i]];
            let got = [l.w.len(), l.b_hidden.len(), l.b_visible.len()];
            if want != got {
                return Err(format!(
                    "layer {i}: W, b_hidden, b_visible need {want:?} values, the file has {got:?}"
                ));
            }
        }
        let current = if st.finetuning {
            Some(("x", self.cfg.network.layout().len()))
        } else if st.layer_epochs_done > 0 && st.layers_done < depth {
            Some(("the layer in progress", layer_len(st.layers_done)))
        } else {
            None
        };
        if let Some((what, want)) = current {
            if self.current.len() != want {
                return Err(format!(
                    "`current` ({what}) needs {want} values, the file has {}",
                    self.current.len()
                ));
            }
        }
        if !self.velocity.is_empty() && self.velocity.len() != self.current.len() {
            return Err(format!(
                "`velocity` has {} values, `current` {}: they must match (or no velocity)",
                self.velocity.len(),
                self.current.len()
            ));
        }
        let vectors = self
            .layers
            .iter()
            .flat_map(|l| [&l.w, &l.b_hidden, &l.b_visible])
            .chain([&self.current, &self.velocity]);
        if vectors.flatten().any(|v| !v.is_finite()) {
            return Err("the checkpoint holds NaN or infinite values: not resuming from it".into());
        }
        Ok(())
    }
}

/// Runs (or resumes) training in `dir`. `progress` sees every event and may stop the run
/// (Ctrl-C), which leaves the last completed epoch's checkpoint in place.
pub fn train_run<T: Scalar>(
    cfg: &RunConfig,
    dir: &Path,
    resume: bool,
    progress: &mut dyn FnMut(&Event) -> ControlFlow<()>,
) -> Result<RunReport, RunError> {
    let rd = RunDir {
        dir: dir.to_path_buf(),
    };
    std::fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    // An unwritable folder is found now, not after an hour of training.
    write_atomic(&dir.join(".write-test"), b"ok")?;
    let _ = std::fs::remove_file(dir.join(".write-test"));
    let (cfg, mut state, mut layers_init, mut current, mut velocity) = if resume {
        let c = load_checkpoint::<T>(&rd.checkpoint())?;
        (c.cfg, c.state, c.layers, c.current, c.velocity)
    } else {
        (
            cfg.clone(),
            RunState {
                layers_done: 0,
                layer_epochs_done: 0,
                finetune_epochs_done: 0,
                finetuning: false,
                pretrain_errors: Vec::new(),
                records: Vec::new(),
                seconds: 0.0,
                unrolled_test_error: None,
            },
            Vec::new(),
            Vec::new(),
            Vec::new(),
        )
    };
    cfg.validate()?;
    let (train, test) = load_data::<T>(&cfg)?;
    let ae = cfg.network.clone();
    let start = Instant::now();
    let base_seconds = state.seconds;
    let mut ft = Finetuner::<T>::new(&ae, cfg.loss);
    let interrupted = |e: crate::Error| match e {
        crate::Error::Interrupted => RunError::Interrupted(dir.to_path_buf()),
        other => RunError::Core(other),
    };

    let mut x: Vec<T> = if state.finetuning {
        current.clone()
    } else if let Some(pcfg) = &cfg.pretrain {
        let mut pcfg = pcfg.clone();
        pcfg.seed = cfg.seed;
        let mut pre = Pretrainer::<T>::new(&ae, pcfg);
        pre.layers = std::mem::take(&mut layers_init);
        while pre.layers.len() < ae.depth() {
            let layer = pre.layers.len();
            let resume_layer =
                (state.layer_epochs_done > 0 && state.layers_done == layer).then(|| {
                    (
                        state.layer_epochs_done,
                        std::mem::take(&mut current),
                        std::mem::take(&mut velocity),
                    )
                });
            if state.pretrain_errors.len() <= layer {
                state.pretrain_errors.push(Vec::new());
            }
            let done_layers = pre.layers.clone();
            // Each epoch's error goes into the checkpoint with the epoch: a run resumed in
            // the middle of a layer reports the epochs before the interruption too.
            let mut on_epoch =
                |epoch: usize, error: f64, p: &[T], v: &[T]| -> Result<(), crate::Error> {
                    let mut s = state.clone();
                    s.layers_done = layer;
                    s.layer_epochs_done = epoch + 1;
                    s.pretrain_errors[layer].push(error);
                    s.seconds = base_seconds + start.elapsed().as_secs_f64();
                    save_checkpoint(&rd, &cfg, &s, &done_layers, p, v)
                        .map_err(|e| crate::Error::Checkpoint(e.to_string()))?;
                    state = s;
                    Ok(())
                };
            pre.train_next_layer(&train, resume_layer, progress, &mut on_epoch)
                .map_err(interrupted)?;
            state.layers_done = layer + 1;
            state.layer_epochs_done = 0;
        }
        unroll(&ae, &pre.layers, &ft.layout)?
    } else {
        ae.init::<T>(&ft.layout, 0.1, cfg.seed)
    };
    if !state.finetuning {
        state.unrolled_test_error = Some(ft.error(&x, &test)?);
        state.finetuning = true;
        state.seconds = base_seconds + start.elapsed().as_secs_f64();
        save_checkpoint(&rd, &cfg, &state, &[], &x, &[])?;
        velocity.clear();
    }
    let mut fcfg = cfg.finetune.clone();
    fcfg.seed = cfg.seed;
    let start_epoch = state.finetune_epochs_done;
    {
        let mut on_epoch = |rec: &EpochRecord, p: &[T], v: &[T]| -> Result<(), crate::Error> {
            state.records.push(rec.clone());
            state.finetune_epochs_done = rec.epoch;
            state.seconds = base_seconds + start.elapsed().as_secs_f64();
            save_checkpoint(&rd, &cfg, &state, &[], p, v)
                .map_err(|e| crate::Error::Checkpoint(e.to_string()))
        };
        ft.run(
            &mut x,
            &train,
            &test,
            &fcfg,
            start_epoch,
            std::mem::take(&mut velocity),
            progress,
            &mut on_epoch,
        )
        .map_err(interrupted)?;
    }
    let k = *ae.sizes.last().expect("validated");
    let _ = progress(&Event::Phase("fitting PCA for the baseline"));
    let pca_test_error = Pca::fit(&train, k)?.error(&test);
    let (train_error, test_error) = match state.records.last() {
        Some(r) => (r.train_error, r.test_error),
        None => (ft.error(&x, &train)?, ft.error(&x, &test)?),
    };
    // A run that diverged writes no parameters, report or pictures over earlier results.
    if x.iter().any(|v| !v.is_finite()) {
        return Err(RunError::Diverged(dir.to_path_buf()));
    }
    save_params(&rd.params(), &ae, &ft.layout, &x)?;
    let report = RunReport {
        config: cfg.clone(),
        state: state.clone(),
        unrolled_test_error: state.unrolled_test_error,
        pca_test_error,
        train_error,
        test_error,
        parameters: ft.layout.len(),
    };
    write_atomic(
        &rd.report(),
        serde_json::to_string_pretty(&report)
            .expect("json")
            .as_bytes(),
    )?;
    Ok(report)
}
