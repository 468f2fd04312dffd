//! The elementwise family: two tables (each row holds an op's name, its scalar kernel and
//! its vector-Jacobian rule, with the derivative in the doc line), `powi` and `where`, with
//! their kernels, vjps, and names as the text form prints and parses them.
//!
//! Adding an elementwise op is adding one row: the enum, the kernel dispatch, the printer's
//! name and the gradient rule are generated from it. The `vjp` rules return graph nodes built
//! from the forward node's inputs `x` (or `a`, `b`), its output `y` and the cotangent `gy`,
//! so gradients are differentiable again. Broadcasting is undone by `grad`, not here.

use super::{Attr, Op};
use crate::graph::Expr;
use crate::tensor::kernels::{map2, map3, map_pieces, return_on_simd, Simd, Strided};
use crate::tensor::TensorRef;
use crate::Scalar;

macro_rules! unary_table {
    ($( $(#[doc = $doc:literal])* $V:ident = $name:literal, f: |$x:ident| $f:expr, vjp: |$vx:ident, $vy:ident, $gy:ident| $vjp:expr; )*) => {
        /// Elementwise functions of one argument.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Unary { $( $(#[doc = $doc])* $V, )* }

        impl Unary {
            /// Every unary op, in table order.
            pub const ALL: &'static [Unary] = &[$(Unary::$V),*];

            /// The name used in printed graphs and by the builder method.
            pub fn name(self) -> &'static str {
                match self { $(Unary::$V => $name,)* }
            }

            /// The op called `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some(Unary::$V),)* _ => None }
            }

            /// The scalar function.
            #[inline]
            pub fn apply<T: Scalar>(self, v: T) -> T {
                match self { $(Unary::$V => { let $x = v; $f })* }
            }

            /// `out[i] = f(a[i])`, with the match outside the loop: pieces in parallel, each
            /// a [`Unary::slice_kernel`] loop (written out in the loop, not called through a
            /// closure, so that the inlined `exp_simd`/`ln_simd` vectorize).
            pub fn kernel<T: Scalar>(self, a: &[T], out: &mut [T]) {
                map_pieces(a, out, |a, o| unary_piece(self, a, o))
            }

            /// `out[i] = f(a[i])` on this thread, for the fused kernel's short chunks. Always
            /// inlined, so that it is compiled with its caller's target features (AVX2 or
            /// AVX-512).
            #[inline(always)]
            pub fn slice_kernel<T: Scalar>(self, a: &[T], out: &mut [T]) {
                if self == Unary::Softplus {
                    return softplus_slice(a, out);
                }
                match self { $(Unary::$V => for (o, &$x) in out.iter_mut().zip(a) { *o = $f },)* }
            }

            /// The vector-Jacobian product: the cotangent of `x` given `y = f(x)` and `gy`.
            #[allow(unused_variables)]
            pub fn vjp<'g, T: Scalar>(self, x: Expr<'g, T>, y: Expr<'g, T>, gy: Expr<'g, T>) -> Option<Expr<'g, T>> {
                match self { $(Unary::$V => { let ($vx, $vy, $gy) = (x, y, gy); $vjp })* }
            }
        }
    };
}

unary_table! {
    /// `-x`; d/dx = -1.
    Neg = "neg", f: |x| -x, vjp: |x, y, gy| Some(-gy);
    /// `exp x`; d/dx = exp x = y.
    Exp = "exp", f: |x| x.exp_simd(), vjp: |x, y, gy| Some(gy * y);
    /// `log x`; d/dx = 1 / x.
    Log = "log", f: |x| x.ln_simd(), vjp: |x, y, gy| Some(gy / x);
    /// `log(1 + x)`; d/dx = 1 / (1 + x).
    Log1p = "log1p", f: |x| x.ln_1p_simd(), vjp: |x, y, gy| Some(gy / (x + 1.0));
    /// `exp(x) - 1`; d/dx = exp x = y + 1.
    Expm1 = "expm1", f: |x| x.exp_m1_simd(), vjp: |x, y, gy| Some(gy * (y + 1.0));
    /// `sqrt x`; d/dx = 1 / (2 y).
    Sqrt = "sqrt", f: |x| x.sqrt(), vjp: |x, y, gy| Some(gy / (y * 2.0));
    /// `|x|`; d/dx = sign x, so 0 at x = 0: the subgradient of least norm, which makes the minimum of `|x|` a stationary point (PyTorch's and TensorFlow's choice; JAX gives 1 there).
    Abs = "abs", f: |x| x.abs(), vjp: |x, y, gy| Some(gy * x.sign());
    /// `sign x` in {-1, 0, 1}; d/dx = 0 almost everywhere.
    Sign = "sign", f: |x| if x > T::zero() { T::one() } else if x < T::zero() { -T::one() } else { x }, vjp: |x, y, gy| None;
    /// `tanh x`; d/dx = 1 - y^2.
    Tanh = "tanh", f: |x| x.tanh_simd(), vjp: |x, y, gy| Some(gy * (1.0 - y.square()));
    /// `sin x` (radians); d/dx = cos x.
    Sin = "sin", f: |x| x.sin(), vjp: |x, y, gy| Some(gy * x.cos());
    /// `cos x` (radians); d/dx = -sin x.
    Cos = "cos", f: |x| x.cos(), vjp: |x, y, gy| Some(-(gy * x.sin()));
    /// `1 / (1 + exp(-x))` as `1 / (1 + e)` or `e / (1 + e)` with `e = exp(-|x|)` (no overflow); d/dx = y (1 - y).
    Sigmoid = "sigmoid", f: |x| { let e = (-x.abs()).exp_simd(); (if x >= T::zero() { T::one() } else { e }) / (T::one() + e) }, vjp: |x, y, gy| Some(gy * (y * (1.0 - y)));
    /// `log(1 + exp x) = max(x, 0) + log1p(exp(-|x|))`; d/dx = sigmoid x.
    Softplus = "softplus", f: |x| softplus_of(x, (-x.abs()).exp_simd()), vjp: |x, y, gy| Some(gy * x.sigmoid());
    /// `max(x, 0)` (NaN stays NaN); d/dx = `[x > 0]`, so 0 at x = 0, as JAX's `relu` (not as `maximum(x, 0)`, which splits a tie).
    Relu = "relu", f: |x| if x < T::zero() { T::zero() } else { x }, vjp: |x, y, gy| Some(gy * x.gt(0.0));
    /// The error function, `2/√π ∫₀ˣ e^(-t²) dt` (Cody's approximations, computed in f64); d/dx = 2/√π e^(-x²).
    Erf = "erf", f: |x| T::from_f64(super::special::erf(x.to_f64_lossless())), vjp: |x, y, gy| Some(gy * (-x.square()).exp() * std::f64::consts::FRAC_2_SQRT_PI);
    /// `1 - erf(x)`, computed directly in its tail (`erfc(10) ≈ 2.1e-45`, not 0); d/dx = -2/√π e^(-x²).
    Erfc = "erfc", f: |x| T::from_f64(super::special::erfc(x.to_f64_lossless())), vjp: |x, y, gy| Some(gy * (-x.square()).exp() * -std::f64::consts::FRAC_2_SQRT_PI);
    /// `log |Γ(x)|` (musl's `lgamma`, in f64); d/dx = digamma x.
    Lgamma = "lgamma", f: |x| T::from_f64(super::special::lgamma(x.to_f64_lossless())), vjp: |x, y, gy| Some(gy * x.digamma());
    /// The digamma function `ψ(x) = d/dx log Γ(x)` (in f64; NaN at 0, -1, -2, ...); d/dx = trigamma x = `polygamma[1](x)`.
    Digamma = "digamma", f: |x| T::from_f64(super::special::digamma(x.to_f64_lossless())), vjp: |x, y, gy| Some(gy * x.polygamma(1));
    /// `x` itself, but a constant to `grad`: no cotangent flows through it, at any order (JAX's `stop_gradient`, Theano's `zero_grad`). The rewriting compile removes it once the gradient is built.
    StopGradient = "stop_gradient", f: |x| x, vjp: |x, y, gy| None;
}

macro_rules! binary_table {
    ($( $(#[doc = $doc:literal])* $V:ident = $name:literal $(($sym:literal))?, f: |$a:ident, $b:ident| $f:expr,
        vjp: |$va:ident, $vb:ident, $vy:ident, $gy:ident| ($da:expr, $db:expr); )*) => {
        /// Elementwise functions of two arguments, with numpy broadcasting.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum Binary { $( $(#[doc = $doc])* $V, )* }

        impl Binary {
            /// Every binary op, in table order.
            pub const ALL: &'static [Binary] = &[$(Binary::$V),*];

            /// The name used in printed graphs.
            pub fn name(self) -> &'static str {
                match self { $(Binary::$V => $name,)* }
            }

            /// The op called `name`.
            pub fn from_name(name: &str) -> Option<Self> {
                match name { $($name => Some(Binary::$V),)* _ => None }
            }

            /// The infix symbol, for the ops printed infix.
            pub fn infix(self) -> Option<&'static str> {
                match self { $(Binary::$V => { None::<&'static str> $(.or(Some($sym)))? })* }
            }

            /// The scalar function.
            #[inline]
            pub fn apply<T: Scalar>(self, va: T, vb: T) -> T {
                match self { $(Binary::$V => { let ($a, $b) = (va, vb); $f })* }
            }

            /// The kernel call: `out = f(a, b)`, both operands broadcast to `out_shape`.
            pub fn eval<T: Scalar>(self, ins: &[TensorRef<'_, T>], out: &mut [T], out_shape: &[usize]) {
                let sa = Strided::broadcast(ins[0].data, ins[0].shape, out_shape);
                let sb = Strided::broadcast(ins[1].data, ins[1].shape, out_shape);
                self.kernel(&sa, &sb, out, out_shape)
            }

            /// `out = f(a, b)` over broadcast operands, with the match outside the loop.
            pub fn kernel<T: Scalar>(self, a: &Strided<'_, T>, b: &Strided<'_, T>, out: &mut [T], out_shape: &[usize]) {
                match self { $(Binary::$V => map2(out, out_shape, a, b, |$a: T, $b: T| $f),)* }
            }

            /// `out = f(a, b)` on this thread over a chunk, each operand a slice or one value.
            #[inline(always)]
            pub fn slice_kernel<T: Scalar>(self, a: Operand<'_, T>, b: Operand<'_, T>, out: &mut [T]) {
                match self { $(Binary::$V => match (a, b) {
                    (Operand::Slice(a), Operand::Slice(b)) => for ((o, &$a), &$b) in out.iter_mut().zip(a).zip(b) { *o = $f },
                    (Operand::Slice(a), Operand::Value($b)) => for (o, &$a) in out.iter_mut().zip(a) { *o = $f },
                    (Operand::Value($a), Operand::Slice(b)) => for (o, &$b) in out.iter_mut().zip(b) { *o = $f },
                    (Operand::Value($a), Operand::Value($b)) => { let v = $f; out.fill(v) }
                },)* }
            }

            /// The cotangents of `a` and `b` (each built only if `needs` asks for it), at the
            /// output's shape: `grad` sums them back to the inputs' shapes.
            #[allow(unused_variables)]
            pub fn vjp<'g, T: Scalar>(self, a: Expr<'g, T>, b: Expr<'g, T>, y: Expr<'g, T>, gy: Expr<'g, T>, needs: [bool; 2])
                -> [Option<Expr<'g, T>>; 2] {
                match self { $(Binary::$V => {
                    let ($va, $vb, $vy, $gy) = (a, b, y, gy);
                    [if needs[0] { $da } else { None }, if needs[1] { $db } else { None }]
                })* }
            }
        }
    };
}

/// `u` over one piece, compiled for [`Simd::detected`]'s instructions.
fn unary_piece<T: Scalar>(u: Unary, a: &[T], out: &mut [T]) {
    unary_piece_for(Simd::detected(), u, a, out)
}

/// `u` over one piece at level `simd` (capped at what the processor has), the loop with its
/// `exp_simd`/`ln_simd` compiled for that level's features.
fn unary_piece_for<T: Scalar>(simd: Simd, u: Unary, a: &[T], out: &mut [T]) {
    return_on_simd!(
        simd,
        fn run<T: Scalar>(u: Unary, a: &[T], out: &mut [T]) {
            u.slice_kernel(a, out)
        },
        (u, a, out)
    );
    u.slice_kernel(a, out)
}

/// `softplus x` given `e = exp(-|x|)`: `max(x, 0) + log1p(e)` (NaN stays NaN).
#[inline(always)]
fn softplus_of<T: Scalar>(x: T, e: T) -> T {
    if x.is_nan() {
        x
    } else {
        x.max(T::zero()) + e.ln_1p_unit()
    }
}

/// Elements per block of [`softplus_slice`]'s two loops.
const SOFTPLUS_BLOCK: usize = 256;

/// `out[i] = softplus(a[i])`, bit for bit the table's function, in blocks of two loops:
/// `exp(-|x|)` into a stack buffer, then `max(x, 0) + log1p(e)`. One loop doing both needs
/// the constants of `exp_simd` and the 16 coefficients of `ln_1p_unit` at once, more than
/// AVX2's 16 vector registers; split, it runs faster (10^6 elements, 2 threads: f64 2.67 →
/// 1.67 ms, f32 0.64 → 0.56 ms; `cargo bench --bench elementwise -- softplus`,
/// docs/PERFORMANCE.md).
#[inline(always)]
fn softplus_slice<T: Scalar>(a: &[T], out: &mut [T]) {
    let mut e = [T::zero(); SOFTPLUS_BLOCK];
    for (o, a) in out.chunks_mut(SOFTPLUS_BLOCK).zip(a.chunks(SOFTPLUS_BLOCK)) {
        let e = &mut e[..a.len()];
        for (e, &x) in e.iter_mut().zip(a) {
            *e = (-x.abs()).exp_simd();
        }
        for ((o, &x), &e) in o.iter_mut().zip(a).zip(e.iter()) {
            *o = softplus_of(x, e);
        }
    }
}

/// One operand of a chunk kernel: a slice as long as the output, or one value for all.
#[derive(Clone, Copy, Debug)]
pub enum Operand<'a, T> {
    /// One value per output element.
    Slice(&'a [T]),
    /// The same value for every element.
    Value(T),
}

fn flag<T: Scalar>(c: bool) -> T {
    if c {
        T::one()
    } else {
        T::zero()
    }
}

binary_table! {
    /// `a + b`; d/da = 1, d/db = 1.
    Add = "add" ("+"), f: |a, b| a + b, vjp: |a, b, y, gy| (Some(gy), Some(gy));
    /// `a - b`; d/da = 1, d/db = -1.
    Sub = "sub" ("-"), f: |a, b| a - b, vjp: |a, b, y, gy| (Some(gy), Some(-gy));
    /// `a * b`; d/da = b, d/db = a.
    Mul = "mul" ("*"), f: |a, b| a * b, vjp: |a, b, y, gy| (Some(gy * b), Some(gy * a));
    /// `a / b`; d/da = 1 / b, d/db = -a / b^2 = -y / b.
    Div = "div" ("/"), f: |a, b| a / b, vjp: |a, b, y, gy| (Some(gy / b), Some(-(gy * y) / b));
    /// `a ^ b`; d/da = b a^(b-1), d/db = y log a, taken as 0 at a = 0 (`log` of 1 there, JAX's rule): `0 ^ b` is flat in b for b > 0, where `y log a` would be 0 · -∞ = NaN.
    Pow = "pow" ("^"), f: |a, b| a.powf(b), vjp: |a, b, y, gy| (Some(gy * (b * a.pow(b - 1.0))), Some(gy * (y * a.equal(0.0).select(1.0, a).log())));
    /// `max(a, b)` (NaN propagates); d/da = `[a > b] + ½[a = b]`, d/db = `[a < b] + ½[a = b]`: a tie splits the gradient evenly, as JAX does and as the `max` reduction shares it between equal maxima, so `maximum(a, b)` and `maximum(b, a)` have one gradient; with a NaN, neither gets any.
    Maximum = "maximum", f: |a, b| if a >= b || a.is_nan() { a } else { b }, vjp: |a, b, y, gy| (Some(gy * ((a.ge(b) + a.gt(b)) * 0.5)), Some(gy * ((a.le(b) + a.lt(b)) * 0.5)));
    /// `min(a, b)` (NaN propagates); d/da = `[a < b] + ½[a = b]`, d/db = `[a > b] + ½[a = b]`: a tie splits the gradient evenly, as for `maximum`.
    Minimum = "minimum", f: |a, b| if a <= b || a.is_nan() { a } else { b }, vjp: |a, b, y, gy| (Some(gy * ((a.le(b) + a.lt(b)) * 0.5)), Some(gy * ((a.ge(b) + a.gt(b)) * 0.5)));
    /// `[a > b]` as 1 or 0; no gradient.
    Gt = "gt" (">"), f: |a, b| flag::<T>(a > b), vjp: |a, b, y, gy| (None, None);
    /// `[a >= b]`; no gradient.
    Ge = "ge" (">="), f: |a, b| flag::<T>(a >= b), vjp: |a, b, y, gy| (None, None);
    /// `[a < b]`; no gradient.
    Lt = "lt" ("<"), f: |a, b| flag::<T>(a < b), vjp: |a, b, y, gy| (None, None);
    /// `[a <= b]`; no gradient.
    Le = "le" ("<="), f: |a, b| flag::<T>(a <= b), vjp: |a, b, y, gy| (None, None);
    /// `[a == b]`; no gradient.
    Eq = "eq" ("=="), f: |a, b| flag::<T>(a == b), vjp: |a, b, y, gy| (None, None);
    /// `[a != b]`; no gradient.
    Ne = "ne" ("!="), f: |a, b| flag::<T>(a != b), vjp: |a, b, y, gy| (None, None);
}

/// `x^n` for integer `n` by binary powering, in the order of compiler-rt's `__powidf2`
/// (what `powi` calls when `n` is not a constant): the result is the product of the
/// repeated squares `x, x², x⁴, ...` that the bits of |n| select, lowest first, and its
/// reciprocal when `n < 0`; `x^0 = 1` even for NaN.
#[inline(always)]
pub fn powi<T: Scalar>(x: T, n: i32) -> T {
    let mut out = [T::zero()];
    powi_chunk(&[x], &mut out, n, &mut [T::zero()]);
    out[0]
}

/// [`powi`] over a slice, the bit loop outside and each step one loop over the elements (so
/// they vectorize), in chunks that stay in L1. Every element gets exactly [`powi`]'s
/// operations, so the results agree bit for bit.
#[inline(always)]
pub fn powi_slice<T: Scalar>(a: &[T], out: &mut [T], n: i32) {
    const CHUNK: usize = 256;
    debug_assert_eq!(a.len(), out.len());
    // The common exponents in one loop each, with the operations binary powering does for
    // them (so the same bits), and no scratch (the fused kernel calls this per chunk).
    match n {
        0 => return out.fill(T::one()),
        1 => return out.copy_from_slice(a),
        2 => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = x * x;
            }
            return;
        }
        -1 => {
            for (o, &x) in out.iter_mut().zip(a) {
                *o = T::one() / x;
            }
            return;
        }
        _ => {}
    }
    let mut squares = [T::zero(); CHUNK];
    for (a, out) in a.chunks(CHUNK).zip(out.chunks_mut(CHUNK)) {
        powi_chunk(a, out, n, &mut squares);
    }
}

/// One chunk of [`powi_slice`]; `squares` is scratch at least as long as `a`.
#[inline(always)]
fn powi_chunk<T: Scalar>(a: &[T], out: &mut [T], n: i32, squares: &mut [T]) {
    let p = &mut squares[..a.len()];
    p.copy_from_slice(a);
    let mut bits = n.unsigned_abs();
    // `r = 1` before the first selected square would make its product `1 * p = p`, exactly
    // p, so the first one is copied instead.
    let mut started = false;
    while bits != 0 {
        if bits & 1 == 1 {
            if started {
                for (o, &q) in out.iter_mut().zip(p.iter()) {
                    *o *= q;
                }
            } else {
                out.copy_from_slice(p);
                started = true;
            }
        }
        bits >>= 1;
        if bits != 0 {
            for q in p.iter_mut() {
                *q = *q * *q;
            }
        }
    }
    if !started {
        out.fill(T::one());
    } else if n < 0 {
        for o in out.iter_mut() {
            *o = T::one() / *o;
        }
    }
}

/// `x^n`, integer `n`; d/dx = n x^(n-1).
pub fn powi_vjp<'g, T: Scalar>(x: Expr<'g, T>, n: i32, gy: Expr<'g, T>) -> Option<Expr<'g, T>> {
    match n {
        0 => None,
        1 => Some(gy),
        2 => Some(gy * (x * 2.0)),
        _ => Some(gy * (x.powi(n - 1) * n as f64)),
    }
}

/// `polygamma[n]`'s vjp: `gy * polygamma[n + 1](x)`, so every order is a graph.
/// (Past [`MAX_POLYGAMMA`] every value is NaN, so the order saturates rather than wraps.)
pub fn polygamma_vjp<'g, T: Scalar>(x: Expr<'g, T>, n: u32, gy: Expr<'g, T>) -> Expr<'g, T> {
    gy * x.polygamma(n.saturating_add(1))
}

/// `polygamma[n]` kernel (in f64, [`super::special::polygamma`]), in pieces split between
/// threads.
pub fn polygamma_eval<T: Scalar>(a: &[T], out: &mut [T], n: u32) {
    map_pieces(a, out, |a, o| {
        for (o, &x) in o.iter_mut().zip(a) {
            *o = T::from_f64(super::special::polygamma(n, x.to_f64_lossless()));
        }
    })
}

/// `polygamma`'s order from a call of the text form: `polygamma[1](x)`, 1 or more (order 0
/// is `digamma(x)`); orders above [`MAX_POLYGAMMA`] parse, and compute NaN.
pub fn polygamma_from_call(attrs: Option<&[Attr]>) -> Result<u32, String> {
    match attrs {
        Some([Attr::Int(n)]) if *n >= 1 && *n <= u32::MAX as usize => Ok(*n as u32),
        _ => Err(format!(
            "`polygamma` takes its order, 1 to {}, in brackets: `polygamma[1](x)` (order 0 is \
             `digamma(x)`)",
            u32::MAX
        )),
    }
}

/// The highest order of `polygamma` computed: past it `n!` leaves f64's range, and the
/// values are NaN.
pub const MAX_POLYGAMMA: u32 = 170;

/// `powi` kernel: `out = a^n`, in pieces split between threads.
pub fn powi_eval<T: Scalar>(a: &[T], out: &mut [T], n: i32) {
    map_pieces(a, out, |a, o| powi_slice(a, o, n))
}

/// `powi` as printed: `powi[3]`.
pub fn powi_call_head(n: i32) -> String {
    format!("powi[{n}]")
}

/// `powi`'s exponent from a call of the text form: `powi[3](x)`, `powi[-2](x)`.
pub fn powi_from_call(attrs: Option<&[Attr]>) -> Result<i32, String> {
    match attrs {
        Some([Attr::Int(n)]) if *n <= i32::MAX as usize => Ok(*n as i32),
        Some([Attr::NegInt(n)]) if *n <= i32::MAX as usize => Ok(-(*n as i32)),
        Some([a @ (Attr::Int(n) | Attr::NegInt(n))]) => {
            let sign = if matches!(a, Attr::NegInt(_)) {
                "-"
            } else {
                ""
            };
            Err(format!(
                "`powi`'s exponent {sign}{n} is out of range: at most {} either way",
                i32::MAX
            ))
        }
        _ => Err("`powi` takes its exponent in brackets: `powi[3](x)`".into()),
    }
}

/// The elementwise op a call of the text form names (`None` if the name is not of this
/// family): the unary and binary tables' names, `where`, `powi[n]`.
pub fn from_call<T>(name: &str, attrs: Option<&[Attr]>) -> Option<Result<Op<T>, String>> {
    let plain = |op: Op<T>| match attrs {
        Some(_) => Err(format!("`{name}` takes no bracketed attributes")),
        None => Ok(op),
    };
    if let Some(u) = Unary::from_name(name) {
        return Some(plain(Op::Unary(u)));
    }
    if let Some(b) = Binary::from_name(name) {
        return Some(plain(Op::Binary(b)));
    }
    match name {
        "where" => Some(plain(Op::Where)),
        "powi" => Some(powi_from_call(attrs).map(Op::Powi)),
        "polygamma" => Some(polygamma_from_call(attrs).map(Op::Polygamma)),
        _ => None,
    }
}

/// `where(c, a, b)` kernel: `a` where `c` is not 0, else `b`, all three broadcast.
pub fn where_eval<T: Scalar>(ins: &[TensorRef<'_, T>], out: &mut [T], out_shape: &[usize]) {
    let [c, a, b] = [0, 1, 2].map(|k| Strided::broadcast(ins[k].data, ins[k].shape, out_shape));
    map3(out, out_shape, &c, &a, &b, |c, a, b| {
        if c != T::zero() {
            a
        } else {
            b
        }
    })
}

/// `where(c, a, b)`: d/da = [c != 0], d/db = [c == 0], none for `c`. The cotangents are
/// selected, not multiplied, so an infinity in `gy` never meets a 0 from the mask.
pub fn where_vjp<'g, T: Scalar>(
    c: Expr<'g, T>,
    gy: Expr<'g, T>,
    needs: [bool; 2],
) -> [Option<Expr<'g, T>>; 2] {
    [
        needs[0].then(|| c.select(gy, 0.0)),
        needs[1].then(|| c.select(0.0, gy)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every unary kernel, over a slice long enough to be split into parallel pieces and
    /// (softplus) into blocks with a short last one, gives `apply`'s bits, specials included.
    fn kernels_match_apply<T: Scalar>() {
        let specials = [0.0, -0.0, 1.0, -1.0, 30.0, -30.0, 1e-30, 100.0, -100.0];
        let xs: Vec<T> = specials
            .into_iter()
            .chain([f64::INFINITY, f64::NEG_INFINITY, f64::NAN])
            .chain((0..70_000).map(|i| (i as f64 * 0.37).sin() * 12.0))
            .map(T::from_f64)
            .collect();
        let mut out = vec![T::zero(); xs.len()];
        let check = |u: Unary, out: &[T], how: &str| {
            for (&x, &got) in xs.iter().zip(out) {
                let want = u.apply(x);
                assert!(
                    got.to_f64_lossless().to_bits() == want.to_f64_lossless().to_bits()
                        || got.is_nan() && want.is_nan(),
                    "{}({x:?}) in {} ({how}): kernel {got:?}, apply {want:?}",
                    u.name(),
                    T::NAME
                );
            }
        };
        for &u in Unary::ALL {
            u.kernel(&xs, &mut out);
            check(u, &out, "parallel");
            // Each instruction set this processor has, on one thread.
            for simd in Simd::available() {
                out.fill(T::zero());
                unary_piece_for(simd, u, &xs, &mut out);
                check(u, &out, simd.name());
            }
        }
    }

    #[test]
    fn unary_kernels_give_the_scalar_functions_bits() {
        kernels_match_apply::<f32>();
        kernels_match_apply::<f64>();
    }

    /// compiler-rt's `__powidf2`, written out: the order `powi` promises.
    fn reference(mut a: f64, n: i32) -> f64 {
        let mut b = n;
        let mut r = 1.0;
        loop {
            if b & 1 != 0 {
                r *= a;
            }
            b /= 2;
            if b == 0 {
                break;
            }
            a *= a;
        }
        if n < 0 {
            1.0 / r
        } else {
            r
        }
    }

    #[test]
    fn powi_follows_binary_powering_bit_for_bit_and_the_slice_form_agrees() {
        let xs: Vec<f64> = [
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.3,
            -1.7,
            3.1,
            1e-160,
            -2e155,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ]
        .into_iter()
        .chain((0..600).map(|i| (i as f64 * 0.37).sin() * 4.0))
        .collect();
        for n in (-40..=40).chain([i32::MAX, i32::MIN, 1 << 20]) {
            let mut out = vec![0.0; xs.len()];
            powi_slice(&xs, &mut out, n);
            for (&x, &got) in xs.iter().zip(&out) {
                let want = reference(x, n);
                let one = powi(x, n);
                assert!(
                    got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan(),
                    "{x}^{n}: {got} != {want}"
                );
                assert!(one.to_bits() == got.to_bits() || one.is_nan() && got.is_nan());
                // And it is the standard library's `powi` up to rounding.
                let std = x.powi(n);
                assert!(
                    got == std
                        || got.is_nan() && std.is_nan()
                        || (got - std).abs() <= 1e-13 * std.abs(),
                    "{x}^{n}: {got} against std's {std}"
                );
            }
        }
        let xf: Vec<f32> = xs.iter().map(|&x| x as f32).collect();
        let mut out = vec![0f32; xf.len()];
        powi_slice(&xf, &mut out, -3);
        for (&x, &got) in xf.iter().zip(&out) {
            let want = 1.0 / (x * (x * x));
            assert!(got.to_bits() == want.to_bits() || got.is_nan() && want.is_nan());
        }
    }
}
