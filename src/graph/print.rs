//! Printing graphs: an SSA listing, a readable infix form, and Graphviz DOT (through petgraph).

use std::fmt::Write;

use petgraph::dot::{Config, Dot};
use petgraph::graph::DiGraph;

use super::{Graph, NodeId, Origin};
use crate::graph::Expr;
use crate::ops::Op;
use crate::Scalar;

/// Length after which the infix form stops expanding (marked `…`; the enclosing brackets
/// still close). [`Graph::listing`] prints any graph in full.
pub const INFIX_MAX: usize = 4000;

impl<T: Scalar> Graph<T> {
    /// The nodes that `roots` depend on, in topological (id) order.
    pub fn reachable(&self, roots: &[NodeId]) -> Vec<NodeId> {
        let mut mark = vec![false; self.len()];
        let mut stack: Vec<NodeId> = roots.to_vec();
        while let Some(id) = stack.pop() {
            if std::mem::replace(&mut mark[id.index()], true) {
                continue;
            }
            stack.extend(self.node(id).inputs.iter().copied());
        }
        (0..self.len())
            .filter(|&i| mark[i])
            .map(|i| NodeId(i as u32))
            .collect()
    }

    /// The op with its attributes, as printed: `sum[axes=0,1]`, `matmul[tb]`, `const 2`.
    pub fn op_label(&self, id: NodeId) -> String {
        let n = self.node(id);
        match &n.op {
            Op::Input { name } => format!("input {name}"),
            Op::Param { name, offset, .. } => format!("param {name} @x[{offset}..]"),
            Op::Const(t) if t.data().len() == 1 => format!("const {}", t.data()[0]),
            Op::Const(t) => format!("const {:?}", t.shape()),
            Op::Powi(k) => format!("powi[{k}]"),
            Op::MatMul { ta, tb } => {
                let flags: Vec<&str> = [(*ta, "ta"), (*tb, "tb")]
                    .iter()
                    .filter(|f| f.0)
                    .map(|f| f.1)
                    .collect();
                if flags.is_empty() {
                    "matmul".into()
                } else {
                    format!("matmul[{}]", flags.join(","))
                }
            }
            Op::Transpose(p) => format!("transpose{p:?}"),
            Op::Reshape(s) => format!("reshape{}", self.fmt_shape(s)),
            Op::BroadcastTo(s) => format!("broadcast_to{}", self.fmt_shape(s)),
            Op::SumTo(s) => format!("sum_to{}", self.fmt_shape(s)),
            Op::Sum { axes, keepdims } | Op::Max { axes, keepdims } => {
                format!(
                    "{}[axes={axes:?}{}]",
                    n.op.name(),
                    if *keepdims { ",keepdims" } else { "" }
                )
            }
            Op::Numel { axes } => format!("numel[axes={axes:?}]"),
            Op::Slice { axis, start, len } => {
                format!("slice[axis={axis},{start}..{}]", start + len)
            }
            Op::Pad { axis, start, total } => format!("pad[axis={axis},at={start},to={total}]"),
            Op::Concat { axis } => format!("concat[axis={axis}]"),
            op => op.name().to_string(),
        }
    }

    /// An SSA listing of everything `roots` depend on, one node a line:
    /// `%5 = add(%3, %4) : [batch, 30]   # grad of %2`.
    pub fn listing(&self, roots: &[NodeId]) -> String {
        let mut s = String::new();
        for id in self.reachable(roots) {
            let n = self.node(id);
            let args: Vec<String> = n.inputs.iter().map(|i| i.to_string()).collect();
            let call = if n.op.is_leaf() {
                self.op_label(id)
            } else {
                format!("{}({})", self.op_label(id), args.join(", "))
            };
            let origin = match &n.origin {
                Origin::User => String::new(),
                Origin::Grad { of } => format!("   # grad of {of}"),
                Origin::Rewrite { rule } => format!("   # rule {rule}"),
            };
            let _ = writeln!(s, "{id} = {call} : {}{origin}", self.fmt_shape(&n.shape));
        }
        s
    }

    /// A readable infix form of `e`: leaves by name, elementwise arithmetic infix, other ops
    /// as calls. Shared subexpressions are printed each time they are used, up to
    /// [`INFIX_MAX`] characters; [`Graph::listing`] prints any graph in full.
    pub fn infix(&self, e: NodeId) -> String {
        let mut s = String::new();
        self.write_infix(e, &mut s, 0);
        s
    }

    fn write_infix(&self, id: NodeId, s: &mut String, depth: usize) {
        // Shared subexpressions are expanded each time, so a deep gradient graph could print
        // exponentially long: stop at a length a person would still read.
        if s.len() > INFIX_MAX {
            if !s.ends_with('…') {
                s.push('…');
            }
            return;
        }
        if depth > 64 {
            let _ = write!(s, "{id}");
            return;
        }
        let n = self.node(id);
        match &n.op {
            Op::Input { name } | Op::Param { name, .. } => s.push_str(name),
            Op::Const(t) if t.data().len() == 1 => {
                let _ = write!(s, "{}", t.data()[0]);
            }
            Op::Binary(b) if b.infix().is_some() => {
                s.push('(');
                self.write_infix(n.inputs[0], s, depth + 1);
                let _ = write!(s, " {} ", b.infix().unwrap_or("?"));
                self.write_infix(n.inputs[1], s, depth + 1);
                s.push(')');
            }
            Op::Unary(crate::ops::Unary::Neg) => {
                s.push('-');
                self.write_infix(n.inputs[0], s, depth + 1);
            }
            Op::MatMul {
                ta: false,
                tb: false,
            } => {
                s.push('(');
                self.write_infix(n.inputs[0], s, depth + 1);
                s.push_str(" @ ");
                self.write_infix(n.inputs[1], s, depth + 1);
                s.push(')');
            }
            _ => {
                s.push_str(&self.op_label(id));
                s.push('(');
                for (k, &i) in n.inputs.iter().enumerate() {
                    if k > 0 {
                        s.push_str(", ");
                    }
                    self.write_infix(i, s, depth + 1);
                }
                s.push(')');
            }
        }
    }

    /// Graphviz DOT of everything `roots` depend on (render with `dot -Tpng`).
    pub fn to_dot(&self, roots: &[NodeId]) -> String {
        let ids = self.reachable(roots);
        let mut pg: DiGraph<String, ()> = DiGraph::new();
        let mut map = std::collections::HashMap::new();
        for &id in &ids {
            let n = self.node(id);
            let label = format!("{id} {}\n{}", self.op_label(id), self.fmt_shape(&n.shape));
            map.insert(id, pg.add_node(label));
        }
        for &id in &ids {
            for i in self.node(id).inputs.iter() {
                pg.add_edge(map[i], map[&id], ());
            }
        }
        format!("{:?}", Dot::with_config(&pg, &[Config::EdgeNoLabel]))
    }
}

impl<T: Scalar> std::fmt::Display for Expr<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.graph().infix(self.id()))
    }
}
