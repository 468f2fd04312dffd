//! `matmul`: `op(a) @ op(b)` with transpose flags folded into the GEMM call; 2-D, or batched
//! over leading dimensions that broadcast (numpy `matmul` semantics).
//!
//! The vjp of `C = A @ B` is `gA = gC @ B^T`, `gB = A^T @ gC`: with the flags these are
//! again single `matmul` nodes, never an explicit transpose. For each flag combination:
//!
//! | forward | gA | gB |
//! | --- | --- | --- |
//! | `A B` | `gC B^T` | `A^T gC` |
//! | `A^T B` | `B gC^T` | `A gC` |
//! | `A B^T` | `gC B` | `gC^T A` |
//! | `A^T B^T` | `B^T gC^T` | `gC^T A^T` |

use super::{broadcast_shapes, Attr};
use crate::graph::{Dim, Expr, SymShape};
use crate::tensor::gemm::{matmul, MatRef};
use crate::tensor::kernels::Strided;
use crate::tensor::{numel, TensorRef};
use crate::Scalar;

/// The call as printed: `matmul`, `matmul[ta]`, `matmul[tb]`, `matmul[ta, tb]`.
pub fn call_head(ta: bool, tb: bool) -> String {
    let flags: Vec<&str> = [(ta, "ta"), (tb, "tb")]
        .iter()
        .filter(|f| f.0)
        .map(|f| f.1)
        .collect();
    if flags.is_empty() {
        "matmul".into()
    } else {
        format!("matmul[{}]", flags.join(", "))
    }
}

/// The transpose flags of a `matmul` call of the text form.
pub fn from_call(attrs: Option<&[Attr]>) -> Result<(bool, bool), String> {
    let (mut ta, mut tb) = (false, false);
    for a in attrs.unwrap_or(&[]) {
        match a {
            Attr::Name(f) if f == "ta" => ta = true,
            Attr::Name(f) if f == "tb" => tb = true,
            other => {
                return Err(format!(
                    "`matmul` takes the flags `ta` and `tb`, found {other}"
                ))
            }
        }
    }
    Ok((ta, tb))
}

/// `(rows, cols)` of `op(x)` from the last two dimensions of `x`.
fn mat_dims<D: Copy>(s: &[D], t: bool) -> (D, D) {
    let (r, c) = (s[s.len() - 2], s[s.len() - 1]);
    if t {
        (c, r)
    } else {
        (r, c)
    }
}

/// Shape rule: inner dimensions agree, batch dimensions broadcast.
pub fn shape(a: &[Dim], b: &[Dim], ta: bool, tb: bool) -> Result<SymShape, String> {
    if a.len() < 2 || b.len() < 2 {
        return Err(format!(
            "matmul needs rank >= 2 on both sides, got ranks {} and {}",
            a.len(),
            b.len()
        ));
    }
    let (m, ka) = mat_dims(a, ta);
    let (kb, n) = mat_dims(b, tb);
    if ka != kb {
        return Err("inner dimensions differ".to_string());
    }
    let mut out = broadcast_shapes(&a[..a.len() - 2], &b[..b.len() - 2])
        .map_err(|_| "batch dimensions do not broadcast".to_string())?;
    out.push(m);
    out.push(n);
    Ok(out)
}

/// Kernel: one GEMM per batch element, operands addressed through strides.
pub fn eval<T: Scalar>(
    a: TensorRef<'_, T>,
    b: TensorRef<'_, T>,
    ta: bool,
    tb: bool,
    out: &mut [T],
    out_shape: &[usize],
) {
    let (ar, ac) = (a.shape[a.shape.len() - 2], a.shape[a.shape.len() - 1]);
    let (br, bc) = (b.shape[b.shape.len() - 2], b.shape[b.shape.len() - 1]);
    let (m, k) = if ta { (ac, ar) } else { (ar, ac) };
    let n = if tb { br } else { bc };
    let (a_rs, a_cs) = if ta {
        (1, ac as isize)
    } else {
        (ac as isize, 1)
    };
    let (b_rs, b_cs) = if tb {
        (1, bc as isize)
    } else {
        (bc as isize, 1)
    };
    let batch_shape = &out_shape[..out_shape.len() - 2];
    let batches = numel(batch_shape);
    // Batch offsets of each operand, in matrices, with broadcasting.
    let sa = Strided::broadcast(&[] as &[T], &a.shape[..a.shape.len() - 2], batch_shape).strides;
    let sb = Strided::broadcast(&[] as &[T], &b.shape[..b.shape.len() - 2], batch_shape).strides;
    for bi in 0..batches {
        let (mut oa, mut ob, mut r) = (0usize, 0usize, bi);
        for d in (0..batch_shape.len()).rev() {
            let i = r % batch_shape[d];
            r /= batch_shape[d];
            oa += i * sa[d];
            ob += i * sb[d];
        }
        let dst = &mut out[bi * m * n..(bi + 1) * m * n];
        // SAFETY: offsets index whole matrices inside `a` and `b` (shapes checked by the
        // shape rule and the planner); `out` is a distinct buffer.
        unsafe {
            matmul(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                MatRef {
                    ptr: a.data.as_ptr().add(oa * ar * ac),
                    rs: a_rs,
                    cs: a_cs,
                },
                MatRef {
                    ptr: b.data.as_ptr().add(ob * br * bc),
                    rs: b_rs,
                    cs: b_cs,
                },
                false,
            )
        }
    }
}

/// The vjp, per the table in the module doc.
pub fn vjp<'g, T: Scalar>(
    a: Expr<'g, T>,
    b: Expr<'g, T>,
    ta: bool,
    tb: bool,
    gc: Expr<'g, T>,
    needs: [bool; 2],
) -> [Option<Expr<'g, T>>; 2] {
    let ga = needs[0].then(|| match (ta, tb) {
        (false, false) => gc.matmul_t(b, false, true),
        (true, false) => b.matmul_t(gc, false, true),
        (false, true) => gc.matmul_t(b, false, false),
        (true, true) => b.matmul_t(gc, true, true),
    });
    let gb = needs[1].then(|| match (ta, tb) {
        (false, false) => a.matmul_t(gc, true, false),
        (true, false) => a.matmul_t(gc, false, false),
        (false, true) => gc.matmul_t(a, true, false),
        (true, true) => gc.matmul_t(a, true, true),
    });
    [ga, gb]
}
