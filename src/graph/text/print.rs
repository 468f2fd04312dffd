//! Printing a graph as the canonical text form: leaves declared first, shared or deep nodes
//! bound with `let`, infix arithmetic with only the parentheses precedence needs, every other
//! op a call with its attributes (as its family prints them, `Op::call_head`).

use std::collections::HashMap;
use std::fmt::Write;

use crate::graph::{Dim, Graph, NodeId};
use crate::ops::{Binary, Op, Unary};
use crate::Scalar;

use super::{fmt_name, fmt_number, starts_negative, MAX_INLINE_HEIGHT};

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
        self.g.fmt_shape(s)
    }

    /// The attribute brackets and call name of a call-style op.
    fn call_head(&self, op: &Op<T>) -> String {
        op.call_head(&|s| self.shape(s))
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
            Op::Input { name, .. } => s.push_str(&fmt_name(name)),
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
    /// bindings and one `out` line per root. [`parse`](crate::graph::parse) reads it back.
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
                Op::Input { name, index } => {
                    let kw = if *index { "index" } else { "input" };
                    let _ = writeln!(s, "{kw} {}: {}", fmt_name(name), p.shape(&n.shape));
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
    /// they are used, cut at [`INFIX_MAX`](crate::graph::INFIX_MAX) characters (`…`). For a form
    /// that parses back, use [`Graph::to_text`].
    pub fn infix(&self, e: NodeId) -> String {
        self.infix_capped(e, crate::graph::INFIX_MAX)
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
