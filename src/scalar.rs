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
    + std::str::FromStr
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

    /// `exp(x)` written without branches or calls, so that loops over it vectorize
    /// (Cephes' polynomials, within 2 ulp of the correctly rounded result over the whole
    /// range; NaN and infinities as in `exp`).
    ///
    /// ```
    /// use symgrad::Scalar;
    /// let (x, y) = (1.5f64.exp_simd(), 1.5f64.exp());
    /// assert!((x - y).abs() <= 2.0 * f64::EPSILON * y);
    /// assert_eq!(f32::NEG_INFINITY.exp_simd(), 0.0);
    /// ```
    fn exp_simd(self) -> Self;

    /// `ln(x)` without branches or calls, so that loops over it vectorize (argument
    /// reduction to a mantissa in [√½, √2) and the series of 2·atanh, in f64 fdlibm's
    /// minimax fit of it; within 2 ulp of the correctly rounded result, subnormals, zero,
    /// infinities and NaN as in `ln`).
    ///
    /// ```
    /// use symgrad::Scalar;
    /// let (x, y) = (7.0f64.ln_simd(), 7.0f64.ln());
    /// assert!((x - y).abs() <= 2.0 * f64::EPSILON * y);
    /// assert_eq!(0.0f32.ln_simd(), f32::NEG_INFINITY);
    /// ```
    fn ln_simd(self) -> Self;

    /// `exp(x) - 1` without branches or calls, so that loops over it vectorize, accurate
    /// near 0 where `exp(x) - 1` cancels (from [`Scalar::exp_simd`]'s reduction: within 2
    /// ulp of the correctly rounded result; ±0, infinities and NaN as in `exp_m1`).
    ///
    /// ```
    /// use symgrad::Scalar;
    /// let x = 1e-10f64;
    /// assert!((x.exp_m1_simd() - x.exp_m1()).abs() <= 2.0 * f64::EPSILON * x);
    /// assert!(x.exp() - 1.0 != x.exp_m1()); // the cancellation it avoids
    /// ```
    fn exp_m1_simd(self) -> Self;

    /// `ln(1 + x)`, accurate near 0, from [`Scalar::ln_simd`]:
    /// `ln(u) · x / (u - 1)` with `u = 1 + x` (Goldberg's correction).
    ///
    /// ```
    /// use symgrad::Scalar;
    /// let x = 1e-12f64;
    /// assert!((x.ln_1p_simd() - x.ln_1p()).abs() <= 3.0 * f64::EPSILON * x);
    /// ```
    #[inline(always)]
    fn ln_1p_simd(self) -> Self {
        let u = Self::one() + self;
        let r = u.ln_simd() * (self / (u - Self::one()));
        if u == Self::one() || self == Self::infinity() {
            self
        } else {
            r
        }
    }

    /// `ln(1 + x)` for `x` in [0, 1] (what `softplus` needs: `x = exp(-|z|)`), as
    /// `2 atanh(s)` with `s = x / (2 + x)` in [0, 1/3]: one division and the atanh series,
    /// no argument reduction (within 2 ulp there; outside [0, 1] use
    /// [`Scalar::ln_1p_simd`]).
    ///
    /// ```
    /// use symgrad::Scalar;
    /// let (x, y) = (0.25f64.ln_1p_unit(), 0.25f64.ln_1p());
    /// assert!((x - y).abs() <= 2.0 * f64::EPSILON * y);
    /// ```
    fn ln_1p_unit(self) -> Self;

    /// `tanh(x)` without branches or calls, so that loops over it vectorize (Cephes'
    /// split: `x + x³ P(x²)` below |x| = 0.625, `1 - 2 / (exp(2|x|) + 1)` with the sign of
    /// `x` above, both computed and one chosen; within 2 ulp of the correctly rounded
    /// result, ±0, ±infinity and NaN as in `tanh`).
    ///
    /// ```
    /// use symgrad::Scalar;
    /// for x in [0.1f64, 0.7, -3.0] {
    ///     assert!((x.tanh_simd() - x.tanh()).abs() <= 2.0 * f64::EPSILON * x.tanh().abs());
    /// }
    /// assert_eq!(f32::INFINITY.tanh_simd(), 1.0);
    /// ```
    fn tanh_simd(self) -> Self;
}

/// `2 atanh(s)` with `s = x / (2 + x)`: `2s + 2s·z·P(z)`, `z = s² <= 1/9`, `P` the first
/// terms of the series `1/3 + z/5 + z²/7 + ...` (enough that the next is below half an ulp).
#[inline(always)]
fn ln_1p_unit_impl<T: Scalar>(x: T, coef: &[T]) -> T {
    let s = x / (x + T::one() + T::one());
    let z = s * s;
    let mut p = T::zero();
    for &c in coef.iter().rev() {
        p = p.mul_add(z, c);
    }
    let two_s = s + s;
    (two_s * z).mul_add(p, two_s)
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
    #[inline(always)]
    fn exp_simd(self) -> Self {
        exp_f32(self)
    }
    #[inline(always)]
    fn ln_simd(self) -> Self {
        ln_f32(self)
    }
    #[inline(always)]
    fn tanh_simd(self) -> Self {
        tanh_f32(self)
    }
    #[inline(always)]
    fn exp_m1_simd(self) -> Self {
        exp_m1_f32(self)
    }
    #[inline(always)]
    fn ln_1p_unit(self) -> Self {
        ln_1p_unit_impl(
            self,
            &[
                1.0 / 3.0,
                1.0 / 5.0,
                1.0 / 7.0,
                1.0 / 9.0,
                1.0 / 11.0,
                1.0 / 13.0,
            ],
        )
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
    #[inline(always)]
    fn exp_simd(self) -> Self {
        exp_f64(self)
    }
    #[inline(always)]
    fn ln_simd(self) -> Self {
        ln_f64(self)
    }
    #[inline(always)]
    fn tanh_simd(self) -> Self {
        tanh_f64(self)
    }
    #[inline(always)]
    fn exp_m1_simd(self) -> Self {
        exp_m1_f64(self)
    }
    #[inline(always)]
    fn ln_1p_unit(self) -> Self {
        const C: [f64; 16] = {
            let mut c = [0.0; 16];
            let mut i = 0;
            while i < 16 {
                c[i] = 1.0 / (2 * i + 3) as f64;
                i += 1;
            }
            c
        };
        ln_1p_unit_impl(self, &C)
    }
}

/// 2^k for k in the normal exponent range, from the exponent bits.
#[inline(always)]
fn pow2_f32(k: i32) -> f32 {
    f32::from_bits(((k + 127) << 23) as u32)
}

#[inline(always)]
fn pow2_f64(k: i64) -> f64 {
    f64::from_bits(((k + 1023) << 52) as u64)
}

/// Cephes `expf`: x = n ln2 + r, |r| <= ln2 / 2, exp(r) by a degree-7 polynomial, 2^n put
/// back in two halves so that results near overflow and in the subnormal range are right.
/// The multiply-adds are fused (`mul_add`: one FMA instruction under AVX2+FMA, the same bits
/// from libm's `fma` elsewhere), which shortens the dependency chain by a third.
#[inline(always)]
fn exp_f32(x: f32) -> f32 {
    let (em, k) = exp_reduced_f32(x);
    let k1 = k >> 1;
    scale_exp(
        x,
        em,
        [pow2_f32(k1), pow2_f32(k - k1)],
        88.722_84,
        -103.972_08,
    )
}

/// `(em + 1) 2^k1 2^k2` (in that order: no overflow or underflow of its own near the ends of
/// the range), with `exp`'s values past `hi` (infinity) and below `lo` (0).
#[inline(always)]
fn scale_exp<T: Scalar>(x: T, em: T, [s1, s2]: [T; 2], hi: T, lo: T) -> T {
    let y = (em + T::one()) * s1 * s2;
    if x > hi {
        T::infinity()
    } else if x < lo {
        T::zero()
    } else {
        y
    }
}

/// Cephes' reduction for `expf`: `x = k ln2 + r` with |r| <= ln2 / 2 (x clamped to where
/// `exp` is finite and not zero, NaN kept), and `exp(r) - 1` by its degree-7 polynomial
/// `r + r² Q(r)`, accurate relative to itself (so `exp_m1` can use it as it is).
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants, as published
fn exp_reduced_f32(x: f32) -> (f32, i32) {
    const MAGIC: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let xc = x.clamp(-104.0, 88.8); // NaN stays NaN
    let t = xc.mul_add(std::f32::consts::LOG2_E, MAGIC);
    let n = t - MAGIC;
    let r = n.mul_add(2.121_944_4e-4, n.mul_add(-0.693_359_4, xc));
    let mut q = 1.987_569_1e-4f32;
    for c in [
        1.398_199_9e-3,
        8.333_452e-3,
        4.166_579_6e-2,
        1.666_666_5e-1,
        5.000_000_1e-1,
    ] {
        q = q.mul_add(r, c);
    }
    let k = t.to_bits() as i32 - MAGIC.to_bits() as i32;
    (q.mul_add(r * r, r), k)
}

/// `exp(x) - 1` from the same reduction: `2^k (exp(r) - 1) + (2^k - 1)`, where the first
/// term is exact scaling and `2^k - 1` is exact while it matters, so the result keeps the
/// accuracy of `exp(r) - 1` near 0 (where `exp(x) - 1` would cancel).
#[inline(always)]
fn exp_m1_f32(x: f32) -> f32 {
    let (em, k) = exp_reduced_f32(x);
    // 2^k em + 2^k - 1 = 2^k2 (2^k1 em + 2^k1 - 2^-k2), k = k1 + k2: no 2^k that overflows
    // on its own near the top of the range, and 2^k1 - 2^-k2 exact while it matters.
    let (k1, k2) = (k >> 1, k - (k >> 1));
    let pow2 = [pow2_f32(k1), pow2_f32(-k2), pow2_f32(k2)];
    scale_m1(x, em, pow2, 88.722_84, -103.972_08)
}

/// `2^k em + 2^k - 1` from `[2^k1, 2^-k2, 2^k2]`, `k = k1 + k2`, with `exp_m1`'s values past
/// `hi` (infinity), below `lo` (-1) and at ±0 (itself).
#[inline(always)]
fn scale_m1<T: Scalar>(x: T, em: T, [s1, inv_s2, s2]: [T; 3], hi: T, lo: T) -> T {
    let y = em.mul_add(s1, s1 - inv_s2) * s2;
    if x > hi {
        T::infinity()
    } else if x < lo {
        -T::one()
    } else if x == T::zero() {
        x // keeps the sign of -0
    } else {
        y
    }
}

/// n! for n <= 14, as f64 (exact: 14! < 2^53).
const FACT: [f64; 15] = {
    let mut f = [1.0; 15];
    let mut n = 1;
    while n < 15 {
        f[n] = f[n - 1] * n as f64;
        n += 1;
    }
    f
};

/// `exp(x) - 1` in f64, as [`exp_m1_f32`], with its own polynomial for `exp(r) - 1`.
#[inline(always)]
fn exp_m1_f64(x: f64) -> f64 {
    // exp's rational form of exp(r) - 1 is a few ulp off relative to itself near 0 (exp
    // adds 1 to it); the Taylor series to r^14 is within an ulp for |r| <= ln2 / 2.
    let (r, k) = reduce_ln2_f64(x);
    let mut q = 1.0 / FACT[14];
    for n in (2..14).rev() {
        q = q.mul_add(r, 1.0 / FACT[n]);
    }
    let em = (r * r).mul_add(q, r);
    let (k1, k2) = (k >> 1, k - (k >> 1));
    let pow2 = [pow2_f64(k1), pow2_f64(-k2), pow2_f64(k2)];
    scale_m1(x, em, pow2, 709.782_712_893_384, -745.133_219_101_941_2)
}

/// Cephes `exp`: x = n ln2 + r, exp(r) = 1 + 2 r P(r^2) / (Q(r^2) - r P(r^2)), 2^n in halves.
#[inline(always)]
fn exp_f64(x: f64) -> f64 {
    let (em, k) = exp_reduced_f64(x);
    let k1 = k >> 1;
    let (hi, lo) = (709.782_712_893_384, -745.133_219_101_941_2);
    scale_exp(x, em, [pow2_f64(k1), pow2_f64(k - k1)], hi, lo)
}

/// Cephes' reduction for `exp` in f64, as [`exp_reduced_f32`]: `k` and
/// `exp(r) - 1 = 2 r P(r²) / (Q(r²) - r P(r²))`.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants, as published
fn exp_reduced_f64(x: f64) -> (f64, i64) {
    let (r, k) = reduce_ln2_f64(x);
    let rr = r * r;
    let px = r * 1.261_771_930_748_105_908_78e-4
        .mul_add(rr, 3.029_944_077_074_419_613e-2)
        .mul_add(rr, 1.0);
    let qx = 3.001_985_051_386_644_550_42e-6
        .mul_add(rr, 2.524_483_403_496_841_041_92e-3)
        .mul_add(rr, 2.272_655_482_081_550_287_66e-1)
        .mul_add(rr, 2.0);
    (2.0 * px / (qx - px), k)
}

/// `x = k ln2 + r`, |r| <= ln2 / 2, in f64 (Cephes' two-part ln 2; x clamped to where `exp`
/// is finite and not zero, NaN kept).
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants, as published
fn reduce_ln2_f64(x: f64) -> (f64, i64) {
    const MAGIC: f64 = 6_755_399_441_055_744.0; // 1.5 * 2^52
    let xc = x.clamp(-745.2, 709.9); // NaN stays NaN
    let t = xc.mul_add(std::f64::consts::LOG2_E, MAGIC);
    let n = t - MAGIC;
    let r = n.mul_add(
        -1.428_606_820_309_417_232_12e-6,
        n.mul_add(-6.931_457_519_531_25e-1, xc),
    );
    (r, t.to_bits() as i64 - MAGIC.to_bits() as i64)
}

/// Cephes `tanhf`: `x + x³ P(x²)` for |x| < 0.625, else `1 - 2 / (exp(2|x|) + 1)` with
/// the sign of `x` (exp overflows to infinity past |x| = 44, which gives ±1). Both sides are
/// computed and one is selected, so a loop over it vectorizes.
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants, as published
fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let big = (1.0 - 2.0 / (exp_f32(a + a) + 1.0)).copysign(x);
    let z = x * x;
    let p = (-5.704_988_727_45e-3f32)
        .mul_add(z, 2.063_908_879_54e-2)
        .mul_add(z, -5.373_971_555_31e-2)
        .mul_add(z, 1.333_144_220_36e-1)
        .mul_add(z, -3.333_328_194_22e-1);
    let small = x.mul_add(z * p, x);
    if a >= 0.625 {
        big
    } else if x == 0.0 {
        x // keeps the sign of -0
    } else {
        small
    }
}

/// Cephes `tanh`: `x + x³ P(x²) / Q(x²)` for |x| < 0.625, else as in [`tanh_f32`].
#[inline(always)]
#[allow(clippy::excessive_precision)] // Cephes' constants, as published
fn tanh_f64(x: f64) -> f64 {
    let a = x.abs();
    let big = (1.0 - 2.0 / (exp_f64(a + a) + 1.0)).copysign(x);
    let z = x * x;
    let p = (-9.643_991_794_250_522_386_28e-1f64)
        .mul_add(z, -9.928_772_310_019_185_865_64e1)
        .mul_add(z, -1.614_687_684_417_084_479_52e3);
    let q = (z + 1.128_116_784_916_329_314_02e2)
        .mul_add(z, 2.235_488_390_601_004_485_83e3)
        .mul_add(z, 4.844_063_053_251_254_860_48e3);
    let small = x.mul_add(z * (p / q), x);
    if a >= 0.625 {
        big
    } else if x == 0.0 {
        x
    } else {
        small
    }
}

macro_rules! ln_impl {
    ($name:ident, $t:ty, $i:ty, $u:ty, $mant_bits:expr, $bias:expr, $sub_scale:expr, $sub_k:expr,
     $ln2_hi:expr, $ln2_lo:expr, [$($c:expr),*]) => {
        /// `ln` by reduction to m in [√½, √2), s = (m - 1) / (m + 1) and
        /// ln m = 2s + 2s·z·P(z), z = s², P the series of atanh (f32) or fdlibm's minimax fit
        /// of it (f64); k ln 2 added in fdlibm's two parts.
        #[inline(always)]
        #[allow(clippy::excessive_precision)]
        fn $name(x: $t) -> $t {
            let tiny = x < <$t>::MIN_POSITIVE;
            let xs = if tiny { x * $sub_scale } else { x };
            let bits = xs.to_bits() as $i;
            let mant_mask: $i = (1 << $mant_bits) - 1;
            let k0 = ((bits >> $mant_bits) & (2 * $bias + 1)) - $bias;
            let m0 = <$t>::from_bits(((bits & mant_mask) | ($bias << $mant_bits)) as $u);
            let big = m0 > std::f64::consts::SQRT_2 as $t;
            let m = if big { m0 * 0.5 } else { m0 };
            let k = (k0 + big as $i - if tiny { $sub_k } else { 0 }) as $t;
            let s = (m - 1.0) / (m + 1.0);
            let z = s * s;
            let coef: &[$t] = &[$($c),*];
            let mut p: $t = 0.0;
            for &c in coef.iter().rev() {
                p = p.mul_add(z, c);
            }
            let two_s = 2.0 * s;
            let r = k.mul_add($ln2_hi, two_s + (two_s * z).mul_add(p, k * $ln2_lo));
            if x == 0.0 {
                <$t>::NEG_INFINITY
            } else if x < 0.0 || x.is_nan() {
                <$t>::NAN
            } else if x == <$t>::INFINITY {
                x
            } else {
                r
            }
        }
    };
}

ln_impl!(
    ln_f32,
    f32,
    i32,
    u32,
    23,
    127,
    33_554_432.0,
    25,
    0.693_359_375,
    -2.121_944_4e-4,
    [1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0, 1.0 / 11.0]
);
ln_impl!(
    ln_f64,
    f64,
    i64,
    u64,
    52,
    1023,
    18_014_398_509_481_984.0,
    54,
    6.931_471_803_691_238_164_90e-1,
    1.908_214_929_270_587_700_02e-10,
    // fdlibm's minimax coefficients Lg1-Lg7 for |s| <= 0.1716 (its R(z) = s·Σ Lg_i z^i is
    // 2s·z·P(z) here, so P's are halved): 7 terms where the series needs 11.
    [
        6.666_666_666_666_735_130e-1 / 2.0,
        3.999_999_999_940_941_908e-1 / 2.0,
        2.857_142_874_366_239_149e-1 / 2.0,
        2.222_219_843_214_978_396e-1 / 2.0,
        1.818_357_216_161_805_012e-1 / 2.0,
        1.531_383_769_920_937_332e-1 / 2.0,
        1.479_819_860_511_658_591e-1 / 2.0
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    fn ulps32(a: f32, b: f32) -> i64 {
        (a.to_bits() as i64 - b.to_bits() as i64).abs()
    }

    #[test]
    fn exp_simd_f32_is_within_2_ulp() {
        let mut worst = 0;
        let mut x = -103.0f32;
        while x < 88.7 {
            let want = (x as f64).exp() as f32;
            if want.is_normal() {
                worst = worst.max(ulps32(exp_f32(x), want));
            }
            x += 0.000_37 * x.abs().max(0.1);
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert_eq!(exp_f32(89.0), f32::INFINITY);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn ln_simd_is_within_2_ulp_and_ln_1p_simd_within_3() {
        let (mut w32, mut w64, mut p32, mut p64) = (0i64, 0i64, 0i64, 0i64);
        let mut x = 1e-300f64;
        while x < 1e300 {
            let got = ln_f64(x);
            w64 = w64.max((got.to_bits() as i64 - x.ln().to_bits() as i64).abs());
            let xf = x as f32;
            if xf > 0.0 && xf.is_finite() {
                let want = (xf as f64).ln() as f32;
                w32 = w32.max(ulps32(ln_f32(xf), want));
            }
            if x < 1e30 {
                let got = x.ln_1p_simd();
                p64 = p64.max((got.to_bits() as i64 - x.ln_1p().to_bits() as i64).abs());
                let want = (xf as f64).ln_1p() as f32;
                p32 = p32.max(ulps32(xf.ln_1p_simd(), want));
            }
            x *= 1.000_37;
        }
        for x in [-0.9f64, -0.5, -1e-9, -1e-300] {
            p64 = p64.max((x.ln_1p_simd().to_bits() as i64 - x.ln_1p().to_bits() as i64).abs());
        }
        assert!(w32 <= 2 && w64 <= 2, "ln: {w32} / {w64} ulp");
        assert!(p32 <= 3 && p64 <= 3, "ln_1p: {p32} / {p64} ulp");
        assert_eq!(ln_f64(0.0), f64::NEG_INFINITY);
        assert!(ln_f64(-1.0).is_nan() && ln_f32(f32::NAN).is_nan());
        assert_eq!(ln_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(ln_f64(1.0), 0.0);
        assert_eq!((-1.0f64).ln_1p_simd(), f64::NEG_INFINITY);
        assert_eq!(f32::INFINITY.ln_1p_simd(), f32::INFINITY);
        assert!((-2.0f64).ln_1p_simd().is_nan());
        assert_eq!(1e-300f64.ln_1p_simd(), 1e-300);
    }

    #[test]
    fn ln_1p_unit_is_within_2_ulp_on_0_to_1() {
        let (mut p32, mut p64) = (0i64, 0i64);
        for i in 0..=200_000 {
            // Dense near 0 and across [0, 1].
            let x = if i % 2 == 0 {
                i as f64 / 200_000.0
            } else {
                1e-30f64.powf(i as f64 / 200_000.0)
            };
            let xf = x as f32;
            let want = ((xf as f64).ln_1p()) as f32;
            p32 = p32.max(ulps32(xf.ln_1p_unit(), want));
            p64 = p64.max((x.ln_1p_unit().to_bits() as i64 - x.ln_1p().to_bits() as i64).abs());
        }
        assert!(p32 <= 2 && p64 <= 2, "f32 {p32} ulp, f64 {p64} ulp");
        assert_eq!(0.0f32.ln_1p_unit(), 0.0);
        assert!(f64::NAN.ln_1p_unit().is_nan());
    }

    #[test]
    fn exp_m1_simd_is_within_2_ulp() {
        let (mut w32, mut w64) = (0i64, 0i64);
        // Dense near 0 (tiny and subnormal too), then out to where the result is -1 or
        // overflows, both signs.
        let mut x = 1e-310f64;
        while x < 710.0 {
            for x in [x, -x] {
                let want = x.exp_m1();
                if want.is_finite() {
                    let got = exp_m1_f64(x);
                    w64 = w64.max((got.to_bits() as i64 - want.to_bits() as i64).abs());
                }
                let xf = x as f32;
                let want = (xf as f64).exp_m1() as f32;
                if want.is_finite() {
                    w32 = w32.max(ulps32(exp_m1_f32(xf), want));
                }
            }
            x *= if x < 1e-3 { 1.01 } else { 1.000_05 };
        }
        assert!(w32 <= 2 && w64 <= 2, "f32 {w32} ulp, f64 {w64} ulp");
        assert_eq!(exp_m1_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_m1_f32(89.0), f32::INFINITY);
        assert_eq!(exp_m1_f64(f64::NEG_INFINITY), -1.0);
        assert_eq!(exp_m1_f32(-200.0), -1.0);
        assert!(exp_m1_f64(-0.0).is_sign_negative() && exp_m1_f32(-0.0).is_sign_negative());
        assert!(exp_m1_f64(f64::NAN).is_nan() && exp_m1_f32(f32::NAN).is_nan());
    }

    #[test]
    fn tanh_simd_is_within_2_ulp() {
        let (mut w32, mut w64) = (0i64, 0i64);
        // Dense near 0 (tiny and subnormal too), across the switch at 0.625 and out to
        // where tanh is ±1, both signs.
        let mut x = 1e-310f64;
        while x < 30.0 {
            for x in [x, -x] {
                let got = tanh_f64(x);
                w64 = w64.max((got.to_bits() as i64 - x.tanh().to_bits() as i64).abs());
                let xf = x as f32;
                let want = (xf as f64).tanh() as f32;
                w32 = w32.max(ulps32(tanh_f32(xf), want));
            }
            x *= if x < 1e-3 { 1.01 } else { 1.000_05 };
        }
        assert!(w32 <= 2 && w64 <= 2, "f32 {w32} ulp, f64 {w64} ulp");
        for (x, want) in [
            (0.0f64, 0.0f64),
            (f64::INFINITY, 1.0),
            (-800.0, -1.0),
            (25.0, 1.0),
        ] {
            assert_eq!(tanh_f64(x), want);
            assert_eq!(tanh_f32(x as f32), want as f32);
        }
        assert!(tanh_f64(-0.0).is_sign_negative() && tanh_f32(-0.0).is_sign_negative());
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f64(f64::NAN).is_nan() && tanh_f32(f32::NAN).is_nan());
    }

    #[test]
    fn exp_simd_f64_is_within_2_ulp() {
        let mut worst = 0i64;
        let mut x = -708.0f64;
        while x < 709.7 {
            let want = x.exp();
            let got = exp_f64(x);
            worst = worst.max((got.to_bits() as i64 - want.to_bits() as i64).abs());
            x += 0.000_7 * x.abs().max(0.01);
        }
        assert!(worst <= 2, "worst {worst} ulp");
        assert_eq!(exp_f64(f64::INFINITY), f64::INFINITY);
        assert_eq!(exp_f64(f64::NEG_INFINITY), 0.0);
        assert!(exp_f64(f64::NAN).is_nan());
        assert!(exp_f64(-740.0) > 0.0 && exp_f64(-740.0) < 1e-320);
    }
}
