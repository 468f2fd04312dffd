//! The `symgrad` command line: a thin layer over the library (clap for arguments, indicatif
//! for progress). Every error is one line on stderr and a non-zero exit.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

/// `println!` that ends the process quietly (status 0) when the reader has gone away
/// (`symgrad ... | head`), and with one line on stderr on any other write error, where
/// `println!` would panic. Defined before the modules, so `expr_cmd` uses it too.
macro_rules! say {
    ($($t:tt)*) => {{
        use std::io::Write;
        if let Err(e) = writeln!(std::io::stdout().lock(), $($t)*) {
            if e.kind() != std::io::ErrorKind::BrokenPipe {
                eprintln!("symgrad: cannot write to standard output: {e}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
    }};
}

mod expr_cmd;

use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::data::Dataset;
use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
use symgrad::train::run::{
    load_data, load_params, train_run, DataSource, Precision, RunConfig, RunError,
};
use symgrad::train::{Event, Finetune, PretrainConfig, PretrainMethod};
use symgrad::{check_gradient, dims, grad, Compiler, GradCheckOptions, Graph, Scalar, TensorRef};

#[derive(Parser)]
#[command(
    name = "symgrad",
    version,
    about = "Symbolic differentiation and compiled gradients, Theano-style, in Rust"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Clone, Copy, ValueEnum)]
enum DataArg {
    Curves,
    Mnist,
}

#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum PretrainArg {
    Rbm,
    Ae,
    None,
}

#[derive(Clone, Copy, ValueEnum)]
enum FinetuneArg {
    MinimizeM,
    Lbfgs,
    Momentum,
}

#[derive(Clone, Copy, ValueEnum)]
enum LossArg {
    CrossEntropy,
    SquaredError,
}

#[derive(Clone, Copy, ValueEnum)]
enum PrecisionArg {
    F32,
    F64,
}

#[derive(clap::Args)]
struct TrainArgs {
    /// Start from a preset: `demo` (small, minutes), `curves` or `mnist` (the paper's recipes).
    #[arg(long, default_value = "demo")]
    preset: String,
    /// Continue the run in this folder from its last checkpoint (other options are ignored).
    #[arg(long, value_name = "FOLDER")]
    resume: Option<PathBuf>,
    /// Data set.
    #[arg(long, value_enum)]
    data: Option<DataArg>,
    /// Folder of the MNIST IDX files (default: $SYMGRAD_MNIST or ../shared/data/mnist).
    #[arg(long)]
    mnist_dir: Option<PathBuf>,
    /// Training examples to use.
    #[arg(long)]
    train_size: Option<usize>,
    /// Test examples to use.
    #[arg(long)]
    test_size: Option<usize>,
    /// Encoder layer sizes, input first: 784,1000,500,250,30.
    #[arg(long, value_delimiter = ',')]
    layers: Option<Vec<usize>>,
    /// Units of each encoder layer: logistic, linear, relu, tanh (e.g. logistic,logistic,linear).
    #[arg(long, value_delimiter = ',')]
    units: Option<Vec<String>>,
    /// Tie the decoder's weights to the encoder's (the paper's are untied).
    #[arg(long)]
    tied: bool,
    /// Units of the reconstruction: logistic, or linear ("Gaussian" visible units, for
    /// real-valued data; use with --loss squared-error).
    #[arg(long)]
    output_unit: Option<String>,
    /// Fine-tuning cost.
    #[arg(long, value_enum)]
    loss: Option<LossArg>,
    /// Pre-training method.
    #[arg(long, value_enum)]
    pretrain: Option<PretrainArg>,
    /// Pre-training epochs per layer.
    #[arg(long)]
    pretrain_epochs: Option<usize>,
    /// Pre-training mini-batch size.
    #[arg(long)]
    pretrain_batch: Option<usize>,
    /// Fine-tuning minimizer.
    #[arg(long, value_enum)]
    finetune: Option<FinetuneArg>,
    /// Fine-tuning epochs.
    #[arg(long)]
    epochs: Option<usize>,
    /// Fine-tuning mini-batch size.
    #[arg(long)]
    batch: Option<usize>,
    /// Seed.
    #[arg(long)]
    seed: Option<u64>,
    /// Precision.
    #[arg(long, value_enum)]
    precision: Option<PrecisionArg>,
    /// Worker threads (default: all cores).
    #[arg(long)]
    threads: Option<usize>,
    /// Output folder.
    #[arg(long, default_value = "runs/latest")]
    out: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Train a deep autoencoder: pre-train, unroll, fine-tune; writes parameters, a report,
    /// pictures and checkpoints into the output folder.
    Train(Box<TrainArgs>),
    /// Evaluate an expression (`symgrad eval "x * y + 1" --value x=2 --value y=[1,2,3]`), or,
    /// given a run folder, the test error of the trained run on its data.
    Eval {
        /// An expression, or a run folder (with params.safetensors).
        target: String,
        /// A value for a name in the expression: x=2, x=[1,2,3], x=[[1,2],[3,4]], x=@x.npy.
        #[arg(long = "value", short = 'v')]
        values: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Stop at the first step that makes a NaN or an infinity, and name it.
        #[arg(long)]
        nan_guard: bool,
    },
    /// Differentiate a scalar expression and print the simplified gradient
    /// (`symgrad grad "log(1 + exp(x))" --wrt x` prints `sigmoid(x)`).
    Grad {
        /// The expression (names not declared are inputs, scalars unless --shape says).
        expr: String,
        /// The names to differentiate with respect to.
        #[arg(long, required = true)]
        wrt: Vec<String>,
        /// The shape of a name: x=3,4 (default: a scalar).
        #[arg(long)]
        shape: Vec<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show every stage of compiling an expression: as built, its gradient, each rewrite
    /// phase with the rules that fired, fusion, and the program with its buffer plan.
    Explain {
        /// The expression.
        expr: String,
        /// Differentiate with respect to these names too.
        #[arg(long)]
        wrt: Vec<String>,
        /// Values for names (as for `eval`); others are filled with 0.5.
        #[arg(long = "value", short = 'v')]
        values: Vec<String>,
        /// The shape of a name without a value: x=3,4.
        #[arg(long)]
        shape: Vec<String>,
        /// Write each stage as Graphviz DOT into this folder (and PNG, if `dot` is installed).
        #[arg(long)]
        dot: Option<PathBuf>,
    },
    /// Writes the codes of the test set as CSV (one row per image: label, then code units).
    Encode {
        /// The run folder.
        run: PathBuf,
        /// The CSV file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Writes a PNG of test images above their reconstructions.
    Reconstruct {
        /// The run folder.
        run: PathBuf,
        /// The PNG file to write.
        #[arg(long)]
        out: PathBuf,
    },
    /// Build the MNIST deep autoencoder's cost, differentiate it, check and time the compiled
    /// F and gradient, then train a small autoencoder on made data.
    Demo {
        /// Batch size for the timing.
        #[arg(long, default_value_t = 1000)]
        batch: usize,
        /// Descent steps for the small autoencoder.
        #[arg(long, default_value_t = 300)]
        steps: usize,
        /// Seed of the made data and the initial weights.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        // No command: the main job, `train` with its defaults (the demo preset).
        None => match Cli::parse_from(["symgrad", "train"]).command {
            Some(Command::Train(a)) => train(&a),
            _ => unreachable!("`train` parses as the train command"),
        },
        Some(Command::Train(a)) => train(&a),
        Some(Command::Eval {
            target,
            values,
            json,
            nan_guard,
        }) => {
            if Path::new(&target).is_dir() {
                eval(Path::new(&target))
            } else {
                expr_cmd::eval_cmd(&target, &values, json, nan_guard)
            }
        }
        Some(Command::Grad {
            expr,
            wrt,
            shape,
            json,
        }) => expr_cmd::grad_cmd(&expr, &wrt, &shape, json),
        Some(Command::Explain {
            expr,
            wrt,
            values,
            shape,
            dot,
        }) => expr_cmd::explain_cmd(&expr, &wrt, &values, &shape, dot.as_deref()),
        Some(Command::Encode { run, out }) => encode(&run, &out),
        Some(Command::Reconstruct { run, out }) => reconstruct(&run, &out),
        Some(Command::Demo { batch, steps, seed }) => demo(batch, steps, seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("symgrad: {e}");
            ExitCode::FAILURE
        }
    }
}

type AnyError = Box<dyn std::error::Error>;

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

/// Progress bars for the phases, and Ctrl-C as a stop request.
struct Bars {
    bar: Option<ProgressBar>,
    phase: String,
    stop: Arc<AtomicBool>,
    pretrain_epochs: usize,
    finetune_epochs: usize,
    last_test: Option<f64>,
    /// Without a terminal the bars are hidden: print a line per epoch instead.
    tty: bool,
}

impl Bars {
    fn style() -> ProgressStyle {
        ProgressStyle::with_template(
            "{prefix:>22} [{bar:30}] {pos}/{len} batches, ETA {eta}  {msg}",
        )
        .expect("template")
        .progress_chars("=> ")
    }

    fn start(&mut self, phase: String, len: u64) {
        if self.phase != phase {
            if let Some(b) = self.bar.take() {
                b.finish();
            }
            let b = ProgressBar::new(len)
                .with_style(Self::style())
                .with_prefix(phase.clone());
            self.bar = Some(b);
            self.phase = phase;
        }
    }

    fn on(&mut self, e: &Event) -> ControlFlow<()> {
        match e {
            Event::PretrainBatch {
                layer,
                epoch,
                batch,
                batches,
                error,
            } => {
                self.start(
                    format!("pre-train layer {}", layer + 1),
                    (self.pretrain_epochs * batches) as u64,
                );
                if let Some(b) = &self.bar {
                    b.set_position((epoch * batches + batch + 1) as u64);
                    b.set_message(format!(
                        "epoch {}, reconstruction error {error:.3}",
                        epoch + 1
                    ));
                }
            }
            Event::PretrainEpoch {
                layer,
                epoch,
                error,
            } => {
                if !self.tty {
                    say!(
                        "pre-train layer {}, epoch {}: reconstruction error {error:.3}",
                        layer + 1,
                        epoch + 1
                    );
                }
            }
            Event::FinetuneBatch {
                epoch,
                batch,
                batches,
                cost,
            } => {
                self.start("fine-tune".into(), (self.finetune_epochs * batches) as u64);
                if let Some(b) = &self.bar {
                    b.set_position((epoch * batches + batch + 1) as u64);
                    let test = self
                        .last_test
                        .map_or(String::new(), |t| format!(", test error {t:.3}"));
                    b.set_message(format!("epoch {}, cost {cost:.3}{test}", epoch + 1));
                }
            }
            Event::Phase(what) => {
                if let Some(b) = self.bar.take() {
                    b.finish();
                }
                if self.tty {
                    let spinner = ProgressBar::new_spinner().with_message(*what);
                    spinner.enable_steady_tick(std::time::Duration::from_millis(120));
                    self.bar = Some(spinner);
                    self.phase = (*what).to_string();
                } else {
                    say!("{what}");
                }
            }
            Event::FinetuneEpoch(r) => {
                self.last_test = Some(r.test_error);
                let line = format!(
                    "epoch {:4}: train error {:.3}, test error {:.3} ({:.1} s)",
                    r.epoch, r.train_error, r.test_error, r.seconds
                );
                match &self.bar {
                    Some(b) if self.tty => b.println(line),
                    _ => say!("{line}"),
                }
            }
        }
        if self.stop.load(Ordering::SeqCst) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }
}

fn train(a: &TrainArgs) -> Result<(), AnyError> {
    if let Some(t) = a.threads {
        if t == 0 {
            return Err("--threads must be at least 1".into());
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
    let mut bars = Bars {
        bar: None,
        phase: String::new(),
        stop,
        pretrain_epochs: cfg.pretrain.as_ref().map_or(0, |p| p.epochs),
        finetune_epochs: cfg.finetune.epochs,
        last_test: None,
        tty: std::io::IsTerminal::is_terminal(&std::io::stderr()),
    };
    let t = Instant::now();
    let result = match cfg.precision {
        Precision::F32 => finish::<f32>(&cfg, &dir, resume, &mut bars),
        Precision::F64 => finish::<f64>(&cfg, &dir, resume, &mut bars),
    };
    if let Some(b) = bars.bar.take() {
        b.finish();
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
    if let Some(b) = bars.bar.take() {
        b.finish();
    }
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

fn run_data<T: Scalar>(run: &Path) -> Result<(Autoencoder, Vec<T>, Dataset<T>), AnyError> {
    let (ae, x) = load_params::<T>(&run.join("params.safetensors"))?;
    let report = std::fs::read_to_string(run.join("report.json"))
        .map_err(|e| format!("{}: {e}", run.join("report.json").display()))?;
    let v: serde_json::Value = serde_json::from_str(&report)
        .map_err(|e| format!("{}: {e}", run.join("report.json").display()))?;
    let cfg: RunConfig = serde_json::from_value(v["config"].clone())
        .map_err(|e| format!("{}: config: {e}", run.join("report.json").display()))?;
    let (_, test) = load_data::<T>(&cfg)?;
    Ok((ae, x, test))
}

fn eval(run: &Path) -> Result<(), AnyError> {
    let (ae, x, test) = run_data::<f32>(run)?;
    let mut ft = symgrad::train::Finetuner::<f32>::new(&ae, Loss::CrossEntropy);
    say!(
        "test error per image: {:.4} ({} images)",
        ft.error(&x, &test)?,
        test.n
    );
    Ok(())
}

fn encode(run: &Path, out: &Path) -> Result<(), AnyError> {
    let (ae, x, test) = run_data::<f32>(run)?;
    let codes = symgrad::train::picture::encode(&ae, &x, &test)?;
    let k = *ae.sizes.last().expect("a network has layers");
    let mut s = String::from("label");
    for j in 0..k {
        s += &format!(",code{j}");
    }
    s.push('\n');
    for i in 0..test.n {
        let label = test
            .labels
            .as_ref()
            .map_or(String::new(), |l| l[i].to_string());
        s += &label;
        for v in &codes[i * k..(i + 1) * k] {
            s += &format!(",{v}");
        }
        s.push('\n');
    }
    symgrad::train::run::write_atomic(out, s.as_bytes())?;
    say!("wrote {} codes of {} units to {}", test.n, k, out.display());
    Ok(())
}

fn reconstruct(run: &Path, out: &Path) -> Result<(), AnyError> {
    let (ae, x, test) = run_data::<f32>(run)?;
    symgrad::train::picture::reconstructions(out, &ae, &x, &test)?;
    say!("wrote {}", out.display());
    Ok(())
}

fn demo(batch: usize, steps: usize, seed: u64) -> Result<(), AnyError> {
    if batch == 0 {
        return Err("--batch must be at least 1".into());
    }
    say!(
        "1. The MNIST deep autoencoder 784-1000-500-250-30 (untied, {} parameters)",
        Autoencoder::mnist().layout().len()
    );
    time_autoencoder::<f32>(batch, seed)?;
    time_autoencoder::<f64>(batch, seed)?;

    say!("\n2. Gradient check of a small autoencoder 12-6-2 in f64 against finite differences");
    let ae = Autoencoder {
        sizes: vec![12, 6, 2],
        units: vec![Unit::Logistic, Unit::Linear],
        output_unit: Unit::Logistic,
        tied: false,
    };
    let layout = ae.layout();
    let g = Graph::<f64>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 12]);
    let cost = ae.cost(Loss::CrossEntropy, x, &ae.forward(&g, &layout, x));
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let data = made_data(64, 12, seed);
    let p0: Vec<f64> = ae.init(&layout, 0.5, seed);
    let report = check_gradient(
        &mut f,
        &layout,
        &p0,
        &[TensorRef::new(&[64, 12], &data)],
        &GradCheckOptions::default(),
    )?;
    print!("{report}");

    say!("\n3. Training it by gradient descent with momentum 0.9, learning rate 0.1, full batch of 64");
    let mut p = p0;
    let mut v = vec![0.0; p.len()];
    let mut gr = vec![0.0; p.len()];
    let inputs = [TensorRef::new(&[64, 12], &data)];
    let t = Instant::now();
    for step in 0..=steps {
        let c = f.value_and_grad(&p, &inputs, &mut gr)?;
        if step % (steps / 6).max(1) == 0 {
            say!("   step {step:4}: cross-entropy per image {c:.4}");
        }
        for ((pi, vi), gi) in p.iter_mut().zip(&mut v).zip(&gr) {
            *vi = 0.9 * *vi - 0.1 * gi;
            *pi += *vi;
        }
    }
    say!("   {} steps in {:.2} s", steps, t.elapsed().as_secs_f64());
    Ok(())
}

/// Images with structure: each row is a noisy mix of a few fixed prototypes, in (0, 1).
fn made_data(n: usize, d: usize, seed: u64) -> Vec<f64> {
    let mut rng = StdRng::seed_from_u64(seed);
    let protos: Vec<Vec<f64>> = (0..3)
        .map(|_| (0..d).map(|_| rng.random::<f64>()).collect())
        .collect();
    let mut out = Vec::with_capacity(n * d);
    for _ in 0..n {
        let k = rng.random_range(0..protos.len());
        for &pv in &protos[k] {
            out.push((pv + 0.05 * (rng.random::<f64>() - 0.5)).clamp(0.01, 0.99));
        }
    }
    out
}

fn time_autoencoder<T: Scalar>(batch: usize, seed: u64) -> Result<(), AnyError> {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let t0 = Instant::now();
    let g = Graph::<T>::new();
    let (x, cost) = ae.literal_cost(&g, &layout);
    let forward_nodes = g.len();
    let params: Vec<_> = layout.ids().map(|id| g.param_id(&layout, id)).collect();
    let grads = grad(cost, &params);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .output(cost)
        .flat_gradient(&grads)
        .build();
    let compile = t0.elapsed();
    let p: Vec<T> = ae.init(&layout, 0.1, seed);
    let mut rng = StdRng::seed_from_u64(seed);
    let data: Vec<T> = (0..batch * 784)
        .map(|_| T::from_f64(rng.random::<f64>()))
        .collect();
    let mut gr = vec![T::zero(); layout.len()];
    let shape = [batch, 784];
    let inputs = [TensorRef::new(&shape, &data)];
    let c = f.value_and_grad(&p, &inputs, &mut gr)?;
    let mut times: Vec<f64> = (0..5)
        .map(|_| {
            let t = Instant::now();
            f.value_and_grad(&p, &inputs, &mut gr)
                .map(|_| t.elapsed().as_secs_f64() * 1e3)
        })
        .collect::<Result<_, _>>()?;
    times.sort_by(f64::total_cmp);
    let gnorm = gr
        .iter()
        .map(|v| v.to_f64_lossless().powi(2))
        .sum::<f64>()
        .sqrt();
    say!(
        "   {}: {} nodes built, {} after grad; compiled in {:.1} ms; F = {:.3}, |grad F| = {:.3}; F and grad at batch {batch}: {:.1} ms (median of 5)",
        T::NAME,
        forward_nodes,
        g.len(),
        compile.as_secs_f64() * 1e3,
        c.to_f64_lossless(),
        gnorm,
        times[2]
    );
    Ok(())
}
