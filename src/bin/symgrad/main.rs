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
            let training = $crate::TRAINING.load(std::sync::atomic::Ordering::Relaxed);
            if e.kind() != std::io::ErrorKind::BrokenPipe || training {
                // Training stops here, but not as a success: its parameters are not written
                // (the last epoch's checkpoint is in the folder).
                eprintln!("symgrad: cannot write to standard output: {e}");
                std::process::exit(1);
            }
            std::process::exit(0);
        }
    }};
}

/// Set while `train` runs: its output going away ends it with status 1, not 0.
static TRAINING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

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
    /// The most memory a run or a compiled function may plan to use, in bytes or with a
    /// K, M, G or T suffix (default: $SYMGRAD_MEMORY_LIMIT, else the machine's memory).
    /// What needs more is refused before anything is allocated.
    #[arg(long, global = true, value_name = "BYTES")]
    memory_limit: Option<String>,
}

/// Sets the memory limit from `--memory-limit`, else checks `SYMGRAD_MEMORY_LIMIT` (which
/// the library would otherwise ignore when it does not parse).
fn memory_limit(flag: Option<&str>) -> Result<(), AnyError> {
    let (what, text) = match (flag, std::env::var("SYMGRAD_MEMORY_LIMIT")) {
        (Some(f), _) => ("--memory-limit".to_string(), f.to_string()),
        (None, Ok(v)) => ("SYMGRAD_MEMORY_LIMIT".to_string(), v),
        (None, Err(_)) => return Ok(()),
    };
    let bytes = symgrad::tensor::parse_bytes(&text).ok_or_else(|| {
        format!("{what} `{text}`: expected a number of bytes, or one with a K, M, G or T suffix (e.g. 8G)")
    })?;
    let _ = symgrad::tensor::set_memory_limit(bytes);
    Ok(())
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
    /// Continue the run in this folder from its last checkpoint, as it was configured (the
    /// other options of this list are refused).
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
    #[arg(long, value_delimiter = ',', action = clap::ArgAction::Set)]
    layers: Option<Vec<usize>>,
    /// Units of each encoder layer: logistic, linear, relu, tanh (e.g. logistic,logistic,linear).
    #[arg(long, value_delimiter = ',', action = clap::ArgAction::Set)]
    units: Option<Vec<String>>,
    /// Tie the decoder's weights to the encoder's (the paper's are untied).
    #[arg(long)]
    tied: bool,
    /// Units of the reconstruction: logistic, or linear ("Gaussian" visible units, for
    /// real-valued data), relu or tanh; all but logistic need --loss squared-error.
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

/// Where `grad` and `explain` take their expression from.
#[derive(clap::Args)]
struct Source {
    /// The expression (names not declared are inputs, scalars unless --shape or --value
    /// says); it may start with `-`; `-` alone reads it from standard input.
    #[arg(allow_hyphen_values = true, required_unless_present = "file")]
    expr: Option<String>,
    /// Read the expression from this file (`-`: standard input).
    #[arg(
        short = 'f',
        long = "file",
        value_name = "FILE",
        conflicts_with = "expr"
    )]
    file: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Command {
    /// Train a deep autoencoder: pre-train, unroll, fine-tune; writes parameters, a report,
    /// pictures and checkpoints into the output folder.
    Train(Box<TrainArgs>),
    /// Evaluate an expression (`symgrad eval "x * y + 1" --value x=2 --value y=[1,2,3]`), or,
    /// given a run folder, the test error of the trained run on its data.
    Eval {
        /// An expression, a run folder (with params.safetensors), or `-` to read the
        /// expression from standard input. An expression may start with `-`, as `grad` prints
        /// it: `symgrad eval "-(2 * sin(x))" -v x=1`.
        #[arg(allow_hyphen_values = true, required_unless_present = "file")]
        target: Option<String>,
        /// Read the expression from this file (`-`: standard input).
        #[arg(
            short = 'f',
            long = "file",
            value_name = "FILE",
            conflicts_with = "target"
        )]
        file: Option<PathBuf>,
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
        #[command(flatten)]
        source: Source,
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
        #[command(flatten)]
        source: Source,
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
    if let Err(e) = memory_limit(cli.memory_limit.as_deref()) {
        eprintln!("symgrad: {e}");
        return ExitCode::from(2);
    }
    let result = match cli.command {
        // No command: the main job, `train` with its defaults (the demo preset).
        None => match Cli::parse_from(["symgrad", "train"]).command {
            Some(Command::Train(a)) => train::train(&a),
            _ => unreachable!("`train` parses as the train command"),
        },
        Some(Command::Train(a)) => train::train(&a),
        Some(Command::Eval {
            target,
            file,
            values,
            json,
            nan_guard,
        }) => eval(target, file, &values, json, nan_guard),
        Some(Command::Grad {
            source,
            wrt,
            shape,
            json,
        }) => expression(source.expr, source.file)
            .and_then(|e| expr::grad_cmd(&e, &wrt, &shape, json)),
        Some(Command::Explain {
            source,
            wrt,
            values,
            shape,
            dot,
        }) => expression(source.expr, source.file)
            .and_then(|e| expr::explain_cmd(&e, &wrt, &values, &shape, dot.as_deref())),
        Some(Command::Encode { run, out }) => inspect::encode(&run, &out),
        Some(Command::Reconstruct { run, out }) => inspect::reconstruct(&run, &out),
        Some(Command::Demo { batch, steps, seed }) => demo::demo(batch, steps, seed),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("symgrad: {e}");
            ExitCode::from(exit_status(e.as_ref()))
        }
    }
}

/// The exit status of an error: 1 when the work itself failed (a file could not be written,
/// training diverged), 2 for input that is wrong (arguments, expressions, values, data or run
/// files), as clap does for arguments it cannot parse.
fn exit_status(e: &(dyn std::error::Error + 'static)) -> u8 {
    use symgrad::train::run::RunError;
    match e.downcast_ref::<RunError>() {
        Some(RunError::Io { .. } | RunError::Diverged(_)) => 1,
        _ if e.downcast_ref::<std::io::Error>().is_some() => 1,
        _ => 2,
    }
}

/// The most an expression read from a file or standard input may hold: a graph takes some
/// hundreds of bytes per byte of text (a million-term sum, 4 MB of text, took 1.6 GB to
/// evaluate and 4 GB to differentiate), so 1 MiB, and less under a lower memory limit.
const MAX_EXPRESSION_BYTES: u64 = 1 << 20;

/// Graph bytes budgeted per byte of expression text, for the memory limit.
const GRAPH_BYTES_PER_TEXT_BYTE: u64 = 2048;

/// Refuses what looks like a mistyped option (`--jsn`) rather than reading it as an
/// expression (`allow_hyphen_values` lets `-x` through, as `grad` prints it).
fn not_an_option(text: &str) -> Result<(), AnyError> {
    if let Some(rest) = text.strip_prefix("--") {
        let name = rest.split('=').next().unwrap_or("");
        if name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            return Err(format!(
                "unknown option `--{name}` (`symgrad help` lists them; an expression that \
                 starts with `--` needs parentheses: `-(-x)`)"
            )
            .into());
        }
    }
    Ok(())
}

/// The expression text of `grad`, `eval` and `explain`: the argument, or `-` or `-f FILE` to
/// read it (bounded, UTF-8) from standard input or a file.
fn expression(arg: Option<String>, file: Option<PathBuf>) -> Result<String, AnyError> {
    use std::io::Read;
    let (mut reader, name): (Box<dyn Read>, String) = match (arg, file) {
        (Some(a), None) if a != "-" => {
            not_an_option(&a)?;
            return Ok(a);
        }
        (Some(_), None) => (Box::new(std::io::stdin()), "standard input".into()),
        (None, Some(f)) if f.as_os_str() == "-" => {
            (Box::new(std::io::stdin()), "standard input".into())
        }
        (None, Some(f)) => {
            let file = std::fs::File::open(&f)
                .map_err(|e| format!("-f {}: cannot read the expression: {e}", f.display()))?;
            (Box::new(file), format!("-f {}", f.display()))
        }
        _ => return Err("give the expression as an argument or with -f FILE, not both".into()),
    };
    let mut bytes = Vec::new();
    (&mut reader)
        .take(MAX_EXPRESSION_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("{name}: cannot read the expression: {e}"))?;
    let limit = (symgrad::tensor::memory_limit() as u64 / GRAPH_BYTES_PER_TEXT_BYTE)
        .min(MAX_EXPRESSION_BYTES);
    if bytes.len() as u64 > limit {
        return Err(format!(
            "{name}: the expression is longer than {}, the most this command reads (1 MiB, \
             less under a memory limit below {}: a graph takes some hundreds of bytes per byte \
             of text)",
            symgrad::tensor::fmt_bytes(limit as usize),
            symgrad::tensor::fmt_bytes((MAX_EXPRESSION_BYTES * GRAPH_BYTES_PER_TEXT_BYTE) as usize)
        )
        .into());
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{name}: the expression is not UTF-8 text (byte {})",
            e.utf8_error().valid_up_to()
        )
        .into()
    })
}

/// `eval`: a run folder's test error, or an expression's value. A target that names no
/// folder is read as an expression; if that fails too and the target looks like a path
/// (`runs/latest`, which would otherwise be read as `runs / latest`), the error says the
/// folder is missing.
fn eval(
    target: Option<String>,
    file: Option<PathBuf>,
    values: &[String],
    json: bool,
    nan_guard: bool,
) -> Result<(), AnyError> {
    if let Some(t) = target.as_deref().filter(|t| *t != "-" && file.is_none()) {
        let path = Path::new(t);
        // A folder is a run folder unless values are given: `eval x -v x=2` evaluates `x`
        // even where a folder `x` sits in the working directory.
        if path.is_dir() && values.is_empty() {
            for (given, flag) in [(json, "--json"), (nan_guard, "--nan-guard")] {
                if given {
                    return Err(format!(
                        "{flag} applies to expressions, not to a run folder (`{t}` is one)"
                    )
                    .into());
                }
            }
            return inspect::eval(path);
        }
        let pathlike = t.contains(std::path::MAIN_SEPARATOR) || t.contains('/');
        let pathlike = pathlike
            && t.chars()
                .all(|c| c.is_alphanumeric() || "/._-~".contains(c));
        if pathlike || path.is_file() {
            if let Err(e) = expr::eval_cmd(t, values, json, nan_guard) {
                return Err(if path.is_file() {
                    format!(
                        "`{t}` is a file, not a run folder (to read an expression from a \
                         file, use -f {t})"
                    )
                    .into()
                } else if values.is_empty() {
                    format!("no run folder at `{t}` (read as an expression: {e})").into()
                } else {
                    e
                });
            }
            return Ok(());
        }
    }
    expr::eval_cmd(&expression(target, file)?, values, json, nan_guard)
}
