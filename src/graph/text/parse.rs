//! Parsing the canonical text form back into a graph: a lexer, then a recursive-descent
//! parser (nesting bounded) that builds nodes through the graph's fallible builders, so
//! every mistake is a `ParseError` with line and column, never a panic. Calls are looked up
//! in the op families (`Op::from_call`); composites (`mean`, `softmax`, `log_softmax`,
//! `square`) are built with `Expr`'s own builders.

use std::collections::HashMap;
use std::fmt;

use crate::graph::{Dim, Graph, NodeId, SymShape};
use crate::ops::{Attr, Axis, Binary, Op, Reduce, Unary};
use crate::params::ParamLayout;
use crate::tensor::Tensor;
use crate::Scalar;

/// Parentheses and calls may nest this deep in text handed to the parser.
const MAX_PARSE_DEPTH: usize = 200;

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

impl ParseError {
    /// A short, stable name for the kind of mistake, for tests that must tell one refusal
    /// from another (the message stays free to improve):
    ///
    /// | kind | the text |
    /// | --- | --- |
    /// | `parse_depth` | nests deeper than the parser's bound |
    /// | `parse_undeclared` | uses a name or `$k` that is not declared or bound |
    /// | `parse_duplicate` | declares a name or binds a `$k` twice |
    /// | `parse_unknown_op` | calls no op of that name |
    /// | `parse_too_large` | builds a value whose size overflows or exceeds any array |
    /// | `parse_syntax` | is not in the grammar (a token where another was expected) |
    /// | `parse_invalid` | is grammatical but builds nothing valid (shapes, attributes, arity) |
    ///
    /// ```
    /// use symgrad::graph::parse;
    /// assert_eq!(parse::<f64>("out y").unwrap_err().kind(), "parse_undeclared");
    /// assert_eq!(parse::<f64>("out 1 +").unwrap_err().kind(), "parse_syntax");
    /// ```
    pub fn kind(&self) -> &'static str {
        let m = self.message.as_str();
        if m.contains("nest too deep") || m.contains("nest deeper") {
            "parse_depth"
        } else if m.contains("is not declared") || m.contains("used before it is bound") {
            "parse_undeclared"
        } else if m.contains("declared twice") || m.contains("bound twice") {
            "parse_duplicate"
        } else if m.starts_with("no op called") {
            "parse_unknown_op"
        } else if m.contains("overflow")
            || m.contains("more elements")
            || m.contains("too large")
            || m.contains("larger than")
        {
            "parse_too_large"
        } else if m.starts_with("expected ")
            || m.starts_with("unexpected character")
            || m.contains("is not closed")
            || m.ends_with("is not a number")
        {
            "parse_syntax"
        } else {
            "parse_invalid"
        }
    }
}

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
                Tok::Ident(k) if k == "input" || k == "param" || k == "index" => {
                    if matches!(self.peek_at(1), Tok::Ident(_))
                        && matches!(self.peek_at(2), Tok::Punct(":"))
                    {
                        self.next();
                        self.declaration(k == "param", k == "index")?;
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

    /// Adds a parameter to the layout, or says why its size cannot be (the layout's length
    /// would overflow: `param w: [2, 9223372036854775808]` added 0 to it unchecked).
    fn add_param(&mut self, name: &str, shape: &[usize]) -> Result<NodeId, ParseError> {
        let fits = crate::tensor::checked_numel::<T>(shape)
            .and_then(|n| self.layout.len().checked_add(n))
            .and_then(|total| crate::tensor::checked_numel::<T>(&[total]));
        if fits.is_none() {
            return Err(self.err_here(format!(
                "parameter `{name}` of shape {shape:?} holds more elements than any array can"
            )));
        }
        self.layout.add(name, shape);
        Ok(self.graph.param(&self.layout, name).id())
    }

    fn declaration(&mut self, is_param: bool, is_index: bool) -> Result<(), ParseError> {
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
            self.add_param(&name, &fixed)?
        } else {
            // The fixed part of the shape must be an array's: `input x: [2^32, 2^32]` was
            // accepted, a graph built over 2^64 elements that wrap to 0.
            let fixed: Vec<usize> = shape
                .iter()
                .filter_map(|d| match d {
                    Dim::Fixed(n) => Some(*n),
                    Dim::Sym(_) => None,
                })
                .collect();
            if crate::tensor::checked_numel::<T>(&fixed).is_none() {
                return Err(self.err_here(format!(
                    "input `{name}` of shape {} holds more elements than any array can",
                    self.graph.fmt_shape(&shape)
                )));
            }
            if is_index {
                self.graph.index_input(&name, shape).id()
            } else {
                self.graph.input(&name, shape).id()
            }
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
                    Tok::Ident(s) if self.eat("=") => match (self.eat("-"), self.next()) {
                        (neg, Tok::Num(v)) => {
                            let text = if neg { format!("-{v}") } else { v };
                            let n = text.parse().map_err(|_| {
                                self.err_here(format!("expected a whole number, found `{text}`"))
                            })?;
                            Attr::Key(s, n)
                        }
                        (_, t) => {
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
        self.graph
            .try_apply(op, ins)
            .map_err(|e| self.err_here(e.to_string()))
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
                            self.add_param(&name, &shape)?
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
        let rank = args.first().map_or(0, |&a| self.graph.node(a).shape.len());
        // Composites: built with `Expr`'s own builders, as code would build them.
        let composite = match name {
            "square" | "mean" | "logsumexp" | "softmax" | "log_softmax" => {
                arity(1, self)?;
                let x = self.graph.expr(args[0]);
                let built = match name {
                    "square" if attrs.is_none() => Ok(x.try_op(Op::Powi(2), &[])),
                    "square" => Err(format!("`{name}` takes no bracketed attributes")),
                    "mean" | "logsumexp" => {
                        match Reduce::from_call("sum", attrs.as_deref(), rank) {
                            Some(Ok(Reduce::Sum { axes, keepdims })) if name == "mean" => {
                                Ok(x.try_mean(&axes, keepdims))
                            }
                            Some(Ok(Reduce::Sum { axes, keepdims })) => {
                                Ok(x.try_logsumexp(&axes, keepdims))
                            }
                            Some(Err(e)) => Err(e.replace("`sum`", &format!("`{name}`"))),
                            _ => unreachable!("`sum` is a reduction"),
                        }
                    }
                    _ => match attrs.as_deref() {
                        Some([a @ (Attr::Int(n) | Attr::NegInt(n))]) => {
                            let axis = Axis::new(matches!(a, Attr::NegInt(_)), *n);
                            Ok(if name == "softmax" {
                                x.try_softmax(axis)
                            } else {
                                x.try_log_softmax(axis)
                            })
                        }
                        _ => Err(format!(
                            "`{name}` takes its axis in brackets: `{name}[1](x)`"
                        )),
                    },
                };
                Some(built.map(|r| r.map(|e| e.id())))
            }
            _ => None,
        };
        if let Some(built) = composite {
            return match built {
                Ok(Ok(id)) => Ok(id),
                Ok(Err(e)) => Err(self.err_here(e.to_string())),
                Err(message) => Err(self.err_here(message)),
            };
        }
        let graph = &self.graph;
        let op = Op::from_call(name, attrs.as_deref(), rank, &mut |s| graph.symbol(s));
        match op {
            None => Err(self.err_here(format!("no op called `{name}`"))),
            Some(Err(message)) => Err(self.err_here(message)),
            Some(Ok(op)) => {
                match op.arity() {
                    Some(n) => arity(n, self)?,
                    None if args.is_empty() => {
                        return Err(self.err_here(format!("`{name}` needs at least one argument")))
                    }
                    None => {}
                }
                self.apply(op, &args)
            }
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
                        "`const` takes a fixed shape in brackets, found {other}"
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
        let Some(n) = crate::tensor::checked_numel::<T>(&shape) else {
            return Err(self.err_here(format!(
                "`const` of shape {shape:?} holds more elements than any array can"
            )));
        };
        if n != vals.len() {
            return Err(self.err_here(format!(
                "`const` of shape {shape:?} needs {n} values, got {}",
                vals.len()
            )));
        }
        Ok(self.graph.constant(Tensor::from_vec(shape, vals)).id())
    }
}
