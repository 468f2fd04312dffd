//! The `symgrad` command line: its arguments (clap) and the dispatch to one module per
//! command family; a thin layer over the library. Every error is one line on stderr and a
//! non-zero exit.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `println!` that ends the process quietly (status 0) when the reader has gone away
/// (`symgrad ... | head`), and with one line on stderr on any other write error, where
/// `println!` would panic. Defined before the modules, so that they all use it.
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

mod demo;
mod expr;
mod inspect;
mod progress;
mod train;

use clap::{Parser, Subcommand, ValueEnum};

/// Any error of a command: printed as one line.
type AnyError = Box<dyn std::error::Error>;

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
        /// An expression, or a run folder (with params.safetensors). An expression may start
        /// with `-`, as `grad` prints it: `symgrad eval "-(2 * sin(x))" -v x=1`.
        #[arg(allow_hyphen_values = true)]
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
        /// The expression (names not declared are inputs, scalars unless --shape says); it may
        /// start with `-`.
        #[arg(allow_hyphen_values = true)]
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
        /// The expression; it may start with `-`.
        #[arg(allow_hyphen_values = true)]
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
            Some(Command::Train(a)) => train::train(&a),
            _ => unreachable!("`train` parses as the train command"),
        },
        Some(Command::Train(a)) => train::train(&a),
        Some(Command::Eval {
            target,
            values,
            json,
            nan_guard,
        }) => {
            if Path::new(&target).is_dir() {
                inspect::eval(Path::new(&target))
            } else {
                expr::eval_cmd(&target, &values, json, nan_guard)
            }
        }
        Some(Command::Grad {
            expr,
            wrt,
            shape,
            json,
        }) => expr::grad_cmd(&expr, &wrt, &shape, json),
        Some(Command::Explain {
            expr,
            wrt,
            values,
            shape,
            dot,
        }) => expr::explain_cmd(&expr, &wrt, &values, &shape, dot.as_deref()),
        Some(Command::Encode { run, out }) => inspect::encode(&run, &out),
        Some(Command::Reconstruct { run, out }) => inspect::reconstruct(&run, &out),
        Some(Command::Demo { batch, steps, seed }) => demo::demo(batch, steps, seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("symgrad: {e}");
            ExitCode::FAILURE
        }
    }
}
