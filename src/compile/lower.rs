//! Lowering: the rewritten graph ([`Rewritten`]) to a [`Program`]: the nodes the outputs,
//! gradients and updates need, in id (topological) order, each a step with its kernel; a
//! copy where a root is a leaf or two roots share a value; the flat gradient's targets
//! (written in place where a step can own its range); then the column-sum fusion.

use std::collections::HashMap;
use std::ops::Range;

use smallvec::SmallVec;

use super::program::{fuse_column_sums, GradOut, GradTarget, Kernel, NanInfo, Program, Step};
use super::Options;
use crate::graph::{Dim, Graph, NodeId, Origin};
use crate::ops::Op;
use crate::params::ParamLayout;
use crate::rewrite::StageLog;
use crate::tensor::Tensor;
use crate::Scalar;

/// The graph a program is made from, after every rewrite stage ([`Compiler::rewrite`](crate::Compiler::rewrite)).
pub struct Rewritten<T: Scalar> {
    /// The rewritten graph.
    pub graph: Graph<T>,
    /// The inputs, in call order.
    pub inputs: Vec<NodeId>,
    /// The value outputs.
    pub outputs: Vec<NodeId>,
    /// The gradient of each parameter of the layout (`None`: zero), if there is one.
    pub grads: Option<Vec<Option<NodeId>>>,
    /// Parameter updates: the range of x and the node written into it.
    pub updates: Vec<(Range<usize>, NodeId)>,
    /// The options compiled with.
    pub options: Options,
    /// What each stage did.
    pub report: StageLog,
}

/// Lowers the final graph to a program.
///
/// # Panics
/// If the outputs need an input that is not among the inputs given, or a parameter of the
/// graph does not match the layout's entry of the same id (name, shape, offset): a graph
/// compiled against another layout.
pub(super) fn lower<T: Scalar>(o: Rewritten<T>, layout: &ParamLayout) -> Program<T> {
    let Rewritten {
        graph,
        inputs: input_ids,
        outputs: out_ids,
        grads,
        updates: update_ids,
        options,
        report,
    } = o;
    let g = &graph;
    let grad_ids = grads.as_deref();
    let mut roots: Vec<NodeId> = out_ids.to_vec();
    roots.extend(grad_ids.iter().copied().flatten().flatten());
    roots.extend(update_ids.iter().map(|u| u.1));
    roots.extend(&input_ids);
    let keep = g.reachable(&roots);
    let reads = if options.nan_guard {
        params_read(g, &keep)
    } else {
        HashMap::new()
    };
    let mut index: HashMap<NodeId, usize> = HashMap::new();
    let mut steps: Vec<Step<T>> = Vec::new();
    let mut consts: Vec<Tensor<T>> = Vec::new();
    let mut nan_info: Vec<NanInfo> = Vec::new();
    let mut linalg_exprs: HashMap<usize, String> = HashMap::new();
    for &id in &keep {
        let n = g.node(id);
        let kernel = match &n.op {
            Op::Const(t) => {
                consts.push(t.clone());
                Kernel::Const(consts.len() - 1)
            }
            Op::Input { name, .. } => {
                let Some(pos) = input_ids.iter().position(|&i| i == id) else {
                    panic!("symgrad: the outputs need input `{name}`, which is not among the inputs given")
                };
                Kernel::Input(pos)
            }
            Op::Param {
                id: pid,
                name,
                offset,
            } => {
                check_param(layout, pid.0 as usize, name, *offset, &n.shape);
                Kernel::Param(*offset)
            }
            op => Kernel::Op(op.clone()),
        };
        if options.nan_guard {
            nan_info.push(NanInfo {
                expr: g.infix_capped(id, 200),
                origin: match &n.origin {
                    Origin::User => "the user's expression".to_string(),
                    Origin::Grad { of } => format!("the gradient rule of node {of}"),
                    Origin::Rewrite { rule } => format!("rule {rule}"),
                },
                reads: reads.get(&id).cloned().unwrap_or_default(),
            });
        }
        if matches!(n.op, Op::Linalg(_)) {
            let origin = match &n.origin {
                Origin::User => "the user's expression".to_string(),
                Origin::Grad { of } => format!("the gradient rule of node {of}"),
                Origin::Rewrite { rule } => format!("rule {rule}"),
            };
            let expr = g.infix_capped(id, 200);
            linalg_exprs.insert(steps.len(), format!("`{expr}`, made by {origin}"));
        }
        index.insert(id, steps.len());
        steps.push(Step {
            kernel,
            inputs: n.inputs.iter().map(|i| index[i]).collect(),
            shape: n.shape.clone(),
            node: id,
            label: g.op_label(id),
        });
    }
    let mut input_names = Vec::new();
    let mut input_shapes = Vec::new();
    let mut input_is_index = Vec::new();
    for &id in &input_ids {
        let n = g.node(id);
        if let Op::Input { name, index } = &n.op {
            input_names.push(name.clone());
            input_shapes.push(n.shape.clone());
            input_is_index.push(*index);
        }
    }

    // A root that is a leaf, or that two roots share, gets its own copy.
    let copy_of = |p: usize, steps: &mut Vec<Step<T>>| -> usize {
        let (shape, node) = (steps[p].shape.clone(), steps[p].node);
        steps.push(Step {
            kernel: Kernel::Copy,
            inputs: SmallVec::from_slice(&[p]),
            shape,
            node,
            label: "copy".into(),
        });
        steps.len() - 1
    };
    let mut outputs = Vec::new();
    for o in &out_ids {
        let p = index[o];
        outputs.push(if steps[p].kernel.is_leaf() {
            copy_of(p, &mut steps)
        } else {
            p
        });
    }
    let mut updates: Vec<(Range<usize>, usize)> = Vec::new();
    for (r, v) in &update_ids {
        let p = index[v];
        let p = if steps[p].kernel.is_leaf() {
            copy_of(p, &mut steps)
        } else {
            p
        };
        updates.push((r.clone(), p));
    }
    let mut grads = Vec::new();
    let mut direct_grad: Vec<Option<usize>> = vec![None; steps.len()];
    if let Some(gs) = grad_ids {
        for (e, gn) in layout.entries().iter().zip(gs) {
            let target = match gn {
                None => GradTarget::Zero,
                Some(id) => {
                    let p = index[id];
                    let shared = outputs.contains(&p) || updates.iter().any(|u| u.1 == p);
                    if steps[p].kernel.is_leaf() || shared || direct_grad[p].is_some() {
                        GradTarget::Copy(p)
                    } else {
                        direct_grad[p] = Some(e.offset);
                        GradTarget::Direct(p)
                    }
                }
            };
            grads.push(GradOut {
                range: e.range(),
                target,
            });
        }
    }
    direct_grad.resize(steps.len(), None);
    if options.fusion {
        fuse_column_sums(&mut steps);
    }
    let symbols: Vec<String> = (0..g.symbol_count())
        .map(|s| g.symbol_name(crate::graph::SymId(s as u32)))
        .collect();
    let mut used = vec![false; symbols.len()];
    for d in steps.iter().flat_map(|s| s.shape.iter()) {
        if let Dim::Sym(s) = d {
            used[s.0 as usize] = true;
        }
    }
    Program {
        steps,
        consts,
        input_names,
        input_shapes,
        input_is_index,
        outputs,
        grads,
        has_grad: grad_ids.is_some(),
        updates,
        direct_grad,
        x_len: layout.len(),
        used_symbols: (0..used.len()).filter(|&s| used[s]).collect(),
        symbols,
        nan_info,
        linalg_exprs,
        options,
        report,
    }
}

/// A parameter node must be the layout's entry of the same id: same name, offset and shape
/// (a graph built against another layout of the same size would otherwise read the wrong
/// ranges of x without a word).
fn check_param(layout: &ParamLayout, id: usize, name: &str, offset: usize, shape: &[Dim]) {
    let entry = layout.entries().get(id);
    let fits = entry.is_some_and(|e| {
        e.name == name
            && e.offset == offset
            && e.shape.len() == shape.len()
            && e.shape.iter().zip(shape).all(|(&a, b)| Dim::Fixed(a) == *b)
    });
    assert!(
        fits,
        "symgrad: parameter `{name}` of the graph (id {id}, offset {offset}) is not that of the \
         layout compiled against ({}): build the graph with the same layout",
        match entry {
            Some(e) => format!("its entry {id} is `{}` at offset {}", e.name, e.offset),
            None => format!("it has {} parameters", layout.count()),
        }
    );
}

/// For each node, the names of the parameters it reads, directly or through its inputs.
fn params_read<T: Scalar>(g: &Graph<T>, keep: &[NodeId]) -> HashMap<NodeId, Vec<String>> {
    let mut reads: HashMap<NodeId, Vec<String>> = HashMap::new();
    for &id in keep {
        let n = g.node(id);
        let mut r: Vec<String> = match &n.op {
            Op::Param { name, .. } => vec![name.clone()],
            _ => Vec::new(),
        };
        for i in n.inputs.iter() {
            for p in reads.get(i).into_iter().flatten() {
                if !r.contains(p) {
                    r.push(p.clone());
                }
            }
        }
        reads.insert(id, r);
    }
    reads
}
