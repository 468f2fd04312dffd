//! The reduction family: `sum`, `max` and `min` over chosen axes, `numel` (the number of
//! elements over axes, a rank-0 value that works for symbolic dimensions), and `cumsum`
//! (the running sums along one axis, the scan of `sum`). Each op's name,
//! shape rule, kernel call, vjp, printed and parsed attributes are here ([`Reduce`]); the
//! sum kernel also serves `sum_to` (structural family).

use super::{Attr, Axes};
use crate::graph::{Dim, Expr, SymShape};
use crate::tensor::kernels::reduce_into;
use crate::tensor::{Shape, TensorRef};
use crate::Scalar;

/// An op of the reduction family, with its attributes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Reduce {
    /// Sum over axes.
    Sum {
        /// Axes summed.
        axes: Axes,
        /// Keep summed axes as size 1.
        keepdims: bool,
    },
    /// Maximum over axes.
    Max {
        /// Axes reduced.
        axes: Axes,
        /// Keep reduced axes as size 1.
        keepdims: bool,
    },
    /// Minimum over axes.
    Min {
        /// Axes reduced.
        axes: Axes,
        /// Keep reduced axes as size 1.
        keepdims: bool,
    },
    /// The number of elements over axes, a rank-0 value (works for symbolic dimensions).
    Numel {
        /// Axes counted.
        axes: Axes,
    },
    /// Running sums along `axis` (NumPy's `cumsum`), from the last element back when
    /// `reverse`; the output has the input's shape. Its gradient is the cumsum of the
    /// cotangent the other way.
    Cumsum {
        /// The axis summed along.
        axis: usize,
        /// Sum from the end: `out[k] = x[k] + ... + x[n-1]`.
        reverse: bool,
    },
}

impl Reduce {
    /// The op's name, as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Reduce::Sum { .. } => "sum",
            Reduce::Max { .. } => "max",
            Reduce::Min { .. } => "min",
            Reduce::Numel { .. } => "numel",
            Reduce::Cumsum { .. } => "cumsum",
        }
    }

    /// The shape rule.
    pub fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        match self {
            Reduce::Sum { axes, keepdims }
            | Reduce::Max { axes, keepdims }
            | Reduce::Min { axes, keepdims } => shape(ins[0], axes, *keepdims),
            Reduce::Numel { axes } => shape(ins[0], axes, false).map(|_| SymShape::new()),
            Reduce::Cumsum { axis, .. } => {
                shape(ins[0], &[*axis], true).map(|_| ins[0].iter().copied().collect())
            }
        }
    }

    /// The kernel call.
    pub fn eval<T: Scalar>(&self, ins: &[TensorRef<'_, T>], out: &mut [T]) {
        let x = ins[0];
        match self {
            Reduce::Sum { axes, .. } => sum_eval(x, out, &keep_shape(x.shape, axes)),
            Reduce::Max { axes, .. } => max_eval(x, out, &keep_shape(x.shape, axes)),
            Reduce::Min { axes, .. } => min_eval(x, out, &keep_shape(x.shape, axes)),
            Reduce::Numel { axes } => {
                out[0] = T::from_f64(axes.iter().map(|&a| x.shape[a]).product::<usize>() as f64)
            }
            Reduce::Cumsum { axis, reverse } => cumsum_eval(x, out, *axis, *reverse),
        }
    }

    /// The vector-Jacobian rule (none for `numel`, a function of the shape alone).
    pub fn vjp<'g, T: Scalar>(
        &self,
        x: Expr<'g, T>,
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
    ) -> Option<Expr<'g, T>> {
        match self {
            Reduce::Sum { axes, keepdims } => Some(sum_vjp(x, axes, *keepdims, gy)),
            Reduce::Max { axes, keepdims } | Reduce::Min { axes, keepdims } => {
                Some(extremum_vjp(x, y, axes, *keepdims, gy))
            }
            Reduce::Numel { .. } => None,
            Reduce::Cumsum { axis, reverse } => Some(
                gy.try_op(
                    super::Op::Reduce(Reduce::Cumsum {
                        axis: *axis,
                        reverse: !*reverse,
                    }),
                    &[],
                )
                .expect("the cotangent has the output's shape, which is the input's"),
            ),
        }
    }

    /// The call as printed: `sum[0, keepdims]`, `numel[1]`.
    pub fn call_head(&self) -> String {
        match self {
            Reduce::Sum { axes, keepdims }
            | Reduce::Max { axes, keepdims }
            | Reduce::Min { axes, keepdims } => {
                let mut items: Vec<String> = axes.iter().map(|a| a.to_string()).collect();
                if *keepdims {
                    items.push("keepdims".into());
                }
                format!("{}[{}]", self.name(), items.join(", "))
            }
            Reduce::Numel { axes } => format!("numel{}", super::fmt_list(axes)),
            Reduce::Cumsum { axis, reverse } => {
                format!("cumsum[{axis}{}]", if *reverse { ", reverse" } else { "" })
            }
        }
    }

    /// The op a call of the text form names (`None` if the name is not of this family).
    /// `sum`, `max` and `min` take axes and `keepdims` (no brackets: every axis of an input of
    /// rank `rank`); `numel` takes axes. A negative axis counts from the last (`sum[-1]`).
    pub fn from_call(
        name: &str,
        attrs: Option<&[Attr]>,
        rank: usize,
    ) -> Option<Result<Self, String>> {
        let op = match name {
            "sum" | "max" | "min" => {
                let mut axes = Axes::new();
                let mut keepdims = false;
                for a in attrs.unwrap_or(&[]) {
                    match a {
                        Attr::Int(_) | Attr::NegInt(_) => match super::attr_axis(name, a, rank) {
                            Ok(axis) => axes.push(axis),
                            Err(e) => return Some(Err(e)),
                        },
                        Attr::Name(k) if k == "keepdims" => keepdims = true,
                        other => {
                            return Some(Err(format!(
                                "`{name}` takes axes and `keepdims` in brackets, found {other}"
                            )))
                        }
                    }
                }
                if attrs.is_none() {
                    axes = (0..rank).collect();
                }
                Ok(match name {
                    "sum" => Reduce::Sum { axes, keepdims },
                    "max" => Reduce::Max { axes, keepdims },
                    _ => Reduce::Min { axes, keepdims },
                })
            }
            "numel" => super::attr_axes(name, attrs.unwrap_or(&[]), rank)
                .map(|axes| Reduce::Numel { axes }),
            "cumsum" => match attrs.unwrap_or(&[]) {
                [a @ (Attr::Int(_) | Attr::NegInt(_))] => {
                    super::attr_axis(name, a, rank).map(|axis| Reduce::Cumsum {
                        axis,
                        reverse: false,
                    })
                }
                [a @ (Attr::Int(_) | Attr::NegInt(_)), Attr::Name(r)] if r == "reverse" => {
                    super::attr_axis(name, a, rank).map(|axis| Reduce::Cumsum {
                        axis,
                        reverse: true,
                    })
                }
                _ => Err(
                    "`cumsum` takes an axis, and `reverse` if it runs from the end, in \
                          brackets: `cumsum[0](x)`, `cumsum[-1, reverse](x)`"
                        .into(),
                ),
            },
            _ => return None,
        };
        Some(op)
    }
}

/// Shape rule for `sum`, `max`, `min` (and, with `keepdims = false`, the axes check of
/// `numel`).
fn shape(x: &[Dim], axes: &[usize], keepdims: bool) -> Result<SymShape, String> {
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
fn keep_shape(x: &[usize], axes: &[usize]) -> Shape {
    x.iter()
        .enumerate()
        .map(|(i, &d)| if axes.contains(&i) { 1 } else { d })
        .collect()
}

/// `out = sum of x` down to `keep` (same rank as x or right-aligned, size 1 where summed).
pub fn sum_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], keep: &[usize]) {
    reduce_into(x.data, x.shape, out, keep, T::zero(), |a, b| a + b);
}

/// Running sums of `x` along `axis` into `out` (same shape): row by row of the axis, each
/// row the previous one plus x's, so that the inner loop runs over contiguous memory.
fn cumsum_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], axis: usize, reverse: bool) {
    let n = x.shape[axis];
    let inner: usize = x.shape[axis + 1..].iter().product();
    let block = n * inner;
    if block == 0 {
        return;
    }
    let add = |dst: &mut [T], prev: &[T], xs: &[T]| {
        for ((d, &p), &v) in dst.iter_mut().zip(prev).zip(xs) {
            *d = p + v;
        }
    };
    for (o, xb) in out.chunks_mut(block).zip(x.data.chunks(block)) {
        let row = |k: usize| k * inner..(k + 1) * inner;
        let first = if reverse { n - 1 } else { 0 };
        o[row(first)].copy_from_slice(&xb[row(first)]);
        if reverse {
            for k in (0..n - 1).rev() {
                let (cur, next) = o.split_at_mut((k + 1) * inner);
                add(&mut cur[row(k)], &next[..inner], &xb[row(k)]);
            }
        } else {
            for k in 1..n {
                let (prev, cur) = o.split_at_mut(k * inner);
                add(&mut cur[..inner], &prev[row(k - 1)], &xb[row(k)]);
            }
        }
    }
}

/// `out = max of x` down to `keep`; NaN propagates.
fn max_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], keep: &[usize]) {
    reduce_into(x.data, x.shape, out, keep, T::neg_infinity(), |a, b| {
        if b > a || b.is_nan() {
            b
        } else {
            a
        }
    });
}

/// `out = min of x` down to `keep`; NaN propagates.
fn min_eval<T: Scalar>(x: TensorRef<'_, T>, out: &mut [T], keep: &[usize]) {
    reduce_into(x.data, x.shape, out, keep, T::infinity(), |a, b| {
        if b < a || b.is_nan() {
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
fn sum_vjp<'g, T: Scalar>(
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

/// `max` and `min` vjp: the cotangent goes to the elements equal to the extremum, shared
/// equally between ties (as JAX does): `gx = [x == y] / count([x == y]) * gy`.
fn extremum_vjp<'g, T: Scalar>(
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
