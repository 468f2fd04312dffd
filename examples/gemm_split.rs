//! How symgrad splits a matrix product between threads, measured: each of workload W's 23
//! product shapes through `symgrad::tensor::gemm::matmul` (an even split of the larger side
//! of the output, one single-threaded `gemm` call per thread) and through the `gemm` crate's
//! own threading (`Parallelism::Rayon`), alternating call by call, f32, median of 11.
//!
//! Run: `cargo run --release --example gemm_split`

use std::time::Instant;

use symgrad::tensor::gemm::{matmul, MatRef};

/// The crate's own threading over all of rayon's threads.
unsafe fn crate_threads(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    a: MatRef<f32>,
    b: MatRef<f32>,
) {
    let t = rayon::current_num_threads();
    let par = if t > 1 {
        gemm::Parallelism::Rayon(t)
    } else {
        gemm::Parallelism::None
    };
    gemm::gemm(
        m, n, k, dst, 1, n as isize, false, a.ptr, a.cs, a.rs, b.ptr, b.cs, b.rs, 1.0, 1.0, false,
        false, false, par,
    );
}

/// Median seconds of (symgrad's split, the crate's threading) for `op(a) op(b)`.
fn time(m: usize, n: usize, k: usize, ta: bool, tb: bool) -> (f64, f64) {
    let a: Vec<f32> = (0..m * k).map(|i| (i % 13) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| (i % 7) as f32 * 0.1).collect();
    let mut c = vec![0f32; m * n];
    let (ar, br) = (
        if ta {
            MatRef {
                ptr: a.as_ptr(),
                rs: 1,
                cs: m as isize,
            }
        } else {
            MatRef {
                ptr: a.as_ptr(),
                rs: k as isize,
                cs: 1,
            }
        },
        if tb {
            MatRef {
                ptr: b.as_ptr(),
                rs: 1,
                cs: k as isize,
            }
        } else {
            MatRef {
                ptr: b.as_ptr(),
                rs: n as isize,
                cs: 1,
            }
        },
    );
    let (mut ours, mut theirs) = (vec![], vec![]);
    for _ in 0..11 {
        let s = Instant::now();
        // SAFETY: the operands and the destination are sized for these shapes and strides.
        unsafe { matmul(m, n, k, c.as_mut_ptr(), ar, br, false) };
        ours.push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        // SAFETY: as above.
        unsafe { crate_threads(m, n, k, c.as_mut_ptr(), ar, br) };
        theirs.push(s.elapsed().as_secs_f64());
    }
    ours.sort_by(f64::total_cmp);
    theirs.sort_by(f64::total_cmp);
    (ours[5], theirs[5])
}

fn main() {
    let layers = symgrad::models::autoencoder::Autoencoder::mnist().layers();
    let batch = 1000;
    let (mut total_ours, mut total_theirs) = (0.0, 0.0);
    println!(
        "ms per product (split / crate threading), {} threads",
        rayon::current_num_threads()
    );
    for (i, &(n_in, n_out, _)) in layers.iter().enumerate() {
        let mut line = format!("{n_in:>4}x{n_out:<4}");
        let shapes = [
            ("h W", batch, n_out, n_in, false, false),
            ("hT d", n_in, n_out, batch, true, false),
            ("d WT", batch, n_in, n_out, false, true),
        ];
        for &(name, m, n, k, ta, tb) in &shapes[..if i == 0 { 2 } else { 3 }] {
            let (ours, theirs) = time(m, n, k, ta, tb);
            total_ours += ours;
            total_theirs += theirs;
            line += &format!(" | {name} {:5.2} / {:5.2}", ours * 1e3, theirs * 1e3);
        }
        println!("{line}");
    }
    println!(
        "all 23 products: split {:.2} ms, crate threading {:.2} ms",
        total_ours * 1e3,
        total_theirs * 1e3
    );
}
