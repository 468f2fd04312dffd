//! Dense row-major tensors and the kernels that compute on them; knows nothing of graphs.
//!
//! [`Tensor`] owns its data; [`TensorRef`] borrows a shape and a slice (how arrays are handed
//! to compiled functions without a copy). The kernels in [`kernels`] and [`gemm`] work on
//! plain slices with explicit shapes, so that a compiled program can point them at any
//! buffer: a range of the flat parameter vector, a caller's array, or its own arena.

pub mod gemm;
pub mod kernels;

use smallvec::SmallVec;

use crate::Scalar;

/// A concrete shape: dimension sizes, outermost first.
pub type Shape = SmallVec<[usize; 4]>;

/// Number of elements of a shape (1 for a scalar of shape `[]`).
#[inline]
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Row-major strides of a contiguous array of this shape.
pub fn strides(shape: &[usize]) -> Shape {
    let mut s: Shape = SmallVec::from_elem(1, shape.len());
    for i in (0..shape.len().saturating_sub(1)).rev() {
        s[i] = s[i + 1] * shape[i + 1];
    }
    s
}

/// A dense, row-major, owned array.
///
/// ```
/// use symgrad::Tensor;
/// let t = Tensor::from_vec(vec![2, 3], vec![1.0f64, 2.0, 3.0, 4.0, 5.0, 6.0]);
/// assert_eq!(t.shape(), &[2, 3]);
/// assert_eq!(t.at(&[1, 2]), 6.0);
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Tensor<T> {
    shape: Shape,
    data: Vec<T>,
}

impl<T: Scalar> Tensor<T> {
    /// A tensor from a shape and row-major data.
    ///
    /// # Panics
    /// If `data.len()` is not the product of `shape`; for data that comes from outside the
    /// program, [`Tensor::try_from_vec`] returns an error instead.
    ///
    /// ```
    /// use symgrad::Tensor;
    /// let t = Tensor::from_vec([2, 3], vec![1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0]);
    /// assert_eq!(t.shape(), &[2, 3]);
    /// assert_eq!(t.at(&[1, 0]), 4.0); // row-major
    /// ```
    pub fn from_vec(shape: impl Into<Vec<usize>>, data: Vec<T>) -> Self {
        Self::try_from_vec(shape, data).unwrap_or_else(|e| panic!("Tensor::from_vec: {e}"))
    }

    /// [`Tensor::from_vec`] for data that comes from outside the program: a data length
    /// that is not the product of `shape` is an [`Error::TensorLength`](crate::Error) naming
    /// both.
    ///
    /// ```
    /// use symgrad::{Error, Tensor};
    /// let t = Tensor::try_from_vec([2, 2], vec![1.0f64, 2.0, 3.0, 4.0])?;
    /// assert_eq!(t.at(&[1, 1]), 4.0);
    /// let e = Tensor::try_from_vec([2, 3], vec![1.0f64; 5]).unwrap_err();
    /// assert_eq!(e.to_string(), "a tensor of shape [2, 3] needs 6 values, got 5");
    /// assert!(matches!(e, Error::TensorLength { needed: 6, given: 5, .. }));
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn try_from_vec(shape: impl Into<Vec<usize>>, data: Vec<T>) -> crate::Result<Self> {
        let shape: Vec<usize> = shape.into();
        let needed = numel(&shape);
        if needed != data.len() {
            return Err(crate::Error::TensorLength {
                shape,
                needed,
                given: data.len(),
            });
        }
        Ok(Tensor {
            shape: shape.into_iter().collect(),
            data,
        })
    }

    /// A tensor of zeros.
    pub fn zeros(shape: &[usize]) -> Self {
        Tensor {
            shape: shape.iter().copied().collect(),
            data: vec![T::zero(); numel(shape)],
        }
    }

    /// A tensor filled with one value.
    pub fn full(shape: &[usize], v: T) -> Self {
        Tensor {
            shape: shape.iter().copied().collect(),
            data: vec![v; numel(shape)],
        }
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(v: T) -> Self {
        Tensor {
            shape: Shape::new(),
            data: vec![v],
        }
    }

    /// The shape.
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The row-major data.
    pub fn data(&self) -> &[T] {
        &self.data
    }

    /// The row-major data, mutable.
    pub fn data_mut(&mut self) -> &mut [T] {
        &mut self.data
    }

    /// Consumes the tensor and returns its data.
    pub fn into_vec(self) -> Vec<T> {
        self.data
    }

    /// The element at a multi-index.
    ///
    /// # Panics
    /// If the index has the wrong rank or is out of bounds.
    pub fn at(&self, index: &[usize]) -> T {
        assert_eq!(index.len(), self.shape.len(), "Tensor::at: index rank");
        let mut off = 0;
        for (i, (&ix, &d)) in index.iter().zip(self.shape.iter()).enumerate() {
            assert!(
                ix < d,
                "Tensor::at: index {ix} out of bounds for axis {i} of size {d}"
            );
            off = off * d + ix;
        }
        self.data[off]
    }

    /// Borrows the tensor as a [`TensorRef`].
    pub fn view(&self) -> TensorRef<'_, T> {
        TensorRef {
            shape: &self.shape,
            data: &self.data,
        }
    }

    /// Converts every element to another float type.
    ///
    /// ```
    /// use symgrad::Tensor;
    /// let t = Tensor::from_vec([2], vec![0.1f64, 2.5]);
    /// assert_eq!(t.cast::<f32>().data(), &[0.1f32, 2.5]);
    /// ```
    pub fn cast<U: Scalar>(&self) -> Tensor<U> {
        Tensor {
            shape: self.shape.clone(),
            data: self
                .data
                .iter()
                .map(|v| U::from_f64(v.to_f64_lossless()))
                .collect(),
        }
    }
}

/// A borrowed array: a shape and a row-major slice. This is how callers hand data to a
/// compiled function, without a copy.
///
/// ```
/// use symgrad::TensorRef;
/// let data = [1.0f32, 2.0, 3.0, 4.0];
/// let r = TensorRef::new(&[2, 2], &data);
/// assert_eq!(r.data[3], 4.0);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TensorRef<'a, T> {
    /// The shape.
    pub shape: &'a [usize],
    /// The row-major data; its length should be the product of `shape` (compiled functions
    /// check it and return an error otherwise).
    pub data: &'a [T],
}

impl<'a, T> TensorRef<'a, T> {
    /// Pairs a shape with a slice.
    pub fn new(shape: &'a [usize], data: &'a [T]) -> Self {
        TensorRef { shape, data }
    }
}

impl<'a, T: Scalar> From<&'a Tensor<T>> for TensorRef<'a, T> {
    fn from(t: &'a Tensor<T>) -> Self {
        t.view()
    }
}
