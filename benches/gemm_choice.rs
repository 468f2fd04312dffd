//! gemm vs matrixmultiply at the MNIST autoencoder's shapes (batch 1000): the measurement
//! behind the choice of GEMM crate recorded in docs/ARCHITECTURE.md.
//!
//! Run, once per thread count (each crate reads it once per process):
//! `RAYON_NUM_THREADS=2 MATMUL_NUM_THREADS=2 cargo bench --bench gemm_choice`
//! Prints GFLOP/s per crate and shape.

use std::time::Instant;

use gemm::Parallelism;

fn time<F: FnMut()>(mut f: F) -> f64 {
    f();
    let mut v: Vec<f64> = (0..7)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect();
    v.sort_by(f64::total_cmp);
    v[3]
}

macro_rules! bench_type {
    ($T:ty, $mm:path) => {{
        // (m, n, k, transpose a, transpose b) as in the forward and backward passes.
        let shapes = [
            (1000, 1000, 784, false, false, "X W1"),
            (784, 1000, 1000, true, false, "X^T gH (dW1)"),
            (1000, 784, 1000, false, true, "gH W1^T"),
            (1000, 500, 1000, false, false, "H1 W2"),
            (1000, 30, 250, false, false, "H3 W4"),
        ];
        let threads = rayon::current_num_threads();
        {
            for &(m, n, k, ta, tb, what) in &shapes {
                let a: Vec<$T> = (0..m * k).map(|i| ((i % 17) as $T) * 0.01).collect();
                let b: Vec<$T> = (0..k * n).map(|i| ((i % 13) as $T) * 0.01).collect();
                let mut c: Vec<$T> = vec![0.0; m * n];
                let (ars, acs) = if ta { (1isize, m as isize) } else { (k as isize, 1) };
                let (brs, bcs) = if tb { (1isize, k as isize) } else { (n as isize, 1) };
                let flops = 2.0 * (m * n * k) as f64;
                let par = if threads > 1 { Parallelism::Rayon(threads) } else { Parallelism::None };
                let tg = time(|| unsafe {
                    gemm::gemm(m, n, k, c.as_mut_ptr(), 1, n as isize, false, a.as_ptr(), acs, ars, b.as_ptr(), bcs, brs, 0.0, 1.0, false, false, false, par)
                });
                let tm = time(|| unsafe {
                    $mm(m, k, n, 1.0, a.as_ptr(), ars, acs, b.as_ptr(), brs, bcs, 0.0, c.as_mut_ptr(), n as isize, 1)
                });
                println!(
                    "{} threads={threads} {what:14} {m}x{n}x{k}: gemm {:6.1} GFLOP/s, matrixmultiply {:6.1} GFLOP/s",
                    stringify!($T),
                    flops / tg / 1e9,
                    flops / tm / 1e9
                );
            }
        }
    }};
}

fn main() {
    let threads = std::env::var("RAYON_NUM_THREADS").unwrap_or_default();
    let mm = std::env::var("MATMUL_NUM_THREADS").unwrap_or_default();
    if threads != mm {
        eprintln!("set RAYON_NUM_THREADS and MATMUL_NUM_THREADS to the same count (now {threads:?}, {mm:?})");
    }
    bench_type!(f32, matrixmultiply::sgemm);
    bench_type!(f64, matrixmultiply::dgemm);
}
