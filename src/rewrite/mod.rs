//! Graph rewrites as data: phases of named rules, run in a fixed order to a fixed point under
//! a node budget, with a count of how often each rule fired.
//!
//! A pass rebuilds the graph: it copies the nodes the roots need into a fresh graph, in
//! topological order, and after copying a node tries each rule of the phase on it (the
//! node's inputs are already rewritten, so rules see the rewritten subgraph). A rule that
//! fires returns a replacement built with the ordinary `Expr` builders, tagged with the
//! rule's name as its origin; the rules are tried again on the replacement. Three things
//! happen in every pass for free:
//!
//! - **dead nodes are removed** (`remove_dead`): only what the roots need is copied;
//! - **identical subgraphs are merged** (`merge_identical`): the fresh graph hash-conses, so
//!   a node equal to an existing one (same op and attributes, same inputs) is that node;
//! - a replacement whose shape is smaller than the node's is broadcast back to it.
//!
//! The phases ([`phases`]) run in the order merge, simplify, stabilize, fold, repeated until a
//! round fires nothing or the graph outgrows its budget. After differentiation, one rule
//! outside the phases removes `stop_gradient` ([`strip_stop_gradient`]; the phases also run
//! before differentiation, where it must stay). Fusion of elementwise chains ([`fuse`]) runs
//! once at the end, and memory planning after that (`compile::plan`).
//!
//! Each rule says whether it is **exact**: whether the rewritten graph computes the same
//! bits. [`Level::Exact`] runs only those (merging, dead nodes, constant folding, `x*1`,
//! `-(-x)`, ...), [`Level::All`] runs the value-changing ones too (stability rewrites,
//! reassociation). `tests/rewrite.rs` checks both claims on random graphs.

mod fuse;
mod rules;

use std::collections::BTreeMap;

pub use fuse::fuse;
pub use rules::{phases, strip_stop_gradient};

use crate::graph::{broadcast_compatible, Graph, NodeId, Origin};
use crate::Scalar;

/// Which rewrites run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Level {
    /// None: the graph is compiled as built.
    None,
    /// Only rewrites that keep every bit of every value (merging, dead nodes, constant
    /// folding, the exact algebraic rules).
    Exact,
    /// Every rule, including the ones that change values within rounding or make them
    /// finite where the literal graph overflows (stability).
    #[default]
    All,
}

/// One rewrite rule: a name, its algebra in one line, and a function that returns the
/// replacement of a node or `None`.
pub struct Rule<T: Scalar> {
    /// The rule's name, as counted and printed in origins.
    pub name: &'static str,
    /// Its algebra, one line: `log(1 + x) → log1p(x)`.
    pub doc: &'static str,
    /// Whether the replacement computes the same bits as the original.
    pub exact: bool,
    /// Returns the replacement of node `id` of the graph, built in that graph.
    pub apply: fn(&Graph<T>, NodeId) -> Option<NodeId>,
}

/// A named table of rules, run as one pass.
pub struct Phase<T: Scalar> {
    /// The phase's name.
    pub name: &'static str,
    /// What it is for.
    pub doc: &'static str,
    /// Its rules, tried in order on every node.
    pub rules: Vec<Rule<T>>,
}

/// Names of the rules every pass applies without a table.
pub const MERGE: &str = "merge_identical";
/// See [`MERGE`].
pub const DEAD: &str = "remove_dead";
/// A fixed-point run stops after this many rounds even if rules still fire.
pub const MAX_ROUNDS: usize = 12;

/// What one pass did.
#[derive(Clone, Debug)]
pub struct Stage {
    /// The stage's name (`simplify, round 1`, `gradient`, `fuse`, ...).
    pub name: String,
    /// How often each rule fired, by rule name (rules that did not fire are left out).
    pub fired: BTreeMap<&'static str, usize>,
    /// Nodes the roots need after the stage.
    pub nodes: usize,
    /// The graph after the stage as an SSA listing with origins, if recording.
    pub listing: Option<String>,
    /// The graph after the stage as Graphviz DOT, if recording.
    pub dot: Option<String>,
}

/// What a rewrite run did: its stages and the totals per rule.
#[derive(Clone, Debug, Default)]
pub struct StageLog {
    /// The stages in the order they ran.
    pub stages: Vec<Stage>,
    /// Total firings per rule.
    pub totals: BTreeMap<&'static str, usize>,
    /// Fixed-point rounds run.
    pub rounds: usize,
    /// Whether a run stopped because the graph outgrew its node budget.
    pub budget_exhausted: bool,
    /// Whether listings and DOT are recorded per stage.
    pub record: bool,
}

impl StageLog {
    /// A report that records each stage's graph (for `explain`).
    pub fn recording() -> Self {
        StageLog {
            record: true,
            ..Self::default()
        }
    }

    /// Adds a stage for the graph `g` with roots `roots`.
    pub fn push<T: Scalar>(
        &mut self,
        name: impl Into<String>,
        fired: BTreeMap<&'static str, usize>,
        g: &Graph<T>,
        roots: &[NodeId],
    ) {
        for (k, v) in &fired {
            *self.totals.entry(k).or_default() += v;
        }
        let (listing, dot) = if self.record {
            (Some(g.listing(roots)), Some(g.to_dot(roots)))
        } else {
            (None, None)
        };
        self.stages.push(Stage {
            name: name.into(),
            fired,
            nodes: g.reachable(roots).len(),
            listing,
            dot,
        });
    }

    /// The stages as text: one heading per stage with the rules that fired, and the graph
    /// after it (if recorded) when the stage changed something or is one of the milestones
    /// (as built, gradient, fuse, the last rewrite).
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let last_rewrite = self
            .stages
            .iter()
            .rposition(|st| st.name.contains("round"))
            .unwrap_or(usize::MAX);
        for (k, st) in self.stages.iter().enumerate() {
            let fired: Vec<String> = st.fired.iter().map(|(r, n)| format!("{r} ×{n}")).collect();
            let _ = writeln!(
                s,
                "== {}. {} ({} nodes){}",
                k + 1,
                st.name,
                st.nodes,
                if fired.is_empty() {
                    String::new()
                } else {
                    format!(": {}", fired.join(", "))
                }
            );
            let milestone = !st.name.contains("round") || k == last_rewrite;
            let changed = st.fired.keys().any(|r| *r != DEAD);
            if let Some(l) = &st.listing {
                if milestone || changed {
                    s.push_str(l);
                }
            }
        }
        if self.budget_exhausted {
            s.push_str("(stopped: the graph outgrew its node budget)\n");
        }
        s
    }

    /// How often rule `name` fired in all.
    pub fn count(&self, name: &str) -> usize {
        self.totals.get(name).copied().unwrap_or(0)
    }
}

/// Copies what `roots` need into a fresh graph, trying `rules` on each copied node.
/// Returns the new graph, the new roots and the firings.
pub fn rebuild<T: Scalar>(
    src: &Graph<T>,
    roots: &[NodeId],
    rules: &[&Rule<T>],
    merging: bool,
) -> (Graph<T>, Vec<NodeId>, BTreeMap<&'static str, usize>) {
    let keep = src.reachable(roots);
    let dst = if merging {
        Graph::new_merging()
    } else {
        Graph::new()
    };
    for name in src.symbols() {
        dst.symbol(&name);
    }
    let mut fired: BTreeMap<&'static str, usize> = BTreeMap::new();
    let dead = src.len() - keep.len();
    if dead > 0 {
        fired.insert(DEAD, dead);
    }
    let mut map: Vec<Option<NodeId>> = vec![None; src.len()];
    for id in keep {
        let (op, inputs, shape, origin) = {
            let n = src.node(id);
            (
                n.op.clone(),
                n.inputs.clone(),
                n.shape.clone(),
                n.origin.clone(),
            )
        };
        let ins: Vec<NodeId> = inputs
            .iter()
            .map(|i| map[i.index()].expect("inputs come first"))
            .collect();
        let mut cur = dst.copy_node(op, &ins, shape.clone(), origin);
        let mut tries = 0;
        'again: while tries < 8 {
            for rule in rules {
                let out = dst.with_origin(Origin::Rewrite { rule: rule.name }, || {
                    (rule.apply)(&dst, cur).and_then(|r| fit(&dst, r, &shape))
                });
                if let Some(r) = out.filter(|&r| r != cur) {
                    *fired.entry(rule.name).or_default() += 1;
                    cur = r;
                    tries += 1;
                    continue 'again;
                }
            }
            break;
        }
        map[id.index()] = Some(cur);
    }
    let merged = dst.merged_count();
    if merged > 0 {
        fired.insert(MERGE, merged);
    }
    let new_roots = roots
        .iter()
        .map(|r| map[r.index()].expect("roots are kept"))
        .collect();
    (dst, new_roots, fired)
}

/// The replacement `r` at the shape the node had: as is, broadcast up to it, or rejected.
fn fit<T: Scalar>(g: &Graph<T>, r: NodeId, shape: &[crate::graph::Dim]) -> Option<NodeId> {
    let rs = g.node(r).shape.clone();
    if rs[..] == *shape {
        Some(r)
    } else if broadcast_compatible(&rs, shape) {
        Some(g.expr(r).broadcast_to(shape.iter().copied()).id())
    } else {
        None
    }
}

/// Runs the phases at `level` on what `roots` need, to a fixed point, recording a stage
/// per pass into `report` (stage names are prefixed with `prefix`). Returns the rewritten
/// graph and roots. At [`Level::None`] the graph is copied as is.
pub fn run_phases<T: Scalar>(
    src: &Graph<T>,
    roots: &[NodeId],
    level: Level,
    report: &mut StageLog,
    prefix: &str,
) -> (Graph<T>, Vec<NodeId>) {
    if level == Level::None {
        return {
            let (g, r, _) = rebuild(src, roots, &[], false);
            (g, r)
        };
    }
    let all = phases::<T>();
    let (mut g, mut r, fired) = rebuild(src, roots, &[], true);
    report.push(format!("{prefix}merge"), fired, &g, &r);
    let budget = 8 * g.len() + 1000;
    for round in 1..=MAX_ROUNDS {
        report.rounds += 1;
        let mut any = false;
        for phase in &all {
            let rules: Vec<&Rule<T>> = phase
                .rules
                .iter()
                .filter(|rule| level == Level::All || rule.exact)
                .collect();
            let (g2, r2, fired) = rebuild(&g, &r, &rules, true);
            // A pass with no firings still drops the nodes the last one left dead.
            any |= fired.keys().any(|k| *k != DEAD);
            report.push(
                format!("{prefix}{}, round {round}", phase.name),
                fired,
                &g2,
                &r2,
            );
            g = g2;
            r = r2;
            if g.len() > budget {
                report.budget_exhausted = true;
                return (g, r);
            }
        }
        if !any {
            break;
        }
    }
    (g, r)
}
