//! `Scalar`: the one bound every generic item in symgrad carries (implemented for `f32` and `f64`).

use std::fmt::{Debug, Display};
use std::iter::Sum;

use num_traits::{Float, NumAssign, ToPrimitive};

/// The floating-point element type of graphs, tensors and compiled functions.
///
/// It bundles the arithmetic of [`num_traits::Float`] with what the kernels need: a
/// matrix-multiply entry point and thread safety. It is implemented for `f32` and `f64`
/// only, and is sealed so that the kernels can rely on a real GEMM for both.
///
/// ```
/// use symgrad::Scalar;
/// fn half<T: Scalar>(x: T) -> T { x * T::from_f64(0.5) }
/// assert_eq!(half(3.0f32), 1.5);
/// ```
pub trait Scalar:
    Float
    + NumAssign
    + ToPrimitive
    + Sum
    + Default
    + Debug
    + Display
    + Send
    + Sync
    + 'static
    + sealed::Sealed
{
    /// `"f32"` or `"f64"`: used in printed graphs and reports.
    const NAME: &'static str;
    /// Machine epsilon, as an `f64`.
    const EPS: f64;

    /// Converts an `f64` to this type (rounding for `f32`).
    fn from_f64(v: f64) -> Self;
    /// Converts to `f64` without loss.
    fn to_f64_lossless(self) -> f64;
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
}

impl Scalar for f32 {
    const NAME: &'static str = "f32";
    const EPS: f64 = f32::EPSILON as f64;
    #[inline]
    fn from_f64(v: f64) -> Self {
        v as f32
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self as f64
    }
}

impl Scalar for f64 {
    const NAME: &'static str = "f64";
    const EPS: f64 = f64::EPSILON;
    #[inline]
    fn from_f64(v: f64) -> Self {
        v
    }
    #[inline]
    fn to_f64_lossless(self) -> f64 {
        self
    }
}
