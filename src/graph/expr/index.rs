//! The builders of the indexing family (`ops/index.rs`): one-hot, take and take-along-axis
//! with their scatter-adds, argmax, argmin, argsort, and the composites sort and top-k.

use super::{ok, Expr};
use crate::graph::BuildError;
use crate::ops::{Axis, Index, Op};
use crate::Scalar;

impl<'g, T: Scalar> Expr<'g, T> {
    fn index_op(self, op: Index, others: &[Expr<'g, T>]) -> Result<Self, BuildError> {
        self.try_op(Op::Index(op), others)
    }

    /// One-hot rows of these indices (`jax.nn.one_hot`): shape `self.shape + [depth]`, 1.0
    /// at each index, 0.0 elsewhere. An index that is not a whole number in `0..depth` stops
    /// the call with [`Error::IndexOutOfRange`](crate::Error::IndexOutOfRange) (JAX gives a
    /// row of zeros). No gradient reaches the indices. In the text form, `one_hot[10](y)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let y = g.constant(Tensor::from_vec([3], vec![2.0, 0.0, 1.0]));
    /// assert_eq!(y.one_hot(3).eval(&[])?.data(), &[0., 0., 1., 1., 0., 0., 0., 1., 0.]);
    /// let bad = g.constant(Tensor::from_vec([1], vec![2.5]));
    /// assert_eq!(bad.one_hot(3).eval(&[]).unwrap_err().kind(), "index_out_of_range");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn one_hot(self, depth: usize) -> Self {
        ok(self.try_one_hot(depth))
    }

    /// [`Expr::one_hot`], or why it cannot be built.
    pub fn try_one_hot(self, depth: usize) -> Result<Self, BuildError> {
        self.index_op(Index::OneHot { depth }, &[])
    }

    /// Slices of this array at `indices` along `axis` (NumPy's and JAX's `take`): shape
    /// `self.shape[..axis] + indices.shape + self.shape[axis+1..]`. With `axis = 0` on a
    /// `[vocabulary, dim]` table, an embedding lookup. Indices count from the end when
    /// negative (`-1` is the last); one outside `-n..n` or not whole stops the call with
    /// [`Error::IndexOutOfRange`](crate::Error::IndexOutOfRange). The gradient is
    /// [`Expr::scatter_add`] of the cotangent: O(indices × slice), not O(vocabulary).
    /// In the text form, `take[0](table, ids)`.
    ///
    /// ```
    /// # use symgrad::{grad, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let table = g.constant(Tensor::from_vec([3, 2], vec![0., 1., 10., 11., 20., 21.]));
    /// let ids = g.constant(Tensor::from_vec([2, 2], vec![2., 0., -1., 1.]));
    /// let rows = table.take(ids, 0);
    /// assert_eq!(rows.eval(&[])?.shape(), &[2, 2, 2]);
    /// assert_eq!(rows.eval(&[])?.data(), &[20., 21., 0., 1., 20., 21., 10., 11.]);
    /// assert_eq!(table.take(ids, 1).eval(&[]).unwrap_err().kind(), "index_out_of_range");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn take(self, indices: Expr<'g, T>, axis: impl Into<Axis>) -> Self {
        ok(self.try_take(indices, axis))
    }

    /// [`Expr::take`], or why the shapes do not fit.
    pub fn try_take(self, indices: Expr<'g, T>, axis: impl Into<Axis>) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("take", axis)?;
        self.index_op(Index::Take { axis }, &[indices])
    }

    /// The transpose of [`Expr::take`]: zeros of shape
    /// `self.shape[..axis] + [size] + self.shape[axis+indices.rank..]`, with each slice of
    /// this array added at its index along `axis` (repeated indices summed in index order,
    /// so the same bits whatever the thread count; JAX's `.at[i].add`). `self`'s axes from
    /// `axis` must be `indices`' shape; `axis` counts the output's axes. In the text form,
    /// `scatter_add[0, V](g, ids)` (the axis from the first there).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let src = g.constant(Tensor::from_vec([3, 2], vec![1., 1., 2., 2., 4., 4.]));
    /// let ids = g.constant(Tensor::from_vec([3], vec![1., 3., 1.]));
    /// let out = src.scatter_add(ids, 0, 4).eval(&[])?;
    /// assert_eq!(out.data(), &[0., 0., 5., 5., 0., 0., 2., 2.]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn scatter_add(
        self,
        indices: Expr<'g, T>,
        axis: impl Into<Axis>,
        size: impl Into<crate::graph::Dim>,
    ) -> Self {
        ok(self.try_scatter_add(indices, axis, size))
    }

    /// [`Expr::scatter_add`], or why the shapes do not fit.
    pub fn try_scatter_add(
        self,
        indices: Expr<'g, T>,
        axis: impl Into<Axis>,
        size: impl Into<crate::graph::Dim>,
    ) -> Result<Self, BuildError> {
        // The axis is the output's, whose rank is the source's less the indices' plus one.
        let rank = (self.rank() + 1)
            .checked_sub(indices.rank())
            .ok_or_else(|| BuildError {
                op: "scatter_add",
                message: format!(
                    "the source (rank {}) must hold the indices' axes (rank {})",
                    self.rank(),
                    indices.rank()
                ),
            })?;
        let axis = axis.into().resolve(rank).map_err(|why| BuildError {
            op: "scatter_add",
            message: format!("{why} (the output's rank)"),
        })?;
        let size = size.into();
        self.index_op(Index::ScatterAdd { axis, size }, &[indices])
    }

    /// The element of each lane along `axis` that `indices` names (NumPy's
    /// `take_along_axis`): `indices` has this array's rank and shape but along `axis`, and
    /// the output has `indices`' shape. Picking each example's label from log-probabilities
    /// `[n, classes]` with labels `[n, 1]` gives `[n, 1]`. Indices as in [`Expr::take`]. The
    /// gradient is [`Expr::scatter_add_along_axis`]. In the text form,
    /// `take_along_axis[1](logp, y)`.
    ///
    /// ```
    /// # use symgrad::{dims, Arg, Graph, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let logp = g.input("logp", dims![n, 3]);
    /// let y = g.index_input("y", dims![n]);
    /// let picked = logp.take_along_axis(y.reshape(dims![n, 1]), 1);
    /// let v = picked.eval_with(&[
    ///     (logp, Arg::values(&[2, 3], &[0.1, 0.2, 0.7, 0.5, 0.4, 0.1])),
    ///     (y, Arg::indices(&[2], &[2i64, 0])),
    /// ])?;
    /// assert_eq!(v.data(), &[0.7, 0.5]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn take_along_axis(self, indices: Expr<'g, T>, axis: impl Into<Axis>) -> Self {
        ok(self.try_take_along_axis(indices, axis))
    }

    /// [`Expr::take_along_axis`], or why the shapes do not fit.
    pub fn try_take_along_axis(
        self,
        indices: Expr<'g, T>,
        axis: impl Into<Axis>,
    ) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("take_along_axis", axis)?;
        self.index_op(Index::TakeAlongAxis { axis }, &[indices])
    }

    /// The transpose of [`Expr::take_along_axis`]: zeros of this array's shape but `size`
    /// along `axis`, with each element added at its index along `axis` (repeated indices
    /// summed in order). `indices` has this array's shape. In the text form,
    /// `scatter_add_along_axis[1, 10](g, y)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let s = g.constant(Tensor::from_vec([2, 1], vec![5., 7.]));
    /// let y = g.constant(Tensor::from_vec([2, 1], vec![2., 0.]));
    /// assert_eq!(s.scatter_add_along_axis(y, 1, 3).eval(&[])?.data(), &[0., 0., 5., 7., 0., 0.]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn scatter_add_along_axis(
        self,
        indices: Expr<'g, T>,
        axis: impl Into<Axis>,
        size: impl Into<crate::graph::Dim>,
    ) -> Self {
        ok(self.try_scatter_add_along_axis(indices, axis, size))
    }

    /// [`Expr::scatter_add_along_axis`], or why the shapes do not fit.
    pub fn try_scatter_add_along_axis(
        self,
        indices: Expr<'g, T>,
        axis: impl Into<Axis>,
        size: impl Into<crate::graph::Dim>,
    ) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("scatter_add_along_axis", axis)?;
        let size = size.into();
        self.index_op(Index::ScatterAddAlongAxis { axis, size }, &[indices])
    }

    /// The position of the largest element along `axis` (the first of equal ones; the first
    /// NaN if any, as NumPy), as indices; no gradient. In the text form, `argmax[1](x)`,
    /// `argmax[-1, keepdims](x)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2, 3], vec![1., 5., 5., 9., 0., 2.]));
    /// assert_eq!(x.argmax(1, false).eval(&[])?.data(), &[1., 0.]);
    /// assert_eq!(x.argmin(-1, true).eval(&[])?.shape(), &[2, 1]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn argmax(self, axis: impl Into<Axis>, keepdims: bool) -> Self {
        ok(self.try_argmax(axis, keepdims))
    }

    /// [`Expr::argmax`], or why `axis` does not fit.
    pub fn try_argmax(self, axis: impl Into<Axis>, keepdims: bool) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("argmax", axis)?;
        self.index_op(Index::Argmax { axis, keepdims }, &[])
    }

    /// The position of the smallest element along `axis`, as [`Expr::argmax`].
    pub fn argmin(self, axis: impl Into<Axis>, keepdims: bool) -> Self {
        ok(self.try_argmin(axis, keepdims))
    }

    /// [`Expr::argmin`], or why `axis` does not fit.
    pub fn try_argmin(self, axis: impl Into<Axis>, keepdims: bool) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("argmin", axis)?;
        self.index_op(Index::Argmin { axis, keepdims }, &[])
    }

    /// The positions that sort each lane along `axis` (stable; NaNs last; largest first when
    /// `descending`), as indices; no gradient. In the text form, `argsort[-1](x)`,
    /// `argsort[0, descending](x)`.
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([4], vec![3., 1., f64::NAN, 1.]));
    /// assert_eq!(x.argsort(0, false).eval(&[])?.data(), &[1., 3., 0., 2.]);
    /// assert_eq!(x.argsort(0, true).eval(&[])?.data(), &[0., 1., 3., 2.]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn argsort(self, axis: impl Into<Axis>, descending: bool) -> Self {
        ok(self.try_argsort(axis, descending))
    }

    /// [`Expr::argsort`], or why `axis` does not fit.
    pub fn try_argsort(self, axis: impl Into<Axis>, descending: bool) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("argsort", axis)?;
        self.index_op(Index::Argsort { axis, descending }, &[])
    }

    /// Each lane along `axis` sorted (ascending, or largest first when `descending`; NaNs
    /// last), as `take_along_axis(x, argsort(x))`: the gradient goes back through the
    /// permutation to each element's place.
    ///
    /// ```
    /// # use symgrad::{grad, Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([3], vec![2., -1., 5.]));
    /// let s = x.sort(0, false);
    /// assert_eq!(s.eval(&[])?.data(), &[-1., 2., 5.]);
    /// // d/dx of s · [1, 2, 3]: each element gets the weight of the place it went to
    /// let w = g.constant(Tensor::from_vec([3], vec![1., 2., 3.]));
    /// let dx = grad((s * w).sum_all(), &[x])[0].unwrap();
    /// assert_eq!(dx.eval(&[])?.data(), &[2., 1., 3.]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn sort(self, axis: impl Into<Axis>, descending: bool) -> Self {
        ok(self.try_sort(axis, descending))
    }

    /// [`Expr::sort`], or why `axis` does not fit.
    pub fn try_sort(self, axis: impl Into<Axis>, descending: bool) -> Result<Self, BuildError> {
        let axis = self.resolve_axis("sort", axis)?;
        let order = self.try_argsort(axis, descending)?;
        self.try_take_along_axis(order, axis)
    }

    /// The `k` largest elements of each lane along the last axis, largest first, and their
    /// positions (`jax.lax.top_k`): `(values, indices)`, each of shape `self.shape[..-1] +
    /// [k]`. The gradient of the values goes back to the places they came from. Equal values
    /// keep their order (the earlier first).
    ///
    /// ```
    /// # use symgrad::{Graph, Tensor};
    /// let g = Graph::<f64>::new();
    /// let x = g.constant(Tensor::from_vec([2, 3], vec![1., 7., 3., 4., 4., 9.]));
    /// let (v, i) = x.top_k(2);
    /// assert_eq!(v.eval(&[])?.data(), &[7., 3., 9., 4.]);
    /// assert_eq!(i.eval(&[])?.data(), &[1., 2., 2., 0.]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn top_k(self, k: usize) -> (Self, Self) {
        self.try_top_k(k).unwrap_or_else(|e| panic!("symgrad: {e}"))
    }

    /// [`Expr::top_k`], or why it cannot be built (a rank-0 input; `k` larger than the last
    /// axis).
    pub fn try_top_k(self, k: usize) -> Result<(Self, Self), BuildError> {
        let axis = self.resolve_axis("top_k", -1)?;
        let order = self.try_argsort(axis, true)?.try_slice(axis, 0, k)?;
        Ok((self.try_take_along_axis(order, axis)?, order))
    }
}
