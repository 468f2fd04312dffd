//! The linear-algebra family ([`Linalg`]): `cholesky`, `solve_triangular`, `solve`, `inv`,
//! `logdet`, `sign_det`, `eigvalsh` and `eigh_vectors`, and the triangle masks their
//! gradients need (`tril`, `triu`, `tril_half`). Each op's name, shape rule, kernel call,
//! vjp, printed and parsed attributes are here.
//!
//! Matrices are the last two axes; any leading axes are a batch, the same for every input
//! (they do not broadcast). The factorizations are [faer](https://docs.rs/faer)'s:
//! Cholesky (`llt`), LU with partial pivoting (`solve`, `inv`, `logdet`, `sign_det`),
//! triangular solves, and the symmetric eigendecomposition, on both cores (faer's rayon
//! parallelism). `cholesky` and `solve_triangular` run in the graph's own type, as JAX's
//! do (in `f32`, half the f64 time: the GP of `bench_models` at n = 2,000 took 520 ms a
//! call widened, 290 in f32); **the other kernels compute in `f64` for `f32` graphs too**
//! (the inputs widened, the results rounded once), at the price of the widening copies
//! (O(n²) beside the O(n³) work).
//! The kernels allocate faer's matrices and scratch on every call: unlike the other
//! families, a step of this one is not allocation-free in the steady state.
//!
//! # Conventions
//!
//! - `cholesky` and `eigvalsh`/`eigh_vectors` read the symmetric part `(A + Aᵀ)/2` of their
//!   input, as JAX's `cholesky` and `eigh` do by default (`symmetrize_input=True`), so their
//!   gradients are symmetric matrices and a perturbation of one triangle is shared with the
//!   other.
//! - `solve_triangular` reads only the triangle it is told (`lower` or upper, diagonal
//!   included); its gradient is zero in the other triangle.
//! - `logdet` is `log|det A|`, `-inf` for a singular matrix (an exact zero pivot);
//!   `sign_det` is -1, 0 or +1, and has no gradient.
//! - `eigvalsh` lists the eigenvalues in ascending order; `eigh_vectors` the unit
//!   eigenvectors as columns in the same order (each column's sign is faer's choice). The
//!   gradient of the eigenvectors divides by eigenvalue gaps `1/(w_j - w_i)`, so it is
//!   infinite for repeated eigenvalues; the eigenvalues' own gradient `V diag(w̄) Vᵀ` is
//!   finite, but their second derivative goes through the eigenvectors' and is not.
//!
//! # Failures at call time
//!
//! A kernel that cannot compute its value (Cholesky of a matrix that is not positive
//! definite, a solve or inverse of an exactly singular matrix, an eigendecomposition that
//! does not converge) fills its output with NaN and says why; a compiled function turns that
//! into [`Error::Linalg`](crate::Error::Linalg) (kind `"linalg"`), naming the step, its
//! expression, where it came from (the user's expression or the gradient rule of node k)
//! and the batch element, and never panics. ([`Op::eval`] returns the failure as a
//! [`KernelFault::Linalg`](super::KernelFault), with the output NaN; the folding rule leaves
//! a failing constant expression to run time, where it is the error.) The NaN guard
//! is not needed for these; it still reports `logdet`'s `-inf` for a singular matrix. A matrix that is nearly singular is not
//! refused: its solve is as inaccurate as the conditioning makes it (as in LAPACK and
//! NumPy).
//!
//! # Gradients (as graph nodes of this family and `matmul`, so differentiable again)
//!
//! | forward | vjp |
//! | --- | --- |
//! | `L = chol(A)` | `P = Φ(Lᵀ L̄)`, `S = L⁻ᵀ P L⁻¹`, `Ā = (S + Sᵀ)/2` (Φ: lower triangle, diagonal halved; Murray 2016, JAX's `cholesky_jvp`) |
//! | `X = op(A)⁻¹ B` (triangular) | `B̄ = op(A)⁻ᵀ X̄`; `Ā = -tri(B̄ Xᵀ)`, or `-tri(X B̄ᵀ)` when `op` transposes |
//! | `X = A⁻¹ B` | `B̄ = A⁻ᵀ X̄`, `Ā = -B̄ Xᵀ` |
//! | `Y = A⁻¹` | `Ā = -Yᵀ Ȳ Yᵀ` |
//! | `y = log\|det A\|` | `Ā = ȳ A⁻ᵀ` |
//! | `w = eigvalsh(A)` | `Ā = V diag(w̄) Vᵀ` |
//! | `V = eigh_vectors(A)` | `Ā = sym(V (F ∘ Vᵀ V̄) Vᵀ)`, `F_ij = 1/(w_j - w_i)` off the diagonal, 0 on it |
//! | `tril`, `triu`, `tril_half` | the same mask of the cotangent (they are linear and self-adjoint) |

use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, MatRef, Side};

use super::{Attr, Op};
use crate::graph::{Dim, Expr, SymShape};
use crate::tensor::{numel, Tensor, TensorRef};
use crate::Scalar;

/// An op of the linear-algebra family, with its attributes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Linalg {
    /// `L` with `L Lᵀ = (A + Aᵀ)/2`, lower triangular (zeros above the diagonal).
    Cholesky,
    /// `X` with `op(A) X = B`, `A` triangular; only its `lower` (or upper) triangle is read.
    TriangularSolve {
        /// `A` is lower triangular (else upper).
        lower: bool,
        /// Solve `Aᵀ X = B` instead.
        transpose_a: bool,
    },
    /// `X` with `A X = B` (LU with partial pivoting).
    Solve,
    /// `A⁻¹` (LU with partial pivoting).
    Inverse,
    /// `log|det A|`, `-inf` when `A` is singular.
    LogDet,
    /// The sign of `det A`: -1, 0 or +1 (no gradient).
    SignDet,
    /// The eigenvalues of `(A + Aᵀ)/2`, ascending.
    Eigvalsh,
    /// The unit eigenvectors of `(A + Aᵀ)/2`, as columns, in the order of [`Linalg::Eigvalsh`].
    EighVectors,
    /// The lower triangle, diagonal included; zeros above.
    Tril,
    /// The upper triangle, diagonal included; zeros below.
    Triu,
    /// The lower triangle with its diagonal halved (Φ of the Cholesky gradient).
    TrilHalf,
}

impl Linalg {
    /// The op's name, as printed.
    pub fn name(&self) -> &'static str {
        match self {
            Linalg::Cholesky => "cholesky",
            Linalg::TriangularSolve { .. } => "solve_triangular",
            Linalg::Solve => "solve",
            Linalg::Inverse => "inv",
            Linalg::LogDet => "logdet",
            Linalg::SignDet => "sign_det",
            Linalg::Eigvalsh => "eigvalsh",
            Linalg::EighVectors => "eigh_vectors",
            Linalg::Tril => "tril",
            Linalg::Triu => "triu",
            Linalg::TrilHalf => "tril_half",
        }
    }

    /// The number of inputs.
    pub fn arity(&self) -> usize {
        match self {
            Linalg::TriangularSolve { .. } | Linalg::Solve => 2,
            _ => 1,
        }
    }

    /// The shape rule: `[..., n, n]` in; out the same, or `[..., n, k]` for the solves
    /// (given `[..., n, k]`), `[...]` for `logdet` and `sign_det`, `[..., n]` for `eigvalsh`.
    pub fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        let a = ins[0];
        let name = self.name();
        if a.len() < 2 || a[a.len() - 1] != a[a.len() - 2] {
            return Err(format!(
                "`{name}` needs square matrices in the last two axes ([..., n, n])"
            ));
        }
        let r = a.len();
        match self {
            Linalg::TriangularSolve { .. } | Linalg::Solve => {
                let b = ins[1];
                if b.len() != r || b[..r - 2] != a[..r - 2] || b[r - 2] != a[r - 1] {
                    return Err(format!(
                        "`{name}` needs a right-hand side [..., n, k] with the matrix's \
                         batch axes and n (a vector b is b.reshape([n, 1]))"
                    ));
                }
                Ok(b.iter().copied().collect())
            }
            Linalg::LogDet | Linalg::SignDet => Ok(a[..r - 2].iter().copied().collect()),
            Linalg::Eigvalsh => Ok(a[..r - 1].iter().copied().collect()),
            _ => Ok(a.iter().copied().collect()),
        }
    }

    /// The kernel: computes the op into `out`, or fills `out` with NaN and says why it
    /// cannot (see the module doc, "Failures at call time").
    pub fn eval<T: Scalar>(&self, ins: &[TensorRef<'_, T>], out: &mut [T]) -> Result<(), String> {
        let a = ins[0];
        let r = a.shape.len();
        let n = a.shape[r - 1];
        let batch = numel(&a.shape[..r - 2]);
        let per_out = out.len().checked_div(batch).unwrap_or(0);
        let k = if ins.len() > 1 {
            ins[1].shape[r - 1]
        } else {
            0
        };
        // The masks need no arithmetic: in place of type, without copies.
        if matches!(self, Linalg::Tril | Linalg::Triu | Linalg::TrilHalf) {
            let half = T::from_f64(0.5);
            for (src, dst) in a.data.chunks_exact(n * n).zip(out.chunks_exact_mut(n * n)) {
                for i in 0..n {
                    for j in 0..n {
                        let v = src[i * n + j];
                        dst[i * n + j] = match self {
                            Linalg::Tril if j <= i => v,
                            Linalg::Triu if j >= i => v,
                            Linalg::TrilHalf if j < i => v,
                            Linalg::TrilHalf if j == i => v * half,
                            _ => T::zero(),
                        };
                    }
                }
            }
            return Ok(());
        }
        // An f64 graph's matrices are read where they lie, with no widening copies; an f32
        // graph's Cholesky and triangular solves, the GP's costly steps, run in f32 (the GP
        // of `bench_models` at n = 2,000: 520 -> 290 ms a call); the rest widen.
        if n > 0 {
            if let Some((ad, bd, od)) = same_type::<T, f64>(ins, out) {
                return per_matrix(ad, bd, od, n, k, batch, |a, b, o| self.eval_f64(a, n, b, o));
            }
            if matches!(self, Linalg::Cholesky | Linalg::TriangularSolve { .. }) {
                if let Some((ad, bd, od)) = same_type::<T, f32>(ins, out) {
                    return per_matrix(ad, bd, od, n, k, batch, |a, b, o| {
                        factor_or_solve(self, a, n, b, o)
                    });
                }
            }
        }
        // One matrix at a time, widened to f64 (see the module doc).
        let (mut a64, mut b64, mut o64) = (vec![0.0; n * n], vec![0.0; n * k], vec![0.0; per_out]);
        let widen = |dst: &mut [f64], src: &[T]| {
            for (d, s) in dst.iter_mut().zip(src) {
                *d = s.to_f64_lossless();
            }
        };
        for bi in 0..batch {
            widen(&mut a64, &a.data[bi * n * n..(bi + 1) * n * n]);
            if ins.len() > 1 {
                widen(&mut b64, &ins[1].data[bi * n * k..(bi + 1) * n * k]);
            }
            let rhs = (ins.len() > 1).then_some((&b64[..], k));
            let result = self.eval_f64(&a64, n, rhs, &mut o64);
            for (d, &v) in out[bi * per_out..(bi + 1) * per_out].iter_mut().zip(&o64) {
                *d = T::from_f64(v);
            }
            if let Err(why) = result {
                out.fill(T::nan());
                let at = if batch > 1 {
                    format!(" (batch element {bi})")
                } else {
                    String::new()
                };
                return Err(format!("{why}{at}"));
            }
        }
        Ok(())
    }

    /// One matrix (row-major `n x n` in `a`) and its right-hand side (`n x k`), into `o`.
    /// Not generic, so that faer's code is compiled once, in this crate, rather than in
    /// every crate that instantiates a kernel for `T`.
    fn eval_f64(
        &self,
        a: &[f64],
        n: usize,
        rhs: Option<(&[f64], usize)>,
        o: &mut [f64],
    ) -> Result<(), String> {
        let at = |i: usize, j: usize| a[i * n + j];
        // 0 x 0: nothing to factor (faer's eigensolver underflows a size on it); a
        // determinant of 1, an empty output otherwise.
        if n == 0 {
            match self {
                Linalg::LogDet => o[0] = 0.0,
                Linalg::SignDet => o[0] = 1.0,
                _ => {}
            }
            return Ok(());
        }
        match self {
            Linalg::Cholesky | Linalg::TriangularSolve { .. } => {
                return factor_or_solve(self, a, n, rhs, o)
            }
            Linalg::Solve | Linalg::Inverse | Linalg::LogDet | Linalg::SignDet => {
                let m = Mat::from_fn(n, n, at);
                let lu = m.partial_piv_lu();
                let u = lu.U();
                let zero_pivot = (0..n).find(|&i| u[(i, i)] == 0.0);
                match self {
                    Linalg::LogDet => o[0] = (0..n).map(|i| u[(i, i)].abs().ln()).sum::<f64>(),
                    Linalg::SignDet => {
                        let mut s = permutation_sign(lu.P().arrays().0);
                        for i in 0..n {
                            s *= u[(i, i)].signum();
                        }
                        o[0] = if zero_pivot.is_some() { 0.0 } else { s };
                    }
                    _ => {
                        if let Some(i) = zero_pivot {
                            return Err(format!(
                                "the matrix is singular (LU pivot {i} of {n} is exactly 0)"
                            ));
                        }
                        if let Some((b, k)) = rhs {
                            let bm = Mat::from_fn(n, k, |i, j| b[i * k + j]);
                            write(o, lu.solve(&bm).as_ref());
                        } else {
                            write(o, lu.inverse().as_ref());
                        }
                    }
                }
            }
            Linalg::Eigvalsh | Linalg::EighVectors => {
                // Scaled to a largest entry of 1 first (the eigenvectors do not change, the
                // eigenvalues scale back): faer's solver overflowed to [-inf, inf] on
                // [[1e308, 0], [0, 1]].
                let big = a.iter().fold(0.0f64, |m, v| m.max(v.abs()));
                let scale = if big.is_finite() && big > 0.0 {
                    big
                } else {
                    1.0
                };
                let s = Mat::from_fn(n, n, |i, j| {
                    0.5 * (at(i, j) / scale) + 0.5 * (at(j, i) / scale)
                });
                let failed = |_| "the symmetric eigendecomposition did not converge".to_string();
                if *self == Linalg::Eigvalsh {
                    let w = s.self_adjoint_eigenvalues(Side::Lower).map_err(failed)?;
                    for (d, v) in o.iter_mut().zip(w) {
                        *d = v * scale;
                    }
                } else {
                    let e = s.self_adjoint_eigen(Side::Lower).map_err(failed)?;
                    write(o, e.U());
                }
            }
            Linalg::Tril | Linalg::Triu | Linalg::TrilHalf => {
                for i in 0..n {
                    for j in 0..n {
                        let v = a[i * n + j];
                        o[i * n + j] = match self {
                            Linalg::Tril if j <= i => v,
                            Linalg::Triu if j >= i => v,
                            Linalg::TrilHalf if j < i => v,
                            Linalg::TrilHalf if j == i => v * 0.5,
                            _ => 0.0,
                        };
                    }
                }
            }
        }
        Ok(())
    }

    /// The vector-Jacobian rule, per the table in the module doc.
    pub fn vjp<'g, T: Scalar>(
        &self,
        x: &[Expr<'g, T>],
        y: Expr<'g, T>,
        gy: Expr<'g, T>,
        needs: &[bool],
    ) -> [Option<Expr<'g, T>>; 2] {
        let a = x[0];
        match *self {
            Linalg::Cholesky => {
                let p = a_op(Linalg::TrilHalf, y.matmul_t(gy, true, false));
                let yl = solve_tri(y, p, true, true); // L⁻ᵀ P
                let z = solve_tri(y, yl.t(), true, true); // (L⁻ᵀ P L⁻¹)ᵀ
                [Some((z + z.t()) * 0.5), None]
            }
            Linalg::TriangularSolve { lower, transpose_a } => {
                let gb = solve_tri(a, gy, lower, !transpose_a);
                let ga = needs[0].then(|| {
                    let full = if transpose_a {
                        y.matmul_t(gb, false, true)
                    } else {
                        gb.matmul_t(y, false, true)
                    };
                    -a_op(if lower { Linalg::Tril } else { Linalg::Triu }, full)
                });
                [ga, needs[1].then_some(gb)]
            }
            Linalg::Solve => {
                let gb = a.t().solve(gy);
                let ga = needs[0].then(|| -gb.matmul_t(y, false, true));
                [ga, needs[1].then_some(gb)]
            }
            Linalg::Inverse => [
                Some(-y.matmul_t(gy, true, false).matmul_t(y, false, true)),
                None,
            ],
            Linalg::LogDet => {
                let mut s = gy.shape();
                s.push(Dim::Fixed(1));
                s.push(Dim::Fixed(1));
                [Some(gy.reshape(s) * a.inv().t()), None]
            }
            Linalg::SignDet => [None, None],
            Linalg::Eigvalsh => {
                let v = a_op(Linalg::EighVectors, a);
                let mut s = gy.shape();
                s.insert(s.len() - 1, Dim::Fixed(1));
                [Some((v * gy.reshape(s)).matmul_t(v, false, true)), None]
            }
            Linalg::EighVectors => {
                let w = a.eigvalsh();
                let shape = a.shape();
                let r = shape.len();
                let (mut wi, mut wj) = (w.shape(), w.shape());
                wi.push(Dim::Fixed(1));
                wj.insert(r - 2, Dim::Fixed(1));
                let one = a.graph().constant(Tensor::scalar(T::one()));
                let ones = one.broadcast_to(shape);
                let eye = a_op(Linalg::Tril, ones) * a_op(Linalg::Triu, ones);
                // 1/(w_j - w_i) off the diagonal, 0 on it, without dividing by 0 there.
                let gaps = w.reshape(wj) - w.reshape(wi) + eye;
                let f = gaps.powi(-1) - eye;
                let m = y
                    .matmul(f * y.matmul_t(gy, true, false))
                    .matmul_t(y, false, true);
                [Some((m + m.t()) * 0.5), None]
            }
            Linalg::Tril | Linalg::Triu | Linalg::TrilHalf => [Some(a_op(*self, gy)), None],
        }
    }

    /// The call as printed: `cholesky`, `solve_triangular[lower, transpose_a]`, ...
    pub fn call_head(&self) -> String {
        match self {
            Linalg::TriangularSolve { lower, transpose_a } => format!(
                "solve_triangular[{}{}]",
                if *lower { "lower" } else { "upper" },
                if *transpose_a { ", transpose_a" } else { "" }
            ),
            op => op.name().to_string(),
        }
    }

    /// The op a call of the text form names (`None` if the name is not of this family).
    /// `solve_triangular` takes `lower` or `upper`, and `transpose_a` if it solves with
    /// `Aᵀ`: `solve_triangular[lower](a, b)`, `solve_triangular[upper, transpose_a](a, b)`;
    /// the others take no attributes.
    pub fn from_call(name: &str, attrs: Option<&[Attr]>) -> Option<Result<Self, String>> {
        let op = match name {
            "cholesky" => Linalg::Cholesky,
            "solve" => Linalg::Solve,
            "inv" => Linalg::Inverse,
            "logdet" => Linalg::LogDet,
            "sign_det" => Linalg::SignDet,
            "eigvalsh" => Linalg::Eigvalsh,
            "eigh_vectors" => Linalg::EighVectors,
            "tril" => Linalg::Tril,
            "triu" => Linalg::Triu,
            "tril_half" => Linalg::TrilHalf,
            "solve_triangular" => {
                let flags: Vec<&str> = match attrs
                    .unwrap_or(&[])
                    .iter()
                    .map(|a| match a {
                        Attr::Name(f) => Ok(f.as_str()),
                        other => Err(other.to_string()),
                    })
                    .collect::<Result<_, _>>()
                {
                    Ok(f) => f,
                    Err(found) => return Some(Err(triangular_usage(&found))),
                };
                return Some(match flags[..] {
                    [side] | [side, "transpose_a"] if side == "lower" || side == "upper" => {
                        Ok(Linalg::TriangularSolve {
                            lower: side == "lower",
                            transpose_a: flags.len() == 2,
                        })
                    }
                    _ => Err(triangular_usage(&format!("`{}`", flags.join(", ")))),
                });
            }
            _ => return None,
        };
        Some(match attrs {
            Some(a) if !a.is_empty() => Err(format!("`{name}` takes no attributes")),
            _ => Ok(op),
        })
    }
}

fn triangular_usage(found: &str) -> String {
    format!(
        "`solve_triangular` takes `lower` or `upper`, then `transpose_a` if it solves with the \
         transpose, in brackets: `solve_triangular[lower](a, b)`, \
         `solve_triangular[upper, transpose_a](a, b)`; found {found}"
    )
}

/// The sign of a permutation given as an array (`perm[i]` the image of `i`): -1 for an odd
/// number of transpositions.
fn permutation_sign(perm: &[usize]) -> f64 {
    let mut seen = vec![false; perm.len()];
    let mut s = 1.0;
    for start in 0..perm.len() {
        let (mut i, mut len) = (start, 0);
        while !seen[i] {
            seen[i] = true;
            i = perm[i];
            len += 1;
        }
        if len > 0 && len % 2 == 0 {
            s = -s;
        }
    }
    s
}

/// Writes a faer matrix into a row-major slice.
/// `why`, with the batch element when there is more than one.
fn with_batch(why: String, bi: usize, batch: usize) -> String {
    if batch > 1 {
        format!("{why} (batch element {bi})")
    } else {
        why
    }
}

/// The inputs and output of a kernel over `T` as slices of `E`, when `T` is `E`.
#[allow(clippy::type_complexity)]
fn same_type<'a, T: 'static, E: 'static>(
    ins: &'a [TensorRef<'_, T>],
    out: &'a mut [T],
) -> Option<(&'a [E], Option<&'a [E]>, &'a mut [E])> {
    if std::any::TypeId::of::<T>() != std::any::TypeId::of::<E>() {
        return None;
    }
    // SAFETY: T and E are the same type (checked above), so the same size and layout; the
    // views cover the same elements as the slices they are made from, for their lifetime.
    let cast = |v: &[T]| unsafe { std::slice::from_raw_parts(v.as_ptr().cast::<E>(), v.len()) };
    let out = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr().cast::<E>(), out.len()) };
    Some((cast(ins[0].data), ins.get(1).map(|b| cast(b.data)), out))
}

/// `kernel` over each of `batch` matrices (`n x n` in `a`, `n x k` in `b`), each writing its
/// equal share of `out`; the first failure fills `out` with NaN and says which element.
fn per_matrix<E: num_traits::Float>(
    a: &[E],
    b: Option<&[E]>,
    out: &mut [E],
    n: usize,
    k: usize,
    batch: usize,
    kernel: impl Fn(&[E], Option<(&[E], usize)>, &mut [E]) -> Result<(), String>,
) -> Result<(), String> {
    let per_out = out.len().checked_div(batch).unwrap_or(0);
    for bi in 0..batch {
        let rhs = b.map(|b| (&b[bi * n * k..(bi + 1) * n * k], k));
        let o = &mut out[bi * per_out..(bi + 1) * per_out];
        if let Err(why) = kernel(&a[bi * n * n..(bi + 1) * n * n], rhs, o) {
            out.fill(E::nan());
            return Err(with_batch(why, bi, batch));
        }
    }
    Ok(())
}

/// Cholesky or a triangular solve of one matrix (row-major `n x n` in `a`, the right-hand
/// side `n x k`) into `o`, in `E`: instantiated for f64 and f32 here, from the kernels'
/// non-generic functions, so faer's code is compiled in this crate only.
fn factor_or_solve<E>(
    op: &Linalg,
    a: &[E],
    n: usize,
    rhs: Option<(&[E], usize)>,
    o: &mut [E],
) -> Result<(), String>
where
    E: faer::traits::RealField + num_traits::Float,
{
    let at = |i: usize, j: usize| a[i * n + j];
    let write = |o: &mut [E], m: MatRef<'_, E>| {
        let c = m.ncols();
        for i in 0..m.nrows() {
            for j in 0..c {
                o[i * c + j] = m[(i, j)];
            }
        }
    };
    let half = <E as num_traits::NumCast>::from(0.5).expect("0.5 is a float");
    match op {
        Linalg::Cholesky => {
            if a.iter().any(|v| !v.is_finite()) {
                return Err("the matrix is not finite (it holds a NaN or an infinity)".into());
            }
            let s = Mat::from_fn(n, n, |i, j| half * at(i, j) + half * at(j, i));
            match s.llt(Side::Lower) {
                Ok(llt) => write(o, llt.L()),
                Err(faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index }) => {
                    return Err(not_positive_definite(index))
                }
            }
        }
        Linalg::TriangularSolve { lower, transpose_a } => {
            let (b, k) = rhs.expect("two inputs");
            if let Some(i) = (0..n).find(|&i| at(i, i) == E::zero()) {
                return Err(format!(
                    "the triangular matrix is singular (diagonal element {i} is 0)"
                ));
            }
            let m = MatRef::from_row_major_slice(a, n, n);
            let mut x = Mat::from_fn(n, k, |i, j| b[i * k + j]);
            // op(A) is lower triangular when A is lower and not transposed, or upper and
            // transposed.
            let op = if *transpose_a { m.transpose() } else { m };
            if *lower != *transpose_a {
                op.solve_lower_triangular_in_place(x.as_mut());
            } else {
                op.solve_upper_triangular_in_place(x.as_mut());
            }
            write(o, x.as_ref());
        }
        _ => unreachable!("only cholesky and solve_triangular"),
    }
    Ok(())
}

/// Why Cholesky failed at pivot `index`.
fn not_positive_definite(index: usize) -> String {
    format!(
        "the matrix is not positive definite (its leading {}x{} block is not: pivot {index} is \
         not positive); cholesky needs a symmetric positive definite matrix",
        index + 1,
        index + 1
    )
}

fn write(o: &mut [f64], m: MatRef<'_, f64>) {
    let c = m.ncols();
    for i in 0..m.nrows() {
        for j in 0..c {
            o[i * c + j] = m[(i, j)];
        }
    }
}

/// A one-input op of this family on `x`, whose shape the rule accepts (gradient rules).
fn a_op<'g, T: Scalar>(op: Linalg, x: Expr<'g, T>) -> Expr<'g, T> {
    x.try_op(Op::Linalg(op), &[])
        .unwrap_or_else(|e| panic!("symgrad: in a gradient rule: {e}"))
}

/// `op(a)⁻¹ b` for a triangular `a` (gradient rules).
fn solve_tri<'g, T: Scalar>(
    a: Expr<'g, T>,
    b: Expr<'g, T>,
    lower: bool,
    transpose_a: bool,
) -> Expr<'g, T> {
    a.solve_triangular(b, lower, transpose_a)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mistake caught: the sign of a permutation counted per cycle wrongly (an odd
    /// cycle length flipping the sign), which `sign_det` would inherit.
    #[test]
    fn linalg_permutation_sign() {
        assert_eq!(permutation_sign(&[0, 1, 2]), 1.0);
        assert_eq!(permutation_sign(&[1, 0, 2]), -1.0);
        assert_eq!(permutation_sign(&[1, 2, 0]), 1.0);
        assert_eq!(permutation_sign(&[1, 0, 3, 2]), 1.0);
        assert_eq!(permutation_sign(&[3, 0, 1, 2]), -1.0);
    }

    /// The mistake caught: parsing a flag set the printer never writes, or printing one
    /// that does not parse back.
    #[test]
    fn linalg_call_heads_parse_back() {
        for lower in [false, true] {
            for transpose_a in [false, true] {
                let op = Linalg::TriangularSolve { lower, transpose_a };
                let head = op.call_head();
                let inner = &head["solve_triangular[".len()..head.len() - 1];
                let attrs: Vec<Attr> = inner
                    .split(", ")
                    .map(|s| Attr::Name(s.to_string()))
                    .collect();
                assert_eq!(
                    Linalg::from_call("solve_triangular", Some(&attrs)),
                    Some(Ok(op))
                );
            }
        }
        assert!(matches!(
            Linalg::from_call("solve_triangular", None),
            Some(Err(_))
        ));
        assert!(matches!(
            Linalg::from_call("cholesky", Some(&[Attr::Int(1)])),
            Some(Err(_))
        ));
        assert_eq!(Linalg::from_call("matmul", None), None);
    }
}
