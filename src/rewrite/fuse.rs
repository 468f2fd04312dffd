//! Elementwise fusion: trees of single-use elementwise nodes of one shape become one
//! `Op::Fused` node, computed in one pass over memory (see `ops::fused`).
//!
//! Grouping walks the nodes from the roots down: an elementwise node joins the group of its
//! consumer when it has exactly that one consumer, is not a root, and has the consumer's
//! shape (a node that its consumer broadcasts would have to be recomputed per copy, so it
//! ends a group instead). Inputs from outside the group, of any broadcastable shape, become
//! the fused node's operands (an operand made by `broadcast_to` is replaced by what it
//! broadcasts, which the kernel reads through strides, so the broadcast copy is never made
//! if nothing else needs it); numbers become constants inside the program. A lone
//! elementwise node is wrapped too, so every elementwise step can run in place.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use smallvec::SmallVec;

use crate::graph::{Graph, NodeId, Origin};
use crate::ops::{Arg, Fused, FusedOp, Op, Structural};
use crate::Scalar;

/// The rule name fused nodes carry as their origin.
pub const FUSE: &str = "fuse_elementwise";
/// A group takes at most this many members.
const MAX_MEMBERS: usize = 24;

fn fused_op<T: Scalar>(op: &Op<T>) -> Option<FusedOp> {
    match op {
        Op::Unary(u) => Some(FusedOp::Unary(*u)),
        Op::Powi(n) => Some(FusedOp::Powi(*n)),
        Op::Polygamma(n) => Some(FusedOp::Polygamma(*n)),
        Op::Binary(b) => Some(FusedOp::Binary(*b)),
        Op::Where => Some(FusedOp::Where),
        _ => None,
    }
}

/// Fuses the elementwise nodes that `roots` need. Returns the new graph, its roots, and the
/// firings: `fuse_elementwise` counts fused nodes made, `fused_members` the ops they hold.
pub fn fuse<T: Scalar>(
    src: &Graph<T>,
    roots: &[NodeId],
) -> (Graph<T>, Vec<NodeId>, BTreeMap<&'static str, usize>) {
    let keep = src.reachable(roots);
    let n = src.len();
    let mut uses = vec![0usize; n];
    let mut consumer: Vec<Option<NodeId>> = vec![None; n];
    for &id in &keep {
        for &i in src.node(id).inputs.iter() {
            uses[i.index()] += 1;
            consumer[i.index()] = Some(id);
        }
    }
    for r in roots {
        uses[r.index()] += 2;
    }
    let fusable = |id: NodeId| fused_op(&src.node(id).op).is_some();

    // Group of each fusable node, named by its root; members listed per group.
    let mut group: Vec<Option<NodeId>> = vec![None; n];
    let mut members: HashMap<NodeId, Vec<NodeId>> = HashMap::new();
    for &id in keep.iter().rev() {
        if !fusable(id) {
            continue;
        }
        let join = consumer[id.index()]
            .filter(|_| uses[id.index()] == 1)
            .and_then(|c| group[c.index()])
            .filter(|root| {
                let c = consumer[id.index()].expect("has a consumer");
                src.node(id).shape == src.node(c).shape && members[root].len() < MAX_MEMBERS
            });
        let root = join.unwrap_or(id);
        group[id.index()] = Some(root);
        members.entry(root).or_default().push(id);
    }

    let dst = Graph::new();
    for name in src.symbols() {
        dst.symbol(&name);
    }
    let mut map: Vec<Option<NodeId>> = vec![None; n];
    let mut fired: BTreeMap<&'static str, usize> = BTreeMap::new();
    let copy = |id: NodeId, map: &Vec<Option<NodeId>>| -> NodeId {
        let s = src.node(id);
        let ins: Vec<NodeId> = s
            .inputs
            .iter()
            .map(|i| map[i.index()].expect("inputs come first"))
            .collect();
        dst.copy_node(s.op.clone(), &ins, s.shape.clone(), s.origin.clone())
    };
    for &id in &keep {
        match group[id.index()] {
            None => map[id.index()] = Some(copy(id, &map)),
            Some(root) if root != id => {} // made with its group's root
            Some(root) => {
                let mut ms = members.remove(&root).unwrap_or_default();
                ms.sort();
                let pos: HashMap<NodeId, usize> =
                    ms.iter().enumerate().map(|(k, &m)| (m, k)).collect();
                let mut ext: Vec<NodeId> = Vec::new();
                let mut spec: Vec<(FusedOp, SmallVec<[Arg<T>; 3]>)> = Vec::new();
                for &m in &ms {
                    let node = src.node(m);
                    let args = node
                        .inputs
                        .iter()
                        .map(|&i| {
                            if let Some(&k) = pos.get(&i) {
                                return Arg::Member(k);
                            }
                            if let Op::Const(t) = &src.node(i).op {
                                if t.shape().is_empty() {
                                    return Arg::Value(t.data()[0]);
                                }
                            }
                            // A broadcast operand is read through strides instead: the
                            // fused kernel broadcasts, so the copy is not needed.
                            let i = match &src.node(i).op {
                                Op::Structural(Structural::BroadcastTo(_)) => src.node(i).inputs[0],
                                _ => i,
                            };
                            let k = ext.iter().position(|&x| x == i).unwrap_or_else(|| {
                                ext.push(i);
                                ext.len() - 1
                            });
                            Arg::Input(k)
                        })
                        .collect();
                    spec.push((fused_op(&node.op).expect("fusable"), args));
                }
                match Fused::new(ext.len(), &spec) {
                    Some(f) => {
                        let ins: Vec<NodeId> = ext
                            .iter()
                            .map(|i| map[i.index()].expect("operands come first"))
                            .collect();
                        let shape = src.node(root).shape.clone();
                        let fid = dst.copy_node(
                            Op::Fused(Arc::new(f)),
                            &ins,
                            shape,
                            Origin::Rewrite { rule: FUSE },
                        );
                        map[root.index()] = Some(fid);
                        *fired.entry(FUSE).or_default() += 1;
                        *fired.entry("fused_members").or_default() += ms.len();
                    }
                    None => {
                        // Too many operands for the kernel's scratch: leave the ops as they are.
                        for &m in &ms {
                            map[m.index()] = Some(copy(m, &map));
                        }
                    }
                }
            }
        }
    }
    let new_roots = roots
        .iter()
        .map(|r| map[r.index()].expect("roots are made"))
        .collect();
    (dst, new_roots, fired)
}
