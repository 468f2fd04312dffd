//! The structural family, ops that move elements without arithmetic: `transpose`,
//! `reshape`, `broadcast_to`, `sum_to` (the kernel is `sum`'s), `slice`, `pad`, `concat`.
//! Each op's name, shape rule, kernel call, vjp, printed attributes and parsed attributes
//! are here ([`Structural`]); hashing and equality are derived.
//!
//! Each is linear, so each vjp is its transpose op: transpose by the inverse permutation,
//! reshape back, `broadcast_to` <-> `sum_to`, `slice` <-> `pad`, `concat` -> slices.

use smallvec::SmallVec;

use super::{broadcast_shapes, reduce, Attr, Axes};
use crate::graph::{Dim, Expr, SymId, SymShape};
use crate::tensor::kernels::{map1, place, Strided};
use crate::tensor::TensorRef;
use crate::Scalar;

/// An op of the structural family, with its attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Structural {
    /// Axis permutation: output axis `d` is input axis `perm[d]`.
    Transpose(Axes),
    /// Same elements, new shape.
    Reshape(SymShape),
    /// Broadcast to a shape.
    BroadcastTo(SymShape),
    /// Sum down to a shape that broadcasts to the input's.
    SumTo(SymShape),
    /// A range along one axis.
    Slice {
        /// The axis.
        axis: usize,
        /// First index kept.
        start: usize,
        /// Number of indices kept.
        len: usize,
    },
    /// Embedding into zeros along one axis (the transpose of `Slice`).
    Pad {
        /// The axis.
        axis: usize,
        /// Where the input starts.
        start: usize,
        /// The output's extent along the axis.
        total: usize,
    },
    /// Concatenation along one axis.
    Concat {
        /// The axis.
        axis: usize,
    },
}

impl Structural {
    /// The op's name, as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Structural::Transpose(_) => "transpose",
            Structural::Reshape(_) => "reshape",
            Structural::BroadcastTo(_) => "broadcast_to",
            Structural::SumTo(_) => "sum_to",
            Structural::Slice { .. } => "slice",
            Structural::Pad { .. } => "pad",
            Structural::Concat { .. } => "concat",
        }
    }

    /// The number of inputs: one, or any number for `concat`.
    pub fn arity(&self) -> Option<usize> {
        match self {
            Structural::Concat { .. } => None,
            _ => Some(1),
        }
    }

    /// The shape rule.
    pub fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        match self {
            Structural::Transpose(perm) => transpose_shape(ins[0], perm),
            Structural::Reshape(to) => reshape_shape(ins[0], to),
            Structural::BroadcastTo(to) => broadcast_to_shape(ins[0], to),
            Structural::SumTo(to) => sum_to_shape(ins[0], to),
            Structural::Slice { axis, start, len } => slice_shape(ins[0], *axis, *start, *len),
            Structural::Pad { axis, start, total } => pad_shape(ins[0], *axis, *start, *total),
            Structural::Concat { axis } => concat_shape(ins, *axis),
        }
    }

    /// The kernel call.
    pub fn eval<T: Scalar>(&self, ins: &[TensorRef<'_, T>], out: &mut [T], out_shape: &[usize]) {
        let x = ins[0];
        match self {
            Structural::Transpose(perm) => {
                crate::tensor::kernels::transpose(x.data, x.shape, perm, out)
            }
            Structural::Reshape(_) => out.copy_from_slice(x.data),
            Structural::BroadcastTo(_) => broadcast_to_eval(x, out, out_shape),
            Structural::SumTo(_) => reduce::sum_eval(x, out, out_shape),
            Structural::Slice { axis, start, len } => {
                crate::tensor::kernels::slice(x.data, x.shape, *axis, *start, *len, out)
            }
            Structural::Pad { axis, start, .. } => {
                out.fill(T::zero());
                place(x.data, x.shape, *axis, *start, out, out_shape)
            }
            Structural::Concat { axis } => concat_eval(ins, *axis, out, out_shape),
        }
    }

    /// The vector-Jacobian rule: each op's transpose.
    pub fn vjp<'g, T: Scalar>(
        &self,
        x: &[Expr<'g, T>],
        gy: Expr<'g, T>,
        needs: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        let g = match self {
            Structural::Transpose(perm) => transpose_vjp(perm, gy),
            Structural::Reshape(_) => gy.reshape(x[0].shape()),
            Structural::BroadcastTo(_) => gy.sum_to(x[0].shape()),
            Structural::SumTo(_) => gy.broadcast_to(x[0].shape()),
            Structural::Slice { axis, start, .. } => {
                gy.pad(*axis, *start, fixed_dim(&x[0].shape(), *axis))
            }
            Structural::Pad { axis, start, .. } => {
                let len = fixed_dim(&x[0].shape(), *axis);
                gy.slice(*axis, *start, *start + len)
            }
            Structural::Concat { axis } => return concat_vjp(x, *axis, gy, needs),
        };
        vec![Some(g)]
    }

    /// The call as printed: `transpose[1, 0]`, `reshape[n, 3]`, `slice[axis=0, start=1,
    /// len=2]`; `shape` prints a shape with its symbols' names.
    pub fn call_head(&self, shape: &dyn Fn(&[Dim]) -> String) -> String {
        match self {
            Structural::Transpose(p) => format!("transpose{}", super::fmt_list(p)),
            Structural::Reshape(s) | Structural::BroadcastTo(s) | Structural::SumTo(s) => {
                format!("{}{}", self.name(), shape(s))
            }
            Structural::Slice { axis, start, len } => {
                format!("slice[axis={axis}, start={start}, len={len}]")
            }
            Structural::Pad { axis, start, total } => {
                format!("pad[axis={axis}, start={start}, total={total}]")
            }
            Structural::Concat { axis } => format!("concat[axis={axis}]"),
        }
    }

    /// The op a call of the text form names, from its bracketed attributes (`None` if the
    /// name is not of this family). Axes may count from the last (`transpose[-1, 0]`,
    /// `slice[axis=-1, ...]`), resolved against `rank`, the first input's; `transpose`
    /// without brackets reverses the axes, as NumPy's does; `symbol` gives the id of a named
    /// dimension.
    pub fn from_call(
        name: &str,
        attrs: Option<&[Attr]>,
        rank: usize,
        symbol: &mut dyn FnMut(&str) -> SymId,
    ) -> Option<Result<Self, String>> {
        if name == "transpose" && attrs.is_none() {
            return Some(Ok(Structural::Transpose((0..rank).rev().collect())));
        }
        let attrs = attrs.unwrap_or(&[]);
        let op = match name {
            "transpose" => super::attr_axes(name, attrs, rank).map(Structural::Transpose),
            "reshape" | "broadcast_to" | "sum_to" => {
                let shape: Result<SymShape, String> = attrs
                    .iter()
                    .map(|a| match a {
                        Attr::Int(n) => Ok(Dim::Fixed(*n)),
                        Attr::Name(n) => Ok(Dim::Sym(symbol(n))),
                        Attr::Key(k, _) => Err(format!("`{k}=` has no place in a shape")),
                        Attr::NegInt(n) => Err(format!("a shape has no negative size `-{n}`")),
                    })
                    .collect();
                shape.map(|s| match name {
                    "reshape" => Structural::Reshape(s),
                    "broadcast_to" => Structural::BroadcastTo(s),
                    _ => Structural::SumTo(s),
                })
            }
            "slice" => super::attr_keys(name, attrs, ["axis", "start", "len"]).and_then(
                |[axis, start, len]| {
                    Ok(Structural::Slice {
                        axis: super::key_axis(name, axis, rank)?,
                        start: super::key_size(name, "start", start)?,
                        len: super::key_size(name, "len", len)?,
                    })
                },
            ),
            "pad" => super::attr_keys(name, attrs, ["axis", "start", "total"]).and_then(
                |[axis, start, total]| {
                    Ok(Structural::Pad {
                        axis: super::key_axis(name, axis, rank)?,
                        start: super::key_size(name, "start", start)?,
                        total: super::key_size(name, "total", total)?,
                    })
                },
            ),
            "concat" => super::attr_keys(name, attrs, ["axis"]).and_then(|[axis]| {
                Ok(Structural::Concat {
                    axis: super::key_axis(name, axis, rank)?,
                })
            }),
            _ => return None,
        };
        Some(op)
    }
}

/// The fixed size of `axis`, for ops that need it known when the graph is built.
pub fn fixed_dim(s: &[Dim], axis: usize) -> usize {
    match s[axis] {
        Dim::Fixed(n) => n,
        Dim::Sym(_) => panic!("symgrad: axis {axis} is symbolic; this op needs a fixed size there"),
    }
}

/// `transpose`: `perm` must be a permutation of the axes.
fn transpose_shape(x: &[Dim], perm: &[usize]) -> Result<SymShape, String> {
    let mut seen = vec![false; x.len()];
    if perm.len() != x.len()
        || !perm
            .iter()
            .all(|&p| p < x.len() && !std::mem::replace(&mut seen[p], true))
    {
        return Err(format!("{perm:?} is not a permutation of {} axes", x.len()));
    }
    Ok(perm.iter().map(|&p| x[p]).collect())
}

/// `transpose` vjp: the inverse permutation.
fn transpose_vjp<'g, T: Scalar>(perm: &Axes, gy: Expr<'g, T>) -> Expr<'g, T> {
    let mut inv: SmallVec<[usize; 4]> = SmallVec::from_elem(0, perm.len());
    for (d, &p) in perm.iter().enumerate() {
        inv[p] = d;
    }
    gy.transpose(&inv)
}

/// The product of the fixed dimensions (`None` if it overflows) and the symbols, sorted.
fn split(s: &[Dim]) -> (Option<usize>, Vec<u32>) {
    let mut fixed = Some(1usize);
    let mut syms = Vec::new();
    for d in s {
        match d {
            Dim::Fixed(n) => fixed = fixed.and_then(|f| f.checked_mul(*n)),
            Dim::Sym(id) => syms.push(id.0),
        }
    }
    syms.sort_unstable();
    (fixed, syms)
}

/// `reshape`: same number of elements, symbolic dimensions carried over as they are.
fn reshape_shape(x: &[Dim], to: &[Dim]) -> Result<SymShape, String> {
    let (a, b) = (split(x), split(to));
    if a.0.is_none() || b.0.is_none() {
        return Err("the element count overflows".into());
    }
    if a != b {
        return Err("the new shape has a different number of elements".into());
    }
    Ok(to.iter().copied().collect())
}

/// `broadcast_to`: the input must broadcast to exactly the target.
fn broadcast_to_shape(x: &[Dim], to: &[Dim]) -> Result<SymShape, String> {
    match broadcast_shapes(x, to) {
        Ok(s) if s[..] == *to => Ok(s),
        _ => Err("the input does not broadcast to the target shape".into()),
    }
}

/// `sum_to`: the target must broadcast to exactly the input.
fn sum_to_shape(x: &[Dim], to: &[Dim]) -> Result<SymShape, String> {
    match broadcast_shapes(to, x) {
        Ok(s) if s[..] == *x => Ok(to.iter().copied().collect()),
        _ => Err("the target shape does not broadcast to the input".into()),
    }
}

/// `broadcast_to` kernel: a strided copy with zero strides.
fn broadcast_to_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], out_shape: &[usize]) {
    map1(
        out,
        out_shape,
        &Strided::broadcast(x.data, x.shape, out_shape),
        |v| v,
    );
}

fn check_axis(x: &[Dim], axis: usize) -> Result<usize, String> {
    match x.get(axis) {
        None => Err(format!("axis {axis} out of range for rank {}", x.len())),
        Some(Dim::Sym(_)) => Err(format!("axis {axis} is symbolic; it must be fixed here")),
        Some(Dim::Fixed(n)) => Ok(*n),
    }
}

/// `slice`: `start + len` within the axis.
fn slice_shape(x: &[Dim], axis: usize, start: usize, len: usize) -> Result<SymShape, String> {
    let n = check_axis(x, axis)?;
    match start.checked_add(len) {
        Some(end) if end <= n => {}
        Some(end) => {
            return Err(format!(
                "range {start}..{end} exceeds size {n} of axis {axis}"
            ))
        }
        None => return Err(format!("range {start}..{start}+{len} overflows")),
    }
    let mut s: SymShape = x.iter().copied().collect();
    s[axis] = Dim::Fixed(len);
    Ok(s)
}

/// `pad`: the input fits inside `total` at `start`.
fn pad_shape(x: &[Dim], axis: usize, start: usize, total: usize) -> Result<SymShape, String> {
    let n = check_axis(x, axis)?;
    if start.checked_add(n).is_none_or(|end| end > total) {
        return Err(format!("size {n} at {start} does not fit in {total}"));
    }
    let mut s: SymShape = x.iter().copied().collect();
    s[axis] = Dim::Fixed(total);
    Ok(s)
}

/// `concat`: same rank, same dimensions but along `axis`, which adds up.
fn concat_shape(ins: &[&[Dim]], axis: usize) -> Result<SymShape, String> {
    let first = ins[0];
    let mut total = 0;
    for s in ins {
        if s.len() != first.len() {
            return Err("ranks differ".into());
        }
        total = usize::checked_add(total, check_axis(s, axis)?)
            .ok_or_else(|| format!("the sizes along axis {axis} add up past usize::MAX"))?;
        if s.iter()
            .zip(first)
            .enumerate()
            .any(|(i, (a, b))| i != axis && a != b)
        {
            return Err(format!("dimensions other than axis {axis} differ"));
        }
    }
    let mut s: SymShape = first.iter().copied().collect();
    s[axis] = Dim::Fixed(total);
    Ok(s)
}

/// `concat` kernel: each input placed at its offset along `axis`.
fn concat_eval<T: Scalar>(
    ins: &[TensorRef<'_, T>],
    axis: usize,
    out: &mut [T],
    out_shape: &[usize],
) {
    let mut at = 0;
    for t in ins {
        place(t.data, t.shape, axis, at, out, out_shape);
        at += t.shape[axis];
    }
}

/// `concat` vjp: each input's cotangent is its slice of `gy`.
fn concat_vjp<'g, T: Scalar>(
    x: &[Expr<'g, T>],
    axis: usize,
    gy: Expr<'g, T>,
    needs: &[bool],
) -> Vec<Option<Expr<'g, T>>> {
    let mut at = 0;
    x.iter()
        .zip(needs)
        .map(|(xi, &need)| {
            let n = fixed_dim(&xi.shape(), axis);
            let g = need.then(|| gy.slice(axis, at, at + n));
            at += n;
            g
        })
        .collect()
}
