//! How symgrad splits a matrix product between threads, measured: each of workload W's 23
//! product shapes through `symgrad::tensor::gemm::matmul` (an even split of the larger side
//! of the output, one single-threaded `gemm` call per thread) and through the `gemm` crate's
//! own threading (`Parallelism::Rayon`), alternating call by call, f32, median of 11.
//!
//! Then the backward pass's pairs: for each layer but the first, the input gradient `d Wᵀ`
//! and the weight gradient `hᵀ d` read the same `d` and do the same work, so they could run
//! side by side, one whole single-threaded product per thread, instead of one after the
//! other, each split between the threads. Both ways, alternating, median of 15.
//!
//! Run: `cargo run --release --example gemm_split`

use std::time::Instant;

use symgrad::tensor::gemm::{matmul, MatRef};

/// The crate's own threading over all of rayon's threads.
fn crate_threads() -> gemm::Parallelism {
    match rayon::current_num_threads() {
        1 => gemm::Parallelism::None,
        t => gemm::Parallelism::Rayon(t),
    }
}

/// A product's operands and destination, handed to another thread.
#[derive(Clone, Copy)]
struct Job {
    m: usize,
    n: usize,
    k: usize,
    dst: *mut f32,
    a: MatRef<f32>,
    b: MatRef<f32>,
}
// SAFETY: each job writes its own destination and only reads its operands, which outlive
// the `rayon::join` that runs it.
unsafe impl Send for Job {}

impl Job {
    /// symgrad's split.
    ///
    /// # Safety
    /// As for `matmul`.
    unsafe fn run_split(self) {
        matmul(self.m, self.n, self.k, self.dst, self.a, self.b, false)
    }

    /// Through the `gemm` crate with the threading `par`.
    ///
    /// # Safety
    /// As for `matmul`.
    unsafe fn run_crate(self, par: gemm::Parallelism) {
        let Job { m, n, k, dst, a, b } = self;
        gemm::gemm(
            m, n, k, dst, 1, n as isize, false, a.ptr, a.cs, a.rs, b.ptr, b.cs, b.rs, 1.0, 1.0,
            false, false, false, par,
        );
    }
}

/// Median seconds of (one after the other, each split; side by side, one per thread) for
/// the backward pair of a layer with `n_in` inputs and `n_out` outputs, and the largest
/// difference between the two ways' results.
fn time_pair(batch: usize, n_in: usize, n_out: usize) -> (f64, f64, f32) {
    let h: Vec<f32> = (0..batch * n_in).map(|i| (i % 13) as f32 * 0.1).collect();
    let d: Vec<f32> = (0..batch * n_out).map(|i| (i % 7) as f32 * 0.1).collect();
    let w: Vec<f32> = (0..n_in * n_out).map(|i| (i % 5) as f32 * 0.1).collect();
    let mut out = [
        vec![0f32; batch * n_in],
        vec![0f32; n_in * n_out],
        vec![0f32; batch * n_in],
        vec![0f32; n_in * n_out],
    ];
    let [dh, dw, dh2, dw2] = &mut out;
    let d_ = MatRef {
        ptr: d.as_ptr(),
        rs: n_out as isize,
        cs: 1,
    };
    let jobs = |dh: &mut Vec<f32>, dw: &mut Vec<f32>| {
        (
            // d Wᵀ: [batch x n_out] [n_out x n_in], W stored n_in x n_out.
            Job {
                m: batch,
                n: n_in,
                k: n_out,
                dst: dh.as_mut_ptr(),
                a: d_,
                b: MatRef {
                    ptr: w.as_ptr(),
                    rs: 1,
                    cs: n_out as isize,
                },
            },
            // hᵀ d: [n_in x batch] [batch x n_out], h stored batch x n_in.
            Job {
                m: n_in,
                n: n_out,
                k: batch,
                dst: dw.as_mut_ptr(),
                a: MatRef {
                    ptr: h.as_ptr(),
                    rs: 1,
                    cs: n_in as isize,
                },
                b: d_,
            },
        )
    };
    let (split, side) = (jobs(dh, dw), jobs(dh2, dw2));
    let (mut one_after, mut side_by_side) = (vec![], vec![]);
    for _ in 0..15 {
        let s = Instant::now();
        // SAFETY: the jobs' operands and destinations are sized for their shapes.
        unsafe {
            split.0.run_split();
            split.1.run_split();
        }
        one_after.push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        let (x, y) = side;
        // SAFETY: as above; the two jobs write different buffers.
        let none = gemm::Parallelism::None;
        rayon::join(
            move || unsafe { x.run_crate(none) },
            move || unsafe { y.run_crate(none) },
        );
        side_by_side.push(s.elapsed().as_secs_f64());
    }
    let diff = dh
        .iter()
        .zip(dh2.iter())
        .chain(dw.iter().zip(dw2.iter()))
        .map(|(a, b)| (a - b).abs() / a.abs().max(1.0))
        .fold(0f32, f32::max);
    one_after.sort_by(f64::total_cmp);
    side_by_side.sort_by(f64::total_cmp);
    (one_after[7], side_by_side[7], diff)
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
    let job = Job {
        m,
        n,
        k,
        dst: c.as_mut_ptr(),
        a: ar,
        b: br,
    };
    for _ in 0..11 {
        let s = Instant::now();
        // SAFETY: the operands and the destination are sized for these shapes and strides.
        unsafe { job.run_split() };
        ours.push(s.elapsed().as_secs_f64());
        let s = Instant::now();
        // SAFETY: as above.
        unsafe { job.run_crate(crate_threads()) };
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
    println!("backward pairs (d Wᵀ and hᵀ d): one after the other, split / side by side, ms");
    let (mut total_split, mut total_side, mut worst) = (0.0, 0.0, 0f32);
    for &(n_in, n_out, _) in &layers[1..] {
        let (split, side, diff) = time_pair(batch, n_in, n_out);
        total_split += split;
        total_side += side;
        worst = worst.max(diff);
        println!(
            "{n_in:>4}x{n_out:<4} | {:6.2} / {:6.2}",
            split * 1e3,
            side * 1e3
        );
    }
    println!(
        "all 7 pairs: split {:.2} ms, side by side {:.2} ms (largest relative difference {worst:.1e})",
        total_split * 1e3,
        total_side * 1e3
    );
}
