//! Ops of your own: the [`CustomOp`] trait (shape rule, kernel over slices for any
//! [`Scalar`], vector-Jacobian rule built from graph nodes), the registry that lets the text
//! form parse a registered op back, and the two gradient overrides built on it:
//! `custom_gradient` (JAX's `custom_vjp`: any subgraph's gradient replaced by a rule of your
//! choosing) and `clip_gradient`.
//!
//! An op of your own is a node like any other: it is hashed and merged by name and
//! attributes, printed as `name[attrs](args)`, shown by `explain`, differentiated through its
//! rule (which builds graph nodes, so its gradient can be differentiated again), and checked
//! by `check_gradient`. It is not fused (fusion knows only the built-in elementwise ops) and
//! no rewrite rule looks inside it.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::sync::{Arc, RwLock};

use crate::graph::{Dim, Expr, SymShape};
use crate::tensor::TensorRef;
use crate::Scalar;

/// A primitive op of your own. Implement it generically over `T: Scalar` to have it in f32
/// and f64 alike.
///
/// ```
/// use symgrad::graph::{Dim, Expr, Graph, SymShape};
/// use symgrad::dims;
/// use symgrad::ops::CustomOp;
/// use symgrad::tensor::TensorRef;
/// use symgrad::Scalar;
///
/// /// `x³` with its own kernel and rule (the built-in `powi` does the same).
/// struct Cube;
///
/// impl<T: Scalar> CustomOp<T> for Cube {
///     fn name(&self) -> &'static str {
///         "cube"
///     }
///     fn arity(&self) -> usize {
///         1
///     }
///     fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
///         Ok(ins[0].iter().copied().collect())
///     }
///     fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _shape: &[usize]) {
///         for (o, &x) in out.iter_mut().zip(ins[0].data) {
///             *o = x * x * x;
///         }
///     }
///     fn vjp<'g>(
///         &self,
///         x: &[Expr<'g, T>],
///         _y: Expr<'g, T>,
///         gy: Expr<'g, T>,
///         _needs: &[bool],
///     ) -> Vec<Option<Expr<'g, T>>> {
///         vec![Some(gy * x[0].square() * 3.0)]
///     }
/// }
///
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![3]);
/// let cost = x.custom(Cube, &[]).sum_all();
/// let dx = symgrad::grad(cost, &[x])[0].unwrap();
/// assert_eq!(g.expr_text(&[cost.id()]), "sum[0](cube(x))");
/// let v = symgrad::TensorRef::new(&[3], &[1.0, 2.0, -1.0]);
/// assert_eq!(cost.eval(&[(x, v)]).unwrap().data(), [8.0]);
/// assert_eq!(dx.eval(&[(x, v)]).unwrap().data(), [3.0, 12.0, 3.0]);
/// ```
pub trait CustomOp<T>: Send + Sync {
    /// The name the text form prints and parses (an identifier, not one of the built-in
    /// ops' names).
    fn name(&self) -> &'static str;

    /// The attributes as printed in brackets after the name (empty: none). Two ops of the
    /// same name are the same op when their attributes are equal, so the attributes must
    /// say everything that changes the op's values.
    fn attrs(&self) -> String {
        String::new()
    }

    /// The number of inputs.
    fn arity(&self) -> usize;

    /// The output's shape from the inputs', or why they do not fit (one line).
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String>;

    /// Computes the op into `out` (row-major, of shape `out_shape`). The inputs have shapes
    /// that passed [`CustomOp::infer_shape`]; `out` aliases none of them.
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], out_shape: &[usize]);

    /// The vector-Jacobian rule: for each input, its cotangent as graph nodes (or `None`
    /// for none), given the inputs `x`, the output `y` and its cotangent `gy`. Only the
    /// inputs that `needs` marks are used. A cotangent may come at a broadcast shape: it is
    /// summed back to its input's shape.
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        needs: &[bool],
    ) -> Vec<Option<Expr<'g, T>>>
    where
        T: Scalar;

    /// Whether the op's value is its first input's (a marker that only changes gradients,
    /// like `clip_gradient`): the compiler then removes it once every gradient is built, as
    /// it removes `stop_gradient`, so it costs nothing at run time.
    fn is_identity(&self) -> bool {
        false
    }

    /// Whether `other` is the same op. The default compares names and attributes; an op
    /// carrying a closure compares identities instead.
    fn same(&self, other: &dyn CustomOp<T>) -> bool {
        self.name() == other.name() && self.attrs() == other.attrs()
    }
}

/// An op of your own in a graph node: [`CustomOp`] behind an `Arc`, with the equality and
/// hashing a node needs.
#[derive(Clone)]
pub struct Custom<T>(pub Arc<dyn CustomOp<T>>);

impl<T> Custom<T> {
    /// The call as printed: `name` or `name[attrs]`.
    pub fn call_head(&self) -> String {
        let a = self.0.attrs();
        if a.is_empty() {
            self.0.name().to_string()
        } else {
            format!("{}[{a}]", self.0.name())
        }
    }

    pub(crate) fn hash<H: Hasher>(&self, h: &mut H) {
        self.0.name().hash(h);
        self.0.attrs().hash(h);
    }
}

impl<T> PartialEq for Custom<T> {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0.same(other.0.as_ref())
    }
}

impl<T> fmt::Debug for Custom<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Custom({})", self.call_head())
    }
}

type Registry = HashMap<(TypeId, &'static str), Box<dyn Any + Send + Sync>>;

fn registry() -> &'static RwLock<Registry> {
    static R: std::sync::OnceLock<RwLock<Registry>> = std::sync::OnceLock::new();
    R.get_or_init(|| RwLock::new(HashMap::new()))
}

/// Registers an op with the text form's parser (for graphs of element type `T`), so that
/// `name(args)` parses as this op, and what prints it reads back. Ops with attributes parse
/// back when [`CustomOp::attrs`] is empty; others print but do not parse. Registering a name
/// again replaces the op; a built-in name is refused.
///
/// ```
/// use std::sync::Arc;
/// use symgrad::ops::{register, Erf};
/// register::<f64>(Arc::new(Erf)).unwrap();
/// let p = symgrad::graph::parse::<f64>("input x: [2]\nout erf(x)").unwrap();
/// assert_eq!(p.graph.expr_text(&p.outputs), "erf(x)");
/// assert!(register::<f64>(Arc::new(symgrad::ops::ClipGradient { lo: -1.0, hi: 1.0 })).is_err());
/// ```
pub fn register<T: Scalar>(op: Arc<dyn CustomOp<T>>) -> Result<(), String> {
    let name = op.name();
    let mut probe = |_: &str| crate::graph::SymId(0);
    if super::Op::<T>::builtin_call(name, None, 1, &mut probe).is_some() {
        return Err(format!(
            "`{name}` is a built-in op; give yours another name"
        ));
    }
    if !op.attrs().is_empty() || op.is_identity() {
        return Err(format!(
            "`{name}` has attributes or only marks gradients: it cannot be read back from text"
        ));
    }
    registry()
        .write()
        .unwrap_or_else(|e| e.into_inner())
        .insert((TypeId::of::<T>(), name), Box::new(op));
    Ok(())
}

/// The registered op called `name` for element type `T`.
pub(crate) fn lookup<T: Scalar>(name: &str) -> Option<Arc<dyn CustomOp<T>>> {
    let r = registry().read().unwrap_or_else(|e| e.into_inner());
    let key = r.keys().find(|k| k.0 == TypeId::of::<T>() && k.1 == name)?;
    r.get(key)?.downcast_ref::<Arc<dyn CustomOp<T>>>().cloned()
}

/// The shape of an elementwise op of one input: the input's.
fn same_shape(ins: &[&[Dim]]) -> Result<SymShape, String> {
    Ok(ins[0].iter().copied().collect())
}

/// The error function `erf(x) = 2/√π ∫₀ˣ e^(-t²) dt`, an op of one's own as the tutorial
/// adds it: a kernel (W. J. Cody's rational approximations, to about 1 ulp in f64) and the
/// rule `d erf(x) = 2/√π e^(-x²) dx`, which is built from graph nodes and so has a second
/// derivative. Used for an exact GELU (`x Φ(x)`, `Φ(x) = (1 + erf(x/√2))/2`) or a probit
/// likelihood.
///
/// ```
/// use symgrad::graph::Graph;
/// use symgrad::ops::Erf;
/// let g = Graph::<f64>::new();
/// let x = g.input("x", symgrad::dims![3]);
/// let y = x.custom(Erf, &[]);
/// let v = symgrad::TensorRef::new(&[3], &[0.0, 0.5, -2.0]);
/// let out = y.eval(&[(x, v)]).unwrap();
/// assert!((out.data()[1] - 0.520_499_877_813_046_5).abs() < 1e-15);
/// assert!((out.data()[2] + 0.995_322_265_018_952_7).abs() < 1e-15);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Erf;

impl<T: Scalar> CustomOp<T> for Erf {
    fn name(&self) -> &'static str {
        "erf"
    }
    fn arity(&self) -> usize {
        1
    }
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        same_shape(ins)
    }
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _: &[usize]) {
        for (o, &x) in out.iter_mut().zip(ins[0].data) {
            *o = T::from_f64(erf(x.to_f64_lossless()));
        }
    }
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        _: Expr<'g, T>,
        gy: Expr<'g, T>,
        _: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        let two_over_sqrt_pi = std::f64::consts::FRAC_2_SQRT_PI;
        vec![Some(gy * (-x[0].square()).exp() * two_over_sqrt_pi)]
    }
}

/// `erf(x)` in f64 by W. J. Cody's rational Chebyshev approximations ("Rational Chebyshev
/// approximation for the error function", Math. Comp. 1969), as in his CALERF: three ranges,
/// `|x| < 0.5`, `0.5 ≤ |x| < 4`, `|x| ≥ 4`; relative error below 1e-15 (checked against
/// reference values in the tests).
pub fn erf(x: f64) -> f64 {
    if x.is_nan() {
        return x;
    }
    let ax = x.abs();
    // erfc(6) < 2.2e-17, below half an ulp of 1: erf is ±1 in f64 from here (and the
    // exponential's split below would meet inf - inf at infinity).
    if ax >= 6.0 {
        return 1f64.copysign(x);
    }
    if ax < 0.5 {
        const A: [f64; 5] = [
            3.161_123_743_870_565_6,
            113.864_154_151_050_16,
            377.485_237_685_302_1,
            3_209.377_589_138_469_5,
            0.185_777_706_184_603_15,
        ];
        const B: [f64; 4] = [
            23.601_290_952_344_122,
            244.024_637_934_444_17,
            1_282.616_526_077_372_3,
            2_844.236_833_439_171,
        ];
        let z = x * x;
        let mut num = A[4] * z;
        let mut den = z;
        for i in 0..3 {
            num = (num + A[i]) * z;
            den = (den + B[i]) * z;
        }
        return x * (num + A[3]) / (den + B[3]);
    }
    let erfc = if ax < 4.0 {
        const C: [f64; 9] = [
            0.564_188_496_988_670_1,
            8.883_149_794_388_376,
            66.119_190_637_141_63,
            298.635_138_197_400_1,
            881.952_221_241_769,
            1_712.047_612_634_070_7,
            2_051.078_377_826_071_6,
            1_230.339_354_797_997_2,
            2.153_115_354_744_038_3e-8,
        ];
        const D: [f64; 8] = [
            15.744_926_110_709_835,
            117.693_950_891_312_5,
            537.181_101_862_009_9,
            1_621.389_574_566_690_3,
            3_290.799_235_733_459_7,
            4_362.619_090_143_247,
            3_439.367_674_143_721_6,
            1_230.339_354_803_749_5,
        ];
        let mut num = C[8] * ax;
        let mut den = ax;
        for i in 0..7 {
            num = (num + C[i]) * ax;
            den = (den + D[i]) * ax;
        }
        (num + C[7]) / (den + D[7]) * exp_neg_square(ax)
    } else {
        const P: [f64; 6] = [
            0.305_326_634_961_232_36,
            0.360_344_899_949_804_45,
            0.125_781_726_111_229_26,
            0.016_083_785_148_742_275,
            6.587_491_615_298_378e-4,
            0.016_315_387_137_302_097,
        ];
        const Q: [f64; 5] = [
            2.568_520_192_289_822,
            1.872_952_849_923_460_4,
            0.527_905_102_951_428_4,
            0.060_518_341_312_441_32,
            0.002_335_204_976_268_691_8,
        ];
        let z = 1.0 / (ax * ax);
        let mut num = P[5] * z;
        let mut den = z;
        for i in 0..4 {
            num = (num + P[i]) * z;
            den = (den + Q[i]) * z;
        }
        let r = z * (num + P[4]) / (den + Q[4]);
        let frac_1_sqrt_pi = 0.5 * std::f64::consts::FRAC_2_SQRT_PI;
        (frac_1_sqrt_pi - r) / ax * exp_neg_square(ax)
    };
    let e = 1.0 - erfc;
    if x < 0.0 {
        -e
    } else {
        e
    }
}

/// `exp(-x²)` with x² split into a part exact in f64 and a small rest, as Cody does, so
/// that the rounding of x² is not multiplied by x² in the result.
fn exp_neg_square(x: f64) -> f64 {
    let hi = (x * 16.0).trunc() / 16.0;
    let lo = (x - hi) * (x + hi);
    (-hi * hi).exp() * (-lo).exp()
}

/// `clip_gradient(x, lo, hi)`: the value of `x`, with the cotangent that passes through it
/// clipped to `[lo, hi]` elementwise. Removed from the compiled program once the gradient is
/// built (its value costs nothing).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ClipGradient {
    /// The least cotangent passed on.
    pub lo: f64,
    /// The greatest cotangent passed on.
    pub hi: f64,
}

impl<T: Scalar> CustomOp<T> for ClipGradient {
    fn name(&self) -> &'static str {
        "clip_gradient"
    }
    fn attrs(&self) -> String {
        format!("lo={}, hi={}", self.lo, self.hi)
    }
    fn arity(&self) -> usize {
        1
    }
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        same_shape(ins)
    }
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _: &[usize]) {
        out.copy_from_slice(ins[0].data);
    }
    fn vjp<'g>(
        &self,
        _: &[Expr<'g, T>],
        _: Expr<'g, T>,
        gy: Expr<'g, T>,
        _: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        vec![Some(gy.maximum(self.lo).minimum(self.hi))]
    }
    fn is_identity(&self) -> bool {
        true
    }
}

/// The rule of a [`CustomGradient`]: the cotangents of `xs` from the inputs `xs`, the value
/// `y` and its cotangent `gy`, as graph nodes.
pub type GradientRule<T> = dyn for<'g> Fn(&[Expr<'g, T>], Expr<'g, T>, Expr<'g, T>) -> Vec<Option<Expr<'g, T>>>
    + Send
    + Sync;

/// A subgraph's value with a gradient of your choosing (JAX's `custom_vjp`, Theano's
/// `OpFromGraph` with `grad`): the node's inputs are the subgraph's output `y` and the
/// expressions `xs` it is differentiated with respect to; its value is `y`; its cotangents
/// are none for `y` (nothing flows back through the subgraph) and the rule's for `xs`. Made
/// by [`Expr::custom_gradient`]; removed from the compiled program once the gradient is
/// built. It prints as `custom_gradient[#k](y, xs...)`, and does not parse back: a rule is
/// code, not text.
pub struct CustomGradient<T: Scalar> {
    id: usize,
    rule: Box<GradientRule<T>>,
}

impl<T: Scalar> CustomGradient<T> {
    /// A new override with the rule `rule`.
    pub fn new(rule: Box<GradientRule<T>>) -> Self {
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(1);
        CustomGradient {
            id: NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed),
            rule,
        }
    }
}

impl<T: Scalar> CustomOp<T> for CustomGradient<T> {
    fn name(&self) -> &'static str {
        "custom_gradient"
    }
    fn attrs(&self) -> String {
        format!("#{}", self.id)
    }
    fn arity(&self) -> usize {
        usize::MAX
    }
    fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        same_shape(ins)
    }
    fn eval(&self, ins: &[TensorRef<'_, T>], out: &mut [T], _: &[usize]) {
        out.copy_from_slice(ins[0].data);
    }
    fn vjp<'g>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        _: &[bool],
    ) -> Vec<Option<Expr<'g, T>>> {
        let mut out = vec![None];
        let mut rest = (self.rule)(&x[1..], y, gy);
        rest.resize(x.len() - 1, None);
        out.extend(rest);
        out
    }
    fn is_identity(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::erf;

    /// Reference values of erf (CPython's `math.erf`, itself within an ulp or two); mistakes
    /// caught: a coefficient mistyped in any of the three ranges, or the sign of odd x.
    #[test]
    fn erf_matches_reference_values_in_each_range() {
        let cases = [
            (0.0, 0.0),
            (1e-10, 1.128_379_167_095_512_6e-10),
            (0.1, 0.112_462_916_018_284_9),
            (0.49, 0.511_668_261_188_523),
            (0.5, 0.520_499_877_813_046_5),
            (1.0, 0.842_700_792_949_714_9),
            (2.0, 0.995_322_265_018_952_7),
            (3.5, 0.999_999_256_901_627_7),
            (3.99, 0.999_999_983_260_788_6),
            (4.0, 0.999_999_984_582_742_1),
            (5.9, 0.999_999_999_999_999_9),
            (6.0, 1.0),
            (30.0, 1.0),
        ];
        for (x, want) in cases {
            for (x, want) in [(x, want), (-x, -want)] {
                let got = erf(x);
                let err = (got - want).abs() / want.abs().max(1e-300);
                assert!(err < 2e-15 || got == want, "erf({x}) = {got}, want {want}");
            }
        }
        assert!(erf(f64::NAN).is_nan());
        assert_eq!(erf(f64::INFINITY), 1.0);
        assert_eq!(erf(f64::NEG_INFINITY), -1.0);
    }
}
