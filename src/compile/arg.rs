//! [`Arg`]: an array handed to a compiled function by [`Function::run_with`]: float values,
//! or integers (labels, token ids) that the function converts into its float type, checking
//! each is held exactly.
//!
//! [`Function::run_with`]: super::Function::run_with

use crate::tensor::TensorRef;
use crate::Scalar;

/// One input array of a call: values of the function's float type, or integers.
///
/// Integers are what an index input ([`Graph::index_input`](crate::Graph::index_input))
/// takes, and an input of values takes them too (converted, as JAX promotes an integer
/// array). Either way each integer must be held exactly by the float type: up to 2^24 in
/// magnitude in `f32`, 2^53 in `f64`; a larger one is an
/// [`Error::IndexInput`](crate::Error::IndexInput).
///
/// ```
/// use symgrad::{Arg, TensorRef};
/// let labels = [3u8, 1, 4];
/// let a: Arg<'_, f32> = Arg::indices(&[3], &labels);
/// let b: Arg<'_, f32> = Arg::values(&[2], &[0.5, 1.5]);
/// let c: Arg<'_, f32> = TensorRef::new(&[2], &[0.5, 1.5]).into();
/// # let _ = (a, b, c);
/// ```
#[derive(Clone, Copy, Debug)]
pub enum Arg<'a, T> {
    /// Values of the float type, read in place.
    Values(TensorRef<'a, T>),
    /// Integers, converted into the float type for the call.
    Indices {
        /// The array's shape.
        shape: &'a [usize],
        /// Its elements, row-major.
        data: IndexData<'a>,
    },
}

/// The integer elements of an [`Arg::Indices`], in any of the usual types.
#[derive(Clone, Copy, Debug)]
pub enum IndexData<'a> {
    /// `u8` (MNIST's labels).
    U8(&'a [u8]),
    /// `u16`.
    U16(&'a [u16]),
    /// `u32`.
    U32(&'a [u32]),
    /// `u64`.
    U64(&'a [u64]),
    /// `usize`.
    Usize(&'a [usize]),
    /// `i32` (JAX's default integer).
    I32(&'a [i32]),
    /// `i64` (NumPy's and PyTorch's).
    I64(&'a [i64]),
}

/// An integer type an [`Arg::indices`] array may hold.
pub trait IndexElement: Copy + sealed::Sealed {
    /// The slice, tagged with its type.
    fn tag(data: &[Self]) -> IndexData<'_>;
}

mod sealed {
    pub trait Sealed {}
}

macro_rules! index_element {
    ($($t:ty => $v:ident),*) => {$(
        impl sealed::Sealed for $t {}
        impl IndexElement for $t {
            fn tag(data: &[Self]) -> IndexData<'_> {
                IndexData::$v(data)
            }
        }
    )*};
}
index_element!(u8 => U8, u16 => U16, u32 => U32, u64 => U64, usize => Usize, i32 => I32, i64 => I64);

impl<'a, T> Arg<'a, T> {
    /// Float values of shape `shape`.
    pub fn values(shape: &'a [usize], data: &'a [T]) -> Self {
        Arg::Values(TensorRef { shape, data })
    }

    /// Integers of shape `shape`, of any of the types of [`IndexData`].
    pub fn indices<I: IndexElement>(shape: &'a [usize], data: &'a [I]) -> Self {
        Arg::Indices {
            shape,
            data: I::tag(data),
        }
    }

    /// The shape.
    pub fn shape(&self) -> &'a [usize] {
        match self {
            Arg::Values(t) => t.shape,
            Arg::Indices { shape, .. } => shape,
        }
    }
}

impl<'a, T> From<TensorRef<'a, T>> for Arg<'a, T> {
    fn from(t: TensorRef<'a, T>) -> Self {
        Arg::Values(t)
    }
}

impl IndexData<'_> {
    /// The number of elements.
    pub fn len(&self) -> usize {
        match self {
            IndexData::U8(d) => d.len(),
            IndexData::U16(d) => d.len(),
            IndexData::U32(d) => d.len(),
            IndexData::U64(d) => d.len(),
            IndexData::Usize(d) => d.len(),
            IndexData::I32(d) => d.len(),
            IndexData::I64(d) => d.len(),
        }
    }

    /// Whether it holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The elements converted into `T`, into `out` (cleared first); or the first one `T`
    /// cannot hold exactly, with its position.
    pub(super) fn convert_into<T: Scalar>(&self, out: &mut Vec<T>) -> Result<(), (usize, i128)> {
        // The largest magnitude up to which every integer is exact: 2 / epsilon.
        let exact = (2.0 / T::EPS) as i128;
        out.clear();
        out.reserve(self.len());
        fn go<T: Scalar, I: Copy + TryInto<i128>>(
            d: &[I],
            exact: i128,
            out: &mut Vec<T>,
        ) -> Result<(), (usize, i128)> {
            for (p, &v) in d.iter().enumerate() {
                // every type here fits in i128 (usize too, on any platform Rust targets)
                let v: i128 = v.try_into().unwrap_or(i128::MAX);
                if v.abs() > exact {
                    return Err((p, v));
                }
                out.push(T::from_f64(v as f64));
            }
            Ok(())
        }
        match *self {
            IndexData::U8(d) => go(d, exact, out),
            IndexData::U16(d) => go(d, exact, out),
            IndexData::U32(d) => go(d, exact, out),
            IndexData::U64(d) => go(d, exact, out),
            IndexData::Usize(d) => go(d, exact, out),
            IndexData::I32(d) => go(d, exact, out),
            IndexData::I64(d) => go(d, exact, out),
        }
    }
}
