//! Ops of your own: the [`CustomOp`] trait (shape rule, kernel over slices for any
//! [`Scalar`], vector-Jacobian rule built from graph nodes), the registry that lets the text
//! form parse a registered op back, and the two gradient overrides built on it:
//! `custom_gradient` (JAX's `custom_vjp`: any subgraph's gradient replaced by a rule of your
//! choosing) and `clip_gradient`.
//!
//! An op of your own is a node like any other: it is hashed and merged by name and
//! attributes, printed as `name[attrs](args)`, shown by `explain`, differentiated through its
//! rule (which builds graph nodes, so its gradient can be differentiated again), and checked
//! by `check_gradient`. It is not fused (fusion knows only the built-in elementwise ops) and
//! no rewrite rule looks inside it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use crate::graph::{Dim, Expr, SymShape};
use crate::tensor::TensorRef;
use crate::Scalar;

/// A primitive op of your own. Implement it generically over `T: Scalar` to have it in f32
/// and f64 alike.
///
/// ```
/// use symgrad::graph::{Dim, Expr, Graph, SymShape};
/// use symgrad::dims;
/// use symgrad::ops::CustomOp;
/// use symgrad::tensor::TensorRef;
/// use symgrad::Scalar;
///
/// /// `x³` with its own kernel and rule (the built-in `powi` does the same).
/// struct Cube;
///
/// impl<T: Scalar> CustomOp<T> for Cube {
///     fn name(&self) -> &'static str {
///         "cube"
///     }
///     fn arity(&self) -> usize {
///         1
///     }
///     fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
///         Ok(ins[0].iter().copied().collect())
///     }
///     fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _shape: &[usize]) {
///         for (o, &x) in out.iter_mut().zip(ins[0].data) {
///             *o = x * x * x;
///         }
///     }
///     fn vjp<'g>(
///         &self,
///         x: &[Expr<'g, T>],
///         _y: Expr<'g, T>,
///         gy: Expr<'g, T>,
///         _needs: &[bool],
///     ) -> Vec<Option<Expr<'g, T>>> {
///         vec![Some(gy * x[0].square() * 3.0)]
///     }
/// }
///
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![3]);
/// let cost = x.custom(Cube, &[]).sum_all();
/// let dx = symgrad::grad(cost, &[x])[0].unwrap();
/// assert_eq!(g.expr_text(&[cost.id()]), "sum[0](cube(x))");
/// let v = symgrad::TensorRef::new(&[3], &[1.0, 2.0, -1.0]);
/// assert_eq!(cost.eval(&[(x, v)]).unwrap().data(), [8.0]);
/// assert_eq!(dx.eval(&[(x, v)]).unwrap().data(), [3.0, 12.0, 3.0]);
/// ```
pub trait CustomOp<T>: Send + Sync {
    /// The name the text form prints and parses (an identifier, not one of the built-in
    /// ops' names).
    fn name(&self) -> &'static str;

    /// The attributes as printed in brackets after the name (empty: none). Two ops of the
    /// same name are the same op when their attributes are equal, so the attributes must
    /// say everything that changes the op's values.
    fn attrs(&self) -> String {
        String::new()
    }

    /// The number of inputs.
    fn arity(&self) -> usize;

    /// The output's shape from the inputs', or why they do not fit (one line).
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String>;

    /// Computes the op into `out` (row-major, of shape `out_shape`). The inputs have shapes
    /// that passed [`CustomOp::infer_shape`]; `out` aliases none of them.
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], out_shape: &[usize]);

    /// The vector-Jacobian rule: for each input, its cotangent as graph nodes (or `None`
    /// for none), given the inputs `x`, the output `y` and its cotangent `gy`. Only the
    /// inputs that `needs` marks are used. A cotangent may come at a broadcast shape: it is
    /// summed back to its input's shape.
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        needs: &[bool],
    ) -> Vec<Option<Expr<'g, T>>>
    where
        T: Scalar;

    /// Whether the op's value is its first input's (a marker that only changes gradients,
    /// like `clip_gradient`): the compiler then removes it once every gradient is built, as
    /// it removes `stop_gradient`, so it costs nothing at run time.
    fn is_identity(&self) -> bool {
        false
    }

    /// Whether `other` is the same op. The default compares names and attributes; an op
    /// carrying a closure compares identities instead.
    fn same(&self, other: &dyn CustomOp<T>) -> bool {
        self.name() == other.name() && self.attrs() == other.attrs()
    }
}

/// An op of your own in a graph node: [`CustomOp`] behind an `Arc`, with the equality and
/// hashing a node needs.
#[derive(Clone)]
pub struct Custom<T>(pub Arc<dyn CustomOp<T>>);

impl<T> Custom<T> {
    /// The call as printed: `name` or `name[attrs]`.
    pub fn call_head(&self) -> String {
        let a = self.0.attrs();
        if a.is_empty() {
            self.0.name().to_string()
        } else {
            format!("{}[{a}]", self.0.name())
        }
    }

    pub(crate) fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.name().hash(h);
        self.0.attrs().hash(h);
    }
}

impl<T> PartialEq for Custom<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.same(other.0.as_ref())
    }
}

impl<T> fmt::Debug for Custom<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Custom({})", self.call_head())
    }
}

type Registry = HashMap<(TypeId, &'static str), Box<dyn Any + Send + Sync>>;

fn registry() -> &'static RwLock<Registry> {
    static R: std::sync::OnceLock<RwLock<Registry>> = std::sync::OnceLock::new();
    R.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Registers an op with the text form's parser (for graphs of element type `T`), so that
/// `name(args)` parses as this op, and what prints it reads back. Ops with attributes parse
/// back when [`CustomOp::attrs`] is empty; others print but do not parse. Registering a name
/// again replaces the op; a built-in name is refused.
///
/// ```
/// use std::sync::Arc;
/// use symgrad::graph::{Dim, Expr, SymShape};
/// use symgrad::ops::{register, ClipGradient, CustomOp};
/// use symgrad::tensor::TensorRef;
///
/// /// `x³`, with its own kernel and rule.
/// struct Cube;
/// impl CustomOp<f64> for Cube {
///     fn name(&self) -> &'static str { "cube" }
///     fn arity(&self) -> usize { 1 }
///     fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
///         Ok(ins[0].iter().copied().collect())
///     }
///     fn eval(&self, ins: &[TensorRef<'_, f64>], out: &mut [f64], _: &[usize]) {
///         for (o, &x) in out.iter_mut().zip(ins[0].data) { *o = x * x * x }
///     }
///     fn vjp<'g>(&self, x: &[Expr<'g, f64>], _: Expr<'g, f64>, gy: Expr<'g, f64>, _: &[bool])
///         -> Vec<Option<Expr<'g, f64>>> {
///         vec![Some(gy * x[0].square() * 3.0)]
///     }
/// }
///
/// register::<f64>(Arc::new(Cube)).unwrap();
/// let p = symgrad::graph::parse::<f64>("input x: [2]\nout cube(x)").unwrap();
/// assert_eq!(p.graph.expr_text(&p.outputs), "cube(x)");
/// // A marker of gradients (or an op with attributes) cannot be read back from text.
/// assert!(register::<f64>(Arc::new(ClipGradient { lo: -1.0, hi: 1.0 })).is_err());
/// ```
pub fn register<T: Scalar>(op: Arc<dyn CustomOp<T>>) -> Result<(), String> {
    let name = op.name();
    let mut probe = |_: &str| crate::graph::SymId(0);
    if super::Op::<T>::builtin_call(name, None, 1, &mut probe).is_some() {
        return Err(format!(
            "`{name}` is a built-in op; give yours another name"
        ));
    }
    if !op.attrs().is_empty() || op.is_identity() {
        return Err(format!(
            "`{name}` has attributes or only marks gradients: it cannot be read back from text"
        ));
    }
    registry()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert((TypeId::of::<T>(), name), Box::new(op));
    Ok(())
}

/// The registered op called `name` for element type `T`.
pub(crate) fn lookup<T: Scalar>(name: &str) -> Option<Arc<dyn CustomOp<T>>> {
    let r = registry().read().unwrap_or_else(|e| e.into_inner());
    r.iter()
        .find(|(k, _)| k.0 == TypeId::of::<T>() && k.1 == name)?
        .1
        .downcast_ref::<Arc<dyn CustomOp<T>>>()
        .cloned()
}

/// The shape of an elementwise op of one input: the input's.
fn same_shape(ins: &[&[Dim]]) -> Result<SymShape, String> {
    Ok(ins[0].iter().copied().collect())
}

/// `clip_gradient(x, lo, hi)`: the value of `x`, with the cotangent that passes through it
/// clipped to `[lo, hi]` elementwise. Removed from the compiled program once the gradient is
/// built (its value costs nothing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipGradient {
    /// The least cotangent passed on.
    pub lo: f64,
    /// The greatest cotangent passed on.
    pub hi: f64,
}

impl<T: Scalar> CustomOp<T> for ClipGradient {
    fn name(&self) -> &'static str {
        "clip_gradient"
    }
    fn attrs(&self) -> String {
        format!("lo={}, hi={}", self.lo, self.hi)
    }
    fn arity(&self) -> usize {
        1
    }
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        same_shape(ins)
    }
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _: &[usize]) {
        out.copy_from_slice(ins[0].data);
    }
    fn vjp<'g>(
        &self,
        _: &[Expr<'g, T>],
        _: Expr<'g, T>,
        gy: Expr<'g, T>,
        _: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        vec![Some(gy.maximum(self.lo).minimum(self.hi))]
    }
    fn is_identity(&self) -> bool {
        true
    }
}

/// The rule of a [`CustomGradient`]: the cotangents of `xs` from the inputs `xs`, the value
/// `y` and its cotangent `gy`, as graph nodes.
pub type GradientRule<T> = dyn for<'g> Fn(&[Expr<'g, T>], Expr<'g, T>, Expr<'g, T>) -> Vec<Option<Expr<'g, T>>>
    + Send
    + Sync;

/// A subgraph's value with a gradient of your choosing (JAX's `custom_vjp`, Theano's
/// `OpFromGraph` with `grad`): the node's inputs are the subgraph's output `y` and the
/// expressions `xs` it is differentiated with respect to; its value is `y`; its cotangents
/// are none for `y` (nothing flows back through the subgraph) and the rule's for `xs`. Made
/// by [`Expr::custom_gradient`]; removed from the compiled program once the gradient is
/// built. It prints as `custom_gradient[#k](y, xs...)`, and does not parse back: a rule is
/// code, not text.
pub struct CustomGradient<T: Scalar> {
    id: usize,
    rule: Box<GradientRule<T>>,
}

impl<T: Scalar> CustomGradient<T> {
    /// A new override with the rule `rule`.
    pub fn new(rule: Box<GradientRule<T>>) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        CustomGradient {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            rule,
        }
    }
}

impl<T: Scalar> CustomOp<T> for CustomGradient<T> {
    fn name(&self) -> &'static str {
        "custom_gradient"
    }
    fn attrs(&self) -> String {
        format!("#{}", self.id)
    }
    fn arity(&self) -> usize {
        usize::MAX
    }
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        same_shape(ins)
    }
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _: &[usize]) {
        out.copy_from_slice(ins[0].data);
    }
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        _: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        let mut out = vec![None];
        let mut rest = (self.rule)(&x[1..], y, gy);
        rest.resize(x.len() - 1, None);
        out.extend(rest);
        out
    }
    fn is_identity(&self) -> bool {
        true
    }
}
