//! `Error`: the typed errors returned for everything that comes from outside the program.

use thiserror::Error;

/// Errors returned by compiled functions, parameter views and gradient checks.
///
/// Each variant names what was expected and what came, so that the message alone tells the
/// caller what to fix. Mistakes made while *building* a graph in code (adding a 3x4 to a
/// 5x6) panic at once instead, like ndarray does, because they are programming errors.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// The number of input arrays handed to a compiled function is wrong.
    #[error("expected {expected} input array(s) ({names}), got {given}")]
    InputCount {
        /// How many inputs the function was compiled with.
        expected: usize,
        /// Their names, comma separated.
        names: String,
        /// How many arrays came.
        given: usize,
    },
    /// An input array's shape does not fit the input's declared shape.
    #[error("input `{name}`: expected shape {expected}, got {given:?}")]
    InputShape {
        /// The input's name.
        name: String,
        /// The declared shape, symbolic dimensions by name.
        expected: String,
        /// The shape that came.
        given: Vec<usize>,
    },
    /// An input array's data length does not match its shape.
    #[error("input `{name}`: shape {shape:?} needs {needed} values, got {given}")]
    InputLength {
        /// The input's name.
        name: String,
        /// The shape given with the data.
        shape: Vec<usize>,
        /// The product of that shape.
        needed: usize,
        /// The length of the data.
        given: usize,
    },
    /// A symbolic dimension was bound to two different sizes by two inputs.
    #[error("symbolic dimension `{symbol}` is {first} in input `{first_input}` but {second} in input `{second_input}`")]
    SymbolConflict {
        /// The symbol's name.
        symbol: String,
        /// The input that bound it first.
        first_input: String,
        /// The size bound first.
        first: usize,
        /// The input that disagrees.
        second_input: String,
        /// The size it gives.
        second: usize,
    },
    /// A symbolic dimension that the function needs is bound by no input.
    #[error("symbolic dimension `{symbol}` is not bound by any input")]
    UnboundSymbol {
        /// The symbol's name.
        symbol: String,
    },
    /// A flat vector (parameters, gradient) has the wrong length.
    #[error("{what}: expected length {expected}, got {given}")]
    Length {
        /// Which vector.
        what: &'static str,
        /// The layout's length.
        expected: usize,
        /// The length that came.
        given: usize,
    },
    /// Data for a tensor whose length is not the product of its shape
    /// ([`Tensor::try_from_vec`](crate::Tensor::try_from_vec)).
    #[error("a tensor of shape {shape:?} needs {needed} values, got {given}")]
    TensorLength {
        /// The shape asked for.
        shape: Vec<usize>,
        /// The product of the shape.
        needed: usize,
        /// The length of the data that came.
        given: usize,
    },
    /// A function with gradient outputs was called without a gradient vector.
    #[error("this function writes a flat gradient: pass a gradient vector of length {expected}")]
    GradientMissing {
        /// The layout's length.
        expected: usize,
    },
    /// A function with parameter updates was called through the read-only entry point.
    #[error("this function updates parameters in place: call it with `run_update`")]
    UpdatesNeedMut,
    /// A size computed from shapes (an input's, or a value's once the symbolic dimensions
    /// are bound) is larger than any array can be: its element count overflows, or its
    /// bytes exceed `isize::MAX`; or memory for it could not be had.
    #[error("{what}: {why}")]
    TooLarge {
        /// What was being sized: an input by name, or a program step.
        what: String,
        /// The shape or size, and why it cannot be.
        why: String,
    },
    /// A parameter name is not in the layout.
    #[error("no parameter named `{name}` (have: {have})")]
    UnknownParam {
        /// The name asked for.
        name: String,
        /// The names the layout holds.
        have: String,
    },
    /// [`Expr::eval`](crate::Expr::eval) was given no value for an input (or, without a
    /// layout, a parameter) that the expression reads.
    #[error("eval: the expression reads {what} `{name}`, and no value was given for it")]
    Unbound {
        /// `"input"` or `"parameter"`.
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// An output index is out of range.
    #[error("output {index} requested, the function has {count}")]
    UnknownOutput {
        /// The index asked for.
        index: usize,
        /// How many outputs there are.
        count: usize,
    },
    /// Writing a checkpoint failed during training.
    #[error("checkpoint: {0}")]
    Checkpoint(String),
    /// A long computation was stopped by its progress callback (Ctrl-C).
    #[error("interrupted")]
    Interrupted,
    /// The NaN guard found a step whose output is not finite.
    #[error("step {step} produced {value}: `{expr}`, made by {origin}; it reads {reads}")]
    NonFinite {
        /// The program step.
        step: usize,
        /// The first non-finite value it produced.
        value: String,
        /// The step's expression, printed (cut after 200 characters).
        expr: String,
        /// Where the node came from: the user's expression, the gradient rule of node k, or
        /// rule R.
        origin: String,
        /// The parameters the expression reads, comma separated.
        reads: String,
    },
    /// Text given to the parser is not a valid graph or expression.
    #[error("parse error at {0}")]
    Parse(#[from] crate::graph::ParseError),
    /// An output read as a scalar has more (or fewer) than one element.
    #[error("output {output} has shape {shape:?}, not one element")]
    NotScalar {
        /// The output's index.
        output: usize,
        /// Its shape in the last call.
        shape: Vec<usize>,
    },
    /// An indexing op met an index it cannot use: not a whole number, or outside the axis
    /// it indexes ([`Expr::take`](crate::Expr::take), `one_hot`, `take_along_axis`, ...).
    #[error("{op} reading {indices}: {why}")]
    IndexOutOfRange {
        /// The op, as printed (`take[0]`).
        op: String,
        /// The index array: `input `ids`` or the op that made it.
        indices: String,
        /// The value, where it is, and what was valid.
        why: String,
    },
    /// An array given to an index input does not hold indices (or an index array was given
    /// to an input of values): a value that is not a whole number, or too large for the
    /// float type to hold exactly.
    #[error("input `{name}`: {why}")]
    IndexInput {
        /// The input's name.
        name: String,
        /// What was wrong.
        why: String,
    },
    /// A function without a flat gradient was given to something that needs one (a
    /// gradient check, an objective for a minimizer).
    #[error("{needed_by} needs a function compiled with a flat gradient (`value_and_grad` or `flat_gradient`)")]
    NoGradient {
        /// What needs it.
        needed_by: &'static str,
    },
    /// A linear-algebra kernel could not compute its value from the values it was given:
    /// Cholesky of a matrix that is not positive definite, a solve or an inverse of an
    /// exactly singular matrix, an eigendecomposition that did not converge
    /// (`ops/linalg.rs`, "Failures at call time").
    #[error("step {step}, {expr}: {why}")]
    Linalg {
        /// The program step.
        step: usize,
        /// The step's expression, printed (cut after 200 characters), and where it came
        /// from: the user's expression, the gradient rule of node k, or rule R.
        expr: String,
        /// What was wrong with the matrix, and in which batch element.
        why: String,
    },
}

/// `Result` with [`Error`](enum@Error).
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// A short, stable name for the kind of failure, for tests and scripts that must tell
    /// one refusal from another without matching messages: the variant's name in
    /// snake case (`"input_count"`, `"input_shape"`, `"input_length"`, `"symbol_conflict"`,
    /// `"unbound_symbol"`, `"length"`, `"tensor_length"`, `"gradient_missing"`,
    /// `"updates_need_mut"`, `"too_large"`, `"unknown_param"`, `"unbound"`,
    /// `"unknown_output"`, `"checkpoint"`, `"interrupted"`, `"non_finite"`, `"not_scalar"`,
    /// `"index_out_of_range"`, `"index_input"`, `"no_gradient"`, `"linalg"`), except a parse error, which gives its
    /// [`ParseError::kind`](crate::graph::ParseError::kind) (`"parse_..."`).
    ///
    /// ```
    /// let e = symgrad::Tensor::try_from_vec(vec![2, 2], vec![1.0f64]).unwrap_err();
    /// assert_eq!(e.kind(), "tensor_length");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            Error::InputCount { .. } => "input_count",
            Error::InputShape { .. } => "input_shape",
            Error::InputLength { .. } => "input_length",
            Error::SymbolConflict { .. } => "symbol_conflict",
            Error::UnboundSymbol { .. } => "unbound_symbol",
            Error::Length { .. } => "length",
            Error::TensorLength { .. } => "tensor_length",
            Error::GradientMissing { .. } => "gradient_missing",
            Error::UpdatesNeedMut => "updates_need_mut",
            Error::TooLarge { .. } => "too_large",
            Error::UnknownParam { .. } => "unknown_param",
            Error::Unbound { .. } => "unbound",
            Error::UnknownOutput { .. } => "unknown_output",
            Error::Checkpoint(_) => "checkpoint",
            Error::Interrupted => "interrupted",
            Error::NonFinite { .. } => "non_finite",
            Error::Parse(e) => e.kind(),
            Error::NotScalar { .. } => "not_scalar",
            Error::IndexOutOfRange { .. } => "index_out_of_range",
            Error::IndexInput { .. } => "index_input",
            Error::NoGradient { .. } => "no_gradient",
            Error::Linalg { .. } => "linalg",
        }
    }
}
