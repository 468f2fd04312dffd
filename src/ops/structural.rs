//! Ops that move elements without arithmetic: `transpose`, `reshape`, `broadcast_to`,
//! `sum_to` (its shape rule; the kernel is `sum`'s), `slice`, `pad`, `concat`.
//!
//! Each is linear, so each vjp is its transpose op: transpose by the inverse permutation,
//! reshape back, `broadcast_to` <-> `sum_to`, `slice` <-> `pad`, `concat` -> slices.

use smallvec::SmallVec;

use super::{broadcast_shapes, Axes};
use crate::graph::{Dim, Expr, SymShape};
use crate::tensor::kernels::{map1, place, Strided};
use crate::tensor::TensorRef;
use crate::Scalar;

/// The fixed size of `axis`, for ops that need it known when the graph is built.
pub fn fixed_dim(s: &[Dim], axis: usize) -> usize {
    match s[axis] {
        Dim::Fixed(n) => n,
        Dim::Sym(_) => panic!("symgrad: axis {axis} is symbolic; this op needs a fixed size there"),
    }
}

/// `transpose`: `perm` must be a permutation of the axes.
pub fn transpose_shape(x: &[Dim], perm: &[usize]) -> Result<SymShape, String> {
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
pub fn transpose_vjp<'g, T: Scalar>(perm: &Axes, gy: Expr<'g, T>) -> Expr<'g, T> {
    let mut inv: SmallVec<[usize; 4]> = SmallVec::from_elem(0, perm.len());
    for (d, &p) in perm.iter().enumerate() {
        inv[p] = d;
    }
    gy.transpose(&inv)
}

fn split(s: &[Dim]) -> (usize, Vec<u32>) {
    let mut fixed = 1;
    let mut syms = Vec::new();
    for d in s {
        match d {
            Dim::Fixed(n) => fixed *= n,
            Dim::Sym(id) => syms.push(id.0),
        }
    }
    syms.sort_unstable();
    (fixed, syms)
}

/// `reshape`: same number of elements, symbolic dimensions carried over as they are.
pub fn reshape_shape(x: &[Dim], to: &[Dim]) -> Result<SymShape, String> {
    if split(x) != split(to) {
        return Err("the new shape has a different number of elements".into());
    }
    Ok(to.iter().copied().collect())
}

/// `broadcast_to`: the input must broadcast to exactly the target.
pub fn broadcast_to_shape(x: &[Dim], to: &[Dim]) -> Result<SymShape, String> {
    match broadcast_shapes(x, to) {
        Ok(s) if s[..] == *to => Ok(s),
        _ => Err("the input does not broadcast to the target shape".into()),
    }
}

/// `sum_to`: the target must broadcast to exactly the input.
pub fn sum_to_shape(x: &[Dim], to: &[Dim]) -> Result<SymShape, String> {
    match broadcast_shapes(to, x) {
        Ok(s) if s[..] == *x => Ok(to.iter().copied().collect()),
        _ => Err("the target shape does not broadcast to the input".into()),
    }
}

/// `broadcast_to` kernel: a strided copy with zero strides.
pub fn broadcast_to_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], out_shape: &[usize]) {
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
pub fn slice_shape(x: &[Dim], axis: usize, start: usize, len: usize) -> Result<SymShape, String> {
    let n = check_axis(x, axis)?;
    if start + len > n {
        return Err(format!(
            "range {start}..{} exceeds size {n} of axis {axis}",
            start + len
        ));
    }
    let mut s: SymShape = x.iter().copied().collect();
    s[axis] = Dim::Fixed(len);
    Ok(s)
}

/// `pad`: the input fits inside `total` at `start`.
pub fn pad_shape(x: &[Dim], axis: usize, start: usize, total: usize) -> Result<SymShape, String> {
    let n = check_axis(x, axis)?;
    if start + n > total {
        return Err(format!("size {n} at {start} does not fit in {total}"));
    }
    let mut s: SymShape = x.iter().copied().collect();
    s[axis] = Dim::Fixed(total);
    Ok(s)
}

/// `concat`: same rank, same dimensions but along `axis`, which adds up.
pub fn concat_shape(ins: &[&[Dim]], axis: usize) -> Result<SymShape, String> {
    let first = ins[0];
    let mut total = 0;
    for s in ins {
        if s.len() != first.len() {
            return Err("ranks differ".into());
        }
        total += check_axis(s, axis)?;
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
pub fn concat_eval<T: Scalar>(
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
pub fn concat_vjp<'g, T: Scalar>(
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
