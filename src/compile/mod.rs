//! Compiling graphs into `Function`s: a flat program over the needed nodes, a buffer plan
//! per binding of the symbolic dimensions, and an evaluator that reads parameters from x and
//! writes gradients into their ranges of the flat gradient.
//!
//! Lowering keeps the nodes the outputs depend on, in id (topological) order. A call checks
//! the inputs, binds the symbols (the batch size), takes the cached plan for that binding or
//! makes one, and runs the kernels in order: inside one rayon scope when a value is large
//! enough for some kernel to split, on the caller's thread otherwise. In the steady state a
//! call allocates nothing of its own: the arena and the plans are kept between calls (see
//! [`CallStats`]); the gemm crate's packing buffers are all that is
//! left (counted in tests/alloc_free.rs).

mod eval;
mod plan;

use std::collections::HashMap;
use std::ops::Range;

use smallvec::SmallVec;

pub use plan::{Loc, Plan};

use crate::error::{Error, Result};
use crate::grad::grad;
use crate::graph::{Dim, Expr, Graph, NodeId, Origin, SymShape};
use crate::ops::{Op, Unary};
use crate::params::ParamLayout;
use crate::rewrite::{self, Level, Report};
use crate::tensor::{numel, Tensor, TensorRef};
use crate::Scalar;

/// One program instruction: an op over earlier instructions' values.
#[derive(Clone, Debug)]
pub struct Instr<T> {
    /// The op.
    pub op: Op<T>,
    /// Program indices of the inputs.
    pub inputs: SmallVec<[usize; 3]>,
    /// The symbolic shape.
    pub shape: SymShape,
    /// The graph node this came from.
    pub node: NodeId,
    /// The op as the graph prints it (with names and attributes).
    pub label: String,
    /// For inputs, the input slot; for constants, the constant's index.
    slot: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum GradTarget {
    /// No gradient reaches the parameter: its range is zeroed.
    Zero,
    /// The node writes straight into the range.
    Direct(usize),
    /// The node's value is copied into the range at the end.
    Copy(usize),
}

#[derive(Clone, Debug)]
struct GradOut {
    range: Range<usize>,
    target: GradTarget,
}

/// Counters that show the steady state: after the first call with a given binding, further
/// calls build no plan and grow no buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls made.
    pub calls: u64,
    /// Buffer plans built (one per new binding of the symbolic dimensions).
    pub plans_built: u64,
    /// Times the arena had to grow.
    pub arena_grows: u64,
    /// Current arena length, in elements.
    pub arena_len: usize,
    /// Calls that ran inside rayon's thread pool: those with a value large enough for some
    /// kernel to split between threads (see [`PARALLEL_MIN`](crate::tensor::kernels::PARALLEL_MIN)
    /// and [`PARALLEL_MIN_VALUE`](crate::tensor::gemm::PARALLEL_MIN_VALUE)). The others run
    /// on the caller's thread alone, which spares a small call the pool's wake-up (a scalar
    /// expression: 0.3 µs a call instead of 19).
    pub pooled_calls: u64,
}

/// Collects what a [`Function`] computes: its inputs (in call order), value outputs, a flat
/// gradient over a [`ParamLayout`] and in-place parameter updates.
///
/// ```
/// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
/// let mut layout = ParamLayout::new();
/// layout.add("w", &[2]);
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![2]);
/// let w = g.param(&layout, "w");
/// let cost = (w * x).sum_all().square();
/// let mut f = Compiler::new(&g, &layout).inputs(&[x]).value_and_grad(cost).build();
/// let mut grad = vec![0.0; 2];
/// let v = f.value_and_grad(&[1.0, 2.0], &[TensorRef::new(&[2], &[3.0, 4.0])], &mut grad).unwrap();
/// assert_eq!(v, 121.0);            // (1*3 + 2*4)^2
/// assert_eq!(grad, vec![66.0, 88.0]); // 2 * 11 * x
/// ```
pub struct Compiler<'g, T: Scalar> {
    graph: &'g Graph<T>,
    layout: &'g ParamLayout,
    inputs: Option<Vec<NodeId>>,
    outputs: Vec<NodeId>,
    grads: Option<Vec<Option<NodeId>>>,
    /// A cost differentiated at build time, after the first rewrites (`value_and_grad`).
    cost: Option<NodeId>,
    updates: Vec<(Range<usize>, NodeId)>,
    options: Options,
}

/// What `Compiler::build` does between the graph as built and the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Which rewrites run (default: all).
    pub rewrites: Level,
    /// Fuse elementwise chains into one pass over memory (default: on).
    pub fusion: bool,
    /// Let elementwise nodes write over an input whose value dies there (default: on).
    pub in_place: bool,
    /// Check every step's output for NaN and infinities, stopping at the first (default:
    /// off; turns fusion off so that each op is checked on its own).
    pub nan_guard: bool,
    /// Keep every stage's graph for [`Function::explanation`] (default: off).
    pub record: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rewrites: Level::All,
            fusion: true,
            in_place: true,
            nan_guard: false,
            record: false,
        }
    }
}

impl Options {
    /// The rewrites, but neither fusion nor in-place buffer reuse: to measure what those two
    /// buy.
    pub fn unfused() -> Self {
        Options {
            fusion: false,
            in_place: false,
            ..Options::default()
        }
    }

    /// Everything off: the graph compiled as built, each op its own step, no buffer shared
    /// between a step's input and its output.
    pub fn literal() -> Self {
        Options {
            rewrites: Level::None,
            fusion: false,
            in_place: false,
            nan_guard: false,
            record: false,
        }
    }
}

impl<'g, T: Scalar> Compiler<'g, T> {
    /// Starts compiling nodes of `graph` whose parameters live in `layout`.
    pub fn new(graph: &'g Graph<T>, layout: &'g ParamLayout) -> Self {
        Compiler {
            graph,
            layout,
            inputs: None,
            outputs: Vec::new(),
            grads: None,
            cost: None,
            updates: Vec::new(),
            options: Options::default(),
        }
    }

    /// Sets all options at once.
    pub fn options(mut self, options: Options) -> Self {
        self.options = options;
        self
    }

    /// Which rewrites run ([`Level::All`] by default).
    ///
    /// ```
    /// use symgrad::rewrite::Level;
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![]);
    /// let y = (x.exp() + 1.0).log(); // softplus, written literally
    /// let mut literal = Compiler::new(&g, &none)
    ///     .inputs(&[x])
    ///     .output(y)
    ///     .rewrites(Level::None)
    ///     .build();
    /// let mut stable = Compiler::new(&g, &none).inputs(&[x]).output(y).build();
    /// let big = [1000.0];
    /// assert_eq!(literal.value(&[], &[TensorRef::new(&[], &big)])?, f64::INFINITY);
    /// assert_eq!(stable.value(&[], &[TensorRef::new(&[], &big)])?, 1000.0);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn rewrites(mut self, level: Level) -> Self {
        self.options.rewrites = level;
        self
    }

    /// Turns elementwise fusion on or off (on by default).
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![4]);
    /// let y = (x * 2.0 + 1.0).sigmoid();
    /// let fused = Compiler::new(&g, &none).inputs(&[x]).output(y).build();
    /// let unfused = Compiler::new(&g, &none).inputs(&[x]).output(y).fusion(false).build();
    /// // one fused step against a multiply, an add and a sigmoid
    /// assert!(fused.program().len() + 2 <= unfused.program().len());
    /// ```
    pub fn fusion(mut self, on: bool) -> Self {
        self.options.fusion = on;
        self
    }

    /// Turns in-place buffer reuse on or off (on by default): an elementwise step may write
    /// over an operand whose value dies there.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![1000]);
    /// let a = (x * 2.0).exp();
    /// let y = a / a.sum_all(); // `a` is stored for the sum; the division may write over it
    /// let arena = |in_place| -> symgrad::Result<usize> {
    ///     let mut f = Compiler::new(&g, &none).inputs(&[x]).output(y).in_place(in_place).build();
    ///     f.run(&[], &[TensorRef::new(&[1000], &[0.0; 1000])], None)?;
    ///     Ok(f.arena_len().unwrap())
    /// };
    /// assert_eq!((arena(true)?, arena(false)?), (1024, 2032)); // one array of 1000 against two
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn in_place(mut self, on: bool) -> Self {
        self.options.in_place = on;
        self
    }

    /// Turns the NaN guard on: a call stops at the first step whose output holds a NaN or an
    /// infinity and returns [`Error::NonFinite`] naming it (off by default; slower).
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Error, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![2]);
    /// let y = (x - 2.0).log().sum_all();
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(y).nan_guard(true).build();
    /// let err = f.value(&[], &[TensorRef::new(&[2], &[1.0, 3.0])]).unwrap_err();
    /// assert!(matches!(err, Error::NonFinite { .. }));
    /// assert!(err.to_string().contains("`log(x - 2)`"), "{err}");
    /// ```
    pub fn nan_guard(mut self, on: bool) -> Self {
        self.options.nan_guard = on;
        self
    }

    /// Keeps the graph after every stage, for [`Function::explanation`] (off by default).
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![]);
    /// let f = Compiler::new(&g, &none)
    ///     .inputs(&[x])
    ///     .output((x.exp() + 1.0).log())
    ///     .record(true)
    ///     .build();
    /// let text = f.explain();
    /// assert!(text.contains("softplus")); // the rule that fired, and the graphs it made
    /// ```
    pub fn record(mut self, on: bool) -> Self {
        self.options.record = on;
        self
    }

    /// The inputs, in the order arrays will be passed (default: every input of the graph in
    /// the order it was declared).
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let (a, b) = (g.input("a", dims![2]), g.input("b", dims![2]));
    /// let mut f = Compiler::new(&g, &none).inputs(&[b, a]).output((a - b).sum_all()).build();
    /// assert_eq!(f.input_names(), ["b", "a"]);
    /// let (bv, av) = ([1.0, 1.0], [3.0, 4.0]);
    /// assert_eq!(f.value(&[], &[TensorRef::new(&[2], &bv), TensorRef::new(&[2], &av)])?, 5.0);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn inputs(mut self, inputs: &[Expr<'g, T>]) -> Self {
        for e in inputs {
            assert!(
                matches!(self.graph.node(e.id()).op, Op::Input { .. }),
                "symgrad: {:?} is not an input",
                e
            );
        }
        self.inputs = Some(inputs.iter().map(|e| e.id()).collect());
        self
    }

    /// Adds a value output; outputs are numbered in the order they are added.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![3]);
    /// let mut f = Compiler::new(&g, &none)
    ///     .inputs(&[x])
    ///     .output(x.sum_all())
    ///     .output(x.max_all())
    ///     .build();
    /// f.run(&[], &[TensorRef::new(&[3], &[1.0, 5.0, 2.0])], None)?;
    /// assert_eq!(f.output_count(), 2);
    /// assert_eq!((f.scalar_output(0)?, f.scalar_output(1)?), (8.0, 5.0));
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn output(mut self, e: Expr<'g, T>) -> Self {
        self.outputs.push(e.id());
        self
    }

    /// Writes a flat gradient: `grads[k]` is the gradient of parameter `k` of the layout
    /// (`None`: zeros). Use [`Compiler::value_and_grad`] for the common case.
    ///
    /// The given gradients are rewritten like every other output, but they were taken from
    /// the graph you built: a gradient that [`grad`](fn@crate::grad) took of a literal
    /// `log(sigmoid(z))` holds `1 / sigmoid(z)`, which no rule turns back into a stable form.
    /// [`Compiler::value_and_grad`] differentiates after the stability rules have run, and so
    /// gives finite gradients where this cannot.
    ///
    /// # Panics
    /// If `grads.len()` is not the layout's parameter count, or a gradient's shape differs
    /// from its parameter's.
    ///
    /// ```
    /// use symgrad::{Compiler, Graph, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("w", &[2]);
    /// layout.add("c", &[]);
    /// let g = Graph::<f64>::new();
    /// let w = g.param(&layout, "w");
    /// // d/dw of sum(w²) written by hand; no gradient for c (zeros)
    /// let mut f = Compiler::new(&g, &layout)
    ///     .output(w.square().sum_all())
    ///     .flat_gradient(&[Some(w * 2.0), None])
    ///     .build();
    /// let mut grad = vec![9.0; 3];
    /// assert_eq!(f.value_and_grad(&[1.0, -2.0, 7.0], &[], &mut grad)?, 5.0);
    /// assert_eq!(grad, [2.0, -4.0, 0.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn flat_gradient(mut self, grads: &[Option<Expr<'g, T>>]) -> Self {
        assert_eq!(
            grads.len(),
            self.layout.count(),
            "symgrad: one gradient per parameter of the layout"
        );
        for (e, g) in self.layout.entries().iter().zip(grads) {
            if let Some(g) = g {
                let want: SymShape = e.shape.iter().map(|&d| Dim::Fixed(d)).collect();
                assert_eq!(
                    g.shape(),
                    want,
                    "symgrad: gradient of `{}` has the wrong shape",
                    e.name
                );
            }
        }
        self.grads = Some(grads.iter().map(|g| g.map(|e| e.id())).collect());
        self
    }

    /// Output 0 is `cost` and the flat gradient is d cost / d x over every parameter of the
    /// layout: the seed's F and ∇F in one function that computes shared work once.
    ///
    /// The gradient is taken at build time, after the first round of rewrites: the
    /// stability rules turn `log(sigmoid z)` and the literal cross-entropy into forms whose
    /// gradients are finite too, and differentiating the rewritten graph keeps them so.
    ///
    /// # Panics
    /// If `cost` has more than one element.
    pub fn value_and_grad(mut self, cost: Expr<'g, T>) -> Self {
        let cs = cost.shape();
        assert!(
            cs.iter().all(|d| *d == Dim::Fixed(1)),
            "symgrad: value_and_grad needs a cost with one element, got shape {}",
            self.graph.fmt_shape(&cs)
        );
        self.cost = Some(cost.id());
        self.grads = None;
        self.output(cost)
    }

    /// After the outputs are computed, writes `value` into the range of parameter `name`
    /// (Theano's `updates`, e.g. `w - lr * g`). All updates read the old x.
    ///
    /// ```
    /// use symgrad::{Compiler, Error, Graph, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("w", &[2]);
    /// let g = Graph::<f64>::new();
    /// let w = g.param(&layout, "w");
    /// // a gradient-descent step per call: w <- w - 0.25 * 2w
    /// let mut f = Compiler::new(&g, &layout)
    ///     .output(w.square().sum_all())
    ///     .update("w", w - w * 0.5)
    ///     .build();
    /// let mut x = vec![4.0, -2.0];
    /// f.run_update(&mut x, &[], None)?;
    /// assert_eq!(f.scalar_output(0)?, 20.0); // the cost at the old x
    /// assert_eq!(x, [2.0, -1.0]);
    /// assert_eq!(f.run(&x, &[], None), Err(Error::UpdatesNeedMut)); // `run` cannot write x
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn update(mut self, name: &str, value: Expr<'g, T>) -> Self {
        let e = self
            .layout
            .lookup(name)
            .unwrap_or_else(|e| panic!("symgrad: {e}"));
        let want: SymShape = e.shape.iter().map(|&d| Dim::Fixed(d)).collect();
        assert_eq!(
            value.shape(),
            want,
            "symgrad: update of `{name}` has the wrong shape"
        );
        self.updates.push((e.range(), value.id()));
        self
    }

    /// Lowers to a [`Function`]: [`Compiler::optimize`], then a program whose buffers are
    /// planned at the first call with each binding of the symbolic dimensions.
    pub fn build(self) -> Function<T> {
        let layout = self.layout;
        lower(self.optimize(), layout)
    }

    /// Runs every stage before lowering and returns the graph the program would be made
    /// from: the graph as built; the rewrite phases to a fixed point; the gradient (for
    /// [`Compiler::value_and_grad`]); the rewrite phases again over value and gradient; then
    /// fusion. The report tells what each stage did.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("x", &[]);
    /// let g = Graph::<f64>::new();
    /// let x = g.param(&layout, "x");
    /// let o = Compiler::new(&g, &layout)
    ///     .value_and_grad((x.exp() + 1.0).log())
    ///     .fusion(false)
    ///     .optimize();
    /// assert_eq!(o.graph.expr_text(&o.outputs), "softplus(x)");
    /// assert_eq!(o.graph.expr_text(&[o.grads.unwrap()[0].unwrap()]), "sigmoid(x)");
    /// ```
    pub fn optimize(self) -> Optimized<T> {
        let user = self.graph;
        let opts = self.options;
        let mut report = if opts.record {
            Report::recording()
        } else {
            Report::default()
        };
        let user_inputs = self.inputs.clone().unwrap_or_else(|| user.inputs());
        // Roots in a fixed order: outputs, given gradients, updates, inputs.
        let (n_out, n_upd) = (self.outputs.len(), self.updates.len());
        let given: Vec<Option<NodeId>> = self.grads.clone().unwrap_or_default();
        let mut roots: Vec<NodeId> = self.outputs.clone();
        roots.extend(self.updates.iter().map(|u| u.1));
        roots.extend(&user_inputs);
        roots.extend(given.iter().flatten());
        report.push("as built", Default::default(), user, &roots);

        let (g1, r1) = rewrite::optimize(user, &roots, opts.rewrites, &mut report, "");
        let (g2, r2, grad_ids) = match self.cost {
            Some(cost) => {
                let ci = self
                    .outputs
                    .iter()
                    .position(|&o| o == cost)
                    .expect("cost is an output");
                let cost1 = g1.expr(r1[ci]);
                let params: Vec<Expr<'_, T>> = self
                    .layout
                    .ids()
                    .map(|id| g1.param_id(self.layout, id))
                    .collect();
                let gs = grad(cost1, &params);
                let mut roots2 = r1.clone();
                let first_grad = roots2.len();
                roots2.extend(gs.iter().flatten().map(|e| e.id()));
                report.push("gradient", Default::default(), &g1, &roots2);
                let (g2, r2) =
                    rewrite::optimize(&g1, &roots2, opts.rewrites, &mut report, "after gradient: ");
                let mut k = first_grad;
                let ids: Vec<Option<usize>> = gs
                    .iter()
                    .map(|e| {
                        e.map(|_| {
                            k += 1;
                            k - 1
                        })
                    })
                    .collect();
                (g2, r2, ids)
            }
            None => {
                let (g2, r2, _) = rewrite::rebuild(&g1, &r1, &[], false);
                let mut k = n_out + n_upd + user_inputs.len();
                let ids: Vec<Option<usize>> = given
                    .iter()
                    .map(|e| {
                        e.map(|_| {
                            k += 1;
                            k - 1
                        })
                    })
                    .collect();
                (g2, r2, ids)
            }
        };
        // Every gradient is built: stop_gradient has done its work and goes, unless the
        // graph is compiled as written.
        let stops = |g: &Graph<T>, r: &[NodeId]| {
            g.reachable(r)
                .into_iter()
                .any(|id| matches!(g.node(id).op, Op::Unary(Unary::StopGradient)))
        };
        let (g2, r2) = if opts.rewrites != Level::None && stops(&g2, &r2) {
            let strip = rewrite::strip_stop_gradient();
            let (g, r, fired) = rewrite::rebuild(&g2, &r2, &[&strip], false);
            report.push("strip stop_gradient", fired, &g, &r);
            (g, r)
        } else {
            (g2, r2)
        };
        let (g, r) = if opts.fusion && !opts.nan_guard {
            let (g3, r3, fired) = rewrite::fuse(&g2, &r2);
            report.push("fuse", fired, &g3, &r3);
            (g3, r3)
        } else {
            (g2, r2)
        };
        let has_grads = self.cost.is_some() || self.grads.is_some();
        let outputs_ids: Vec<NodeId> = r[..n_out].to_vec();
        let updates_ids: Vec<(Range<usize>, NodeId)> = self
            .updates
            .iter()
            .zip(&r[n_out..n_out + n_upd])
            .map(|(u, &id)| (u.0.clone(), id))
            .collect();
        let input_ids: Vec<NodeId> = r[n_out + n_upd..n_out + n_upd + user_inputs.len()].to_vec();
        let grads_ids: Option<Vec<Option<NodeId>>> =
            has_grads.then(|| grad_ids.iter().map(|k| k.map(|k| r[k])).collect());
        Optimized {
            graph: g,
            inputs: input_ids,
            outputs: outputs_ids,
            grads: grads_ids,
            updates: updates_ids,
            options: opts,
            report,
        }
    }
}

/// The graph a program is made from, after every rewrite stage ([`Compiler::optimize`]).
pub struct Optimized<T: Scalar> {
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
    pub report: Report,
}

/// Lowers the final graph to a program.
fn lower<T: Scalar>(o: Optimized<T>, layout: &ParamLayout) -> Function<T> {
    let Optimized {
        graph,
        inputs: input_ids,
        outputs: out_ids,
        grads,
        updates: update_ids,
        options: opts,
        report,
    } = o;
    let g = &graph;
    let grad_ids = grads.as_deref();
    let (input_ids, out_ids, update_ids) = (&input_ids[..], &out_ids[..], &update_ids[..]);
    let mut roots: Vec<NodeId> = out_ids.to_vec();
    roots.extend(grad_ids.iter().copied().flatten().flatten());
    roots.extend(update_ids.iter().map(|u| u.1));
    roots.extend(input_ids);
    let keep = g.reachable(&roots);
    let reads = if opts.nan_guard {
        params_read(g, &keep)
    } else {
        HashMap::new()
    };
    let mut index: HashMap<NodeId, usize> = HashMap::new();
    let mut prog: Vec<Instr<T>> = Vec::new();
    let mut consts: Vec<Tensor<T>> = Vec::new();
    let mut input_names = Vec::new();
    let mut input_shapes = Vec::new();
    let mut nan_info: Vec<NanInfo> = Vec::new();
    for &id in &keep {
        let n = g.node(id);
        let slot = match &n.op {
            Op::Const(t) => {
                consts.push(t.clone());
                consts.len() - 1
            }
            Op::Input { name } => {
                let pos = input_ids.iter().position(|&i| i == id);
                let Some(pos) = pos else {
                    panic!("symgrad: the outputs need input `{name}`, which is not among the inputs given")
                };
                pos
            }
            Op::Param { offset, .. } => {
                assert!(
                    offset + numel(&g.fixed_shape(id).expect("params are fixed")) <= layout.len(),
                    "symgrad: a parameter of the graph is outside the layout"
                );
                0
            }
            _ => 0,
        };
        if opts.nan_guard {
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
        index.insert(id, prog.len());
        prog.push(Instr {
            op: n.op.clone(),
            inputs: n.inputs.iter().map(|i| index[i]).collect(),
            shape: n.shape.clone(),
            node: id,
            label: g.op_label(id),
            slot,
        });
    }
    for &id in input_ids {
        let n = g.node(id);
        if let Op::Input { name } = &n.op {
            input_names.push(name.clone());
            input_shapes.push(n.shape.clone());
        }
    }

    // A root that is a leaf, or that two roots share, gets its own copy.
    let copy_of = |p: usize, prog: &mut Vec<Instr<T>>| -> usize {
        let ins = prog[p].clone();
        prog.push(Instr {
            op: Op::Reshape(ins.shape.clone()),
            inputs: SmallVec::from_slice(&[p]),
            shape: ins.shape,
            node: ins.node,
            label: "copy".into(),
            slot: 0,
        });
        prog.len() - 1
    };
    let mut outputs = Vec::new();
    for o in out_ids {
        let p = index[o];
        outputs.push(if prog[p].op.is_leaf() {
            copy_of(p, &mut prog)
        } else {
            p
        });
    }
    let mut updates = Vec::new();
    for (r, v) in update_ids {
        let p = index[v];
        updates.push((
            r.clone(),
            if prog[p].op.is_leaf() {
                copy_of(p, &mut prog)
            } else {
                p
            },
        ));
    }
    let mut grads = Vec::new();
    let mut direct_grad: Vec<Option<usize>> = vec![None; prog.len()];
    if let Some(gs) = grad_ids {
        for (e, gn) in layout.entries().iter().zip(gs) {
            let target = match gn {
                None => GradTarget::Zero,
                Some(id) => {
                    let p = index[id];
                    let shared = outputs.contains(&p) || updates.iter().any(|u| u.1 == p);
                    if prog[p].op.is_leaf() || shared || direct_grad[p].is_some() {
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
    direct_grad.resize(prog.len(), None);
    let symbols = (0..g.symbol_count())
        .map(|s| g.symbol_name(crate::graph::SymId(s as u32)))
        .collect();
    Function {
        prog,
        consts,
        input_names,
        input_shapes,
        outputs,
        grads,
        has_grad: grad_ids.is_some(),
        updates,
        direct_grad,
        x_len: layout.len(),
        symbols,
        plans: Vec::new(),
        current: None,
        arena: Vec::new(),
        stats: CallStats::default(),
        profile: None,
        bound_by: Vec::new(),
        binding: Vec::new(),
        used_symbols: Vec::new(),
        options: opts,
        report,
        nan_info,
    }
    .with_used_symbols()
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

/// A compiled function of the flat parameter vector x and named input arrays.
///
/// Build one with [`Compiler`]. Calls take x as a slice (parameters are read from it in
/// place), the inputs as [`TensorRef`]s in the compiled order, and, if the function has a
/// gradient, a slice of x's length into which the gradient is written.
pub struct Function<T: Scalar> {
    prog: Vec<Instr<T>>,
    consts: Vec<Tensor<T>>,
    input_names: Vec<String>,
    input_shapes: Vec<SymShape>,
    outputs: Vec<usize>,
    grads: Vec<GradOut>,
    has_grad: bool,
    updates: Vec<(Range<usize>, usize)>,
    direct_grad: Vec<Option<usize>>,
    x_len: usize,
    symbols: Vec<String>,
    plans: Vec<(Vec<usize>, Plan)>,
    current: Option<usize>,
    arena: Vec<T>,
    stats: CallStats,
    profile: Option<Vec<std::time::Duration>>,
    /// Scratch for binding symbols: (value, input that bound it), and the values alone.
    bound_by: Vec<Option<(usize, usize)>>,
    binding: Vec<usize>,
    /// Symbols the program's shapes use.
    used_symbols: Vec<usize>,
    options: Options,
    report: Report,
    /// Per step, what the NaN guard reports (empty when the guard is off).
    nan_info: Vec<NanInfo>,
}

/// What the NaN guard says of one program step.
#[derive(Clone, Debug)]
struct NanInfo {
    expr: String,
    origin: String,
    reads: Vec<String>,
}

/// Raw locations of one call's buffers, handed to the closure that runs the program (in a
/// rayon scope or on the caller's thread).
#[derive(Clone, Copy)]
struct Ptrs<T> {
    arena: *mut T,
    grad: *mut T,
    x: *const T,
}

// SAFETY: the pointers address buffers borrowed for the whole call (`execute` holds the
// borrows until the scope returns); kernels write disjoint ranges, as planned.
unsafe impl<T: Send> Send for Ptrs<T> {}
unsafe impl<T: Sync> Sync for Ptrs<T> {}

/// Plans kept per function (bindings of the symbolic dimensions).
const PLAN_CACHE: usize = 8;

// A step's operands are gathered inline, 16 at most: a fused step takes at most
// `MAX_SLOTS` (registers plus operands), every other op at most 3 (or a `concat`'s count,
// which may spill to the heap).
const _: () = assert!(crate::ops::MAX_SLOTS <= 16);

impl<T: Scalar> Function<T> {
    /// Computes the outputs (and the gradient, if compiled with one) at x. Read outputs with
    /// [`Function::output`] afterwards.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let mut layout = ParamLayout::new();
    /// layout.add("w", &[2]);
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n, 2]);
    /// let y = x.matmul(g.param(&layout, "w").reshape([2, 1]));
    /// let mut f = Compiler::new(&g, &layout)
    ///     .inputs(&[x])
    ///     .output(y)
    ///     .output(y.square().sum_all())
    ///     .build();
    /// f.run(&[1.0, 10.0], &[TensorRef::new(&[3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0])], None)?;
    /// let out = f.output(0)?;
    /// assert_eq!(out.shape, &[3, 1]);
    /// assert_eq!(out.data, &[21.0, 43.0, 65.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn run(
        &mut self,
        x: &[T],
        inputs: &[TensorRef<'_, T>],
        grad: Option<&mut [T]>,
    ) -> Result<()> {
        if !self.updates.is_empty() {
            return Err(Error::UpdatesNeedMut);
        }
        self.execute(x, inputs, grad)
    }

    /// Like [`Function::run`], then applies the parameter updates to x in place.
    pub fn run_update(
        &mut self,
        x: &mut [T],
        inputs: &[TensorRef<'_, T>],
        grad: Option<&mut [T]>,
    ) -> Result<()> {
        self.execute(x, inputs, grad)?;
        let plan = &self.plans[self.current.expect("planned")].1;
        for (r, p) in &self.updates {
            let Loc::Arena(off) = plan.locs[*p] else {
                unreachable!("update values live in the arena")
            };
            x[r.clone()].copy_from_slice(&self.arena[off..off + r.len()]);
        }
        Ok(())
    }

    /// Runs and returns output 0 as a scalar, with the gradient written into `grad`: the
    /// seed's F and ∇F in one call.
    pub fn value_and_grad(
        &mut self,
        x: &[T],
        inputs: &[TensorRef<'_, T>],
        grad: &mut [T],
    ) -> Result<T> {
        self.execute(x, inputs, Some(grad))?;
        self.scalar_output(0)
    }

    /// Runs and returns output 0 as a scalar.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![2]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.square().sum_all()).build();
    /// assert_eq!(f.value(&[], &[TensorRef::new(&[2], &[3.0, 4.0])])?, 25.0);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn value(&mut self, x: &[T], inputs: &[TensorRef<'_, T>]) -> Result<T> {
        self.run(x, inputs, None)?;
        self.scalar_output(0)
    }

    /// Output `i` of the last call.
    pub fn output(&self, i: usize) -> Result<TensorRef<'_, T>> {
        let count = self.outputs.len();
        let p = *self
            .outputs
            .get(i)
            .ok_or(Error::UnknownOutput { index: i, count })?;
        let plan = &self.plans[self
            .current
            .ok_or(Error::UnknownOutput { index: i, count: 0 })?]
        .1;
        let Loc::Arena(off) = plan.locs[p] else {
            unreachable!("outputs live in the arena")
        };
        let shape = &plan.shapes[p];
        Ok(TensorRef {
            shape,
            data: &self.arena[off..off + numel(shape)],
        })
    }

    /// Output `i` of the last call, which must have one element.
    pub fn scalar_output(&self, i: usize) -> Result<T> {
        let t = self.output(i)?;
        if t.data.len() != 1 {
            return Err(Error::GradCheck(format!(
                "output {i} has shape {:?}, not a scalar",
                t.shape
            )));
        }
        Ok(t.data[0])
    }

    /// Number of value outputs.
    pub fn output_count(&self) -> usize {
        self.outputs.len()
    }

    /// Whether the function writes a flat gradient.
    pub fn has_gradient(&self) -> bool {
        self.has_grad
    }

    /// Length of x this function expects.
    pub fn x_len(&self) -> usize {
        self.x_len
    }

    /// The input names, in call order.
    pub fn input_names(&self) -> &[String] {
        &self.input_names
    }

    /// The program's instructions.
    pub fn program(&self) -> &[Instr<T>] {
        &self.prog
    }

    /// What the compiler did, stage by stage: rules fired per stage, and (when compiled with
    /// [`Compiler::record`]) each stage's graph as a listing with origins and as DOT.
    pub fn explanation(&self) -> &Report {
        &self.report
    }

    /// Everything the compiler did, as text: each stage with the rules that fired (and its
    /// graph, if compiled with [`Compiler::record`]), then the program with the buffer plan
    /// of the last call (call once first to see the plan).
    pub fn explain(&self) -> String {
        let mut s = self.report.render();
        s.push_str(&format!("== program ({} steps)", self.prog.len()));
        s.push_str(if self.current.is_some() {
            " and buffer plan of the last call\n"
        } else {
            "; no call yet, so no buffer plan\n"
        });
        s.push_str(&self.describe());
        s
    }

    /// The options this function was compiled with.
    pub fn options(&self) -> Options {
        self.options
    }

    /// The arena length (elements) the plan for the last call needs: the memory of the
    /// intermediate values, besides x, the gradient and the caller's inputs.
    pub fn arena_len(&self) -> Option<usize> {
        self.current.map(|c| self.plans[c].1.arena_len)
    }

    /// Counters of calls, plans and arena growth.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// for _ in 0..3 {
    ///     f.value(&[], &[TensorRef::new(&[4], &[0.0; 4])])?;
    /// }
    /// let s = f.stats();
    /// assert_eq!((s.calls, s.plans_built), (3, 1)); // the plan is made once per batch size
    /// f.value(&[], &[TensorRef::new(&[2], &[0.0; 2])])?;
    /// assert_eq!(f.stats().plans_built, 2);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn stats(&self) -> CallStats {
        self.stats
    }

    /// Turns per-instruction timing on (or off, dropping what was recorded).
    pub fn set_profiling(&mut self, on: bool) {
        self.profile = on.then(|| vec![std::time::Duration::ZERO; self.prog.len()]);
    }

    /// Time spent per op name over the calls made since profiling was turned on, largest
    /// first: `(op label, total seconds, instructions)`.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![1000]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// f.set_profiling(true);
    /// f.value(&[], &[TensorRef::new(&[1000], &[0.0; 1000])])?;
    /// let ops: Vec<String> = f.profile().into_iter().map(|(op, _, _)| op).collect();
    /// assert!(ops.iter().any(|op| op.starts_with("fused")), "{ops:?}");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn profile(&self) -> Vec<(String, f64, usize)> {
        let Some(p) = &self.profile else {
            return Vec::new();
        };
        let mut by: HashMap<String, (f64, usize)> = HashMap::new();
        for (ins, d) in self.prog.iter().zip(p) {
            if ins.op.is_leaf() {
                continue;
            }
            let key = match &ins.op {
                Op::MatMul { ta, tb } => format!("matmul[ta={ta},tb={tb}]"),
                op => op.name().to_string(),
            };
            let e = by.entry(key).or_default();
            e.0 += d.as_secs_f64();
            e.1 += 1;
        }
        let mut v: Vec<(String, f64, usize)> =
            by.into_iter().map(|(k, (t, n))| (k, t, n)).collect();
        v.sort_by(|a, b| b.1.total_cmp(&a.1));
        v
    }

    /// Time spent per program step over the calls made since profiling was turned on, in
    /// program order: `(step, op label, total seconds)`, leaves left out. Step numbers are
    /// those of [`Function::describe`].
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let x = g.input("x", dims![3]);
    /// let none = ParamLayout::new();
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// f.set_profiling(true);
    /// f.value(&[], &[TensorRef::new(&[3], &[0.0; 3])]).unwrap();
    /// let steps = f.profile_steps();
    /// assert!(!steps.is_empty() && steps.iter().all(|(_, _, secs)| *secs >= 0.0));
    /// ```
    pub fn profile_steps(&self) -> Vec<(usize, String, f64)> {
        let Some(p) = &self.profile else {
            return Vec::new();
        };
        self.prog
            .iter()
            .zip(p)
            .enumerate()
            .filter(|(_, (ins, _))| !ins.op.is_leaf())
            .map(|(i, (ins, d))| (i, ins.label.clone(), d.as_secs_f64()))
            .collect()
    }

    /// The program with the buffer plan of the last call, one instruction a line.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("x", dims![3]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output((x * 2.0).exp().sum_all()).build();
    /// f.value(&[], &[TensorRef::new(&[3], &[0.0; 3])])?;
    /// let listing = f.describe();
    /// assert!(listing.contains("fused{exp(#0 * 2)}"), "{listing}");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn describe(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let plan = self.current.map(|c| &self.plans[c].1);
        for (i, ins) in self.prog.iter().enumerate() {
            let args: Vec<String> = ins.inputs.iter().map(|a| format!("${a}")).collect();
            if ins.op.is_leaf() {
                let _ = write!(s, "${i} = {}", ins.label);
            } else {
                let _ = write!(s, "${i} = {}({})", ins.label, args.join(", "));
            }
            if let Some(p) = plan {
                let _ = write!(s, " : {:?} @ {:?}", &p.shapes[i][..], p.locs[i]);
                if let Some(k) = p.alias[i] {
                    let _ = write!(s, " (in place over ${})", ins.inputs[k]);
                }
                if let Some(f) = p.summed_by[i] {
                    let _ = write!(s, " (summed by ${f} as it runs)");
                }
            }
            s.push('\n');
        }
        if let Some(p) = plan {
            let _ = writeln!(s, "arena: {} elements", p.arena_len);
        }
        s
    }

    fn with_used_symbols(mut self) -> Self {
        let mut used = vec![false; self.symbols.len()];
        for ins in &self.prog {
            for d in &ins.shape {
                if let Dim::Sym(s) = d {
                    used[s.0 as usize] = true;
                }
            }
        }
        self.used_symbols = (0..used.len()).filter(|&s| used[s]).collect();
        self.bound_by = vec![None; self.symbols.len()];
        self.binding = vec![0; self.symbols.len()];
        self
    }

    /// Checks the input arrays, and plans buffers and grows the arena for their shapes (the
    /// work a first call with new shapes does besides computing), without computing
    /// anything. Later calls with the same shapes then start computing at once; timing
    /// `build` plus `prepare` gives the whole cost of getting a function ready.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n]);
    /// let none = ParamLayout::new();
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.exp().sum_all()).build();
    /// f.prepare(&[TensorRef::new(&[3], &[0.0; 3])]).unwrap();
    /// assert_eq!((f.stats().plans_built, f.stats().calls), (1, 0));
    /// ```
    pub fn prepare(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<()> {
        self.prepare_plan(inputs).map(|_| ())
    }

    /// Binds the symbols, takes or makes the plan, grows the arena; returns the plan's index.
    fn prepare_plan(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<usize> {
        self.bind(inputs)?;
        let ci = match self.plans.iter().position(|(b, _)| *b == self.binding) {
            Some(i) => i,
            None => {
                let plan = self.make_plan(&self.binding);
                self.stats.plans_built += 1;
                if self.plans.len() == PLAN_CACHE {
                    self.plans.remove(0);
                }
                self.plans.push((self.binding.clone(), plan));
                self.plans.len() - 1
            }
        };
        self.current = Some(ci);
        let need = self.plans[ci].1.arena_len;
        if self.arena.len() < need {
            // A fresh zeroed allocation (calloc: the pages are touched by the first call that
            // uses them, not here) rather than `resize`, which writes every element.
            self.arena = vec![T::zero(); need];
            self.stats.arena_grows += 1;
        }
        self.stats.arena_len = self.arena.len();
        Ok(ci)
    }

    /// Checks input arrays against the compiled inputs' shapes without running anything.
    ///
    /// ```
    /// use symgrad::{dims, Compiler, Error, Graph, ParamLayout, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let none = ParamLayout::new();
    /// let x = g.input("X", dims![2, 3]);
    /// let mut f = Compiler::new(&g, &none).inputs(&[x]).output(x.sum_all()).build();
    /// let err = f.check_inputs(&[TensorRef::new(&[3, 2], &[0.0; 6])]).unwrap_err();
    /// assert!(matches!(err, Error::InputShape { .. }));
    /// assert_eq!(err.to_string(), "input `X`: expected shape [2, 3], got [3, 2]");
    /// ```
    pub fn check_inputs(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<()> {
        self.bind(inputs)
    }

    /// Binds the symbols from the inputs' shapes into `self.binding`, allocating nothing.
    fn bind(&mut self, inputs: &[TensorRef<'_, T>]) -> Result<()> {
        if inputs.len() != self.input_names.len() {
            return Err(Error::InputCount {
                expected: self.input_names.len(),
                names: self.input_names.join(", "),
                given: inputs.len(),
            });
        }
        let binding = &mut self.bound_by;
        binding.iter_mut().for_each(|b| *b = None);
        for (k, (t, want)) in inputs.iter().zip(&self.input_shapes).enumerate() {
            let name = &self.input_names[k];
            let expected = || {
                let parts: Vec<String> = want
                    .iter()
                    .map(|d| match d {
                        Dim::Fixed(n) => n.to_string(),
                        Dim::Sym(s) => self.symbols[s.0 as usize].clone(),
                    })
                    .collect();
                format!("[{}]", parts.join(", "))
            };
            let shape_err = || Error::InputShape {
                name: name.clone(),
                expected: expected(),
                given: t.shape.to_vec(),
            };
            if t.shape.len() != want.len() {
                return Err(shape_err());
            }
            for (&got, d) in t.shape.iter().zip(want) {
                match d {
                    Dim::Fixed(n) if *n != got => return Err(shape_err()),
                    Dim::Fixed(_) => {}
                    Dim::Sym(s) => match binding[s.0 as usize] {
                        Some((v, first)) if v != got => {
                            return Err(Error::SymbolConflict {
                                symbol: self.symbols[s.0 as usize].clone(),
                                first_input: self.input_names[first].clone(),
                                first: v,
                                second_input: name.clone(),
                                second: got,
                            })
                        }
                        Some(_) => {}
                        None => binding[s.0 as usize] = Some((got, k)),
                    },
                }
            }
            if t.data.len() != numel(t.shape) {
                return Err(Error::InputLength {
                    name: name.clone(),
                    shape: t.shape.to_vec(),
                    needed: numel(t.shape),
                    given: t.data.len(),
                });
            }
        }
        for &s in &self.used_symbols {
            match self.bound_by[s] {
                Some((v, _)) => self.binding[s] = v,
                None => {
                    return Err(Error::UnboundSymbol {
                        symbol: self.symbols[s].clone(),
                    })
                }
            }
        }
        Ok(())
    }

    fn execute(
        &mut self,
        x: &[T],
        inputs: &[TensorRef<'_, T>],
        mut grad: Option<&mut [T]>,
    ) -> Result<()> {
        if x.len() != self.x_len {
            return Err(Error::Length {
                what: "parameter vector",
                expected: self.x_len,
                given: x.len(),
            });
        }
        match (&grad, self.has_grad) {
            (None, true) => {
                return Err(Error::GradientMissing {
                    expected: self.x_len,
                })
            }
            (Some(g), true) if g.len() != self.x_len => {
                return Err(Error::Length {
                    what: "gradient vector",
                    expected: self.x_len,
                    given: g.len(),
                })
            }
            _ => {}
        }
        let ci = self.prepare_plan(inputs)?;
        self.stats.calls += 1;

        let ptrs = Ptrs {
            arena: self.arena.as_mut_ptr(),
            grad: grad
                .as_mut()
                .map_or(std::ptr::null_mut(), |g| g.as_mut_ptr()),
            x: x.as_ptr(),
        };
        let (plan, prog, consts, grads) =
            (&self.plans[ci].1, &self.prog, &self.consts, &self.grads);
        let profile = self.profile.as_mut();
        let nan_info = &self.nan_info;
        let mut failure: Option<Error> = None;
        let failure_slot = &mut failure;
        let parallel = plan.parallel;
        self.stats.pooled_calls += u64::from(parallel);
        let run = move || {
            // Capture the wrapper whole (a closure would otherwise capture its raw fields).
            let ptrs = ptrs;
            let failure = failure_slot;
            // SAFETY (whole block): every location was sized for its shape by the planner:
            // arena blocks inside `arena_len`, parameter and gradient ranges inside x's and
            // the gradient's lengths (checked above), inputs checked by `bind`; the planner
            // gives each node a block that no live value shares, so an output aliases none of
            // its inputs.
            let view = |p: usize| -> TensorRef<'_, T> {
                let shape = &plan.shapes[p];
                let len = numel(shape);
                let data = unsafe {
                    match plan.locs[p] {
                        Loc::Arena(off) => std::slice::from_raw_parts(ptrs.arena.add(off), len),
                        Loc::X(off) => std::slice::from_raw_parts(ptrs.x.add(off), len),
                        Loc::Grad(off) => std::slice::from_raw_parts(ptrs.grad.add(off), len),
                        Loc::Input(i) => inputs[i].data,
                        Loc::Const(i) => consts[i].data(),
                    }
                };
                TensorRef { shape, data }
            };
            let mut profile = profile;
            for (i, ins) in prog.iter().enumerate() {
                if ins.op.is_leaf() {
                    continue;
                }
                let alias = plan.alias[i];
                // An input whose buffer this step writes over is not viewed: the kernel reads
                // it through `out`.
                // Inline up to 16 operands: a fused step takes at most `ops::MAX_SLOTS`.
                let args: SmallVec<[TensorRef<'_, T>; 16]> = ins
                    .inputs
                    .iter()
                    .enumerate()
                    .map(|(k, &a)| {
                        if alias == Some(k) {
                            TensorRef {
                                shape: &plan.shapes[a],
                                data: &[],
                            }
                        } else {
                            view(a)
                        }
                    })
                    .collect();
                let shape = &plan.shapes[i];
                // The value of step p, which this step writes.
                let written = |p: usize| -> &mut [T] {
                    let len = numel(&plan.shapes[p]);
                    unsafe {
                        match plan.locs[p] {
                            Loc::Arena(off) => {
                                std::slice::from_raw_parts_mut(ptrs.arena.add(off), len)
                            }
                            Loc::Grad(off) => {
                                std::slice::from_raw_parts_mut(ptrs.grad.add(off), len)
                            }
                            _ => unreachable!("computed nodes live in the arena or the gradient"),
                        }
                    }
                };
                let out = written(i);
                let eval = |out: &mut [T]| match (&ins.op, alias, plan.sums_into[i]) {
                    // Computed by the fused step it sums (see below).
                    _ if plan.summed_by[i].is_some() => {}
                    (Op::Fused(f), _, Some((j, scratch))) => {
                        // SAFETY: the planner placed step j's value and the scratch apart
                        // from everything this step reads and writes, and from each other.
                        let partials = unsafe {
                            std::slice::from_raw_parts_mut(
                                ptrs.arena.add(scratch),
                                plan::column_partials(shape),
                            )
                        };
                        f.eval_with_column_sums(&args, out, shape, alias, written(j), partials)
                    }
                    (Op::Fused(f), Some(_), None) => f.eval(&args, out, shape, alias),
                    (op, _, _) => op.eval(&args, out, shape),
                };
                match profile.as_deref_mut() {
                    None => eval(out),
                    Some(p) => {
                        let t = std::time::Instant::now();
                        eval(out);
                        p[i] += t.elapsed();
                    }
                }
                if !nan_info.is_empty() && out.iter().any(|v| !v.is_finite()) {
                    let info = &nan_info[i];
                    let bad = out
                        .iter()
                        .find(|v| !v.is_finite())
                        .copied()
                        .unwrap_or(T::zero());
                    *failure = Some(Error::NonFinite {
                        step: i,
                        value: crate::graph::fmt_number(bad),
                        expr: info.expr.clone(),
                        origin: info.origin.clone(),
                        reads: if info.reads.is_empty() {
                            "no parameter".to_string()
                        } else {
                            info.reads.join(", ")
                        },
                    });
                    return;
                }
            }
            if !ptrs.grad.is_null() {
                for go in grads {
                    let len = go.range.len();
                    // A copied value never lives in its own destination range (planner:
                    // `Copy` targets are not written directly into that range).
                    unsafe {
                        let dst = ptrs.grad.add(go.range.start);
                        match go.target {
                            GradTarget::Zero => std::ptr::write_bytes(dst, 0, len),
                            GradTarget::Direct(_) => {}
                            GradTarget::Copy(p) => std::ptr::copy(view(p).data.as_ptr(), dst, len),
                        }
                    }
                }
            }
        };
        // A program with a parallel kernel runs inside one rayon scope: the parallel kernels
        // then start on a worker thread, so a call enters the pool once rather than once per
        // kernel (each entry from outside the pool can cost rayon small allocations; rayon
        // issue 666). One whose values are all too small for any kernel to split runs on the
        // caller's thread: entering the pool, waking a worker and waiting for it took most of
        // a small call's time (a scalar expression: 19 µs a call in the scope).
        if parallel {
            rayon::scope(move |_| run());
        } else {
            run();
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}
