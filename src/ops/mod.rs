//! The primitive ops, by family. Each family's file holds, for each of its ops, the name,
//! the shape rule, the kernel call, the vector-Jacobian rule, the attributes as the text form
//! prints and parses them, and (derived) hashing and equality; this module only dispatches
//! to them, and holds the leaves (`input`, `param`, `const`) that have none of these.
//!
//! | file | family |
//! | --- | --- |
//! | `elementwise.rs` | the unary and binary tables, `powi`, `polygamma`, `where` |
//! | `special.rs` | `erf`, `erfc`, `lgamma`, `digamma`, `polygamma` in f64, for the elementwise ops |
//! | `matmul.rs` | `matmul` with transpose flags, 2-D and batched |
//! | `structural.rs` | [`Structural`]: `transpose`, `reshape`, `broadcast_to`, `sum_to`, `slice`, `pad`, `concat` |
//! | `reduce.rs` | [`Reduce`]: `sum`, `max`, `min`, `numel`, `cumsum` |
//! | `index.rs` | [`Index`]: `one_hot`, `take`, `scatter_add`, `take_along_axis`, `scatter_add_along_axis`, `argmax`, `argmin`, `argsort` |
//! | `fused.rs` | `fused`: elementwise chains in one pass (made after differentiation) |
//! | `custom.rs` | [`CustomOp`]: ops of your own, `clip_gradient`, `custom_gradient` |
//! | `linalg.rs` | [`Linalg`]: `cholesky`, `solve_triangular`, `solve`, `inv`, `logdet`, `sign_det`, `eigvalsh`, `eigh_vectors`, `tril`, `triu`, `tril_half` (through faer) |
//!
//! Composites (`mean`, `softmax`, `log_softmax`, `square`, `-`, `/` against numbers) are
//! builder methods on `Expr` that expand into these primitives, so they need no rule; the
//! parser builds them with the same methods.

mod custom;
mod elementwise;
mod fused;
mod index;
mod linalg;
mod matmul;
mod reduce;
mod special;
mod structural;

use std::hash::{Hash, Hasher};

use smallvec::SmallVec;

pub use custom::{register, ClipGradient, Custom, CustomGradient, CustomOp, GradientRule};
pub use elementwise::MAX_POLYGAMMA;
pub use elementwise::{Binary, Operand, Unary};
pub use fused::{Arg, Fused, FusedOp, CHUNK, MAX_SLOTS};
pub use index::{Index, IndexFault};
pub use linalg::Linalg;
pub use reduce::Reduce;
pub use special::{digamma, erf, erfc, lgamma, polygamma};
pub use structural::Structural;

use std::sync::Arc;

use crate::graph::{Dim, Expr, SymId, SymShape};
use crate::params::ParamId;
use crate::tensor::{Tensor, TensorRef};
use crate::Scalar;

/// A list of axes.
pub type Axes = SmallVec<[usize; 4]>;

/// An axis as NumPy and JAX count them: `0, 1, ...` from the first, `-1, -2, ...` from the
/// last. The builders that take axes take anything that converts into one (`usize`, `isize`,
/// `i32`, `i64`), and resolve it against the rank of their input when the node is built, so a
/// graph only ever holds axes counted from the first.
///
/// ```
/// use symgrad::ops::Axis;
/// assert_eq!(Axis::from(-1).resolve(3), Ok(2));
/// assert_eq!(Axis::from(1usize).resolve(3), Ok(1));
/// assert_eq!(
///     Axis::from(-4).resolve(3).unwrap_err(),
///     "axis -4 is out of range for rank 3 (axes -3..=2)"
/// );
///
/// use symgrad::{Graph, Tensor};
/// let g = Graph::<f64>::new();
/// let a = g.constant(Tensor::from_vec([2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]));
/// assert_eq!(a.sum(&[-1], false).eval(&[])?.data(), &[6.0, 15.0]); // the last axis
/// # Ok::<(), symgrad::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Axis {
    /// Counted from the last axis (`-n`), rather than from the first.
    from_end: bool,
    /// `n`.
    n: usize,
}

impl Axis {
    /// The axis `n` from the first (`from_end = false`, `n` in `0..rank`) or `-n` from the
    /// last (`from_end = true`, `n` in `1..=rank`).
    ///
    /// ```
    /// use symgrad::ops::Axis;
    /// assert_eq!(Axis::new(true, 1), Axis::from(-1));
    /// assert_eq!(Axis::new(true, 0), Axis::from(0usize)); // -0 is 0
    /// assert_eq!(Axis::new(true, 2).to_string(), "-2");
    /// ```
    pub fn new(from_end: bool, n: usize) -> Self {
        Axis {
            from_end: from_end && n != 0,
            n,
        }
    }

    /// The axis counted from the first, for an input of rank `rank`, or why it does not
    /// exist there.
    ///
    /// ```
    /// use symgrad::ops::Axis;
    /// assert_eq!(Axis::from(-3).resolve(3), Ok(0));
    /// assert_eq!(Axis::from(2).resolve(3), Ok(2));
    /// assert!(Axis::from(3).resolve(3).is_err());
    /// let err = Axis::from(-1).resolve(0).unwrap_err();
    /// assert_eq!(err, "axis -1 is out of range for rank 0 (it has no axes)");
    /// ```
    pub fn resolve(self, rank: usize) -> Result<usize, String> {
        let found = match self.from_end {
            false => (self.n < rank).then_some(self.n),
            true => rank.checked_sub(self.n),
        };
        found.ok_or_else(|| {
            let range = match rank {
                0 => "it has no axes".to_string(),
                r => format!("axes -{r}..={}", r - 1),
            };
            format!("axis {self} is out of range for rank {rank} ({range})")
        })
    }
}

impl std::fmt::Display for Axis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.from_end {
            write!(f, "-{}", self.n)
        } else {
            write!(f, "{}", self.n)
        }
    }
}

impl From<usize> for Axis {
    fn from(n: usize) -> Self {
        Axis::new(false, n)
    }
}

macro_rules! axis_from_signed {
    ($($t:ty),*) => {$(
        impl From<$t> for Axis {
            fn from(n: $t) -> Self {
                Axis::new(n < 0, usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX))
            }
        }
    )*};
}
axis_from_signed!(i32, i64, isize);

/// Why a kernel could not compute its value: the two families whose kernels can fail.
#[derive(Clone, Debug, PartialEq)]
pub enum KernelFault {
    /// An index that is not a whole number in its axis' range.
    Index(IndexFault),
    /// A factorization that failed (not positive definite, singular), and where.
    Linalg(String),
}

/// A primitive operation. Leaves (`Input`, `Param`, `Const`) have no inputs.
#[derive(Clone, Debug, PartialEq)]
pub enum Op<T> {
    /// A named array given at call time.
    Input {
        /// Its name.
        name: String,
        /// It holds indices: whole numbers, given as integer arrays or checked on entry
        /// ([`Graph::index_input`](crate::Graph::index_input)).
        index: bool,
    },
    /// A parameter: a view of a range of the flat vector x.
    Param {
        /// Its id in the layout.
        id: ParamId,
        /// Its name in the layout.
        name: String,
        /// Offset of its first element in x.
        offset: usize,
    },
    /// A constant array.
    Const(Tensor<T>),
    /// An elementwise function of one argument.
    Unary(Unary),
    /// `x^n` for an integer `n`.
    Powi(i32),
    /// The polygamma function of order `n ≥ 1`, `ψ⁽ⁿ⁾(x)` (order 0 is `Unary::Digamma`).
    Polygamma(u32),
    /// An elementwise function of two broadcast arguments.
    Binary(Binary),
    /// `where(c, a, b)`, broadcasting all three.
    Where,
    /// `op(a) @ op(b)`, `op` transposing the last two axes when its flag is set.
    MatMul {
        /// Transpose `a`.
        ta: bool,
        /// Transpose `b`.
        tb: bool,
    },
    /// An op that moves elements without arithmetic.
    Structural(Structural),
    /// A reduction over axes.
    Reduce(Reduce),
    /// An op that reads or places elements at indices, or finds them.
    Index(Index),
    /// Elementwise ops fused into one pass over memory (made by the fusion pass after
    /// differentiation; it has no gradient rule).
    Fused(Arc<Fused<T>>),
    /// An op of your own ([`CustomOp`]).
    Custom(Custom<T>),
    /// A linear-algebra op ([`Linalg`]): factorizations, solves, determinants, eigenvalues.
    Linalg(Linalg),
}

/// An attribute of a call in the text form, as the parser reads it from the brackets:
/// `sum[0, keepdims]`, `powi[-2]`, `slice[axis=1, start=0, len=2]`, `reshape[n, 3]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Attr {
    /// A number: an axis, a size, an exponent.
    Int(usize),
    /// A negative number.
    NegInt(usize),
    /// A name: a flag (`keepdims`, `ta`) or a symbolic dimension.
    Name(String),
    /// `key=value`, the value a whole number, negative for an axis counted from the last
    /// (`axis=-1`).
    Key(String, isize),
}

impl std::fmt::Display for Attr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Attr::Int(n) => write!(f, "`{n}`"),
            Attr::NegInt(n) => write!(f, "`-{n}`"),
            Attr::Name(n) => write!(f, "`{n}`"),
            Attr::Key(k, v) => write!(f, "`{k}={v}`"),
        }
    }
}

/// `[1, 0]`: a list of numbers in brackets.
fn fmt_list(v: &[usize]) -> String {
    let items: Vec<String> = v.iter().map(|a| a.to_string()).collect();
    format!("[{}]", items.join(", "))
}

/// An attribute that must be an axis number, `n` or `-n` (counted from the last), resolved
/// against the input's rank.
fn attr_axis(name: &str, a: &Attr, rank: usize) -> Result<usize, String> {
    let axis = match a {
        Attr::Int(n) => Axis::new(false, *n),
        Attr::NegInt(n) => Axis::new(true, *n),
        other => {
            return Err(format!(
                "`{name}` takes axis numbers in brackets, found {other}"
            ))
        }
    };
    axis.resolve(rank).map_err(|e| format!("`{name}`: {e}"))
}

/// Attributes that must all be axis numbers.
fn attr_axes(name: &str, attrs: &[Attr], rank: usize) -> Result<Axes, String> {
    attrs.iter().map(|a| attr_axis(name, a, rank)).collect()
}

/// The value of `key=` taken as an axis (`axis=-1` is the last), resolved against `rank`.
fn key_axis(name: &str, v: isize, rank: usize) -> Result<usize, String> {
    Axis::from(v)
        .resolve(rank)
        .map_err(|e| format!("`{name}`: {e}"))
}

/// The value of `key=` taken as a size or an index: 0 or more.
fn key_size(name: &str, key: &str, v: isize) -> Result<usize, String> {
    usize::try_from(v)
        .map_err(|_| format!("`{name}` takes `{key}=` of 0 or more, found `{key}={v}`"))
}

/// Attributes that must be exactly these `key=value` pairs, in any order.
fn attr_keys<const N: usize>(
    name: &str,
    attrs: &[Attr],
    keys: [&str; N],
) -> Result<[isize; N], String> {
    let mut got = [None; N];
    for a in attrs {
        match a {
            Attr::Key(k, v) => match keys.iter().position(|key| key == k) {
                Some(i) => got[i] = Some(*v),
                None => return Err(format!("`{name}` has no attribute `{k}=`")),
            },
            other => {
                return Err(format!(
                    "`{name}` takes `key=value` attributes, found {other}"
                ))
            }
        }
    }
    let mut out = [0; N];
    for (i, k) in keys.iter().enumerate() {
        out[i] = got[i].ok_or_else(|| format!("`{name}` needs the attribute `{k}=`"))?;
    }
    Ok(out)
}

impl<T: Scalar> Op<T> {
    /// The op's name, as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Op::Input { .. } => "input",
            Op::Param { .. } => "param",
            Op::Const(_) => "const",
            Op::Unary(u) => u.name(),
            Op::Powi(_) => "powi",
            Op::Polygamma(_) => "polygamma",
            Op::Binary(b) => b.name(),
            Op::Where => "where",
            Op::MatMul { .. } => "matmul",
            Op::Structural(s) => s.name(),
            Op::Reduce(r) => r.name(),
            Op::Index(i) => i.name(),
            Op::Fused(_) => "fused",
            Op::Custom(c) => c.0.name(),
            Op::Linalg(l) => l.name(),
        }
    }

    /// Whether the op is a leaf (input, parameter or constant).
    pub fn is_leaf(&self) -> bool {
        matches!(self, Op::Input { .. } | Op::Param { .. } | Op::Const(_))
    }

    /// Whether the op maps elements one to one (same shape in and out, after broadcasting).
    pub fn is_elementwise(&self) -> bool {
        matches!(
            self,
            Op::Unary(_) | Op::Powi(_) | Op::Polygamma(_) | Op::Binary(_) | Op::Where
        )
    }

    /// The shape rule: the output's shape from the inputs', or why they do not fit.
    pub fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {
                Err("a leaf has no inputs".into())
            }
            Op::Unary(_) | Op::Powi(_) | Op::Polygamma(_) => Ok(ins[0].iter().copied().collect()),
            Op::Binary(_) => broadcast_shapes(ins[0], ins[1]),
            Op::Where => broadcast_shapes(&broadcast_shapes(ins[0], ins[1])?, ins[2]),
            Op::MatMul { ta, tb } => matmul::shape(ins[0], ins[1], *ta, *tb),
            Op::Structural(s) => s.infer_shape(ins),
            Op::Reduce(r) => r.infer_shape(ins),
            Op::Index(i) => i.infer_shape(ins),
            Op::Fused(f) => f.infer_shape(ins),
            Op::Custom(c) => {
                let n = c.0.arity();
                if n != usize::MAX && ins.len() != n {
                    return Err(format!(
                        "`{}` takes {n} inputs, got {}",
                        c.0.name(),
                        ins.len()
                    ));
                }
                c.0.infer_shape(ins)
            }
            Op::Linalg(l) => l.infer_shape(ins),
        }
    }

    /// The number of inputs the op takes, or `None` for any number (`concat`, `fused`).
    pub fn arity(&self) -> Option<usize> {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => Some(0),
            Op::Unary(_) | Op::Powi(_) | Op::Polygamma(_) | Op::Reduce(_) => Some(1),
            Op::Binary(_) | Op::MatMul { .. } => Some(2),
            Op::Where => Some(3),
            Op::Structural(s) => s.arity(),
            Op::Index(i) => Some(i.arity()),
            Op::Fused(_) => None,
            Op::Custom(c) => Some(c.0.arity()).filter(|&n| n != usize::MAX),
            Op::Linalg(l) => Some(l.arity()),
        }
    }

    /// Computes the op into `out` (shape `out_shape`) from concrete inputs.
    ///
    /// The caller (the compiled program) guarantees the shapes agree with the shape rule
    /// and that `out` aliases no input. Two families can fail ([`KernelFault`]): indexing
    /// (an index that is not a whole number in its axis' range) and linear algebra (a
    /// matrix that is not positive definite, or singular; `out` is then NaN).
    pub fn eval(
        &self,
        ins: &[TensorRef<'_, T>],
        out: &mut [T],
        out_shape: &[usize],
    ) -> Result<(), KernelFault> {
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {
                unreachable!("leaves are not evaluated")
            }
            Op::Unary(u) => u.kernel(ins[0].data, out),
            Op::Powi(n) => elementwise::powi_eval(ins[0].data, out, *n),
            Op::Polygamma(n) => elementwise::polygamma_eval(ins[0].data, out, *n),
            Op::Binary(b) => b.eval(ins, out, out_shape),
            Op::Where => elementwise::where_eval(ins, out, out_shape),
            Op::MatMul { ta, tb } => matmul::eval(ins[0], ins[1], *ta, *tb, out, out_shape),
            Op::Structural(s) => s.eval(ins, out, out_shape),
            Op::Reduce(r) => r.eval(ins, out),
            Op::Index(i) => return i.eval(ins, out, out_shape).map_err(KernelFault::Index),
            Op::Fused(f) => f.eval(ins, out, out_shape, None),
            Op::Custom(c) => c.0.eval(ins, out, out_shape),
            Op::Linalg(l) => return l.eval(ins, out).map_err(KernelFault::Linalg),
        }
        Ok(())
    }

    /// The vector-Jacobian rule: cotangents of the inputs that `needs` marks, as graph
    /// nodes, given the inputs `x`, the output `y` and its cotangent `gy`. A cotangent may
    /// come at a broadcast shape; `grad` sums it back to its input's shape.
    pub fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        needs: &[bool],
    ) -> SmallVec<[Option<Expr<'g, T>>; 3]> {
        let mut out: SmallVec<[Option<Expr<'g, T>>; 3]> = SmallVec::new();
        match self {
            Op::Input { .. } | Op::Param { .. } | Op::Const(_) => {}
            Op::Unary(u) => out.push(u.vjp(x[0], y, gy)),
            Op::Powi(n) => out.push(elementwise::powi_vjp(x[0], *n, gy)),
            Op::Polygamma(n) => out.push(Some(elementwise::polygamma_vjp(x[0], *n, gy))),
            Op::Binary(b) => out.extend(b.vjp(x[0], x[1], y, gy, [needs[0], needs[1]])),
            Op::Where => {
                out.push(None);
                out.extend(elementwise::where_vjp(x[0], gy, [needs[1], needs[2]]));
            }
            Op::MatMul { ta, tb } => {
                out.extend(matmul::vjp(x[0], x[1], *ta, *tb, gy, [needs[0], needs[1]]))
            }
            Op::Structural(s) => out.extend(s.vjp(x, gy, needs)),
            Op::Reduce(r) => out.push(r.vjp(x[0], y, gy)),
            Op::Index(i) => out.extend(i.vjp(x, gy, needs)),
            Op::Fused(_) => panic!(
                "symgrad: fused nodes are made after differentiation and have no gradient rule"
            ),
            Op::Custom(c) => {
                let mut v = c.0.vjp(x, y, gy, needs);
                v.resize(x.len(), None);
                out.extend(v);
            }
            Op::Linalg(l) => out.extend(l.vjp(x, y, gy, needs).into_iter().take(x.len())),
        }
        out
    }

    /// The call as the text form prints it, with its attributes: `sum[0, keepdims]`,
    /// `matmul[tb]`, `reshape[n, 3]` (`shape` prints a shape with its symbols' names).
    /// Leaves print as their name (the printer writes them its own way).
    pub fn call_head(&self, shape: &dyn Fn(&[Dim]) -> String) -> String {
        match self {
            Op::Powi(n) => elementwise::powi_call_head(*n),
            Op::Polygamma(n) => format!("polygamma[{n}]"),
            Op::MatMul { ta, tb } => matmul::call_head(*ta, *tb),
            Op::Structural(s) => s.call_head(shape),
            Op::Reduce(r) => r.call_head(),
            Op::Index(i) => i.call_head(&|s| {
                shape(&[Dim::Sym(s)])
                    .trim_matches(|c| c == '[' || c == ']')
                    .to_string()
            }),
            Op::Fused(f) => format!("fused{{{}}}", f.describe()),
            Op::Custom(c) => c.call_head(),
            Op::Linalg(l) => l.call_head(),
            op => op.name().to_string(),
        }
    }

    /// The primitive op a call of the text form names, from its bracketed attributes:
    /// `None` if no family has that name. `rank` is the first argument's rank (`sum` without
    /// axes sums them all, `transpose` without a permutation reverses them, a negative axis
    /// counts from the last); `symbol` gives the id of a named dimension.
    /// Ops of your own are found among those [`register`]ed for `T`, and take no attributes.
    pub fn from_call(
        name: &str,
        attrs: Option<&[Attr]>,
        rank: usize,
        symbol: &mut dyn FnMut(&str) -> SymId,
    ) -> Option<Result<Self, String>> {
        if let Some(op) = Self::builtin_call(name, attrs, rank, symbol) {
            return Some(op);
        }
        let c = custom::lookup::<T>(name)?;
        Some(match attrs {
            Some(a) if !a.is_empty() => Err(format!("`{name}` (registered) takes no attributes")),
            _ => Ok(Op::Custom(Custom(c))),
        })
    }

    /// [`Op::from_call`] among the built-in ops alone.
    pub(crate) fn builtin_call(
        name: &str,
        attrs: Option<&[Attr]>,
        rank: usize,
        symbol: &mut dyn FnMut(&str) -> SymId,
    ) -> Option<Result<Self, String>> {
        if let Some(op) = elementwise::from_call(name, attrs) {
            return Some(op);
        }
        if name == "matmul" {
            return Some(matmul::from_call(attrs).map(|(ta, tb)| Op::MatMul { ta, tb }));
        }
        if let Some(s) = Structural::from_call(name, attrs, rank, symbol) {
            return Some(s.map(Op::Structural));
        }
        if let Some(i) = Index::from_call(name, attrs, rank, symbol) {
            return Some(i.map(Op::Index));
        }
        if let Some(l) = Linalg::from_call(name, attrs) {
            return Some(l.map(Op::Linalg));
        }
        Reduce::from_call(name, attrs, rank).map(|r| r.map(Op::Reduce))
    }

    /// Hashes the op's attributes (and a leaf's identity), for hash-consing: equal ops
    /// ([`Op::same`]) hash equally.
    pub fn hash_attrs<H: Hasher>(&self, h: &mut H) {
        self.name().hash(h);
        match self {
            Op::Input { name, index } => (name, index).hash(h),
            Op::Param { id, .. } => id.0.hash(h),
            Op::Const(t) => {
                t.shape().hash(h);
                for v in t.data() {
                    v.to_f64_lossless().to_bits().hash(h);
                }
            }
            Op::Unary(u) => u.hash(h),
            Op::Powi(n) => n.hash(h),
            Op::Polygamma(n) => n.hash(h),
            Op::Binary(b) => b.hash(h),
            Op::Where => {}
            Op::MatMul { ta, tb } => (ta, tb).hash(h),
            Op::Structural(s) => s.hash(h),
            Op::Reduce(r) => r.hash(h),
            Op::Index(i) => i.hash(h),
            Op::Fused(f) => (Arc::as_ptr(f) as usize).hash(h),
            Op::Custom(c) => c.hash(h),
            Op::Linalg(l) => l.hash(h),
        }
    }

    /// Whether two ops are the same op with the same attributes; constants compare bit for
    /// bit (so `-0.0` and `0.0` stay apart, and a NaN constant equals itself), fused nodes by
    /// identity.
    pub fn same(&self, other: &Op<T>) -> bool {
        match (self, other) {
            (Op::Const(x), Op::Const(y)) => {
                x.shape() == y.shape()
                    && x.data().iter().zip(y.data()).all(|(p, q)| {
                        p.to_f64_lossless().to_bits() == q.to_f64_lossless().to_bits()
                    })
            }
            (Op::Fused(x), Op::Fused(y)) => Arc::ptr_eq(x, y),
            _ => self == other,
        }
    }
}

/// numpy broadcasting of two symbolic shapes: right-aligned, equal or 1.
pub fn broadcast_shapes(a: &[Dim], b: &[Dim]) -> Result<SymShape, String> {
    let r = a.len().max(b.len());
    let mut out = SymShape::with_capacity(r);
    for i in 0..r {
        let da = if i + a.len() >= r {
            a[i + a.len() - r]
        } else {
            Dim::Fixed(1)
        };
        let db = if i + b.len() >= r {
            b[i + b.len() - r]
        } else {
            Dim::Fixed(1)
        };
        out.push(match (da, db) {
            _ if da == db => da,
            (Dim::Fixed(1), d) | (d, Dim::Fixed(1)) => d,
            _ => return Err("shapes do not broadcast".to_string()),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mistake caught: `same` taking two constants of one shape for the same node (so
    /// that hash-consing would merge 2 and 3 if their keys ever collided), or merging -0.0
    /// with 0.0, or a NaN constant with nothing. Mutation R3 of the rewrite tests: the
    /// key hashes the values, so only a direct test of `same` sees it.
    #[test]
    fn same_compares_constants_bit_for_bit() {
        let c = |v: f64| Op::<f64>::Const(Tensor::scalar(v));
        assert!(c(2.0).same(&c(2.0)));
        assert!(!c(2.0).same(&c(3.0)));
        assert!(!c(0.0).same(&c(-0.0)));
        assert!(c(f64::NAN).same(&c(f64::NAN)));
        let v = |d: Vec<f64>| Op::<f64>::Const(Tensor::from_vec([2], d));
        assert!(!v(vec![1.0, 2.0]).same(&v(vec![1.0, 5.0])));
        assert!(!c(1.0).same(&v(vec![1.0, 1.0])));
        let s = |axis| Op::<f64>::Structural(Structural::Concat { axis });
        assert!(s(0).same(&s(0)) && !s(0).same(&s(1)));
    }
}
