//! Matrix products through the `gemm` crate: strided operands, so transposes cost nothing.
//!
//! The choice of `gemm` over `matrixmultiply` was measured at the autoencoder's shapes
//! (`cargo bench --bench gemm_choice`, figures in docs/ARCHITECTURE.md).

use gemm::Parallelism;

use crate::Scalar;

/// A matrix operand: a pointer with row and column strides (in elements).
#[derive(Clone, Copy)]
pub struct MatRef<T> {
    /// First element.
    pub ptr: *const T,
    /// Stride between rows.
    pub rs: isize,
    /// Stride between columns.
    pub cs: isize,
}

/// Below this many multiply-adds the product runs on one thread: spawning costs more.
const PARALLEL_THRESHOLD: usize = 48 * 48 * 48;

/// `dst[m x n] = (accumulate ? dst : 0) + a[m x k] * b[k x n]`, with `dst` row-major and
/// contiguous, `a` and `b` strided.
///
/// # Safety
/// `a` and `b` must address `m x k` and `k x n` valid elements through their strides, and
/// `dst` must hold `m * n` elements that alias neither.
pub unsafe fn matmul<T: Scalar>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    a: MatRef<T>,
    b: MatRef<T>,
    accumulate: bool,
) {
    if m == 0 || n == 0 {
        return;
    }
    if k == 0 {
        if !accumulate {
            std::ptr::write_bytes(dst, 0, m * n);
        }
        return;
    }
    let threads = rayon::current_num_threads();
    let par = if threads > 1 && m * n * k >= PARALLEL_THRESHOLD {
        Parallelism::Rayon(threads)
    } else {
        Parallelism::None
    };
    // gemm computes dst := alpha * dst + beta * a * b.
    gemm::gemm(
        m,
        n,
        k,
        dst,
        1,
        n as isize,
        accumulate,
        a.ptr,
        a.cs,
        a.rs,
        b.ptr,
        b.cs,
        b.rs,
        T::one(),
        T::one(),
        false,
        false,
        false,
        par,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_naive_product_with_transposes() {
        let (m, n, k) = (5, 7, 3);
        let a: Vec<f64> = (0..m * k).map(|i| (i as f64 * 0.37).sin()).collect();
        let b: Vec<f64> = (0..k * n).map(|i| (i as f64 * 0.11).cos()).collect();
        let mut c = vec![0.0; m * n];
        unsafe {
            matmul(
                m,
                n,
                k,
                c.as_mut_ptr(),
                MatRef {
                    ptr: a.as_ptr(),
                    rs: k as isize,
                    cs: 1,
                },
                MatRef {
                    ptr: b.as_ptr(),
                    rs: n as isize,
                    cs: 1,
                },
                false,
            )
        };
        for i in 0..m {
            for j in 0..n {
                let want: f64 = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
                assert!((c[i * n + j] - want).abs() < 1e-12);
            }
        }
        // b read as its transpose: (b^T)^T stored n x k.
        let bt: Vec<f64> = (0..n * k).map(|i| b[(i % k) * n + i / k]).collect();
        let mut c2 = vec![0.0; m * n];
        unsafe {
            matmul(
                m,
                n,
                k,
                c2.as_mut_ptr(),
                MatRef {
                    ptr: a.as_ptr(),
                    rs: k as isize,
                    cs: 1,
                },
                MatRef {
                    ptr: bt.as_ptr(),
                    rs: 1,
                    cs: k as isize,
                },
                false,
            )
        };
        assert!(c.iter().zip(&c2).all(|(a, b)| (a - b).abs() < 1e-12));
    }
}
