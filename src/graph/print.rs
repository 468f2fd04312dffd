//! Printing graphs: an SSA listing, a readable infix form, and Graphviz DOT (through petgraph).

use std::fmt::Write;

use petgraph::dot::{Config, Dot};
use petgraph::graph::DiGraph;

use super::{Graph, NodeId, Origin};
use crate::graph::Expr;
use crate::ops::Op;
use crate::Scalar;

/// Length after which the infix form stops expanding (marked `…`). [`Graph::listing`] and
/// [`Graph::to_text`] print any graph in full.
pub const INFIX_MAX: usize = 4000;

impl<T: Scalar> Graph<T> {
    /// The op with its attributes, as printed: `sum[0, 1]`, `matmul[tb]`, `const 2`.
    pub fn op_label(&self, id: NodeId) -> String {
        let n = self.node(id);
        match &n.op {
            Op::Input { name, .. } => format!("input {name}"),
            Op::Param { name, offset, .. } => format!("param {name} @x[{offset}..]"),
            Op::Const(t) if t.data().len() == 1 => {
                format!("const {}", super::fmt_number(t.data()[0]))
            }
            Op::Const(t) => format!("const {:?}", t.shape()),
            op => super::text::call_head(self, op),
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

    /// Graphviz DOT of everything `roots` depend on (render with `dot -Tpng`). Each node
    /// shows its id, op and shape, and where it came from: the user's expression (white),
    /// the gradient rule of a node (blue) or a rewrite rule (yellow; fused nodes green).
    pub fn to_dot(&self, roots: &[NodeId]) -> String {
        let ids = self.reachable(roots);
        let mut pg: DiGraph<String, &str> = DiGraph::new();
        let mut colors: Vec<&'static str> = Vec::new();
        let mut map = std::collections::HashMap::new();
        for &id in &ids {
            let n = self.node(id);
            let (origin, color) = match &n.origin {
                Origin::User => (String::new(), "white"),
                Origin::Grad { of } => (format!("\ngrad of {of}"), "lightblue"),
                Origin::Rewrite { rule } if matches!(n.op, Op::Fused(_)) => {
                    (format!("\n{rule}"), "palegreen")
                }
                Origin::Rewrite { rule } => (format!("\nrule {rule}"), "lightyellow"),
            };
            let label = format!(
                "{id} {}\n{}{origin}",
                self.op_label(id),
                self.fmt_shape(&n.shape)
            );
            map.insert(id, pg.add_node(label));
            colors.push(color);
        }
        for &id in &ids {
            for i in self.node(id).inputs.iter() {
                pg.add_edge(map[i], map[&id], "");
            }
        }
        let edge_attrs = |_, _| String::new();
        let node_attrs = |_, (i, _): (petgraph::graph::NodeIndex, &String)| {
            format!("style=filled, fillcolor={}", colors[i.index()])
        };
        let dot = Dot::with_attr_getters(&pg, &[Config::EdgeNoLabel], &edge_attrs, &node_attrs);
        format!("{dot}")
    }
}

impl<T: Scalar> std::fmt::Display for Expr<'_, T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.graph().infix(self.id()))
    }
}
