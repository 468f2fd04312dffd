//! What the GEMM experiments (`gemm_own`, `gemm_unpacked`) share: the median, and timing a
//! GEMM of our own against `gemm` on one thread, alternating, on the same operands.

use std::time::Instant;

/// The median of `v` (the upper one for an even count).
pub fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Seconds per call (median of 15, after one warm-up call each) of `gemm` on one thread and
/// of `own`, alternating, computing `c[m x n] = a[m x k] b[k x n]` (`c` row-major; `a` and
/// `b` stored transposed when `ta` / `tb`), and the largest relative difference of their
/// products. `own` gets `a` and `b` with their (row, column) strides, and `c`.
pub fn time_against_gemm(
    (m, n, k): (usize, usize, usize),
    ta: bool,
    tb: bool,
    mut own: impl FnMut(&[f32], (isize, isize), &[f32], (isize, isize), &mut [f32]),
) -> (f64, f64, f32) {
    let a: Vec<f32> = (0..m * k).map(|i| ((i * 7) % 13) as f32 * 0.1).collect();
    let b: Vec<f32> = (0..k * n).map(|i| ((i * 5) % 11) as f32 * 0.1).collect();
    let (ars, acs) = if ta { (1, m as isize) } else { (k as isize, 1) };
    let (brs, bcs) = if tb { (1, k as isize) } else { (n as isize, 1) };
    let (mut c1, mut c2) = (vec![0f32; m * n], vec![0f32; m * n]);
    let (mut tg, mut to) = (Vec::new(), Vec::new());
    for rep in 0..16 {
        let t = Instant::now();
        // SAFETY: a, b, c1 hold m*k, k*n, m*n elements, addressed through these strides.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                c1.as_mut_ptr(),
                1,
                n as isize,
                false,
                a.as_ptr(),
                acs,
                ars,
                b.as_ptr(),
                bcs,
                brs,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        };
        let g = t.elapsed().as_secs_f64();
        let t = Instant::now();
        own(&a, (ars, acs), &b, (brs, bcs), &mut c2);
        let o = t.elapsed().as_secs_f64();
        if rep > 0 {
            tg.push(g);
            to.push(o);
        }
    }
    let err = c1
        .iter()
        .zip(&c2)
        .map(|(x, y)| (x - y).abs() / (1.0 + x.abs()))
        .fold(0f32, f32::max);
    (median(tg), median(to), err)
}
