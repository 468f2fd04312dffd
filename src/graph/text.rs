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
//! Numbers print in Rust's shortest form that reads back to the same bits, so
//! `print(parse(print(g))) == print(g)` (checked by proptest in `tests/text.rs`).
//!
//! The parser also takes sugar that the printer never writes: `sum(x)`, `max(x)` and
//! `mean(x)` over all axes, `mean[axes](x)`, `square(x)`, `softmax[axis](x)` and
//! `log_softmax[axis](x)` (expanded into primitives), and a bare expression as the last
//! line, which is taken as the output. Identifiers that are not declared can be bound by the
//! caller ([`ParseOptions::implicit_inputs`]), which is how the command line's
//! `symgrad eval "x * y"` works.

use std::collections::HashMap;
use std::fmt::{self, Write};

use smallvec::SmallVec;

use super::{Dim, Graph, NodeId, SymShape};
use crate::ops::{Binary, Op, Unary};
use crate::params::ParamLayout;
use crate::tensor::Tensor;
use crate::Scalar;

/// Nodes nest at most this deep inline; deeper chains are cut with `let`, so printing and
/// parsing never recurse without bound.
const MAX_INLINE_HEIGHT: usize = 24;
/// Parentheses and calls may nest this deep in text handed to the parser.
const MAX_PARSE_DEPTH: usize = 200;

// ---- printing ---------------------------------------------------------------------------

/// Binding strength of what a node prints as, for deciding parentheses.
fn prec<T: Scalar>(op: &Op<T>) -> u8 {
    match op {
        Op::Binary(b) => match b {
            Binary::Gt | Binary::Ge | Binary::Lt | Binary::Le | Binary::Eq | Binary::Ne => 1,
            Binary::Add | Binary::Sub => 2,
            Binary::Mul | Binary::Div => 3,
            Binary::Pow => 5,
            Binary::Maximum | Binary::Minimum => 9,
        },
        Op::MatMul {
            ta: false,
            tb: false,
        } => 3,
        Op::Unary(Unary::Neg) => 4,
        Op::Const(t) if t.shape().is_empty() && starts_negative(t.data()[0]) => 4,
        _ => 9,
    }
}

fn starts_negative<T: Scalar>(v: T) -> bool {
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
fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '.')
        && !matches!(s, "inf" | "nan" | "let" | "out" | "input" | "param")
}

fn fmt_name(s: &str) -> String {
    if is_ident(s) {
        s.to_string()
    } else {
        format!("`{s}`")
    }
}

struct Printer<'a, T: Scalar> {
    g: &'a Graph<T>,
    /// `let` number of a node, for nodes that are bound.
    bound: HashMap<NodeId, usize>,
    /// Characters after which inline expansion stops (`…`), or no limit.
    cap: Option<usize>,
    /// Current nesting, for the infix form's depth limit.
    depth: std::cell::Cell<usize>,
}

/// The infix form writes nodes nested deeper than this as `%id`.
const INFIX_DEPTH: usize = 64;

/// A shape as the text form writes it: `[batch, 784]`.
pub(crate) fn shape_text<T: Scalar>(g: &Graph<T>, s: &[Dim]) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Sym(id) => fmt_name(&g.symbol_name(*id)),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// The call name with its attribute brackets: `sum[0, keepdims]`, `matmul[tb]`.
pub(crate) fn call_head<T: Scalar>(g: &Graph<T>, op: &Op<T>) -> String {
    Printer {
        g,
        bound: HashMap::new(),
        cap: None,
        depth: Default::default(),
    }
    .call_head(op)
}

impl<T: Scalar> Printer<'_, T> {
    fn shape(&self, s: &[Dim]) -> String {
        shape_text(self.g, s)
    }

    /// The attribute brackets and call name of a call-style op.
    fn call_head(&self, op: &Op<T>) -> String {
        let list = |v: &[usize]| {
            v.iter()
                .map(|a| a.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        match op {
            Op::Powi(n) => format!("powi[{n}]"),
            Op::MatMul { ta, tb } => {
                let f: Vec<&str> = [(*ta, "ta"), (*tb, "tb")]
                    .iter()
                    .filter(|f| f.0)
                    .map(|f| f.1)
                    .collect();
                if f.is_empty() {
                    "matmul".into()
                } else {
                    format!("matmul[{}]", f.join(", "))
                }
            }
            Op::Transpose(p) => format!("transpose[{}]", list(p)),
            Op::Reshape(s) => format!("reshape{}", self.shape(s)),
            Op::BroadcastTo(s) => format!("broadcast_to{}", self.shape(s)),
            Op::SumTo(s) => format!("sum_to{}", self.shape(s)),
            Op::Sum { axes, keepdims } | Op::Max { axes, keepdims } => {
                let mut items: Vec<String> = axes.iter().map(|a| a.to_string()).collect();
                if *keepdims {
                    items.push("keepdims".into());
                }
                format!("{}[{}]", op.name(), items.join(", "))
            }
            Op::Numel { axes } => format!("numel[{}]", list(axes)),
            Op::Slice { axis, start, len } => {
                format!("slice[axis={axis}, start={start}, len={len}]")
            }
            Op::Pad { axis, start, total } => {
                format!("pad[axis={axis}, start={start}, total={total}]")
            }
            Op::Concat { axis } => format!("concat[axis={axis}]"),
            Op::Fused(f) => format!("fused{{{}}}", f.describe()),
            op => op.name().to_string(),
        }
    }

    fn over(&self, s: &str) -> bool {
        self.cap.is_some_and(|c| s.len() > c)
    }

    /// Writes node `id` as an operand: its `let` name, or its expression inline.
    fn operand(&self, id: NodeId, s: &mut String) {
        if self.over(s) {
            if !s.ends_with('…') {
                s.push('…');
            }
            return;
        }
        if let Some(k) = self.bound.get(&id) {
            let _ = write!(s, "${k}");
            return;
        }
        let d = self.depth.get();
        if self.cap.is_some() && d >= INFIX_DEPTH {
            let _ = write!(s, "{id}");
            return;
        }
        self.depth.set(d + 1);
        self.inline(id, s);
        self.depth.set(d);
    }

    /// Writes `id` as an operand of a parent of binding strength `parent`; `strict` asks
    /// for parentheses at equal strength too (the side that associativity does not cover).
    fn child(&self, id: NodeId, parent: u8, strict: bool, s: &mut String) {
        let p = if self.bound.contains_key(&id) {
            9
        } else {
            prec(&self.g.node(id).op)
        };
        if p < parent || (strict && p == parent) {
            s.push('(');
            self.operand(id, s);
            s.push(')');
        } else {
            self.operand(id, s);
        }
    }

    fn inline(&self, id: NodeId, s: &mut String) {
        let n = self.g.node(id);
        match &n.op {
            Op::Input { name } => s.push_str(&fmt_name(name)),
            Op::Param { name, .. } => s.push_str(&fmt_name(name)),
            Op::Const(t) if t.shape().is_empty() => s.push_str(&fmt_number(t.data()[0])),
            Op::Const(t) => {
                let vals: Vec<String> = t.data().iter().map(|&v| fmt_number(v)).collect();
                let dims: Vec<String> = t.shape().iter().map(|d| d.to_string()).collect();
                let _ = write!(s, "const[{}]({})", dims.join(", "), vals.join(", "));
            }
            Op::Binary(b) if b.infix().is_some() => {
                let p = prec(&n.op);
                let right_assoc = *b == Binary::Pow;
                // Comparisons do not chain: parenthesized on both sides.
                self.child(n.inputs[0], p, right_assoc || p == 1, s);
                let _ = write!(s, " {} ", b.infix().unwrap_or("?"));
                self.child(n.inputs[1], p, !right_assoc, s);
            }
            Op::MatMul {
                ta: false,
                tb: false,
            } => {
                self.child(n.inputs[0], 3, false, s);
                s.push_str(" @ ");
                self.child(n.inputs[1], 3, true, s);
            }
            Op::Unary(Unary::Neg) => {
                s.push('-');
                // `-2` and `-inf` would read back as negative constants: keep a negated
                // number-led operand in parentheses.
                let mut inner = String::new();
                self.child(n.inputs[0], 4, false, &mut inner);
                let leads_number = inner.starts_with(|c: char| c.is_ascii_digit() || c == '.')
                    || ["inf", "nan"].iter().any(|k| {
                        inner.starts_with(k)
                            && !inner[k.len()..].starts_with(|c: char| {
                                c.is_ascii_alphanumeric() || c == '_' || c == '.'
                            })
                    });
                if leads_number {
                    let _ = write!(s, "({inner})");
                } else {
                    s.push_str(&inner);
                }
            }
            op => {
                s.push_str(&self.call_head(op));
                s.push('(');
                for (k, &i) in n.inputs.iter().enumerate() {
                    if k > 0 {
                        s.push_str(", ");
                    }
                    self.operand(i, s);
                }
                s.push(')');
            }
        }
    }
}

impl<T: Scalar> Graph<T> {
    /// The canonical text form of everything `roots` depend on: declarations, `let`
    /// bindings and one `out` line per root. [`parse`] reads it back.
    ///
    /// ```
    /// use symgrad::{dims, Graph};
    /// use symgrad::graph::parse;
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", dims![3]);
    /// let e = x.exp();
    /// let y = (e / (e + 1.0)).sum_all();
    /// let text = g.to_text(&[y.id()]);
    /// assert_eq!(text, "input x: [3]\nlet $1 = exp(x)\nout sum[0]($1 / ($1 + 1))\n");
    /// let back = parse::<f64>(&text).unwrap();
    /// assert_eq!(back.graph.to_text(&back.outputs), text);
    /// ```
    pub fn to_text(&self, roots: &[NodeId]) -> String {
        let mut s = String::new();
        let p = self.printer(roots, true);
        for id in self.reachable(roots) {
            let n = self.node(id);
            match &n.op {
                Op::Input { name } => {
                    let _ = writeln!(s, "input {}: {}", fmt_name(name), p.shape(&n.shape));
                }
                Op::Param { name, .. } => {
                    let _ = writeln!(s, "param {}: {}", fmt_name(name), p.shape(&n.shape));
                }
                _ => {}
            }
        }
        s.push_str(&self.body_text(&p, roots));
        s
    }

    /// The `let` lines and `out` lines of [`Graph::to_text`], without declarations: what
    /// the command line prints for an expression.
    pub fn expr_text(&self, roots: &[NodeId]) -> String {
        let p = self.printer(roots, true);
        let body = self.body_text(&p, roots);
        // A single root with no bindings reads best as the bare expression.
        if roots.len() == 1 && p.bound.is_empty() {
            return body.trim_start_matches("out ").trim_end().to_string();
        }
        body.trim_end().to_string()
    }

    fn body_text(&self, p: &Printer<'_, T>, roots: &[NodeId]) -> String {
        let mut s = String::new();
        let mut lets: Vec<(usize, NodeId)> = p.bound.iter().map(|(&id, &k)| (k, id)).collect();
        lets.sort();
        for (k, id) in lets {
            let mut e = String::new();
            p.inline(id, &mut e);
            let _ = writeln!(s, "let ${k} = {e}");
        }
        for &r in roots {
            let mut e = String::new();
            p.operand(r, &mut e);
            let _ = writeln!(s, "out {e}");
        }
        s
    }

    /// A printer whose `let` set follows the canonical rule: non-leaf nodes used more than
    /// once (roots count as uses), and nodes whose inline height would pass the limit.
    fn printer(&self, roots: &[NodeId], with_lets: bool) -> Printer<'_, T> {
        let ids = self.reachable(roots);
        let mut uses: HashMap<NodeId, usize> = HashMap::new();
        for &id in &ids {
            for &i in self.node(id).inputs.iter() {
                *uses.entry(i).or_default() += 1;
            }
        }
        for &r in roots {
            *uses.entry(r).or_default() += 1;
        }
        let mut bound = HashMap::new();
        if with_lets {
            let mut height: HashMap<NodeId, usize> = HashMap::new();
            for &id in &ids {
                let n = self.node(id);
                let inline_leaf =
                    matches!(&n.op, Op::Input { .. } | Op::Param { .. }) || is_scalar_const(&n.op);
                if inline_leaf {
                    height.insert(id, 0);
                    continue;
                }
                let h = 1 + n
                    .inputs
                    .iter()
                    .map(|i| if bound.contains_key(i) { 0 } else { height[i] })
                    .max()
                    .unwrap_or(0);
                let many = uses.get(&id).copied().unwrap_or(0) > 1;
                if many || h > MAX_INLINE_HEIGHT {
                    bound.insert(id, 0);
                    height.insert(id, 0);
                } else {
                    height.insert(id, h);
                }
            }
            // Number in node (topological) order.
            let mut order: Vec<NodeId> = bound.keys().copied().collect();
            order.sort();
            for (k, id) in order.into_iter().enumerate() {
                bound.insert(id, k + 1);
            }
        }
        Printer {
            g: self,
            bound,
            cap: None,
            depth: Default::default(),
        }
    }

    /// A readable infix form of node `e` with shared subexpressions written out each time
    /// they are used, cut at [`INFIX_MAX`](super::INFIX_MAX) characters (`…`). For a form
    /// that parses back, use [`Graph::to_text`].
    pub fn infix(&self, e: NodeId) -> String {
        self.infix_capped(e, super::INFIX_MAX)
    }

    /// [`Graph::infix`] cut at `cap` characters.
    pub fn infix_capped(&self, e: NodeId, cap: usize) -> String {
        let mut p = self.printer(&[e], false);
        p.cap = Some(cap);
        let mut s = String::new();
        p.operand(e, &mut s);
        s
    }
}

fn is_scalar_const<T: Scalar>(op: &Op<T>) -> bool {
    matches!(op, Op::Const(t) if t.shape().is_empty())
}

// ---- parsing ------------------------------------------------------------------------------

/// What went wrong while parsing, and where (1-based line and column).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    /// Line of the offending token.
    pub line: usize,
    /// Column of the offending token.
    pub col: usize,
    /// What was expected and what came.
    pub message: String,
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.col, self.message
        )
    }
}

impl std::error::Error for ParseError {}

/// A parsed graph: the graph, the layout its parameters live in, and the outputs in order.
#[derive(Debug)]
pub struct Parsed<T: Scalar> {
    /// The graph.
    pub graph: Graph<T>,
    /// The parameters, in the order they were declared.
    pub layout: ParamLayout,
    /// One node per `out` line (or the trailing bare expression).
    pub outputs: Vec<NodeId>,
}

/// How undeclared identifiers are treated.
#[derive(Clone, Debug, Default)]
pub struct ParseOptions {
    /// If set, an identifier used without a declaration becomes an input whose shape is
    /// looked up here (absent: a scalar); if not set, it is an error.
    pub implicit_inputs: Option<HashMap<String, Vec<usize>>>,
    /// Undeclared identifiers named here become parameters instead of inputs (added to the
    /// layout in the order they are first used), with their shapes from `implicit_inputs`.
    pub implicit_params: Vec<String>,
}

/// Parses the canonical text form (see the module docs).
///
/// ```
/// use symgrad::graph::parse;
/// let p = parse::<f64>("input x: []\nout log(1 + exp(x))").unwrap();
/// assert_eq!(p.graph.expr_text(&p.outputs), "log(1 + exp(x))");
/// assert!(parse::<f64>("out y").unwrap_err().message.contains("`y` is not declared"));
/// ```
pub fn parse<T: Scalar>(text: &str) -> Result<Parsed<T>, ParseError> {
    parse_with(text, &ParseOptions::default())
}

/// [`parse`] with options: undeclared identifiers may become inputs.
pub fn parse_with<T: Scalar>(text: &str, opts: &ParseOptions) -> Result<Parsed<T>, ParseError> {
    let toks = lex(text)?;
    let mut p = Parser {
        toks,
        pos: 0,
        graph: Graph::new(),
        layout: ParamLayout::new(),
        names: HashMap::new(),
        lets: HashMap::new(),
        outputs: Vec::new(),
        opts,
        depth: 0,
    };
    p.program()?;
    if p.outputs.is_empty() {
        return Err(p.err_here("expected at least one `out` line or a final expression"));
    }
    Ok(Parsed {
        graph: p.graph,
        layout: p.layout,
        outputs: p.outputs,
    })
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Num(String),
    Ident(String),
    Let(usize),
    Punct(&'static str),
    Newline,
    End,
}

#[derive(Clone, Debug)]
struct Token {
    tok: Tok,
    line: usize,
    col: usize,
}

const PUNCTS: &[&str] = &[
    ">=", "<=", "==", "!=", "(", ")", "[", "]", ",", ":", "=", "+", "-", "*", "/", "^", "@", ">",
    "<", ";",
];

fn lex(text: &str) -> Result<Vec<Token>, ParseError> {
    let mut out = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let line_no = ln + 1;
        let b = line.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let c = b[i] as char;
            let col = i + 1;
            let at = |tok| Token {
                tok,
                line: line_no,
                col,
            };
            if c == '#' {
                break;
            } else if c.is_whitespace() {
                i += 1;
            } else if c.is_ascii_digit()
                || (c == '.' && i + 1 < b.len() && b[i + 1].is_ascii_digit())
            {
                let start = i;
                while i < b.len() && (b[i].is_ascii_digit() || b[i] == b'.') {
                    i += 1;
                }
                if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
                    let mut j = i + 1;
                    if j < b.len() && (b[j] == b'+' || b[j] == b'-') {
                        j += 1;
                    }
                    if j < b.len() && b[j].is_ascii_digit() {
                        i = j;
                        while i < b.len() && b[i].is_ascii_digit() {
                            i += 1;
                        }
                    }
                }
                out.push(at(Tok::Num(line[start..i].to_string())));
            } else if c.is_ascii_alphabetic() || c == '_' {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.')
                {
                    i += 1;
                }
                out.push(at(Tok::Ident(line[start..i].to_string())));
            } else if c == '`' {
                let Some(len) = line[i + 1..].find('`') else {
                    return Err(ParseError {
                        line: line_no,
                        col,
                        message: "a name opened with ` is not closed".into(),
                    });
                };
                out.push(at(Tok::Ident(line[i + 1..i + 1 + len].to_string())));
                i += len + 2;
            } else if c == '$' {
                let start = i + 1;
                i += 1;
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let k = line[start..i].parse().map_err(|_| ParseError {
                    line: line_no,
                    col,
                    message: "expected a number after `$`".into(),
                })?;
                out.push(at(Tok::Let(k)));
            } else if let Some(p) = PUNCTS.iter().find(|p| line[i..].starts_with(**p)) {
                out.push(at(if *p == ";" {
                    Tok::Newline
                } else {
                    Tok::Punct(p)
                }));
                i += p.len();
            } else {
                let ch = line[i..].chars().next().unwrap_or('?');
                return Err(ParseError {
                    line: line_no,
                    col,
                    message: format!("unexpected character `{ch}`"),
                });
            }
        }
        out.push(Token {
            tok: Tok::Newline,
            line: line_no,
            col: line.len() + 1,
        });
    }
    let last = out.last().map_or(1, |t| t.line);
    out.push(Token {
        tok: Tok::End,
        line: last,
        col: 1,
    });
    Ok(out)
}

/// One item inside attribute brackets: `3`, `keepdims`, `axis=1`, `batch`.
#[derive(Clone, Debug)]
enum Attr {
    Int(usize),
    /// `-3` (only `powi` takes one).
    NegInt(usize),
    Name(String),
    Key(String, usize),
}

struct Parser<'o, T: Scalar> {
    toks: Vec<Token>,
    pos: usize,
    graph: Graph<T>,
    layout: ParamLayout,
    names: HashMap<String, NodeId>,
    lets: HashMap<usize, NodeId>,
    outputs: Vec<NodeId>,
    opts: &'o ParseOptions,
    depth: usize,
}

fn describe(t: &Tok) -> String {
    match t {
        Tok::Num(s) => format!("number `{s}`"),
        Tok::Ident(s) => format!("`{s}`"),
        Tok::Let(k) => format!("`${k}`"),
        Tok::Punct(p) => format!("`{p}`"),
        Tok::Newline => "end of line".into(),
        Tok::End => "end of text".into(),
    }
}

impl<T: Scalar> Parser<'_, T> {
    fn peek(&self) -> &Tok {
        &self.toks[self.pos].tok
    }
    fn peek_at(&self, k: usize) -> &Tok {
        &self.toks[(self.pos + k).min(self.toks.len() - 1)].tok
    }
    fn next(&mut self) -> Tok {
        let t = self.toks[self.pos].tok.clone();
        if self.pos + 1 < self.toks.len() {
            self.pos += 1;
        }
        t
    }
    fn err_here(&self, message: impl Into<String>) -> ParseError {
        let t = &self.toks[self.pos];
        ParseError {
            line: t.line,
            col: t.col,
            message: message.into(),
        }
    }
    fn expected(&self, what: &str) -> ParseError {
        self.err_here(format!("expected {what}, found {}", describe(self.peek())))
    }
    fn eat(&mut self, p: &str) -> bool {
        if matches!(self.peek(), Tok::Punct(q) if *q == p) {
            self.next();
            true
        } else {
            false
        }
    }
    fn expect(&mut self, p: &str) -> Result<(), ParseError> {
        if self.eat(p) {
            Ok(())
        } else {
            Err(self.expected(&format!("`{p}`")))
        }
    }
    /// Inside a list closed by `close`: the separator, or the error naming both.
    fn separator(&mut self, close: &str) -> Result<(), ParseError> {
        if self.eat(",") {
            Ok(())
        } else {
            Err(self.expected(&format!("`,` or `{close}`")))
        }
    }
    fn ident(&mut self, what: &str) -> Result<String, ParseError> {
        match self.peek().clone() {
            Tok::Ident(s) => {
                self.next();
                Ok(s)
            }
            _ => Err(self.expected(what)),
        }
    }

    fn program(&mut self) -> Result<(), ParseError> {
        loop {
            match self.peek().clone() {
                Tok::End => return Ok(()),
                Tok::Newline => {
                    self.next();
                }
                Tok::Ident(k) if k == "input" || k == "param" => {
                    if matches!(self.peek_at(1), Tok::Ident(_))
                        && matches!(self.peek_at(2), Tok::Punct(":"))
                    {
                        self.next();
                        self.declaration(k == "param")?;
                    } else {
                        self.statement_expr()?;
                    }
                }
                Tok::Ident(k) if k == "let" && matches!(self.peek_at(1), Tok::Let(_)) => {
                    self.next();
                    let Tok::Let(k) = self.next() else {
                        unreachable!()
                    };
                    if self.lets.contains_key(&k) {
                        return Err(self.err_here(format!("`${k}` is bound twice")));
                    }
                    self.expect("=")?;
                    let e = self.expr()?;
                    self.lets.insert(k, e);
                    self.end_line()?;
                }
                // `out` starts an output line unless it is an operand (`out + 1`).
                Tok::Ident(k)
                    if k == "out"
                        && !matches!(
                            self.peek_at(1),
                            Tok::Newline
                                | Tok::End
                                | Tok::Punct(
                                    "+" | "*"
                                        | "/"
                                        | "^"
                                        | "@"
                                        | ">"
                                        | "<"
                                        | ">="
                                        | "<="
                                        | "=="
                                        | "!="
                                        | ")"
                                        | ","
                                        | "="
                                )
                        ) =>
                {
                    self.next();
                    let e = self.expr()?;
                    self.outputs.push(e);
                    self.end_line()?;
                }
                _ => self.statement_expr()?,
            }
        }
    }

    fn statement_expr(&mut self) -> Result<(), ParseError> {
        let e = self.expr()?;
        self.outputs.push(e);
        self.end_line()
    }

    fn end_line(&mut self) -> Result<(), ParseError> {
        match self.peek() {
            Tok::Newline => {
                self.next();
                Ok(())
            }
            Tok::End => Ok(()),
            _ => Err(self.expected("the end of the line")),
        }
    }

    fn declaration(&mut self, is_param: bool) -> Result<(), ParseError> {
        let name = self.ident("a name")?;
        if self.names.contains_key(&name) {
            return Err(self.err_here(format!("`{name}` is declared twice")));
        }
        self.expect(":")?;
        let shape = self.shape()?;
        let id = if is_param {
            let fixed: Option<Vec<usize>> = shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => Some(*n),
                    Dim::Sym(_) => None,
                })
                .collect();
            let Some(fixed) = fixed else {
                return Err(self.err_here(format!(
                    "parameter `{name}` needs a fixed shape, got {}",
                    self.graph.fmt_shape(&shape)
                )));
            };
            self.layout.add(&name, &fixed);
            self.graph.param(&self.layout, &name).id()
        } else {
            self.graph.input(&name, shape).id()
        };
        self.names.insert(name, id);
        self.end_line()
    }

    /// `[2, batch, 3]`
    fn shape(&mut self) -> Result<SymShape, ParseError> {
        self.expect("[")?;
        let attrs = self.attr_items()?;
        let mut s = SymShape::new();
        for a in attrs {
            s.push(match a {
                Attr::Int(n) => Dim::Fixed(n),
                Attr::Name(n) => Dim::Sym(self.graph.symbol(&n)),
                Attr::Key(k, _) => {
                    return Err(self.err_here(format!("`{k}=` has no place in a shape")))
                }
                Attr::NegInt(n) => {
                    return Err(self.err_here(format!("a shape has no negative size `-{n}`")))
                }
            });
        }
        Ok(s)
    }

    /// Items up to and including the closing `]` (the `[` is already read).
    fn attr_items(&mut self) -> Result<Vec<Attr>, ParseError> {
        let mut items = Vec::new();
        if self.eat("]") {
            return Ok(items);
        }
        loop {
            let neg = self.eat("-");
            let item =
                match self.next() {
                    Tok::Num(s) if neg => Attr::NegInt(s.parse().map_err(|_| {
                        self.err_here(format!("expected a whole number, found `{s}`"))
                    })?),
                    Tok::Num(s) => Attr::Int(s.parse().map_err(|_| {
                        self.err_here(format!("expected a whole number, found `{s}`"))
                    })?),
                    Tok::Ident(s) if self.eat("=") => match self.next() {
                        Tok::Num(v) => Attr::Key(
                            s,
                            v.parse().map_err(|_| {
                                self.err_here(format!("expected a whole number, found `{v}`"))
                            })?,
                        ),
                        t => {
                            return Err(self.err_here(format!(
                                "expected a whole number, found {}",
                                describe(&t)
                            )))
                        }
                    },
                    Tok::Ident(s) => Attr::Name(s),
                    t => {
                        return Err(self.err_here(format!(
                            "expected a number or a name in brackets, found {}",
                            describe(&t)
                        )))
                    }
                };
            items.push(item);
            if self.eat("]") {
                return Ok(items);
            }
            self.separator("]")?;
        }
    }

    fn apply(&mut self, op: Op<T>, ins: &[NodeId]) -> Result<NodeId, ParseError> {
        self.graph.try_apply(op, ins).map_err(|m| self.err_here(m))
    }

    fn expr(&mut self) -> Result<NodeId, ParseError> {
        self.depth += 1;
        if self.depth > MAX_PARSE_DEPTH {
            return Err(self.err_here(format!(
                "expressions nest deeper than {MAX_PARSE_DEPTH}: bind parts with `let`"
            )));
        }
        let r = self.binary(1);
        self.depth -= 1;
        r
    }

    /// Precedence climbing over the infix levels 1 (comparisons) to 3 (`* / @`).
    fn binary(&mut self, level: u8) -> Result<NodeId, ParseError> {
        if level > 3 {
            return self.unary();
        }
        let mut lhs = self.binary(level + 1)?;
        loop {
            let op = match (level, self.peek()) {
                (1, Tok::Punct(p)) => match *p {
                    ">" => Op::Binary(Binary::Gt),
                    ">=" => Op::Binary(Binary::Ge),
                    "<" => Op::Binary(Binary::Lt),
                    "<=" => Op::Binary(Binary::Le),
                    "==" => Op::Binary(Binary::Eq),
                    "!=" => Op::Binary(Binary::Ne),
                    _ => break,
                },
                (2, Tok::Punct("+")) => Op::Binary(Binary::Add),
                (2, Tok::Punct("-")) => Op::Binary(Binary::Sub),
                (3, Tok::Punct("*")) => Op::Binary(Binary::Mul),
                (3, Tok::Punct("/")) => Op::Binary(Binary::Div),
                (3, Tok::Punct("@")) => Op::MatMul {
                    ta: false,
                    tb: false,
                },
                _ => break,
            };
            self.next();
            let rhs = self.binary(level + 1)?;
            lhs = self.apply(op, &[lhs, rhs])?;
        }
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<NodeId, ParseError> {
        if matches!(self.peek(), Tok::Punct("-")) {
            // `-2`, `-inf`: a negative constant, not a negation.
            let lit = match self.peek_at(1) {
                Tok::Num(_) => true,
                Tok::Ident(s) => (s == "inf" || s == "nan") && !self.names.contains_key(s),
                _ => false,
            } && !matches!(self.peek_at(2), Tok::Punct("^"));
            // As in mathematics, `-2 ^ x` is `-(2 ^ x)`: no negative literal before a power.
            if lit {
                self.next();
                let v = self.number()?;
                return Ok(self.graph.constant(Tensor::scalar(-v)).id());
            }
            self.next();
            self.depth += 1;
            if self.depth > MAX_PARSE_DEPTH {
                return Err(self.err_here("negations nest too deep"));
            }
            let x = self.unary()?;
            self.depth -= 1;
            return self.apply(Op::Unary(Unary::Neg), &[x]);
        }
        let base = self.primary()?;
        self.power_tail(base)
    }

    /// `base ^ rhs`, right-associative, the rhs may be negated.
    fn power_tail(&mut self, base: NodeId) -> Result<NodeId, ParseError> {
        if self.eat("^") {
            self.depth += 1;
            if self.depth > MAX_PARSE_DEPTH {
                return Err(self.err_here("powers nest too deep"));
            }
            let e = self.unary()?;
            self.depth -= 1;
            return self.apply(Op::Binary(Binary::Pow), &[base, e]);
        }
        Ok(base)
    }

    fn number(&mut self) -> Result<T, ParseError> {
        match self.next() {
            Tok::Num(s) => s
                .parse::<T>()
                .map_err(|_| self.err_here(format!("`{s}` is not a number"))),
            Tok::Ident(s) if s == "inf" => Ok(T::infinity()),
            Tok::Ident(s) if s == "nan" => Ok(T::nan()),
            t => Err(self.err_here(format!("expected a number, found {}", describe(&t)))),
        }
    }

    fn primary(&mut self) -> Result<NodeId, ParseError> {
        match self.peek().clone() {
            Tok::Num(_) => {
                let v = self.number()?;
                Ok(self.graph.constant(Tensor::scalar(v)).id())
            }
            Tok::Let(k) => {
                self.next();
                self.lets
                    .get(&k)
                    .copied()
                    .ok_or_else(|| self.err_here(format!("`${k}` is used before it is bound")))
            }
            Tok::Punct("(") => {
                self.next();
                let e = self.expr()?;
                self.expect(")")?;
                Ok(e)
            }
            Tok::Ident(name) => {
                let is_call = matches!(self.peek_at(1), Tok::Punct("(") | Tok::Punct("["));
                if is_call && !self.names.contains_key(&name) {
                    self.next();
                    return self.call(&name);
                }
                self.next();
                if let Some(&id) = self.names.get(&name) {
                    return Ok(id);
                }
                if name == "inf" || name == "nan" {
                    let v = if name == "inf" {
                        T::infinity()
                    } else {
                        T::nan()
                    };
                    return Ok(self.graph.constant(Tensor::scalar(v)).id());
                }
                match &self.opts.implicit_inputs {
                    Some(shapes) => {
                        let shape = shapes.get(&name).cloned().unwrap_or_default();
                        let id = if self.opts.implicit_params.contains(&name) {
                            self.layout.add(&name, &shape);
                            self.graph.param(&self.layout, &name).id()
                        } else {
                            self.graph.input(&name, shape.iter()).id()
                        };
                        self.names.insert(name, id);
                        Ok(id)
                    }
                    None => Err(self.err_here(format!(
                        "`{name}` is not declared (declare it with `input {name}: [...]` or `param {name}: [...]`)"
                    ))),
                }
            }
            t => Err(self.err_here(format!("expected an expression, found {}", describe(&t)))),
        }
    }

    fn args(&mut self) -> Result<Vec<NodeId>, ParseError> {
        self.expect("(")?;
        let mut v = Vec::new();
        if self.eat(")") {
            return Ok(v);
        }
        loop {
            v.push(self.expr()?);
            if self.eat(")") {
                return Ok(v);
            }
            self.separator(")")?;
        }
    }

    fn call(&mut self, name: &str) -> Result<NodeId, ParseError> {
        let attrs = if self.eat("[") {
            Some(self.attr_items()?)
        } else {
            None
        };
        if name == "const" {
            return self.const_tensor(attrs);
        }
        let args = self.args()?;
        let arity = |n: usize, this: &Self| -> Result<(), ParseError> {
            if args.len() == n {
                Ok(())
            } else {
                Err(this.err_here(format!(
                    "`{name}` takes {n} argument(s), got {}",
                    args.len()
                )))
            }
        };
        let ints = |this: &Self| -> Result<SmallVec<[usize; 4]>, ParseError> {
            attrs
                .iter()
                .flatten()
                .map(|a| match a {
                    Attr::Int(n) => Ok(*n),
                    other => Err(this.err_here(format!(
                        "`{name}` takes axis numbers in brackets, found {other:?}"
                    ))),
                })
                .collect()
        };
        let no_attrs = |this: &Self| -> Result<(), ParseError> {
            if attrs.is_some() {
                Err(this.err_here(format!("`{name}` takes no bracketed attributes")))
            } else {
                Ok(())
            }
        };
        if let Some(u) = Unary::from_name(name) {
            no_attrs(self)?;
            arity(1, self)?;
            return self.apply(Op::Unary(u), &args);
        }
        if let Some(b) = Binary::from_name(name) {
            no_attrs(self)?;
            arity(2, self)?;
            return self.apply(Op::Binary(b), &args);
        }
        match name {
            "where" => {
                no_attrs(self)?;
                arity(3, self)?;
                self.apply(Op::Where, &args)
            }
            "square" => {
                no_attrs(self)?;
                arity(1, self)?;
                self.apply(Op::Powi(2), &args)
            }
            "powi" => {
                arity(1, self)?;
                let n = match attrs.as_deref() {
                    Some([Attr::Int(n)]) if *n <= i32::MAX as usize => *n as i32,
                    Some([Attr::NegInt(n)]) if *n <= i32::MAX as usize => -(*n as i32),
                    Some([a @ (Attr::Int(n) | Attr::NegInt(n))]) => {
                        let sign = if matches!(a, Attr::NegInt(_)) {
                            "-"
                        } else {
                            ""
                        };
                        return Err(self.err_here(format!(
                            "`powi`'s exponent {sign}{n} is out of range: at most {} either way",
                            i32::MAX
                        )));
                    }
                    _ => {
                        return Err(
                            self.err_here("`powi` takes its exponent in brackets: `powi[3](x)`")
                        )
                    }
                };
                self.apply(Op::Powi(n), &args)
            }
            "matmul" => {
                arity(2, self)?;
                let (mut ta, mut tb) = (false, false);
                for a in attrs.iter().flatten() {
                    match a {
                        Attr::Name(f) if f == "ta" => ta = true,
                        Attr::Name(f) if f == "tb" => tb = true,
                        other => {
                            return Err(self.err_here(format!(
                                "`matmul` takes the flags `ta` and `tb`, found {other:?}"
                            )))
                        }
                    }
                }
                self.apply(Op::MatMul { ta, tb }, &args)
            }
            "transpose" => {
                arity(1, self)?;
                let p = ints(self)?;
                self.apply(Op::Transpose(p), &args)
            }
            "reshape" | "broadcast_to" | "sum_to" => {
                arity(1, self)?;
                let mut s = SymShape::new();
                for a in attrs.iter().flatten() {
                    s.push(match a {
                        Attr::Int(n) => Dim::Fixed(*n),
                        Attr::Name(n) => Dim::Sym(self.graph.symbol(n)),
                        Attr::Key(k, _) => {
                            return Err(self.err_here(format!("`{k}=` has no place in a shape")))
                        }
                        Attr::NegInt(n) => {
                            return Err(
                                self.err_here(format!("a shape has no negative size `-{n}`"))
                            )
                        }
                    });
                }
                let op = match name {
                    "reshape" => Op::Reshape(s),
                    "broadcast_to" => Op::BroadcastTo(s),
                    _ => Op::SumTo(s),
                };
                self.apply(op, &args)
            }
            "sum" | "max" | "mean" => {
                arity(1, self)?;
                let rank = self.graph.node(args[0]).shape.len();
                let mut axes: SmallVec<[usize; 4]> = SmallVec::new();
                let mut keepdims = false;
                for a in attrs.iter().flatten() {
                    match a {
                        Attr::Int(n) => axes.push(*n),
                        Attr::Name(k) if k == "keepdims" => keepdims = true,
                        other => {
                            return Err(self.err_here(format!(
                                "`{name}` takes axes and `keepdims` in brackets, found {other:?}"
                            )))
                        }
                    }
                }
                if attrs.is_none() {
                    axes = (0..rank).collect();
                }
                let s = if name == "max" {
                    Op::Max {
                        axes: axes.clone(),
                        keepdims,
                    }
                } else {
                    Op::Sum {
                        axes: axes.clone(),
                        keepdims,
                    }
                };
                let r = self.apply(s, &args)?;
                if name == "mean" {
                    let n = self.apply(Op::Numel { axes }, &args)?;
                    return self.apply(Op::Binary(Binary::Div), &[r, n]);
                }
                Ok(r)
            }
            "numel" => {
                arity(1, self)?;
                let axes = ints(self)?;
                self.apply(Op::Numel { axes }, &args)
            }
            "softmax" | "log_softmax" => {
                arity(1, self)?;
                let axis = match attrs.as_deref() {
                    Some([Attr::Int(a)]) => *a,
                    _ => {
                        return Err(self.err_here(format!(
                            "`{name}` takes its axis in brackets: `{name}[1](x)`"
                        )))
                    }
                };
                let x = args[0];
                let m = self.apply(
                    Op::Max {
                        axes: [axis].into_iter().collect(),
                        keepdims: true,
                    },
                    &[x],
                )?;
                let z = self.apply(Op::Binary(Binary::Sub), &[x, m])?;
                let e = self.apply(Op::Unary(Unary::Exp), &[z])?;
                let s = self.apply(
                    Op::Sum {
                        axes: [axis].into_iter().collect(),
                        keepdims: true,
                    },
                    &[e],
                )?;
                if name == "softmax" {
                    self.apply(Op::Binary(Binary::Div), &[e, s])
                } else {
                    let l = self.apply(Op::Unary(Unary::Log), &[s])?;
                    self.apply(Op::Binary(Binary::Sub), &[z, l])
                }
            }
            "slice" | "pad" | "concat" => {
                let mut kv: HashMap<String, usize> = HashMap::new();
                for a in attrs.iter().flatten() {
                    match a {
                        Attr::Key(k, v) => {
                            kv.insert(k.clone(), *v);
                        }
                        other => {
                            return Err(self.err_here(format!(
                                "`{name}` takes `key=value` attributes, found {other:?}"
                            )))
                        }
                    }
                }
                let get = |k: &str, this: &Self| {
                    kv.get(k).copied().ok_or_else(|| {
                        this.err_here(format!("`{name}` needs the attribute `{k}=`"))
                    })
                };
                let op = match name {
                    "slice" => Op::Slice {
                        axis: get("axis", self)?,
                        start: get("start", self)?,
                        len: get("len", self)?,
                    },
                    "pad" => Op::Pad {
                        axis: get("axis", self)?,
                        start: get("start", self)?,
                        total: get("total", self)?,
                    },
                    _ => {
                        if args.is_empty() {
                            return Err(self.err_here("`concat` needs at least one argument"));
                        }
                        Op::Concat {
                            axis: get("axis", self)?,
                        }
                    }
                };
                if name != "concat" {
                    arity(1, self)?;
                }
                self.apply(op, &args)
            }
            _ => Err(self.err_here(format!("no op called `{name}`"))),
        }
    }

    /// `const[2, 3](1, 2, 3, 4, 5, 6)`
    fn const_tensor(&mut self, attrs: Option<Vec<Attr>>) -> Result<NodeId, ParseError> {
        let mut shape = Vec::new();
        for a in attrs.iter().flatten() {
            match a {
                Attr::Int(n) => shape.push(*n),
                other => {
                    return Err(self.err_here(format!(
                        "`const` takes a fixed shape in brackets, found {other:?}"
                    )))
                }
            }
        }
        self.expect("(")?;
        let mut vals = Vec::new();
        if !self.eat(")") {
            loop {
                let neg = self.eat("-");
                let v = self.number()?;
                vals.push(if neg { -v } else { v });
                if self.eat(")") {
                    break;
                }
                self.separator(")")?;
            }
        }
        let n: usize = shape.iter().product();
        if n != vals.len() {
            return Err(self.err_here(format!(
                "`const` of shape {shape:?} needs {n} values, got {}",
                vals.len()
            )));
        }
        Ok(self.graph.constant(Tensor::from_vec(shape, vals)).id())
    }
}
