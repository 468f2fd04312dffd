//! [`Compiler`]: what a function computes (inputs, outputs, a flat gradient, updates), and
//! the stage driver that takes a graph as built through the rewrite phases, the gradient,
//! the phases again, the removal of `stop_gradient` and fusion ([`Compiler::rewrite`]), to
//! the [`Rewritten`] graph that [`lower`] turns into a [`Program`].

use std::ops::Range;

use super::lower::{lower, Rewritten};
use super::{Function, Options, Program};
use crate::grad::grad;
use crate::graph::{Dim, Expr, Graph, NodeId, SymShape};
use crate::ops::{Op, Unary};
use crate::params::ParamLayout;
use crate::rewrite::{self, Level, StageLog};
use crate::Scalar;

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
    /// assert!(fused.steps().len() + 2 <= unfused.steps().len());
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
    /// infinity and returns [`Error::NonFinite`](crate::Error::NonFinite) naming it (off by
    /// default; slower).
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

    /// Lowers to a [`Function`]: [`Compiler::rewrite`], then a [`Program`] whose buffers
    /// are planned at the first call with each binding of the symbolic dimensions.
    pub fn build(self) -> Function<T> {
        Function::new(self.program())
    }

    /// Runs every stage and lowers the result: the [`Program`] a [`Function`] runs.
    pub fn program(self) -> Program<T> {
        let layout = self.layout;
        lower(self.rewrite(), layout)
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
    ///     .rewrite();
    /// assert_eq!(o.graph.expr_text(&o.outputs), "softplus(x)");
    /// assert_eq!(o.graph.expr_text(&[o.grads.unwrap()[0].unwrap()]), "sigmoid(x)");
    /// ```
    pub fn rewrite(self) -> Rewritten<T> {
        let user = self.graph;
        let opts = self.options;
        let mut report = if opts.record {
            StageLog::recording()
        } else {
            StageLog::default()
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

        let (g1, r1) = rewrite::run_phases(user, &roots, opts.rewrites, &mut report, "");
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
                let (g2, r2) = rewrite::run_phases(
                    &g1,
                    &roots2,
                    opts.rewrites,
                    &mut report,
                    "after gradient: ",
                );
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
            g.reachable(r).into_iter().any(|id| match &g.node(id).op {
                Op::Unary(Unary::StopGradient) => true,
                Op::Custom(c) => c.0.is_identity(),
                _ => false,
            })
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
        Rewritten {
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
