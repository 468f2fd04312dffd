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
///
/// Only for shapes already known to fit in memory (checked by [`checked_numel`] where they
/// came from outside: a file, an argument, a symbol bound at call time).
#[inline]
pub fn numel(shape: &[usize]) -> usize {
    shape.iter().product()
}

/// Number of elements of a shape, or `None` if an array of that shape and of element type `T`
/// could not exist: its element count overflows `usize`, or its size in bytes exceeds
/// `isize::MAX` (the most any Rust allocation, and so any slice, can hold).
///
/// ```
/// use symgrad::tensor::checked_numel;
/// assert_eq!(checked_numel::<f32>(&[2, 3]), Some(6));
/// assert_eq!(checked_numel::<f32>(&[1 << 32, 1 << 32]), None); // wraps to 0 unchecked
/// assert_eq!(checked_numel::<f64>(&[1 << 61]), None); // 2^64 bytes
/// assert_eq!(checked_numel::<f64>(&[0, usize::MAX]), Some(0));
/// ```
pub fn checked_numel<T>(shape: &[usize]) -> Option<usize> {
    let n = shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))?;
    let bytes = n.checked_mul(std::mem::size_of::<T>().max(1))?;
    (bytes <= isize::MAX as usize).then_some(n)
}

/// The most memory one compiled function's arena may take, in bytes: `SYMGRAD_MEMORY_LIMIT`
/// (a number of bytes, or with a `K`, `M`, `G` or `T` suffix, powers of 1024) if it is set
/// and valid, else the machine's physical memory (`MemTotal` of `/proc/meminfo`), else no
/// limit; or what [`set_memory_limit`] set first. Read once per process.
///
/// A plan that needs more is refused with [`Error::TooLarge`](crate::Error::TooLarge)
/// before anything is allocated, rather than left to the allocator (which, with Linux's
/// overcommit, may say yes and have the process killed when the pages are touched).
pub fn memory_limit() -> usize {
    *MEMORY_LIMIT.get_or_init(|| {
        std::env::var("SYMGRAD_MEMORY_LIMIT")
            .ok()
            .and_then(|v| parse_bytes(&v))
            .or_else(|| {
                let info = std::fs::read_to_string("/proc/meminfo").ok()?;
                let line = info.lines().find(|l| l.starts_with("MemTotal:"))?;
                let kb: usize = line.split_whitespace().nth(1)?.parse().ok()?;
                kb.checked_mul(1024)
            })
            .unwrap_or(usize::MAX)
    })
}

static MEMORY_LIMIT: std::sync::OnceLock<usize> = std::sync::OnceLock::new();

/// Sets the limit [`memory_limit`] gives, in place of `SYMGRAD_MEMORY_LIMIT` and the
/// machine's memory (the command line's `--memory-limit`). It can be set once, before the
/// limit is first read; afterwards it returns the limit in force as the error.
///
/// ```
/// symgrad::tensor::set_memory_limit(1 << 40).unwrap();
/// assert_eq!(symgrad::tensor::memory_limit(), 1 << 40);
/// assert_eq!(symgrad::tensor::set_memory_limit(1 << 20), Err(1 << 40));
/// ```
pub fn set_memory_limit(bytes: usize) -> Result<(), usize> {
    MEMORY_LIMIT.set(bytes).map_err(|_| memory_limit())
}

/// Parses a byte count: digits, optionally followed by `K`, `M`, `G` or `T` (powers of
/// 1024, an optional `B` or `iB` after it).
///
/// ```
/// use symgrad::tensor::parse_bytes;
/// assert_eq!(parse_bytes("4096"), Some(4096));
/// assert_eq!(parse_bytes("2G"), Some(2 << 30));
/// assert_eq!(parse_bytes("16GiB"), Some(16 << 30));
/// assert_eq!(parse_bytes("lots"), None);
/// ```
pub fn parse_bytes(text: &str) -> Option<usize> {
    let t = text.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (digits, shift) = match t.chars().last()? {
        'K' | 'k' => (&t[..t.len() - 1], 10),
        'M' | 'm' => (&t[..t.len() - 1], 20),
        'G' | 'g' => (&t[..t.len() - 1], 30),
        'T' | 't' => (&t[..t.len() - 1], 40),
        _ => (t, 0),
    };
    digits
        .trim()
        .parse::<usize>()
        .ok()?
        .checked_mul(1usize << shift)
}

/// A byte count as a person reads it: `512 B`, `3.2 MB`, `24.0 GB` (powers of 1000).
pub fn fmt_bytes(bytes: usize) -> String {
    let b = bytes as f64;
    match bytes {
        0..1_000 => format!("{bytes} B"),
        1_000..1_000_000 => format!("{:.1} kB", b / 1e3),
        1_000_000..1_000_000_000 => format!("{:.1} MB", b / 1e6),
        1_000_000_000..1_000_000_000_000 => format!("{:.1} GB", b / 1e9),
        _ => format!("{:.1} TB", b / 1e12),
    }
}

/// `n` zeros, or `None` if the allocator cannot give that much. Zeroed by the allocator
/// (`calloc`: fresh pages are zero already and are touched by their first use, not here),
/// where `vec![T::zero(); n]` would abort the process on failure.
pub fn try_zeroed<T: Scalar>(n: usize) -> Option<Vec<T>> {
    if n == 0 {
        return Some(Vec::new());
    }
    let layout = std::alloc::Layout::array::<T>(n).ok()?;
    // SAFETY: `layout` has a non-zero size (n > 0 and `T` is `f32` or `f64`, the only
    // `Scalar`s); `alloc_zeroed` returns null or memory for `n` values of `T` with all bits
    // zero, which is 0.0 in both; the `Vec` takes it over with the layout it was allocated
    // with (global allocator, `T`'s alignment, capacity `n`), as `from_raw_parts` requires.
    // Tested at its edges by `try_zeroed_edges` (0, 1, a refused size).
    unsafe {
        let p = std::alloc::alloc_zeroed(layout) as *mut T;
        if p.is_null() {
            return None;
        }
        Some(Vec::from_raw_parts(p, n, n))
    }
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
        // Checked: [2, 2^63] would wrap to 0 elements and pass against no data.
        let Some(needed) = checked_numel::<T>(&shape) else {
            return Err(crate::Error::TooLarge {
                what: "a tensor".into(),
                why: format!("shape {shape:?} holds more elements than any array can"),
            });
        };
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The mistakes caught: a zero-length request handed to the allocator (undefined
    /// behaviour), memory that is not zero, and an impossible size that aborts the process
    /// or wraps instead of returning `None`.
    #[test]
    fn try_zeroed_edges() {
        assert_eq!(try_zeroed::<f32>(0), Some(Vec::new()));
        assert_eq!(try_zeroed::<f64>(1), Some(vec![0.0]));
        let v = try_zeroed::<f32>(1 << 20).unwrap();
        assert!(v.len() == 1 << 20 && v.capacity() == 1 << 20 && v.iter().all(|&x| x == 0.0));
        drop(v); // freed with the layout it was allocated with (Miri would object otherwise)
        assert_eq!(try_zeroed::<f64>(usize::MAX / 4), None); // more than isize::MAX bytes
        assert_eq!(try_zeroed::<f64>(1 << 57), None); // 2^60 bytes: the allocator says no
    }

    /// The mistake caught: an element count or byte size that wraps and is taken for small.
    #[test]
    fn checked_numel_edges() {
        // A shape whose count wraps to 0 is refused, not taken for an empty tensor.
        let e = Tensor::<f32>::try_from_vec([2, 1 << 63], vec![]).unwrap_err();
        assert!(matches!(e, crate::Error::TooLarge { .. }), "{e}");
        assert_eq!(checked_numel::<f64>(&[]), Some(1));
        assert_eq!(checked_numel::<f32>(&[1 << 32, 1 << 32]), None);
        let most = isize::MAX as usize / 8;
        assert_eq!(checked_numel::<f64>(&[most]), Some(most));
        assert_eq!(checked_numel::<f64>(&[most + 1]), None);
        assert_eq!(checked_numel::<f32>(&[most + 1]), Some(most + 1));
    }

    #[test]
    fn byte_counts() {
        assert_eq!(parse_bytes("1K"), Some(1024));
        assert_eq!(parse_bytes(" 3 MB"), Some(3 << 20));
        assert_eq!(parse_bytes("3MB"), Some(3 << 20));
        assert_eq!(parse_bytes("99999999999999999999"), None);
        assert_eq!(parse_bytes("16777216T"), None); // 2^64: overflows
        assert_eq!(fmt_bytes(999), "999 B");
        assert_eq!(fmt_bytes(51_300_000), "51.3 MB");
    }
}
