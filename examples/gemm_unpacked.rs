//! An experiment kept as evidence: can a GEMM that skips packing altogether beat the `gemm`
//! crate on workload W's forward products? An AVX-512 f32 micro-kernel of 14 rows by 32
//! columns reads `A` (broadcasts along its rows) and `B` (two vectors per row) where they lie,
//! blocked so that a 14-row slice of `A` stays in L1 while a `KC x NC` block of `B` streams
//! from L2, against `gemm` on one thread, on W's 8 forward shapes `h W` as one thread sees
//! them (half of the 1000 rows). The forward product is the case most favourable to reading
//! in place: both operands are row-major along the directions the kernel reads. Figures and
//! conclusions: docs/PERFORMANCE.md, "Where f32 stands".
//!
//! Run: `cargo run --release --example gemm_unpacked [-- KC NC]` (x86-64 with AVX-512F;
//! elsewhere it says so and stops). Not used by the library.

#[cfg(target_arch = "x86_64")]
mod gemm_bench;

#[cfg(target_arch = "x86_64")]
mod own {
    use std::arch::x86_64::*;

    pub const MR: usize = 14;
    pub const NR: usize = 32;

    /// `c[R x NR] (+)= a[R x kc] b[kc x NR]` with every operand row-major and unpacked; the
    /// masks select the columns of `b` and `c` that exist (all of them when `FULL`).
    #[target_feature(enable = "avx512f,avx512vl,fma")]
    #[allow(clippy::too_many_arguments)]
    unsafe fn kernel<const R: usize, const FULL: bool>(
        kc: usize,
        (a, lda): (*const f32, usize),
        (b, ldb): (*const f32, usize),
        (c, ldc): (*mut f32, usize),
        (m0, m1): (__mmask16, __mmask16),
        acc: bool,
    ) {
        let mut r = [[_mm512_setzero_ps(); 2]; R];
        for p in 0..kc {
            let bp = b.add(p * ldb);
            let (b0, b1) = if FULL {
                (_mm512_loadu_ps(bp), _mm512_loadu_ps(bp.add(16)))
            } else {
                (
                    _mm512_maskz_loadu_ps(m0, bp),
                    _mm512_maskz_loadu_ps(m1, bp.add(16)),
                )
            };
            for (i, ri) in r.iter_mut().enumerate() {
                let x = _mm512_set1_ps(*a.add(i * lda + p));
                ri[0] = _mm512_fmadd_ps(x, b0, ri[0]);
                ri[1] = _mm512_fmadd_ps(x, b1, ri[1]);
            }
        }
        for (i, ri) in r.iter().enumerate() {
            let p = c.add(i * ldc);
            let (mut v0, mut v1) = (ri[0], ri[1]);
            if acc {
                v0 = _mm512_add_ps(v0, _mm512_maskz_loadu_ps(m0, p));
                v1 = _mm512_add_ps(v1, _mm512_maskz_loadu_ps(m1, p.add(16)));
            }
            _mm512_mask_storeu_ps(p, m0, v0);
            _mm512_mask_storeu_ps(p.add(16), m1, v1);
        }
    }

    /// The mask of the first `w` of 16 lanes.
    fn lanes(w: usize) -> __mmask16 {
        ((1u32 << w.min(16)) - 1) as __mmask16
    }

    /// `c[m x n] = a[m x k] b[k x n]`, all row-major and contiguous, read in place.
    ///
    /// # Safety
    /// The slices' lengths are checked; the processor must have AVX-512F.
    #[target_feature(enable = "avx512f,avx512vl,fma")]
    pub unsafe fn run(
        (m, n, k): (usize, usize, usize),
        a: &[f32],
        b: &[f32],
        c: &mut [f32],
        (kc, nc): (usize, usize),
    ) {
        assert!(a.len() == m * k && b.len() == k * n && c.len() == m * n);
        let (a, b, c) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        for pc in (0..k).step_by(kc) {
            let kb = kc.min(k - pc);
            for jc in (0..n).step_by(nc) {
                let nb = nc.min(n - jc);
                for ir in (0..m).step_by(MR) {
                    let h = MR.min(m - ir);
                    for jr in (jc..jc + nb).step_by(NR) {
                        let w = NR.min(jc + nb - jr);
                        let masks = (lanes(w), lanes(w.saturating_sub(16)));
                        let ap = (a.add(ir * k + pc), k);
                        let bp = (b.add(pc * n + jr), n);
                        let cp = (c.add(ir * n + jr), n);
                        let acc = pc > 0;
                        macro_rules! rows {
                            ($($r:literal)*) => {
                                match (h, w == NR) {
                                    $(
                                        ($r, true) => kernel::<$r, true>(kb, ap, bp, cp, masks, acc),
                                        ($r, false) => kernel::<$r, false>(kb, ap, bp, cp, masks, acc),
                                    )*
                                    _ => unreachable!("h is 1 to MR"),
                                }
                            };
                        }
                        rows!(1 2 3 4 5 6 7 8 9 10 11 12 13 14);
                    }
                }
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
fn compare((kc, nc): (usize, usize)) {
    println!(
        "KC {kc}, NC {nc}; one thread, median of 15 calls, GFLOP/s; {}x{} tile, unpacked",
        own::MR,
        own::NR
    );
    let dims = [784usize, 1000, 500, 250, 30, 250, 500, 1000, 784];
    let (mut tg, mut to, mut flop, mut worst) = (0.0, 0.0, 0.0, 0f32);
    for w in dims.windows(2) {
        let (m, n, k) = (500, w[1], w[0]);
        let (g, o, err) =
            gemm_bench::time_against_gemm((m, n, k), false, false, |a, _, b, _, c| {
                // SAFETY: main checked AVX-512F; run checks the lengths.
                unsafe { own::run((m, n, k), a, b, c, (kc, nc)) }
            });
        let f = 2.0 * (m * n * k) as f64;
        println!(
            "{m} x {n} x {k}: gemm {:.1}, unpacked {:.1}",
            f / g / 1e9,
            f / o / 1e9
        );
        tg += g;
        to += o;
        flop += f;
        worst = worst.max(err);
    }
    println!(
        "forward products: gemm {:.2} ms ({:.1} GFLOP/s), unpacked {:.2} ms ({:.1} GFLOP/s); \
         largest relative difference {worst:.1e}",
        tg * 1e3,
        flop / tg / 1e9,
        to * 1e3,
        flop / to / 1e9
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let blocking = match &args[..] {
        [] => Some((256, 256)),
        [kc, nc] => match (kc.parse::<usize>(), nc.parse::<usize>()) {
            (Ok(kc), Ok(nc)) if kc > 0 && nc > 0 => Some((kc, nc)),
            _ => None,
        },
        _ => None,
    };
    let Some(blocking) = blocking else {
        eprintln!("usage: gemm_unpacked [KC NC] (positive counts; got {args:?})");
        std::process::exit(2);
    };
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx512f") {
        compare(blocking);
        return;
    }
    let _ = blocking;
    println!("gemm_unpacked needs x86-64 with AVX-512F");
}
