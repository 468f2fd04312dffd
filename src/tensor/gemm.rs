//! Matrix products through the `gemm` crate: strided operands, so transposes cost nothing.
//!
//! The choice of `gemm` over `matrixmultiply` was measured at the autoencoder's shapes
//! (`cargo bench --bench gemm_choice`, figures in docs/ARCHITECTURE.md).

use gemm::Parallelism;
use rayon::prelude::*;

use super::kernels::SendPtr;

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

/// An output of at most this many elements, over a depth at least 64 times its larger side,
/// is split along the depth (a weight gradient over many examples).
const SMALL_OUTPUT: usize = 1 << 16;

/// Below this many multiply-adds the product runs on one thread: spawning costs more.
const PARALLEL_THRESHOLD: usize = 48 * 48 * 48;

/// A product that runs on more than one thread has an operand or an output of at least this
/// many elements: `(m k)(k n)(m n) = (m n k)²`, so the largest of the three is at least
/// `(m n k)^(2/3)`, and a product splits only from `m n k = 48³` multiply-adds on.
pub const PARALLEL_MIN_VALUE: usize = 48 * 48;

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
    // A small output over a long sum (softmax regression's weight gradient `Xᵀ G`: 784 x 10
    // over 60,000 examples): each thread sums its own contiguous range of the depth into a
    // block of its own, then the blocks are added in thread order. Splitting the output's
    // rows instead had each thread read half of every row of X, strided: f64 47 ms against
    // 28 for the forward `X W` over the same 376 MB (`bench_models --model softmax`, with
    // SYMGRAD_PROFILE=1). The blocks are summed in a fixed order, so a given thread count
    // gives the same bits every call; another thread count may round differently.
    if threads > 1 && !accumulate && m * n <= SMALL_OUTPUT && k >= 64 * m.max(n) {
        // Each block computed transposed, `Bᵀ Aᵀ` (n x m), which reads the long operand
        // `a` as the crate's `b`: f64 43 -> 30 ms for `Xᵀ G` (X row-major, so `Aᵀ` is X).
        let parts = threads;
        let mut partial = vec![T::zero(); parts * m * n];
        let (a, b) = (SendRef(a), SendRef(b));
        let scratch = SendPtr(partial.as_mut_ptr());
        (0..parts).into_par_iter().for_each(move |t| {
            let (a, b, scratch) = (a, b, scratch);
            let (k0, k1) = (t * k / parts, (t + 1) * k / parts);
            // Bᵀ rows: b's columns; Aᵀ: a's strides swapped
            let bt = MatRef {
                ptr: b.0.ptr.offset(k0 as isize * b.0.rs),
                rs: b.0.cs,
                cs: b.0.rs,
            };
            let at = MatRef {
                ptr: a.0.ptr.offset(k0 as isize * a.0.cs),
                rs: a.0.cs,
                cs: a.0.rs,
            };
            // Block t of `partial` (parts x m x n elements) is this thread's alone; the
            // operands are read through the caller's strides over depths k0..k1 < k, which
            // the caller guarantees valid (`matmul`'s contract).
            one(n, m, k1 - k0, scratch.0.add(t * m * n), m, bt, at, false);
        });
        // SAFETY: `dst` holds `m * n` elements aliasing neither operand (the contract), and
        // the threads above wrote only `partial`.
        let out = std::slice::from_raw_parts_mut(dst, m * n);
        out.fill(T::zero());
        for block in partial.chunks_exact(m * n) {
            for j in 0..n {
                for i in 0..m {
                    out[i * n + j] += block[j * m + i];
                }
            }
        }
        return;
    }
    if threads > 1 && m * n * k >= PARALLEL_THRESHOLD && m.max(n) >= 2 * threads {
        // An even split of the rows (or of the columns, when there are less than half as
        // many rows), one single-threaded GEMM per part, so the threads meet once per
        // product. Each part packs the whole of the other operand: splitting rows repeats
        // the packing of b, which is cheaper than repeating that of a transposed a (the
        // weight gradients' `hᵀ d`). At the autoencoder's shapes this is as fast as the
        // crate's own threading on an idle machine and up to 5% faster when the second core
        // is shared (`cargo run --release --example gemm_split`; docs/PERFORMANCE.md).
        let parts = threads;
        let (dst, a, b) = (SendPtr(dst), SendRef(a), SendRef(b));
        (0..parts).into_par_iter().for_each(move |t| {
            let (dst, a, b) = (dst, a, b);
            if m * 2 >= n {
                let (r0, r1) = (t * m / parts, (t + 1) * m / parts);
                let a = MatRef {
                    ptr: a.0.ptr.offset(r0 as isize * a.0.rs),
                    ..a.0
                };
                one(r1 - r0, n, k, dst.0.add(r0 * n), n, a, b.0, accumulate);
            } else {
                let (c0, c1) = (t * n / parts, (t + 1) * n / parts);
                let b = MatRef {
                    ptr: b.0.ptr.offset(c0 as isize * b.0.cs),
                    ..b.0
                };
                one(m, c1 - c0, k, dst.0.add(c0), n, a.0, b, accumulate);
            }
        });
    } else {
        one(m, n, k, dst, n, a, b, accumulate);
    }
}

/// One single-threaded GEMM into `dst` with row stride `ldd`, in two calls when `n` is
/// not a whole number of 64-byte vectors.
///
/// `gemm` works on the transposed problem (its destination column-major), so our `n` is
/// its row count. With AVX-512 kernels it packs the whole transposed `b` into a buffer
/// allocated for the call (`m` x the depth block, about 1 MB per thread for the
/// autoencoder's `hᵀ d` products) whenever that row count is not a multiple of its vector
/// width and at most twice its row block (at most 48 vectors); with a multiple it packs
/// block by block into a buffer each thread keeps. Splitting off the last `n % lanes`
/// columns as a second, thin call keeps the first call on that path: W's peak memory
/// inside a call drops from 4.1 to 2.0 MB (1.24 to 1.19 × needed, `cargo run --release
/// --example memory_w`), with no change in time we could measure (`examples/gemm_ceiling
/// --reps 15`, five alternating runs each way: f32 medians 81.5 against 83.4 ms, f64 161.2
/// against 160.6).
#[allow(clippy::too_many_arguments)]
unsafe fn one<T: Scalar>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    ldd: usize,
    a: MatRef<T>,
    b: MatRef<T>,
    accumulate: bool,
) {
    let lanes = 64 / std::mem::size_of::<T>();
    let rem = n % lanes;
    // Columns [0, split) in one call, then the rest (none, unless split off).
    // Not when `a` is large and `n` few vectors: the thin call streams all of `a` again,
    // and a product such as softmax regression's `X W` (X 60,000 x 784 f64, 376 MB; n = 10)
    // is bound by that stream.
    let streams = m * k * std::mem::size_of::<T>() > (8 << 20) && n < 4 * lanes;
    let split = if rem != 0 && n > lanes && n <= 48 * lanes && !streams {
        n - rem
    } else {
        n
    };
    for (c0, c1) in [(0, split), (split, n)] {
        if c1 == c0 {
            continue;
        }
        // gemm computes dst := alpha * dst + beta * a * b.
        gemm::gemm(
            m,
            c1 - c0,
            k,
            dst.add(c0),
            1,
            ldd as isize,
            accumulate,
            a.ptr,
            a.cs,
            a.rs,
            b.ptr.offset(c0 as isize * b.cs),
            b.cs,
            b.rs,
            T::one(),
            T::one(),
            false,
            false,
            false,
            Parallelism::None,
        );
    }
}

/// An operand handed to the parts of one product (read only).
#[derive(Clone, Copy)]
struct SendRef<T>(MatRef<T>);
// SAFETY: operands are only read, while `matmul`'s caller holds them.
unsafe impl<T> Send for SendRef<T> {}
unsafe impl<T> Sync for SendRef<T> {}

#[cfg(test)]
mod tests {
    use super::*;

    /// `matmul` of small-integer operands (exact in f64) at each shape and transpose, on a
    /// pool of three threads, against the sum written out; `accumulate` onto 1.0, or into a
    /// NaN-filled output (which must be overwritten).
    fn check_against_naive(shapes: &[(usize, usize, usize)], accumulate: bool) {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(3)
            .build()
            .unwrap();
        for &(m, n, k) in shapes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let a: Vec<f64> = (0..m * k).map(|i| ((i * 31) % 17) as f64 - 8.0).collect();
                let b: Vec<f64> = (0..k * n).map(|i| ((i * 13) % 11) as f64 - 5.0).collect();
                let (ar, br) = (
                    if ta { (1, m as isize) } else { (k as isize, 1) },
                    if tb { (1, k as isize) } else { (n as isize, 1) },
                );
                let start = if accumulate { 1.0 } else { f64::NAN };
                let mut c = vec![start; m * n];
                pool.install(|| unsafe {
                    matmul(
                        m,
                        n,
                        k,
                        c.as_mut_ptr(),
                        MatRef {
                            ptr: a.as_ptr(),
                            rs: ar.0,
                            cs: ar.1,
                        },
                        MatRef {
                            ptr: b.as_ptr(),
                            rs: br.0,
                            cs: br.1,
                        },
                        accumulate,
                    )
                });
                for i in 0..m {
                    for j in 0..n {
                        let sum: f64 = (0..k)
                            .map(|p| {
                                a[(i as isize * ar.0 + p as isize * ar.1) as usize]
                                    * b[(p as isize * br.0 + j as isize * br.1) as usize]
                            })
                            .sum();
                        let want = if accumulate { 1.0 + sum } else { sum };
                        assert_eq!(c[i * n + j], want, "{m}x{n}x{k} ta={ta} tb={tb} ({i}, {j})");
                    }
                }
            }
        }
    }

    /// The mistake caught: the depth-split path (a small output over a long sum, each
    /// thread's block computed transposed) adding a block at the wrong place, missing the
    /// last part of an uneven split, or reading `a` or `b` with swapped strides.
    #[test]
    fn depth_split_products_match_naive_ones() {
        check_against_naive(&[(7, 10, 2001), (13, 3, 5000), (1, 1, 64)], false);
    }

    #[test]
    fn split_products_match_naive_ones_for_both_sides_and_transposes() {
        // The first two are above PARALLEL_THRESHOLD, so with two or more threads the rows
        // (m >= n) or the columns (m < n) are split; odd sizes leave unequal parts, and
        // parts whose column count is not a multiple of 8 (f64 lanes in 64 bytes) are split
        // again into two calls (37 = 32 + 5; 97 = 48 + 49, 49 = 48 + 1). The others run on
        // one thread: 37 columns split, 64 whole, 401 whole (above 48 vectors).
        check_against_naive(
            &[
                (101, 37, 53),
                (29, 97, 61),
                (3, 37, 5),
                (40, 64, 9),
                (3, 401, 5),
            ],
            true,
        );
    }

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
