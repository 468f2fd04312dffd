//! The canonical text form of a graph: infix, readable, and parsed back to the same graph.
//!
//! ```text
//! input x: [batch, 3]
//! param w: [3]
//! let $1 = exp(x * w)
//! out sum[0, 1]($1 / (1 + $1))
//! ```
//!
//! Leaves are declared first (inputs and parameters, in node order). A node used more than
//! once, or one that would nest too deep, is bound once with `let $k = ...` (numbered in node
//! order); every other node is written inline where it is used. Arithmetic and comparisons
//! are infix with the usual precedence (`^` binds tightest and to the right, then unary `-`,
//! then `* / @`, then `+ -`, then comparisons), and only the parentheses the precedence needs
//! are printed. Every other op is a call whose attributes sit in brackets:
//! `sum[0, keepdims](x)`, `reshape[batch, 784](x)`, `slice[axis=1, start=2, len=3](x)`.
//! An axis may be negative, counted from the last as in NumPy (`sum[-1](x)`,
//! `slice[axis=-1, ...]`, `transpose[-1, 0]`); the graph holds it counted from the first,
//! and prints it so.
//! Numbers print in Rust's shortest form that reads back to the same bits, so
//! `print(parse(print(g))) == print(g)` (checked by proptest in `tests/text.rs`).
//!
//! The parser also takes sugar that the printer never writes: `sum(x)`, `max(x)`, `min(x)`,
//! `mean(x)` and `logsumexp(x)` over all axes, `transpose(x)` with the axes reversed (as
//! NumPy's), `mean[axes](x)`, `logsumexp[axes](x)`, `square(x)`, `softmax[axis](x)` and
//! `log_softmax[axis](x)` (expanded into primitives), and a bare expression as the last
//! line, which is taken as the output.
//! Identifiers that are not declared can be bound by the caller
//! ([`ParseOptions::implicit_inputs`]), which is how the command line's `symgrad eval "x * y"`
//! works.

mod parse;
mod print;

pub use parse::{parse, parse_with, ParseError, ParseOptions, Parsed};
pub(crate) use print::call_head;

use crate::Scalar;

/// Nodes nest at most this deep inline; deeper chains are cut with `let`, so printing and
/// parsing never recurse without bound.
const MAX_INLINE_HEIGHT: usize = 24;

pub(super) fn starts_negative<T: Scalar>(v: T) -> bool {
    v.is_sign_negative() && !v.is_nan()
}

/// A number as text: Rust's shortest round-trip form, `inf`, `-inf` or `nan`.
pub fn fmt_number<T: Scalar>(v: T) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.is_infinite() {
        if v > T::zero() { "inf" } else { "-inf" }.into()
    } else {
        format!("{v}")
    }
}

/// Whether a name can be written bare (otherwise it is quoted in backticks).
pub(super) fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.')
        && !matches!(s, "inf" | "nan" | "let" | "out" | "input" | "param")
}

pub(super) fn fmt_name(s: &str) -> String {
    if is_ident(s) {
        s.to_string()
    } else {
        format!("`{s}`")
    }
}
