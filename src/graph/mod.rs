//! The expression graph: an append-only arena of nodes, symbolic shapes, and `Expr` handles.
//!
//! Nodes are appended after their inputs, so a node's id is always larger than its inputs'
//! ids and id order is a topological order: passes walk `0..len` forwards and `grad` walks
//! it backwards, with no sort. Ids are newtypes that index a vector, never references into
//! it, so the arena can grow while handles are alive. The graph knows nothing of numbers
//! beyond the constants it holds: evaluation lives in `compile`.

mod expr;
mod print;
mod text;

use std::cell::{Ref, RefCell};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};

use smallvec::SmallVec;

pub use expr::{where_, Expr, IntoExpr};
pub use print::INFIX_MAX;
pub use text::{fmt_number, parse, parse_with, ParseError, ParseOptions, Parsed};

use crate::ops::Op;
use crate::params::{ParamId, ParamLayout};
use crate::tensor::{Shape, Tensor};
use crate::Scalar;

/// Index of a node in its graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeId(pub u32);

impl NodeId {
    /// The index as a `usize`.
    #[inline]
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "%{}", self.0)
    }
}

/// A named symbolic dimension (such as the batch size), bound when a compiled function is
/// called.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SymId(pub u32);

/// One dimension of a symbolic shape: a fixed size, or a symbol bound at call time.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Dim {
    /// A size known when the graph is built.
    Fixed(usize),
    /// A size bound by the inputs when the compiled function is called.
    Sym(SymId),
}

impl From<usize> for Dim {
    fn from(d: usize) -> Self {
        Dim::Fixed(d)
    }
}

impl From<&usize> for Dim {
    fn from(d: &usize) -> Self {
        Dim::Fixed(*d)
    }
}

impl From<SymId> for Dim {
    fn from(s: SymId) -> Self {
        Dim::Sym(s)
    }
}

impl From<&Dim> for Dim {
    fn from(d: &Dim) -> Self {
        *d
    }
}

/// A shape whose dimensions may be symbolic.
pub type SymShape = SmallVec<[Dim; 4]>;

/// Builds an array of [`Dim`]s from sizes and symbols: `dims![batch, 784]`.
///
/// ```
/// use symgrad::{dims, Dim, Graph};
/// let g = Graph::<f32>::new();
/// let b = g.symbol("batch");
/// assert_eq!(dims![b, 3], [Dim::Sym(b), Dim::Fixed(3)]);
/// ```
#[macro_export]
macro_rules! dims {
    ($($d:expr),* $(,)?) => {{
        let dims: &[$crate::Dim] = &[$($crate::Dim::from($d)),*];
        dims.to_vec()
    }};
}

/// Where a node came from: the user's code, the gradient rule of a node, or a rewrite rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Built by the user's code.
    User,
    /// Built by the vector-Jacobian rule of this node, during `grad`.
    Grad {
        /// The forward node whose rule built it.
        of: NodeId,
    },
    /// Built by a rewrite rule.
    Rewrite {
        /// The rule's name.
        rule: &'static str,
    },
}

/// One node: an op, its inputs, its inferred shape and its origin.
#[derive(Clone, Debug)]
pub struct Node<T> {
    /// The operation.
    pub op: Op<T>,
    /// Input node ids, in the op's argument order.
    pub inputs: SmallVec<[NodeId; 3]>,
    /// The shape, inferred when the node was built.
    pub shape: SymShape,
    /// Where the node came from.
    pub origin: Origin,
}

#[derive(Debug)]
struct GraphData<T> {
    nodes: Vec<Node<T>>,
    symbols: Vec<String>,
    inputs: Vec<NodeId>,
    origin: Origin,
    /// Hash-consing: when set, appending a node equal to an existing one (same op, same
    /// inputs) returns the existing node. Used by the rewrite passes (merging).
    intern: Option<HashMap<u64, SmallVec<[NodeId; 2]>>>,
    /// Nodes that hash-consing merged into an existing one.
    merged: usize,
}

/// An expression graph over the float type `T`.
///
/// Build it through [`Expr`] handles: they borrow the graph, are `Copy`, and overload the
/// arithmetic operators, also against plain `f64` numbers.
///
/// ```
/// use symgrad::{dims, grad, Graph};
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![]);
/// let y = (x * x + 1.0).log();
/// let dy = grad(y, &[x])[0].unwrap();
/// assert_eq!(dy.shape_fixed(), Some(vec![]));
/// ```
#[derive(Debug)]
pub struct Graph<T> {
    data: RefCell<GraphData<T>>,
}

impl<T: Scalar> Default for Graph<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T: Scalar> Graph<T> {
    /// An empty graph.
    pub fn new() -> Self {
        Graph {
            data: RefCell::new(GraphData {
                nodes: Vec::new(),
                symbols: Vec::new(),
                inputs: Vec::new(),
                origin: Origin::User,
                intern: None,
                merged: 0,
            }),
        }
    }

    /// An empty graph that merges identical nodes as they are appended (hash-consing):
    /// building `x + 1` twice gives one node. The rewrite passes build into such graphs.
    ///
    /// ```
    /// use symgrad::Graph;
    /// let g = Graph::<f64>::new_merging();
    /// let x = g.input("x", [3]);
    /// let (a, b) = (x.exp(), x.exp());
    /// assert_eq!(a.id(), b.id());
    /// assert_eq!(g.merged_count(), 1);
    /// ```
    pub fn new_merging() -> Self {
        let g = Self::new();
        g.data.borrow_mut().intern = Some(HashMap::new());
        g
    }

    /// How many appended nodes were merged into an existing identical node.
    pub fn merged_count(&self) -> usize {
        self.data.borrow().merged
    }

    /// Appends a copy of a node from another graph: its op, inputs (ids of this graph),
    /// shape and origin as given, with no shape inference. Inputs are registered as such.
    pub fn copy_node(
        &self,
        op: Op<T>,
        inputs: &[NodeId],
        shape: SymShape,
        origin: Origin,
    ) -> NodeId {
        let is_input = matches!(op, Op::Input { .. });
        let before = self.len();
        let id = self.with_origin(origin, || self.push_node(op, inputs, shape));
        if is_input && id.index() == before {
            self.data.borrow_mut().inputs.push(id);
        }
        id
    }

    /// The symbols, by id.
    pub fn symbols(&self) -> Vec<String> {
        self.data.borrow().symbols.clone()
    }

    /// The symbolic dimension called `name`, created on first use.
    ///
    /// ```
    /// use symgrad::{dims, Graph};
    /// let g = Graph::<f32>::new();
    /// let batch = g.symbol("batch");
    /// assert_eq!(g.symbol("batch"), batch); // the same name is the same symbol
    /// let x = g.input("X", dims![batch, 784]);
    /// assert_eq!(g.fmt_shape(&x.shape()), "[batch, 784]");
    /// assert_eq!(g.symbol_name(batch), "batch");
    /// ```
    pub fn symbol(&self, name: &str) -> SymId {
        let mut d = self.data.borrow_mut();
        if let Some(i) = d.symbols.iter().position(|s| s == name) {
            return SymId(i as u32);
        }
        d.symbols.push(name.to_string());
        SymId((d.symbols.len() - 1) as u32)
    }

    /// The name of a symbolic dimension.
    pub fn symbol_name(&self, s: SymId) -> String {
        self.data.borrow().symbols[s.0 as usize].clone()
    }

    /// Number of symbols.
    pub fn symbol_count(&self) -> usize {
        self.data.borrow().symbols.len()
    }

    /// A named input array, given when the compiled function is called. Dimensions may be
    /// fixed or symbolic.
    ///
    /// # Panics
    /// If an input of that name exists already.
    ///
    /// ```
    /// use symgrad::{dims, Graph, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", dims![n, 2]);
    /// let s = x.sum_all();
    /// // any n at call time
    /// assert_eq!(s.eval(&[(x, TensorRef::new(&[1, 2], &[1.0, 2.0]))])?.data(), &[3.0]);
    /// assert_eq!(s.eval(&[(x, TensorRef::new(&[2, 2], &[1.0, 2.0, 3.0, 4.0]))])?.data(), &[10.0]);
    /// assert_eq!(g.inputs(), vec![x.id()]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn input<D: Into<Dim>>(
        &self,
        name: &str,
        shape: impl IntoIterator<Item = D>,
    ) -> Expr<'_, T> {
        self.declare_input(name, shape.into_iter().map(Into::into).collect(), false)
    }

    /// An input of either kind, listed by [`Graph::inputs`].
    fn declare_input(&self, name: &str, shape: SymShape, index: bool) -> Expr<'_, T> {
        {
            let d = self.data.borrow();
            let dup = d
                .inputs
                .iter()
                .any(|&i| matches!(&d.nodes[i.index()].op, Op::Input { name: n, .. } if n == name));
            assert!(!dup, "symgrad: an input named `{name}` exists already");
        }
        let id = self.push_node(
            Op::Input {
                name: name.to_string(),
                index,
            },
            &[],
            shape,
        );
        self.data.borrow_mut().inputs.push(id);
        self.expr(id)
    }

    /// A named input of indices (labels, token ids, positions): whole numbers, given when
    /// the compiled function is called as an integer array ([`Arg::Indices`](crate::Arg),
    /// [`Function::run_with`](crate::Function::run_with)) or as a float array whose values
    /// are checked to be whole. The indices are held in the graph's float type, exact up to
    /// 2^24 in `f32` and 2^53 in `f64` (a larger one is refused on entry); no gradient
    /// reaches them. The indexing ops ([`Expr::take`], [`Expr::take_along_axis`],
    /// [`Expr::one_hot`]) check each index against its axis when they run. In the text
    /// form, `index y: [n]`.
    ///
    /// # Panics
    /// If an input of that name exists already.
    ///
    /// ```
    /// use symgrad::{dims, Arg, Compiler, Graph, ParamLayout};
    /// let g = Graph::<f32>::new();
    /// let n = g.symbol("n");
    /// let y = g.index_input("y", dims![n]);
    /// let onehot = y.one_hot(3);
    /// let mut f = Compiler::new(&g, &ParamLayout::new()).inputs(&[y]).output(onehot).build();
    /// f.run_with(&[], &[Arg::indices(&[2], &[2u8, 0])], None)?;
    /// assert_eq!(f.output(0)?.data, &[0.0, 0.0, 1.0, 1.0, 0.0, 0.0]);
    ///
    /// // a label outside the classes is an error, not a row of zeros:
    /// let err = f.run_with(&[], &[Arg::indices(&[1], &[3u8])], None).unwrap_err();
    /// assert_eq!(err.kind(), "index_out_of_range");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn index_input<D: Into<Dim>>(
        &self,
        name: &str,
        shape: impl IntoIterator<Item = D>,
    ) -> Expr<'_, T> {
        self.declare_input(name, shape.into_iter().map(Into::into).collect(), true)
    }

    /// `[0, 1, ..., n - 1]`, a constant (NumPy's `arange`), for positions and classes.
    ///
    /// ```
    /// use symgrad::Graph;
    /// let g = Graph::<f64>::new();
    /// assert_eq!(g.arange(4).eval(&[])?.data(), &[0.0, 1.0, 2.0, 3.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn arange(&self, n: usize) -> Expr<'_, T> {
        let v: Vec<T> = (0..n).map(|i| T::from_f64(i as f64)).collect();
        self.constant(Tensor::from_vec([n], v))
    }

    /// An input node that [`Graph::inputs`] does not list, for transforms that need a
    /// variable of their own to differentiate with respect to and that check the result
    /// does not read it (`grad::jacobian_vector`).
    pub(crate) fn placeholder(&self, name: &str, shape: SymShape) -> Expr<'_, T> {
        let id = self.push_node(
            Op::Input {
                name: name.to_string(),
                index: false,
            },
            &[],
            shape,
        );
        self.expr(id)
    }

    /// The parameter `name` of `layout`: a view of its range of the flat vector x.
    ///
    /// # Panics
    /// If the layout has no parameter of that name.
    ///
    /// ```
    /// use symgrad::{Graph, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("W", &[3, 2]);
    /// layout.add("b", &[2]);
    /// let g = Graph::<f64>::new();
    /// let b = g.param(&layout, "b");
    /// assert_eq!(b.shape_fixed(), Some(vec![2]));
    /// assert_eq!(g.param(&layout, "b").id(), b.id()); // one node per parameter
    /// let x: Vec<f64> = (0..8).map(f64::from).collect();
    /// assert_eq!(b.eval_at(&layout, &x, &[])?.data(), &[6.0, 7.0]); // b is x[6..8]
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn param(&self, layout: &ParamLayout, name: &str) -> Expr<'_, T> {
        let id = layout
            .id(name)
            .unwrap_or_else(|| panic!("symgrad: no parameter named `{name}` in the layout"));
        self.param_id(layout, id)
    }

    /// The parameter with id `id` of `layout`.
    pub fn param_id(&self, layout: &ParamLayout, id: ParamId) -> Expr<'_, T> {
        let e = layout.entry(id);
        // One node per parameter: asking twice gives the same node.
        {
            let d = self.data.borrow();
            if let Some(pos) = d
                .nodes
                .iter()
                .position(|n| matches!(&n.op, Op::Param { id: p, .. } if *p == id))
            {
                return self.expr(NodeId(pos as u32));
            }
        }
        let shape: SymShape = e.shape.iter().map(|&d| Dim::Fixed(d)).collect();
        let op = Op::Param {
            id,
            name: e.name.clone(),
            offset: e.offset,
        };
        let nid = self.push_node(op, &[], shape);
        self.expr(nid)
    }

    /// A constant array.
    ///
    /// ```
    /// use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let c = g.constant(Tensor::from_vec([2, 2], vec![1.0, 2.0, 3.0, 4.0]));
    /// assert_eq!(c.shape_fixed(), Some(vec![2, 2]));
    /// assert_eq!(c.t().eval(&[])?.data(), &[1.0, 3.0, 2.0, 4.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn constant(&self, t: Tensor<T>) -> Expr<'_, T> {
        let shape: SymShape = t.shape().iter().map(|&d| Dim::Fixed(d)).collect();
        let id = self.push_node(Op::Const(t), &[], shape);
        self.expr(id)
    }

    /// A rank-0 constant.
    ///
    /// ```
    /// use symgrad::Graph;
    /// let g = Graph::<f32>::new();
    /// let half = g.scalar(0.5);
    /// assert_eq!(half.rank(), 0);
    /// assert_eq!((half * 4.0).eval(&[])?.data(), &[2.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn scalar(&self, v: f64) -> Expr<'_, T> {
        self.constant(Tensor::scalar(T::from_f64(v)))
    }

    /// The handle of node `id`.
    pub fn expr(&self, id: NodeId) -> Expr<'_, T> {
        assert!(id.index() < self.len(), "symgrad: no node {id}");
        Expr::new(self, id)
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.data.borrow().nodes.len()
    }

    /// Whether the graph has no nodes.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Borrows node `id`.
    pub fn node(&self, id: NodeId) -> Ref<'_, Node<T>> {
        Ref::map(self.data.borrow(), |d| &d.nodes[id.index()])
    }

    /// The inputs, in the order they were declared.
    pub fn inputs(&self) -> Vec<NodeId> {
        self.data.borrow().inputs.clone()
    }

    /// Runs `f` with every node it builds tagged with `origin`.
    pub fn with_origin<R>(&self, origin: Origin, f: impl FnOnce() -> R) -> R {
        let old = std::mem::replace(&mut self.data.borrow_mut().origin, origin);
        let r = f();
        self.data.borrow_mut().origin = old;
        r
    }

    /// Formats a symbolic shape with symbol names: `[batch, 784]`.
    pub fn fmt_shape(&self, s: &[Dim]) -> String {
        let d = self.data.borrow();
        fmt_dims(s, |id| text::fmt_name(&d.symbols[id.0 as usize]))
    }

    /// A short description of a node for messages: `input `X``, `param `W1``, `%7 (exp)`.
    ///
    /// ```
    /// use symgrad::{Graph, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("W1", &[2]);
    /// let g = Graph::<f64>::new();
    /// let x = g.input("X", [2]);
    /// let w = g.param(&layout, "W1");
    /// assert_eq!(g.describe(x.id()), "input `X`");
    /// assert_eq!(g.describe(w.id()), "param `W1`");
    /// assert_eq!(g.describe((x * w).id()), "%2 (mul)");
    /// ```
    pub fn describe(&self, id: NodeId) -> String {
        let n = self.node(id);
        match &n.op {
            Op::Input { name, .. } => format!("input `{name}`"),
            Op::Param { name, .. } => format!("param `{name}`"),
            op => format!("{id} ({})", op.name()),
        }
    }

    /// Appends a node whose shape is inferred by the op's shape rule.
    ///
    /// # Panics
    /// If the op rejects the input shapes: the message names the op, the shapes and the
    /// inputs.
    pub fn apply(&self, op: Op<T>, inputs: &[NodeId]) -> NodeId {
        self.try_apply(op, inputs)
            .unwrap_or_else(|why| panic!("symgrad: {why}"))
    }

    /// [`Graph::apply`] that returns why the inputs do not fit instead of panicking: the
    /// message names the op, the shapes and the inputs.
    ///
    /// ```
    /// use symgrad::ops::{Binary, Op};
    /// use symgrad::Graph;
    /// let g = Graph::<f64>::new();
    /// let (a, b) = (g.input("a", [3, 4]), g.input("b", [5, 6]));
    /// let why = g.try_apply(Op::Binary(Binary::Add), &[a.id(), b.id()]).unwrap_err();
    /// assert!(why.message.contains("[3, 4]") && why.message.contains("[5, 6]"), "{why}");
    /// assert!(g.try_apply(Op::Binary(Binary::Add), &[a.id(), a.id()]).is_ok());
    /// ```
    pub fn try_apply(&self, op: Op<T>, inputs: &[NodeId]) -> Result<NodeId, BuildError> {
        let fail = |message: String| BuildError {
            op: op.name(),
            message,
        };
        if let Some(n) = op.arity() {
            if n != inputs.len() {
                return Err(fail(format!("takes {n} input(s), got {}", inputs.len())));
            }
        } else if inputs.is_empty() {
            return Err(fail("needs at least one input".into()));
        }
        if let Some(bad) = inputs.iter().find(|i| i.index() >= self.len()) {
            return Err(fail(format!("no node {bad}")));
        }
        let shapes: Vec<SymShape> = inputs.iter().map(|&i| self.node(i).shape.clone()).collect();
        let refs: Vec<&[Dim]> = shapes.iter().map(|s| &s[..]).collect();
        // A result whose fixed dimensions alone hold more elements than any array can is
        // refused here, so that no later size computation (the planner's) can wrap.
        let inferred = op.infer_shape(&refs).and_then(|shape| {
            let fixed: Shape = shape
                .iter()
                .map(|d| match d {
                    Dim::Fixed(n) => *n,
                    Dim::Sym(_) => 1,
                })
                .collect();
            match crate::tensor::checked_numel::<T>(&fixed) {
                Some(_) => Ok(shape),
                None => Err(format!(
                    "the result's shape {} has more elements than any array can hold",
                    self.fmt_shape(&shape)
                )),
            }
        });
        match inferred {
            Ok(shape) => Ok(self.push_node(op, inputs, shape)),
            Err(why) => {
                let args: Vec<String> = inputs
                    .iter()
                    .zip(&shapes)
                    .map(|(&i, s)| format!("{} of shape {}", self.describe(i), self.fmt_shape(s)))
                    .collect();
                Err(fail(format!("{why}; inputs: {}", args.join(", "))))
            }
        }
    }

    /// The nodes that `roots` depend on, in topological (id) order.
    ///
    /// ```
    /// use symgrad::Graph;
    /// let g = Graph::<f64>::new();
    /// let (a, b) = (g.input("a", [2]), g.input("b", [2]));
    /// let y = a.exp();
    /// assert_eq!(g.reachable(&[y.id()]), vec![a.id(), y.id()]); // `b` is not needed
    /// # let _ = b;
    /// ```
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

    fn push_node(&self, op: Op<T>, inputs: &[NodeId], shape: SymShape) -> NodeId {
        let mut d = self.data.borrow_mut();
        let key = d.intern.as_ref().map(|_| node_key(&op, inputs));
        if let (Some(key), Some(map)) = (key, d.intern.as_ref()) {
            if let Some(ids) = map.get(&key) {
                let hit = ids.iter().copied().find(|&i| {
                    let n = &d.nodes[i.index()];
                    n.inputs[..] == *inputs && n.op.same(&op)
                });
                if let Some(id) = hit {
                    d.merged += 1;
                    return id;
                }
            }
        }
        let id = NodeId(d.nodes.len() as u32);
        let origin = d.origin.clone();
        d.nodes.push(Node {
            op,
            inputs: inputs.iter().copied().collect(),
            shape,
            origin,
        });
        if let (Some(key), Some(map)) = (key, d.intern.as_mut()) {
            map.entry(key).or_default().push(id);
        }
        id
    }

    /// The concrete shape of a node whose dimensions are all fixed.
    ///
    /// ```
    /// use symgrad::{dims, Graph};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// assert_eq!(g.fixed_shape(g.input("a", [2, 3]).id()).as_deref(), Some(&[2, 3][..]));
    /// assert_eq!(g.fixed_shape(g.input("b", dims![n, 3]).id()), None);
    /// ```
    pub fn fixed_shape(&self, id: NodeId) -> Option<Shape> {
        self.node(id)
            .shape
            .iter()
            .map(|d| match d {
                Dim::Fixed(n) => Some(*n),
                Dim::Sym(_) => None,
            })
            .collect()
    }
}

/// A hash of an op with its attributes and inputs, for hash-consing.
fn node_key<T: Scalar>(op: &Op<T>, inputs: &[NodeId]) -> u64 {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    inputs.hash(&mut h);
    op.hash_attrs(&mut h);
    h.finish()
}

/// Why a node could not be built: the op, and what did not fit (the message names the
/// shapes and the inputs). Returned by [`Graph::try_apply`] and the `try_` builders of
/// [`Expr`]; the other builders panic with the same text.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BuildError {
    /// The op's name.
    pub op: &'static str,
    /// What did not fit.
    pub message: String,
}

impl fmt::Display for BuildError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.op, self.message)
    }
}

impl std::error::Error for BuildError {}

/// A symbolic shape as text, `[n, 3]`, each symbol by the name `name` gives it (the one
/// formatter behind [`Graph::fmt_shape`], the text form and the compiled functions' errors).
pub fn fmt_dims(s: &[Dim], name: impl Fn(SymId) -> String) -> String {
    let parts: Vec<String> = s
        .iter()
        .map(|d| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Sym(id) => name(*id),
        })
        .collect();
    format!("[{}]", parts.join(", "))
}

/// Whether an array of shape `from` broadcasts to exactly `to` (numpy rules).
pub fn broadcast_compatible(from: &[Dim], to: &[Dim]) -> bool {
    crate::ops::broadcast_shapes(from, to).is_ok_and(|s| s[..] == *to)
}
