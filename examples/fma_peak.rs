//! The machine's floating-point peak, against which the GEMM ceiling is judged: independent
//! AVX2 fused multiply-adds on registers (no memory), one thread per core, and beside it the
//! rate of one large product through `symgrad::tensor::gemm::matmul`. f32 and f64.
//!
//! Run: `cargo run --release --example fma_peak` (x86-64 with AVX2 and FMA; elsewhere it
//! says so and stops).

use std::time::Instant;

#[cfg(target_arch = "x86_64")]
mod peak {
    use std::arch::x86_64::*;

    /// 12 independent chains, more than the FMA latency (4 cycles) times the FMA ports (2)
    /// needs to keep every port busy. Returns a value so the work is not optimised away.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn f32_fmas(iters: usize) -> f32 {
        let mut acc = [_mm256_set1_ps(0.0); 12];
        let (a, b) = (_mm256_set1_ps(0.999_999), _mm256_set1_ps(1e-7));
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_ps(*v, a, b);
            }
        }
        let mut o = [0f32; 8];
        let s = acc
            .iter()
            .fold(_mm256_setzero_ps(), |s, v| _mm256_add_ps(s, *v));
        _mm256_storeu_ps(o.as_mut_ptr(), s);
        o.iter().sum()
    }

    /// As [`f32_fmas`], four f64 lanes per register.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn f64_fmas(iters: usize) -> f64 {
        let mut acc = [_mm256_set1_pd(0.0); 12];
        let (a, b) = (_mm256_set1_pd(0.999_999), _mm256_set1_pd(1e-7));
        for _ in 0..iters {
            for v in acc.iter_mut() {
                *v = _mm256_fmadd_pd(*v, a, b);
            }
        }
        let mut o = [0f64; 4];
        let s = acc
            .iter()
            .fold(_mm256_setzero_pd(), |s, v| _mm256_add_pd(s, *v));
        _mm256_storeu_pd(o.as_mut_ptr(), s);
        o.iter().sum()
    }
}

/// GFLOP/s of the register-only FMA loop on `threads` threads at once (each thread's rate
/// summed), best of 3.
#[cfg(target_arch = "x86_64")]
fn fma_rate(f64_lanes: bool, threads: usize) -> f64 {
    let iters = 100_000_000;
    let lanes = if f64_lanes { 4 } else { 8 };
    (0..3)
        .map(|_| {
            let hs: Vec<_> = (0..threads)
                .map(|_| {
                    std::thread::spawn(move || {
                        let t = Instant::now();
                        // SAFETY: main checked AVX2 and FMA.
                        let r = unsafe {
                            if f64_lanes {
                                peak::f64_fmas(iters)
                            } else {
                                f64::from(peak::f32_fmas(iters))
                            }
                        };
                        std::hint::black_box(r);
                        (iters * 12 * lanes * 2) as f64 / t.elapsed().as_secs_f64() / 1e9
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().expect("no panic")).sum()
        })
        .fold(0.0, f64::max)
}

/// GFLOP/s of an `n x n x n` product through symgrad's GEMM (all of rayon's threads),
/// median of 5 after a warm-up.
fn gemm_rate<T: symgrad::Scalar>(n: usize) -> f64 {
    use symgrad::tensor::gemm::{matmul, MatRef};
    let a: Vec<T> = (0..n * n)
        .map(|i| T::from_f64((i % 13) as f64 * 0.1))
        .collect();
    let b: Vec<T> = (0..n * n)
        .map(|i| T::from_f64((i % 7) as f64 * 0.1))
        .collect();
    let mut c = vec![T::zero(); n * n];
    let m = |p: &[T]| MatRef {
        ptr: p.as_ptr(),
        rs: n as isize,
        cs: 1,
    };
    let mut ts: Vec<f64> = (0..6)
        .map(|_| {
            let t = Instant::now();
            // SAFETY: a, b and c hold n * n elements each and do not alias.
            unsafe { matmul(n, n, n, c.as_mut_ptr(), m(&a), m(&b), false) };
            t.elapsed().as_secs_f64()
        })
        .skip(1)
        .collect();
    ts.sort_by(f64::total_cmp);
    2.0 * (n as f64).powi(3) / ts[2] / 1e9
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        let threads = rayon::current_num_threads();
        for (name, is64) in [("f32", false), ("f64", true)] {
            let one = fma_rate(is64, 1);
            let all = fma_rate(is64, threads);
            let g = if is64 {
                gemm_rate::<f64>(2048)
            } else {
                gemm_rate::<f32>(2048)
            };
            println!(
                "{name}: FMA peak {one:.1} GFLOP/s on 1 thread, {all:.1} on {threads}; \
                 GEMM 2048^3 on {threads}: {g:.1} GFLOP/s ({:.0}% of peak)",
                100.0 * g / all
            );
        }
        return;
    }
    println!("fma_peak needs x86-64 with AVX2 and FMA");
}
