//! Reductions: `sum` and `max` over chosen axes, `numel`, and the sum back to a broadcast
//! shape (`sum_to`, whose kernel is `sum`'s).

use super::Axes;
use crate::graph::{Dim, Expr, SymShape};
use crate::tensor::kernels::reduce_into;
use crate::tensor::{Shape, TensorRef};
use crate::Scalar;

/// Shape rule for `sum`, `max` (and, with `keepdims = false`, the axes check of `numel`).
pub fn shape(x: &[Dim], axes: &[usize], keepdims: bool) -> Result<SymShape, String> {
    for (i, &a) in axes.iter().enumerate() {
        if a >= x.len() {
            return Err(format!("axis {a} out of range for rank {}", x.len()));
        }
        if axes[..i].contains(&a) {
            return Err(format!("axis {a} given twice"));
        }
    }
    Ok(x.iter()
        .enumerate()
        .filter_map(|(i, &d)| match (axes.contains(&i), keepdims) {
            (false, _) => Some(d),
            (true, true) => Some(Dim::Fixed(1)),
            (true, false) => None,
        })
        .collect())
}

/// The input's shape with every reduced axis set to 1.
pub fn keep_shape(x: &[usize], axes: &[usize]) -> Shape {
    x.iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect()
}

/// `out = sum of x` down to `keep` (same rank as x or right-aligned, size 1 where summed).
pub fn sum_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], keep: &[usize]) {
    reduce_into(x.data, x.shape, out, keep, T::zero(), |a, b| a + b);
}

/// `out = max of x` down to `keep`; NaN propagates.
pub fn max_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], keep: &[usize]) {
    reduce_into(x.data, x.shape, out, keep, T::neg_infinity(), |a, b| {
        if b > a || b.is_nan() {
            b
        } else {
            a
        }
    });
}

fn keep_sym(x: &[Dim], axes: &[usize]) -> SymShape {
    x.iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { Dim::Fixed(1) } else { d })
        .collect()
}

/// `sum` vjp: d/dx sum(x) = 1, so `gx = broadcast(gy)` (with the reduced axes restored).
pub fn sum_vjp<'g, T: Scalar>(
    x: Expr<'g, T>,
    axes: &Axes,
    keepdims: bool,
    gy: Expr<'g, T>,
) -> Expr<'g, T> {
    let xs = x.shape();
    let g = if keepdims {
        gy
    } else {
        gy.reshape(keep_sym(&xs, axes))
    };
    g.broadcast_to(xs)
}

/// `max` vjp: the cotangent goes to the maximal elements, shared equally between ties:
/// `gx = [x == y] / count([x == y]) * gy`.
pub fn max_vjp<'g, T: Scalar>(
    x: Expr<'g, T>,
    y: Expr<'g, T>,
    axes: &Axes,
    keepdims: bool,
    gy: Expr<'g, T>,
) -> Expr<'g, T> {
    let xs = x.shape();
    let keep = keep_sym(&xs, axes);
    let (yk, gk) = if keepdims {
        (y, gy)
    } else {
        (y.reshape(keep.clone()), gy.reshape(keep))
    };
    let mask = x.equal(yk);
    let count = mask.sum(axes, true);
    mask * (gk / count)
}
