//! The indexing family, ops that read or place elements at positions an index array gives:
//! `one_hot`, `take` (gather along an axis: an embedding lookup) and its transpose
//! `scatter_add`, `take_along_axis` (each row's own element: a label's log-probability) and
//! its transpose `scatter_add_along_axis`, `argmax`, `argmin` and `argsort`. Each op's name,
//! shape rule, kernel, vjp and printed and parsed attributes are here ([`Index`]).
//!
//! Indices are values of the graph's float type that hold whole numbers (exact up to 2^24
//! in `f32`, 2^53 in `f64`): an index input ([`Graph::index_input`](crate::Graph::index_input))
//! takes integer arrays at call time, and `argmax`, `argmin`, `argsort` make them. A kernel
//! checks every index it reads: one that is not a whole number or lies outside its axis
//! stops the call with [`Error::IndexOutOfRange`](crate::Error::IndexOutOfRange), naming the
//! op, the index array and the value; no kernel reads or writes out of bounds and none
//! gives a silently wrong result. `take` and `take_along_axis` (and their transposes) take
//! `-n..n` as NumPy does, `-1` the last; `one_hot` takes `0..depth`.
//!
//! `take` and `take_along_axis` are linear in their first input, with the scatter-adds as
//! their transposes (and the other way round), so every gradient here can be differentiated
//! again. Scatter-adds sum repeated indices in index order, one thread, so the result is the
//! same bits whatever the thread count. No gradient reaches an index array.

use super::Attr;
use crate::graph::{Dim, Expr, SymId, SymShape};
use crate::tensor::TensorRef;
use crate::Scalar;

/// An op of the indexing family, with its attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Index {
    /// `one_hot(i)`: shape `i.shape + [depth]`, 1 at each index, 0 elsewhere.
    OneHot {
        /// The number of classes.
        depth: usize,
    },
    /// `take(a, i)` along `axis`: shape `a.shape[..axis] + i.shape + a.shape[axis+1..]`,
    /// NumPy's `take` (JAX's `jnp.take`), an embedding lookup for `axis = 0`.
    Take {
        /// The axis of `a` indexed.
        axis: usize,
    },
    /// `scatter_add(s, i)`: the transpose of `take`: zeros of shape
    /// `s.shape[..axis] + [size] + s.shape[axis+i.rank..]` with each slice of `s` added at
    /// its index (repeated indices summed, in index order).
    ScatterAdd {
        /// The axis of the output indexed.
        axis: usize,
        /// The output's extent along it.
        size: Dim,
    },
    /// `take_along_axis(a, i)`: `i` has `a`'s rank and shape but along `axis`; the output
    /// has `i`'s shape, `out[.., j, ..] = a[.., i[.., j, ..], ..]` (NumPy's
    /// `take_along_axis`).
    TakeAlongAxis {
        /// The axis indexed.
        axis: usize,
    },
    /// The transpose of `take_along_axis`: zeros of `s`'s shape but `size` along `axis`, each
    /// element of `s` added at its index along `axis`.
    ScatterAddAlongAxis {
        /// The axis indexed.
        axis: usize,
        /// The output's extent along it.
        size: Dim,
    },
    /// The position of the largest element along `axis` (the first of equals; the first NaN
    /// if there is one, as in NumPy).
    Argmax {
        /// The axis searched.
        axis: usize,
        /// Keep it as size 1.
        keepdims: bool,
    },
    /// The position of the smallest element along `axis` (the first of equals; the first NaN
    /// if there is one, as in NumPy).
    Argmin {
        /// The axis searched.
        axis: usize,
        /// Keep it as size 1.
        keepdims: bool,
    },
    /// The positions that sort each lane along `axis` (stable: equal elements keep their
    /// order; NaNs last, as in NumPy), largest first when `descending`.
    Argsort {
        /// The axis sorted along.
        axis: usize,
        /// Largest first.
        descending: bool,
    },
}

/// An index a kernel could not use: not a whole number, or outside its axis.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexFault {
    /// The value found.
    pub value: f64,
    /// Its flat position in the index array.
    pub position: usize,
    /// The extent of the axis it indexes.
    pub bound: usize,
    /// Whether `-bound..0` was allowed (counting from the end).
    pub negative_ok: bool,
    /// For a fault that is not about one index (`argmax` over an empty axis, positions
    /// past what the float type holds exactly): what went wrong, said whole.
    pub message: Option<String>,
}

impl IndexFault {
    /// Why the value is refused, and what would have been taken.
    pub fn why(&self) -> String {
        if let Some(m) = &self.message {
            return m.clone();
        }
        let valid = match (self.bound, self.negative_ok) {
            (0, _) => "none: the axis is empty".to_string(),
            (n, true) => format!("whole numbers in -{n}..={}", n - 1),
            (n, false) => format!("whole numbers in 0..={}", n - 1),
        };
        let what = if self.value.fract() != 0.0 || !self.value.is_finite() {
            "is not a whole number"
        } else {
            "is out of range"
        };
        // 1e300 as `1e300`, not 301 digits
        let value = if self.value.abs() >= 1e16 || (self.value != 0.0 && self.value.abs() < 1e-4) {
            format!("{:e}", self.value)
        } else {
            self.value.to_string()
        };
        format!(
            "index {value} at flat position {} {what} (valid: {valid})",
            self.position
        )
    }
}

/// Index `v` into an axis of `n`, or `None`.
#[inline]
fn index_of<T: Scalar>(v: T, n: usize, negative_ok: bool) -> Option<usize> {
    let f = v.to_f64_lossless();
    if f.fract() != 0.0 {
        return None; // also NaN and the infinities, whose fract is NaN
    }
    let nf = n as f64;
    if (0.0..nf).contains(&f) {
        Some(f as usize)
    } else if negative_ok && f < 0.0 && f >= -nf {
        Some((nf + f) as usize)
    } else {
        None
    }
}

/// Every index of `idx`, checked against an axis of `n`.
fn check_all<T: Scalar>(idx: &[T], n: usize, negative_ok: bool) -> Result<(), IndexFault> {
    match idx
        .iter()
        .position(|&v| index_of(v, n, negative_ok).is_none())
    {
        None => Ok(()),
        Some(p) => Err(IndexFault {
            value: idx[p].to_f64_lossless(),
            position: p,
            bound: n,
            negative_ok,
            message: None,
        }),
    }
}

/// The search ops' check: a lane along an axis of `n` has a position to return, and `T`
/// holds every position exactly.
fn check_positions<T: Scalar>(op: &str, n: usize) -> Result<(), IndexFault> {
    let fault = |m: String| IndexFault {
        value: f64::NAN,
        position: 0,
        bound: n,
        negative_ok: false,
        message: Some(m),
    };
    if n == 0 {
        return Err(fault(format!(
            "`{op}` over an empty axis: no position to return"
        )));
    }
    let exact = 2.0 / T::EPS;
    if n as f64 > exact {
        return Err(fault(format!(
            "`{op}` over an axis of {n}: positions past 2^{} are not held exactly by {}",
            exact.log2() as u32,
            T::NAME
        )));
    }
    Ok(())
}

/// An index already checked by `check_all`.
#[inline]
fn checked<T: Scalar>(v: T, n: usize) -> usize {
    index_of(v, n, true).unwrap_or(0)
}

/// `(outer, n, inner)`: the products of the axes before `axis`, at it, and after it.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

impl Index {
    /// The op's name, as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Index::OneHot { .. } => "one_hot",
            Index::Take { .. } => "take",
            Index::ScatterAdd { .. } => "scatter_add",
            Index::TakeAlongAxis { .. } => "take_along_axis",
            Index::ScatterAddAlongAxis { .. } => "scatter_add_along_axis",
            Index::Argmax { .. } => "argmax",
            Index::Argmin { .. } => "argmin",
            Index::Argsort { .. } => "argsort",
        }
    }

    /// The number of inputs.
    pub fn arity(&self) -> usize {
        match self {
            Index::OneHot { .. }
            | Index::Argmax { .. }
            | Index::Argmin { .. }
            | Index::Argsort { .. } => 1,
            _ => 2,
        }
    }

    /// The shape rule.
    pub fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        let name = self.name();
        let axis_of = |shape: &[Dim], axis: usize| -> Result<(), String> {
            if axis < shape.len() {
                Ok(())
            } else {
                Err(format!(
                    "`{name}`: axis {axis} is out of range for rank {}",
                    shape.len()
                ))
            }
        };
        match self {
            Index::OneHot { depth } => {
                let mut s: SymShape = ins[0].iter().copied().collect();
                s.push(Dim::Fixed(*depth));
                Ok(s)
            }
            Index::Take { axis } => {
                let (a, i) = (ins[0], ins[1]);
                axis_of(a, *axis)?;
                let mut s: SymShape = a[..*axis].iter().copied().collect();
                s.extend(i.iter().copied());
                s.extend(a[axis + 1..].iter().copied());
                Ok(s)
            }
            Index::ScatterAdd { axis, size } => {
                let (src, i) = (ins[0], ins[1]);
                let fits = axis
                    .checked_add(i.len())
                    .is_some_and(|end| end <= src.len() && src[*axis..end] == *i);
                if !fits {
                    return Err(format!(
                        "`{name}`: the source's axes from {axis} must be the indices' shape"
                    ));
                }
                let mut s: SymShape = src[..*axis].iter().copied().collect();
                s.push(*size);
                s.extend(src[axis + i.len()..].iter().copied());
                Ok(s)
            }
            Index::TakeAlongAxis { axis } | Index::ScatterAddAlongAxis { axis, .. } => {
                let (a, i) = (ins[0], ins[1]);
                axis_of(a, *axis)?;
                // take_along_axis: the indices may be longer or shorter along the axis;
                // the scatter's source has the indices' own shape.
                let along = matches!(self, Index::TakeAlongAxis { .. });
                let same = a.len() == i.len()
                    && a.iter()
                        .zip(i)
                        .enumerate()
                        .all(|(k, (p, q))| (along && k == *axis) || p == q);
                if !same {
                    return Err(if along {
                        format!(
                            "`{name}`: the indices must have the array's rank and shape but \
                             along axis {axis}"
                        )
                    } else {
                        format!("`{name}`: the indices must have the source's shape")
                    });
                }
                match self {
                    Index::ScatterAddAlongAxis { size, .. } => {
                        let mut s: SymShape = i.iter().copied().collect();
                        s[*axis] = *size;
                        Ok(s)
                    }
                    _ => Ok(i.iter().copied().collect()),
                }
            }
            Index::Argmax { axis, keepdims } | Index::Argmin { axis, keepdims } => {
                axis_of(ins[0], *axis)?;
                let mut s: SymShape = ins[0].iter().copied().collect();
                if *keepdims {
                    s[*axis] = Dim::Fixed(1);
                } else {
                    s.remove(*axis);
                }
                Ok(s)
            }
            Index::Argsort { axis, .. } => {
                axis_of(ins[0], *axis)?;
                Ok(ins[0].iter().copied().collect())
            }
        }
    }

    /// The kernel call, or the first index it cannot use (the output is then unspecified).
    pub fn eval<T: Scalar>(
        &self,
        ins: &[TensorRef<'_, T>],
        out: &mut [T],
        out_shape: &[usize],
    ) -> Result<(), IndexFault> {
        match self {
            Index::OneHot { depth } => {
                let idx = ins[0].data;
                check_all(idx, *depth, false)?;
                out.fill(T::zero());
                for (p, &v) in idx.iter().enumerate() {
                    out[p * depth + checked(v, *depth)] = T::one();
                }
            }
            Index::Take { axis } => {
                let (a, idx) = (ins[0], ins[1].data);
                let (outer, n, inner) = split(a.shape, *axis);
                check_all(idx, n, true)?;
                let m = idx.len();
                for o in 0..outer {
                    for (j, &v) in idx.iter().enumerate() {
                        let src = (o * n + checked(v, n)) * inner;
                        let dst = (o * m + j) * inner;
                        out[dst..dst + inner].copy_from_slice(&a.data[src..src + inner]);
                    }
                }
            }
            Index::ScatterAdd { axis, .. } => {
                let (s, idx) = (ins[0], ins[1].data);
                let (outer, n, inner) = split(out_shape, *axis);
                check_all(idx, n, true)?;
                let m = idx.len();
                out.fill(T::zero());
                for o in 0..outer {
                    for (j, &v) in idx.iter().enumerate() {
                        let dst = (o * n + checked(v, n)) * inner;
                        let src = (o * m + j) * inner;
                        for (d, &x) in out[dst..dst + inner]
                            .iter_mut()
                            .zip(&s.data[src..src + inner])
                        {
                            *d += x;
                        }
                    }
                }
            }
            Index::TakeAlongAxis { axis } => {
                let (a, i) = (ins[0], ins[1]);
                let n = a.shape[*axis];
                check_all(i.data, n, true)?;
                let (outer, k, inner) = split(i.shape, *axis);
                for o in 0..outer {
                    for j in 0..k {
                        for c in 0..inner {
                            let p = (o * k + j) * inner + c;
                            out[p] = a.data[(o * n + checked(i.data[p], n)) * inner + c];
                        }
                    }
                }
            }
            Index::ScatterAddAlongAxis { axis, .. } => {
                let (s, i) = (ins[0], ins[1]);
                let n = out_shape[*axis];
                check_all(i.data, n, true)?;
                let (outer, k, inner) = split(i.shape, *axis);
                out.fill(T::zero());
                for o in 0..outer {
                    for j in 0..k {
                        for c in 0..inner {
                            let p = (o * k + j) * inner + c;
                            out[(o * n + checked(i.data[p], n)) * inner + c] += s.data[p];
                        }
                    }
                }
            }
            Index::Argmax { axis, .. }
            | Index::Argmin { axis, .. }
            | Index::Argsort { axis, .. }
                if !out.is_empty() =>
            {
                check_positions::<T>(self.name(), ins[0].shape[*axis])?;
                match self {
                    Index::Argmax { .. } => arg_extremum(ins[0], *axis, out, |a, b| a > b),
                    Index::Argmin { .. } => arg_extremum(ins[0], *axis, out, |a, b| a < b),
                    Index::Argsort { descending, .. } => argsort(ins[0], *axis, *descending, out),
                    _ => unreachable!(),
                }
            }
            Index::Argmax { .. } | Index::Argmin { .. } | Index::Argsort { .. } => {}
        }
        Ok(())
    }

    /// The vector-Jacobian rule: the transposes for the linear ops' first input; nothing for
    /// index arrays or for the ops that make indices (they are piecewise constant).
    pub fn vjp<'g, T: Scalar>(
        &self,
        x: &[Expr<'g, T>],
        gy: Expr<'g, T>,
        needs: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        let build = |op: Index, a: Expr<'g, T>, i: Expr<'g, T>| {
            a.try_op(super::Op::Index(op), &[i])
                .expect("a transpose fits the shapes of the op it transposes")
        };
        let first = match self {
            _ if !needs.first().copied().unwrap_or(false) => None,
            Index::Take { axis } => Some(build(
                Index::ScatterAdd {
                    axis: *axis,
                    size: x[0].shape()[*axis],
                },
                gy,
                x[1],
            )),
            Index::ScatterAdd { axis, .. } => Some(build(Index::Take { axis: *axis }, gy, x[1])),
            Index::TakeAlongAxis { axis } => Some(build(
                Index::ScatterAddAlongAxis {
                    axis: *axis,
                    size: x[0].shape()[*axis],
                },
                gy,
                x[1],
            )),
            Index::ScatterAddAlongAxis { axis, .. } => {
                Some(build(Index::TakeAlongAxis { axis: *axis }, gy, x[1]))
            }
            Index::OneHot { .. }
            | Index::Argmax { .. }
            | Index::Argmin { .. }
            | Index::Argsort { .. } => None,
        };
        let mut v = vec![first];
        v.resize(x.len(), None);
        v
    }

    /// The call as printed: `one_hot[10]`, `take[0]`, `scatter_add[0, V]`,
    /// `argmax[1, keepdims]`, `argsort[-1, descending]` (`sym` names a symbol).
    pub fn call_head(&self, sym: &dyn Fn(SymId) -> String) -> String {
        let dim = |d: &Dim| match d {
            Dim::Fixed(n) => n.to_string(),
            Dim::Sym(s) => sym(*s),
        };
        let flag = |on: bool, f: &str| if on { format!(", {f}") } else { String::new() };
        match self {
            Index::OneHot { depth } => format!("one_hot[{depth}]"),
            Index::Take { axis } | Index::TakeAlongAxis { axis } => {
                format!("{}[{axis}]", self.name())
            }
            Index::ScatterAdd { axis, size } | Index::ScatterAddAlongAxis { axis, size } => {
                format!("{}[{axis}, {}]", self.name(), dim(size))
            }
            Index::Argmax { axis, keepdims } | Index::Argmin { axis, keepdims } => {
                format!("{}[{axis}{}]", self.name(), flag(*keepdims, "keepdims"))
            }
            Index::Argsort { axis, descending } => {
                format!("argsort[{axis}{}]", flag(*descending, "descending"))
            }
        }
    }

    /// The op a call of the text form names (`None` if the name is not of this family):
    /// an axis (negative counts from the last) and, for the scatter-adds, the output's size
    /// (a number or a symbol's name); `keepdims` or `descending` where they apply.
    pub fn from_call(
        name: &str,
        attrs: Option<&[Attr]>,
        rank: usize,
        symbol: &mut dyn FnMut(&str) -> SymId,
    ) -> Option<Result<Self, String>> {
        let attrs = attrs.unwrap_or(&[]);
        let axis = |a: &Attr, rank: usize| super::attr_axis(name, a, rank);
        let usage = |form: &str| Err(format!("`{name}` takes {form}"));
        let op = match (name, attrs) {
            ("one_hot", [Attr::Int(depth)]) => Ok(Index::OneHot { depth: *depth }),
            ("one_hot", _) => usage("the number of classes in brackets: `one_hot[10](y)`"),
            ("take" | "take_along_axis", [a @ (Attr::Int(_) | Attr::NegInt(_))]) => axis(a, rank)
                .map(|axis| match name {
                    "take" => Index::Take { axis },
                    _ => Index::TakeAlongAxis { axis },
                }),
            ("take" | "take_along_axis", _) => usage("an axis in brackets: `take[0](table, ids)`"),
            (
                "scatter_add" | "scatter_add_along_axis",
                [a @ (Attr::Int(_) | Attr::NegInt(_)), s @ (Attr::Int(_) | Attr::Name(_))],
            ) => {
                let size = match s {
                    Attr::Int(n) => Dim::Fixed(*n),
                    Attr::Name(n) => Dim::Sym(symbol(n)),
                    _ => unreachable!(),
                };
                match (name, a) {
                    // The output's rank depends on the indices', which the call's first
                    // argument does not tell: the axis counts from the first (the shape rule
                    // checks it).
                    ("scatter_add", Attr::Int(axis)) => Ok(Index::ScatterAdd { axis: *axis, size }),
                    ("scatter_add", Attr::NegInt(0)) => Ok(Index::ScatterAdd { axis: 0, size }),
                    ("scatter_add", _) => usage(
                        "an axis counted from the first in brackets: `scatter_add[0, V](g, ids)`",
                    ),
                    _ => axis(a, rank).map(|axis| Index::ScatterAddAlongAxis { axis, size }),
                }
            }
            ("scatter_add" | "scatter_add_along_axis", _) => {
                usage("an axis and the output's size in brackets: `scatter_add[0, V](g, ids)`")
            }
            ("argmax" | "argmin", [a @ (Attr::Int(_) | Attr::NegInt(_)), rest @ ..])
                if matches!(rest, [] | [Attr::Name(_)]) =>
            {
                let keepdims = match rest {
                    [Attr::Name(k)] if k == "keepdims" => true,
                    [] => false,
                    _ => return Some(usage("an axis, and `keepdims`, in brackets")),
                };
                axis(a, rank).map(|axis| match name {
                    "argmax" => Index::Argmax { axis, keepdims },
                    _ => Index::Argmin { axis, keepdims },
                })
            }
            ("argmax" | "argmin", _) => {
                usage("an axis, and `keepdims`, in brackets: `argmax[1](x)`")
            }
            ("argsort", [a @ (Attr::Int(_) | Attr::NegInt(_)), rest @ ..])
                if matches!(rest, [] | [Attr::Name(_)]) =>
            {
                let descending = match rest {
                    [Attr::Name(k)] if k == "descending" => true,
                    [] => false,
                    _ => return Some(usage("an axis, and `descending`, in brackets")),
                };
                axis(a, rank).map(|axis| Index::Argsort { axis, descending })
            }
            ("argsort", _) => usage("an axis, and `descending`, in brackets: `argsort[-1](x)`"),
            _ => return None,
        };
        Some(op)
    }
}

/// `argmax` / `argmin` along `axis`: `better(a, b)` when `a` beats the best so far `b`; the
/// first NaN wins, as in NumPy.
fn arg_extremum<T: Scalar>(
    x: TensorRef<'_, T>,
    axis: usize,
    out: &mut [T],
    better: fn(T, T) -> bool,
) {
    let (outer, n, inner) = split(x.shape, axis);
    for o in 0..outer {
        for c in 0..inner {
            let at = |j: usize| x.data[(o * n + j) * inner + c];
            let mut best = 0;
            for j in 1..n {
                let (v, b) = (at(j), at(best));
                if b.is_nan() {
                    break;
                }
                if v.is_nan() || better(v, b) {
                    best = j;
                }
            }
            out[o * inner + c] = T::from_f64(best as f64);
        }
    }
}

/// The positions sorting each lane along `axis`: a stable sort of `0..n` by the values,
/// NaNs last either way. The output holds the positions; a lane of `n` positions is sorted
/// in a buffer of its own.
fn argsort<T: Scalar>(x: TensorRef<'_, T>, axis: usize, descending: bool, out: &mut [T]) {
    let (outer, n, inner) = split(x.shape, axis);
    let mut lane: Vec<usize> = Vec::with_capacity(n);
    for o in 0..outer {
        for c in 0..inner {
            let at = |j: usize| x.data[(o * n + j) * inner + c];
            lane.clear();
            lane.extend(0..n);
            lane.sort_by(|&p, &q| {
                let (a, b) = (at(p), at(q));
                match (a.is_nan(), b.is_nan()) {
                    (true, true) => std::cmp::Ordering::Equal,
                    (true, false) => std::cmp::Ordering::Greater,
                    (false, true) => std::cmp::Ordering::Less,
                    _ if descending => b.partial_cmp(&a).expect("not NaN"),
                    _ => a.partial_cmp(&b).expect("not NaN"),
                }
            });
            for (j, &p) in lane.iter().enumerate() {
                out[(o * n + j) * inner + c] = T::from_f64(p as f64);
            }
        }
    }
}
