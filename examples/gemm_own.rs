//! An experiment kept as evidence: would a GEMM of symgrad's own beat the `gemm` crate on
//! workload W's products? A textbook 6x16 AVX2 f32 micro-kernel with BLIS-style blocking and
//! packing, against `gemm` on one thread, on each of W's 23 product shapes (one thread's half
//! of the rows, as `symgrad::tensor::gemm::matmul` splits them). It also times the kernel alone
//! on panels held in L1, and the blocked product with packing skipped after the first call
//! (stale panels, so that mode's products are not checked), to show where the time goes.
//! Figures and conclusions: docs/PERFORMANCE.md, "Where f32 stands".
//!
//! Run: `cargo run --release --example gemm_own [-- MC KC NC]` (x86-64 with AVX2 and FMA;
//! elsewhere it says so and stops). Not used by the library.

#[cfg(target_arch = "x86_64")]
mod gemm_bench;

#[cfg(target_arch = "x86_64")]
mod own {
    use std::arch::x86_64::*;

    pub const MR: usize = 6;
    pub const NR: usize = 16;

    /// `c[MR x NR] (+)= a-panel * b-panel` over `kc` steps; `a` is `[kc][MR]`, `b` is
    /// `[kc][NR]`.
    #[target_feature(enable = "avx2,fma")]
    pub unsafe fn kernel(
        kc: usize,
        a: *const f32,
        b: *const f32,
        c: *mut f32,
        ldc: usize,
        acc: bool,
    ) {
        let mut r = [[_mm256_setzero_ps(); 2]; MR];
        let (mut a, mut b) = (a, b);
        for i in 0..MR {
            // The tile of c is read at the end: ask for it now.
            _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc) as *const i8);
            _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc + NR - 1) as *const i8);
        }
        for _ in 0..kc {
            let b0 = _mm256_loadu_ps(b);
            let b1 = _mm256_loadu_ps(b.add(8));
            for (i, ri) in r.iter_mut().enumerate() {
                let x = _mm256_broadcast_ss(&*a.add(i));
                ri[0] = _mm256_fmadd_ps(x, b0, ri[0]);
                ri[1] = _mm256_fmadd_ps(x, b1, ri[1]);
            }
            a = a.add(MR);
            b = b.add(NR);
        }
        for (i, ri) in r.iter().enumerate() {
            let p = c.add(i * ldc);
            if acc {
                _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), ri[0]));
                _mm256_storeu_ps(p.add(8), _mm256_add_ps(_mm256_loadu_ps(p.add(8)), ri[1]));
            } else {
                _mm256_storeu_ps(p, ri[0]);
                _mm256_storeu_ps(p.add(8), ri[1]);
            }
        }
    }

    /// Transposes 8 rows of 8 floats.
    #[inline(always)]
    unsafe fn t8(r: [__m256; 8]) -> [__m256; 8] {
        let t0 = _mm256_unpacklo_ps(r[0], r[1]);
        let t1 = _mm256_unpackhi_ps(r[0], r[1]);
        let t2 = _mm256_unpacklo_ps(r[2], r[3]);
        let t3 = _mm256_unpackhi_ps(r[2], r[3]);
        let t4 = _mm256_unpacklo_ps(r[4], r[5]);
        let t5 = _mm256_unpackhi_ps(r[4], r[5]);
        let t6 = _mm256_unpacklo_ps(r[6], r[7]);
        let t7 = _mm256_unpackhi_ps(r[6], r[7]);
        let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
        let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
        let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
        let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
        let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
        let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
        let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
        let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
        [
            _mm256_permute2f128_ps::<0x20>(u0, u4),
            _mm256_permute2f128_ps::<0x20>(u1, u5),
            _mm256_permute2f128_ps::<0x20>(u2, u6),
            _mm256_permute2f128_ps::<0x20>(u3, u7),
            _mm256_permute2f128_ps::<0x31>(u0, u4),
            _mm256_permute2f128_ps::<0x31>(u1, u5),
            _mm256_permute2f128_ps::<0x31>(u2, u6),
            _mm256_permute2f128_ps::<0x31>(u3, u7),
        ]
    }

    /// Packs `R` full rows that are contiguous along `p` with 8x8 transposes. For `R = 6`
    /// each store writes 2 lanes past the block, which the next store overwrites; the
    /// buffer holds 8 floats of slack after its end.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pack_rows<const R: usize>(dst: *mut f32, src: *const f32, kb: usize, sr: isize) {
        let p8 = kb / 8 * 8;
        for p in (0..p8).step_by(8) {
            for i0 in (0..R).step_by(8) {
                let mut r = [_mm256_setzero_ps(); 8];
                for (i, v) in r.iter_mut().enumerate() {
                    let row = (i0 + i).min(R - 1);
                    *v = _mm256_loadu_ps(src.offset(row as isize * sr + p as isize));
                }
                for (q, v) in t8(r).iter().enumerate() {
                    _mm256_storeu_ps(dst.add((p + q) * R + i0), *v);
                }
            }
        }
        for p in p8..kb {
            for i in 0..R {
                *dst.add(p * R + i) = *src.offset(i as isize * sr + p as isize);
            }
        }
    }

    /// `dst[p][i] = src[i * sr + p * sk]` for `i < h` (zero up to `R`), `p < kb`.
    #[target_feature(enable = "avx2,fma")]
    unsafe fn pack<const R: usize>(
        dst: *mut f32,
        src: *const f32,
        h: usize,
        kb: usize,
        sr: isize,
        sk: isize,
    ) {
        if h == R && sr == 1 {
            for p in 0..kb {
                std::ptr::copy_nonoverlapping(src.offset(p as isize * sk), dst.add(p * R), R);
            }
        } else if h == R && sk == 1 {
            pack_rows::<R>(dst, src, kb, sr);
        } else {
            for p in 0..kb {
                for i in 0..R {
                    *dst.add(p * R + i) = if i < h {
                        *src.offset(i as isize * sr + p as isize * sk)
                    } else {
                        0.0
                    };
                }
            }
        }
    }

    /// Blocking and the packing buffers, reused from call to call.
    pub struct Gemm {
        pub mc: usize,
        pub kc: usize,
        pub nc: usize,
        /// When false, panels are packed only on the first call (timing experiments only:
        /// later products use stale panels and are wrong).
        pub pack: bool,
        packed_once: bool,
        pa: Vec<f32>,
        pb: Vec<f32>,
    }

    impl Gemm {
        pub fn new(mc: usize, kc: usize, nc: usize) -> Self {
            Gemm {
                mc,
                kc,
                nc,
                pack: true,
                packed_once: false,
                pa: vec![0.0; mc.div_ceil(MR) * MR * kc + 8],
                pb: vec![0.0; nc.div_ceil(NR) * NR * kc + 8],
            }
        }

        /// `c[m x n] (+)= a[m x k] b[k x n]`; `c` row-major with row stride `ldc`, `a` and
        /// `b` with (row, column) strides.
        ///
        /// # Safety
        /// The operands must address valid, non-aliasing elements; AVX2 and FMA present.
        #[allow(clippy::too_many_arguments)]
        pub unsafe fn run(
            &mut self,
            (m, n, k): (usize, usize, usize),
            c: *mut f32,
            ldc: usize,
            (a, ars, acs): (*const f32, isize, isize),
            (b, brs, bcs): (*const f32, isize, isize),
            accumulate: bool,
        ) {
            let (mc, kc, nc) = (self.mc, self.kc, self.nc);
            let pack_now = self.pack || !self.packed_once;
            self.packed_once = true;
            let mut tmp = [0f32; MR * NR];
            for jc in (0..n).step_by(nc) {
                let nb = nc.min(n - jc);
                for pc in (0..k).step_by(kc) {
                    let kb = kc.min(k - pc);
                    let acc = accumulate || pc > 0;
                    if pack_now {
                        for (jp, j0) in (0..nb).step_by(NR).enumerate() {
                            let src = b.offset(pc as isize * brs + (jc + j0) as isize * bcs);
                            let dst = self.pb.as_mut_ptr().add(jp * NR * kb);
                            pack::<NR>(dst, src, NR.min(nb - j0), kb, bcs, brs);
                        }
                    }
                    for ic in (0..m).step_by(mc) {
                        let mb = mc.min(m - ic);
                        if pack_now {
                            for (ip, i0) in (0..mb).step_by(MR).enumerate() {
                                let src = a.offset((ic + i0) as isize * ars + pc as isize * acs);
                                let dst = self.pa.as_mut_ptr().add(ip * MR * kb);
                                pack::<MR>(dst, src, MR.min(mb - i0), kb, ars, acs);
                            }
                        }
                        for (jp, j0) in (0..nb).step_by(NR).enumerate() {
                            let w = NR.min(nb - j0);
                            for (ip, i0) in (0..mb).step_by(MR).enumerate() {
                                let h = MR.min(mb - i0);
                                let ap = self.pa.as_ptr().add(ip * MR * kb);
                                let bp = self.pb.as_ptr().add(jp * NR * kb);
                                let cp = c.add((ic + i0) * ldc + jc + j0);
                                if h == MR && w == NR {
                                    kernel(kb, ap, bp, cp, ldc, acc);
                                } else {
                                    kernel(kb, ap, bp, tmp.as_mut_ptr(), NR, false);
                                    for i in 0..h {
                                        for j in 0..w {
                                            let d = cp.add(i * ldc + j);
                                            let t = tmp[i * NR + j];
                                            *d = if acc { *d + t } else { t };
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Seconds per call (median of 15) of `gemm` and of the own GEMM, alternating, and the
/// largest relative difference of their products.
#[cfg(target_arch = "x86_64")]
fn time_shape(
    own: &mut own::Gemm,
    (m, n, k): (usize, usize, usize),
    ta: bool,
    tb: bool,
) -> (f64, f64, f32) {
    gemm_bench::time_against_gemm((m, n, k), ta, tb, |a, (ars, acs), b, (brs, bcs), c| {
        // SAFETY: a, b, c hold m*k, k*n, m*n elements, addressed through these strides;
        // main checked AVX2 and FMA.
        unsafe {
            own.run(
                (m, n, k),
                c.as_mut_ptr(),
                n,
                (a.as_ptr(), ars, acs),
                (b.as_ptr(), brs, bcs),
                false,
            )
        }
    })
}

fn main() {
    #[cfg(target_arch = "x86_64")]
    if is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma") {
        use std::time::Instant;
        let args: Vec<usize> = std::env::args()
            .skip(1)
            .map(|s| s.parse().expect("MC KC NC are counts"))
            .collect();
        let (mc, kc, nc) = match args[..] {
            [mc, kc, nc] => (mc, kc, nc),
            _ => (48, 768, 4080),
        };
        {
            let kc = 256;
            let (a, b) = (vec![0.5f32; own::MR * kc], vec![0.25f32; own::NR * kc]);
            let mut c = vec![0f32; own::MR * own::NR];
            let reps = 200_000;
            // Best of 3: the first run also warms the core up.
            let rate = (0..3)
                .map(|_| {
                    let t = Instant::now();
                    for _ in 0..reps {
                        // SAFETY: panels of kc steps, a tile of MR x NR; AVX2 and FMA checked.
                        unsafe {
                            own::kernel(kc, a.as_ptr(), b.as_ptr(), c.as_mut_ptr(), own::NR, true)
                        };
                    }
                    (2 * own::MR * own::NR * kc * reps) as f64 / t.elapsed().as_secs_f64()
                })
                .fold(0.0, f64::max);
            std::hint::black_box(&c);
            println!("6x16 kernel on panels in L1: {:.1} GFLOP/s", rate / 1e9);
        }
        // W's products, one thread's half of the rows: forward x w, weight gradient hᵀ d
        // (split along the weight's rows), input gradient d wᵀ.
        let dims = [784usize, 1000, 500, 250, 30, 250, 500, 1000, 784];
        let mut shapes = Vec::new();
        for (layer, w) in dims.windows(2).enumerate() {
            shapes.push(((500, w[1], w[0]), false, false));
            shapes.push(((w[0] / 2, w[1], 1000), true, false));
            // The data needs no gradient: the first layer has no input-gradient product.
            if layer > 0 {
                shapes.push(((500, w[0], w[1]), false, true));
            }
        }
        assert_eq!(shapes.len(), 23);
        println!("MC {mc}, KC {kc}, NC {nc}; one thread, median of 15 calls");
        for pack in [true, false] {
            let (mut tg, mut to, mut flop, mut worst) = (0.0, 0.0, 0.0, 0f32);
            for &(shape, ta, tb) in &shapes {
                // A fresh one per shape, so that "packing skipped" packs this shape's panels.
                let mut own = own::Gemm::new(mc, kc, nc);
                own.pack = pack;
                let (g, o, err) = time_shape(&mut own, shape, ta, tb);
                tg += g;
                to += o;
                flop += 2.0 * (shape.0 * shape.1 * shape.2) as f64;
                worst = worst.max(err);
            }
            let check = if pack {
                format!("largest relative difference {worst:.1e}")
            } else {
                "products not checked: panels packed once".to_string()
            };
            println!(
                "{}: gemm {:.2} ms ({:.1} GFLOP/s), own {:.2} ms ({:.1} GFLOP/s); {check}",
                if pack {
                    "packing every call"
                } else {
                    "packing skipped"
                },
                tg * 1e3,
                flop / tg / 1e9,
                to * 1e3,
                flop / to / 1e9,
            );
        }
        return;
    }
    println!("gemm_own needs x86-64 with AVX2 and FMA");
}
