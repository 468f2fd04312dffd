//! Kernels on slices: strided elementwise maps with broadcasting, reductions, copies.
//!
//! Every elementwise kernel is one engine: operands are described by strides in the output's
//! index space (0 where an operand is broadcast), adjacent dimensions that are contiguous for
//! every operand are merged, and the output is walked row by row with a tight inner loop.
//! Large outputs are split across threads with rayon. Bias addition (`[m, n] + [n]`) and
//! same-shape maps therefore run at memory speed without special-case code at the call site.

use rayon::prelude::*;
use smallvec::SmallVec;

use super::{numel, strides, Shape};
use crate::Scalar;

/// Outputs with at least this many elements are computed in parallel.
pub const PARALLEL_MIN: usize = 1 << 15;

/// The vector instructions the elementwise kernels and reductions are compiled for, chosen
/// at run time: the widest the processor has, unless the environment variable
/// `SYMGRAD_SIMD` (`avx512`, `avx2` or `baseline`, read once per process) asks for less.
///
/// Every level gives the same bits: Rust neither contracts `a * b + c` into a fused
/// multiply-add nor reorders sums, so wider vectors change how fast a loop runs, not what it
/// computes (the kernels' tests check each level the processor has against the others).
///
/// ```
/// use symgrad::tensor::kernels::Simd;
/// let s = Simd::detected();
/// assert!(Simd::available().contains(&s));
/// println!("kernels compiled for {}", s.name());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Simd {
    /// Whatever the build targets (SSE2 on x86-64).
    Baseline,
    /// AVX2 and FMA: 8 `f32` or 4 `f64` lanes, 16 vector registers.
    Avx2,
    /// AVX-512 (F, VL, DQ, BW) with AVX2 and FMA: 16 `f32` or 8 `f64` lanes, 32 vector
    /// registers, mask registers, and `f64` to `i64` conversions in one instruction. On a
    /// Zen 4 EPYC, whose 512-bit units are 256 bits wide inside, the `exp`, `expm1`, `ln`,
    /// `sigmoid`, `softplus` and `tanh` kernels still run 25-62% faster than with AVX2
    /// (docs/PERFORMANCE.md, "Elementwise kernels").
    Avx512,
}

impl Simd {
    /// The level every kernel uses: the widest this processor has, capped by
    /// `SYMGRAD_SIMD` if set (an unknown value is ignored). Decided once per process.
    pub fn detected() -> Simd {
        static LEVEL: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
        *LEVEL.get_or_init(|| {
            let best = Simd::widest();
            let asked = std::env::var("SYMGRAD_SIMD")
                .ok()
                .and_then(|v| Simd::parse(&v));
            asked.map_or(best, |a| a.min(best))
        })
    }

    /// Every level this processor can run, lowest first.
    pub fn available() -> Vec<Simd> {
        [Simd::Baseline, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .filter(|&s| s <= Simd::widest())
            .collect()
    }

    /// The level named `v` (`avx512`, `avx2`, `baseline`; case and surrounding spaces
    /// ignored).
    pub fn parse(v: &str) -> Option<Simd> {
        let v = v.trim().to_ascii_lowercase();
        [Simd::Baseline, Simd::Avx2, Simd::Avx512]
            .into_iter()
            .find(|s| s.name() == v)
    }

    /// The level's name, as `SYMGRAD_SIMD` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Simd::Baseline => "baseline",
            Simd::Avx2 => "avx2",
            Simd::Avx512 => "avx512",
        }
    }

    /// The widest level this processor has, whatever `SYMGRAD_SIMD` says (detected once).
    pub fn widest() -> Simd {
        static WIDEST: std::sync::OnceLock<Simd> = std::sync::OnceLock::new();
        *WIDEST.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            {
                use std::arch::is_x86_feature_detected as has;
                if has!("avx2") && has!("fma") {
                    let avx512 =
                        has!("avx512f") && has!("avx512vl") && has!("avx512dq") && has!("avx512bw");
                    return if avx512 { Simd::Avx512 } else { Simd::Avx2 };
                }
            }
            Simd::Baseline
        })
    }
}

/// Returns from the enclosing function `run(args)`, with `run` (the function given) compiled
/// for the target features of level `simd`, capped at [`Simd::widest`]; at the baseline
/// level, or off x86-64, does nothing, and the enclosing function goes on to its plain
/// call. The one place that names each level's features: [`vectorized_for`] and the unary
/// and fused kernels use it. A named function rather than a closure, so that the
/// always-inlined loops it calls get the features whatever their size (LLVM did not inline
/// a large closure into a `#[target_feature]` function).
macro_rules! return_on_simd {
    ($simd:expr, fn run<$($g:ident $(: $b:path)?),*>($($p:ident: $t:ty),* $(,)?) $(-> $r:ty)?
        $body:block, ($($arg:expr),*) $(,)?) => {
        #[cfg(target_arch = "x86_64")]
        {
            match $simd.min($crate::tensor::kernels::Simd::widest()) {
                $crate::tensor::kernels::Simd::Avx512 => {
                    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx512bw,avx2,fma")]
                    unsafe fn run<$($g $(: $b)?),*>($($p: $t),*) $(-> $r)? $body
                    // SAFETY: the features were detected on this processor.
                    return unsafe { run($($arg),*) };
                }
                $crate::tensor::kernels::Simd::Avx2 => {
                    #[target_feature(enable = "avx2,fma")]
                    unsafe fn run<$($g $(: $b)?),*>($($p: $t),*) $(-> $r)? $body
                    // SAFETY: the features were detected on this processor.
                    return unsafe { run($($arg),*) };
                }
                $crate::tensor::kernels::Simd::Baseline => {}
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = $simd;
    };
}
pub(crate) use return_on_simd;

/// Runs `f` compiled for [`Simd::detected`]'s instructions, so that the loops inlined into
/// it vectorize 16 or 8 (f32) and 8 or 4 (f64) lanes wide; elsewhere `f` runs as built.
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    vectorized_for(Simd::detected(), f)
}

/// [`vectorized`] at level `simd`, or at the widest level this processor has if that is
/// lower (so it is always safe to call).
#[inline(always)]
pub fn vectorized_for<R>(simd: Simd, f: impl FnOnce() -> R) -> R {
    return_on_simd!(
        simd,
        fn run<R>(f: impl FnOnce() -> R) -> R {
            f()
        },
        (f)
    );
    f()
}

/// A pointer that may cross threads; users guarantee disjoint writes.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub(crate) *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}

/// An operand of an elementwise kernel: data, offset of its first element, and one stride
/// per output dimension.
#[derive(Clone, Debug)]
pub struct Strided<'a, T> {
    /// The data the strides index into.
    pub data: &'a [T],
    /// Offset of the element at output index 0.
    pub offset: usize,
    /// Stride per output dimension (0 where broadcast).
    pub strides: Shape,
}

impl<'a, T> Strided<'a, T> {
    /// A contiguous operand of `shape`, broadcast to `out_shape` (numpy rules, right-aligned).
    ///
    /// # Panics
    /// If the shapes do not broadcast; callers have checked them when the graph was built.
    pub fn broadcast(data: &'a [T], shape: &[usize], out_shape: &[usize]) -> Self {
        let r = out_shape.len();
        assert!(
            shape.len() <= r,
            "broadcast: rank {} into rank {}",
            shape.len(),
            r
        );
        let own = strides(shape);
        let mut st: Shape = SmallVec::from_elem(0, r);
        let lead = r - shape.len();
        for (i, (&d, &s)) in shape.iter().zip(own.iter()).enumerate() {
            let od = out_shape[lead + i];
            if d == od {
                st[lead + i] = if d == 1 { 0 } else { s };
            } else {
                assert!(d == 1, "broadcast: {shape:?} into {out_shape:?}");
            }
        }
        Strided {
            data,
            offset: 0,
            strides: st,
        }
    }
}

/// Merges dimensions that every operand walks contiguously and drops size-1 dimensions.
/// Returns the merged shape and each operand's merged strides.
fn coalesce<const N: usize>(shape: &[usize], ops: [&[usize]; N]) -> (Shape, [Shape; N]) {
    let mut out_shape: Shape = Shape::new();
    let mut out_str: [Shape; N] = std::array::from_fn(|_| Shape::new());
    // Built innermost first, reversed at the end.
    for d in (0..shape.len()).rev() {
        let size = shape[d];
        if size == 1 {
            continue;
        }
        if let Some(&last) = out_shape.last() {
            let k = out_shape.len() - 1;
            let mergeable = (0..N).all(|o| ops[o][d] == out_str[o][k] * last);
            if mergeable {
                out_shape[k] = last * size;
                continue;
            }
        }
        out_shape.push(size);
        for o in 0..N {
            out_str[o].push(ops[o][d]);
        }
    }
    out_shape.reverse();
    for s in out_str.iter_mut() {
        s.reverse();
    }
    (out_shape, out_str)
}

/// Offsets of row `row` (an index over all but the last merged dimension) for each operand.
#[inline]
fn row_offsets<const N: usize>(
    row: usize,
    shape: &[usize],
    st: &[Shape; N],
    base: [usize; N],
) -> [usize; N] {
    let mut off = base;
    let mut r = row;
    let outer = shape.len().saturating_sub(1);
    for d in (0..outer).rev() {
        let i = r % shape[d];
        r /= shape[d];
        for o in 0..N {
            off[o] += i * st[o][d];
        }
    }
    off
}

/// Runs `row_fn(out_row, offsets, inner_strides)` over every row of the output, in parallel
/// when the output is large.
fn for_rows<T: Scalar, const N: usize>(
    out: &mut [T],
    out_shape: &[usize],
    ops: [&Strided<'_, T>; N],
    row_fn: impl Fn(&mut [T], [usize; N], [usize; N]) + Sync,
) {
    let total = numel(out_shape);
    debug_assert_eq!(out.len(), total);
    if total == 0 {
        return;
    }
    let strides_in: [&[usize]; N] = std::array::from_fn(|o| &ops[o].strides[..]);
    let (shape, st) = coalesce(out_shape, strides_in);
    let base: [usize; N] = std::array::from_fn(|o| ops[o].offset);
    let inner = shape.last().copied().unwrap_or(1);
    let inner_st: [usize; N] = std::array::from_fn(|o| st[o].last().copied().unwrap_or(0));
    let rows = total / inner;
    let run = |first_row: usize, chunk: &mut [T]| {
        vectorized(|| {
            for (r, orow) in chunk.chunks_mut(inner).enumerate() {
                let off = row_offsets(first_row + r, &shape, &st, base);
                row_fn(orow, off, inner_st);
            }
        })
    };
    if total >= PARALLEL_MIN && rows > 1 {
        let threads = rayon::current_num_threads().max(1);
        let rows_per_task = rows.div_ceil(threads * 4).max(1);
        out.par_chunks_mut(rows_per_task * inner)
            .enumerate()
            .for_each(|(t, chunk)| run(t * rows_per_task, chunk));
    } else if total >= PARALLEL_MIN {
        // One long row: split it, each piece with its own offsets.
        let piece = total.div_ceil(rayon::current_num_threads().max(1) * 4);
        out.par_chunks_mut(piece)
            .enumerate()
            .for_each(|(t, chunk)| {
                let start = t * piece;
                let off: [usize; N] = std::array::from_fn(|o| base[o] + start * inner_st[o]);
                vectorized(|| row_fn(chunk, off, inner_st));
            });
    } else {
        run(0, out);
    }
}

/// Runs `f(a_piece, out_piece)` over matching pieces of `a` and `out`, in parallel when
/// `out` is large, each piece compiled for [`Simd::detected`]'s instructions.
pub fn map_pieces<T: Scalar>(a: &[T], out: &mut [T], f: impl Fn(&[T], &mut [T]) + Sync) {
    debug_assert_eq!(a.len(), out.len());
    if out.len() >= PARALLEL_MIN {
        let piece = out.len().div_ceil(rayon::current_num_threads().max(1) * 4);
        out.par_chunks_mut(piece)
            .zip(a.par_chunks(piece))
            .for_each(|(o, a)| vectorized(|| f(a, o)));
    } else {
        vectorized(|| f(a, out))
    }
}

/// `out = f(a)` with `a` strided in the output's index space (copies, transposes, slices).
pub fn map1<T: Scalar>(
    out: &mut [T],
    out_shape: &[usize],
    a: &Strided<'_, T>,
    f: impl Fn(T) -> T + Sync,
) {
    let (ad,) = (a.data,);
    for_rows(out, out_shape, [a], |orow, [oa], [sa]| {
        let n = orow.len();
        if sa == 1 {
            for (o, &x) in orow.iter_mut().zip(&ad[oa..oa + n]) {
                *o = f(x);
            }
        } else {
            for (j, o) in orow.iter_mut().enumerate() {
                *o = f(ad[oa + j * sa]);
            }
        }
    });
}

/// `out = f(a, b)` with numpy broadcasting, `a` and `b` strided in the output's index space.
pub fn map2<T: Scalar>(
    out: &mut [T],
    out_shape: &[usize],
    a: &Strided<'_, T>,
    b: &Strided<'_, T>,
    f: impl Fn(T, T) -> T + Sync,
) {
    let (ad, bd) = (a.data, b.data);
    for_rows(out, out_shape, [a, b], |orow, [oa, ob], [sa, sb]| {
        let n = orow.len();
        match (sa, sb) {
            (1, 1) => {
                for ((o, &x), &y) in orow.iter_mut().zip(&ad[oa..oa + n]).zip(&bd[ob..ob + n]) {
                    *o = f(x, y);
                }
            }
            (1, 0) => {
                let y = bd[ob];
                for (o, &x) in orow.iter_mut().zip(&ad[oa..oa + n]) {
                    *o = f(x, y);
                }
            }
            (0, 1) => {
                let x = ad[oa];
                for (o, &y) in orow.iter_mut().zip(&bd[ob..ob + n]) {
                    *o = f(x, y);
                }
            }
            _ => {
                for (j, o) in orow.iter_mut().enumerate() {
                    *o = f(ad[oa + j * sa], bd[ob + j * sb]);
                }
            }
        }
    });
}

/// `out = f(a, b, c)` with broadcasting (used by `where`).
pub fn map3<T: Scalar>(
    out: &mut [T],
    out_shape: &[usize],
    a: &Strided<'_, T>,
    b: &Strided<'_, T>,
    c: &Strided<'_, T>,
    f: impl Fn(T, T, T) -> T + Sync,
) {
    let (ad, bd, cd) = (a.data, b.data, c.data);
    for_rows(
        out,
        out_shape,
        [a, b, c],
        |orow, [oa, ob, oc], [sa, sb, sc]| {
            for (j, o) in orow.iter_mut().enumerate() {
                *o = f(ad[oa + j * sa], bd[ob + j * sb], cd[oc + j * sc]);
            }
        },
    );
}

/// Reduces `x` (shape `x_shape`) into `out`, whose shape `out_shape` has the same rank or
/// less (right-aligned) with size 1 on every reduced axis: `out = fold(init, x over the
/// reduced axes)`. This is the transpose of broadcasting: `sum` uses it with `+`, `max`
/// with `max`.
pub fn reduce_into<T: Scalar>(
    x: &[T],
    x_shape: &[usize],
    out: &mut [T],
    out_shape: &[usize],
    init: T,
    fold: impl Fn(T, T) -> T + Send + Sync + Copy,
) {
    out.fill(init);
    if x.is_empty() {
        return;
    }
    if out.len() == 1 {
        *out.first_mut().expect("one element") = reduce_all(x, init, fold);
        return;
    }
    // Strides of `out` in x's index space: 0 on reduced axes.
    let ost = Strided::broadcast(&[] as &[T], out_shape, x_shape).strides;
    let xst = strides(x_shape);
    let (shape, st) = coalesce(x_shape, [&xst[..], &ost[..]]);
    let inner = shape.last().copied().unwrap_or(1);
    let rows = x.len() / inner;
    let (xi, oi) = (
        st[0].last().copied().unwrap_or(1),
        st[1].last().copied().unwrap_or(0),
    );
    debug_assert_eq!(xi, 1);
    if shape.len() == 2 && st[1][..] == [0, 1] {
        // Every leading axis reduced, the last kept: column folds, in the blocked order
        // that the fused kernel's column sums share (`fold_columns`).
        fold_columns(x, inner, out, init, fold);
        return;
    }
    let ptr = SendPtr(out.as_mut_ptr());
    let threads = rayon::current_num_threads().max(1);
    if oi == 0 {
        // Each row folds to one output element: lanes of the row folded apart
        // (`fold_lanes`), then into the output in row order. Rows run in parallel when no
        // two of them fold into one output element (no outer axis is reduced).
        let injective = st[1][..st[1].len() - 1].iter().all(|&s| s != 0);
        let span = |r0: usize, r1: usize, out: SendPtr<T>| {
            vectorized(|| {
                for r in r0..r1 {
                    let [ox, oo] = row_offsets(r, &shape, &st, [0, 0]);
                    let v = fold_lanes(&x[ox..ox + inner], init, fold);
                    // SAFETY: `oo` indexes `out`; parallel spans write distinct elements.
                    unsafe {
                        let o = &mut *out.0.add(oo);
                        *o = fold(*o, v);
                    }
                }
            })
        };
        if injective && x.len() >= PARALLEL_MIN && rows >= 2 * threads {
            let per = rows.div_ceil(threads * 4);
            (0..rows.div_ceil(per))
                .into_par_iter()
                .for_each(|k| span(k * per, ((k + 1) * per).min(rows), ptr));
        } else {
            span(0, rows, ptr);
        }
        return;
    }
    // Columns [c0, c1) of every row: the unit of work, so that threads write disjoint parts.
    // (Summing strips of columns down the rows in registers instead was measured slower:
    // rows are read whole this way.)
    let band = |c0: usize, c1: usize, out: SendPtr<T>| {
        vectorized(|| {
            for r in 0..rows {
                let [ox, oo] = row_offsets(r, &shape, &st, [0, 0]);
                let xrow = &x[ox + c0..ox + c1];
                // SAFETY: `oo + c` indexes `out` (its shape broadcasts to x's), and bands of
                // columns given to different threads are disjoint.
                let orow = unsafe { std::slice::from_raw_parts_mut(out.0.add(oo + c0), c1 - c0) };
                for (o, &v) in orow.iter_mut().zip(xrow) {
                    *o = fold(*o, v);
                }
            }
        })
    };
    if x.len() >= PARALLEL_MIN && inner >= 64 * threads {
        let width = inner.div_ceil(threads * 2).div_ceil(16) * 16;
        (0..inner.div_ceil(width))
            .into_par_iter()
            .for_each(|k| band(k * width, ((k + 1) * width).min(inner), ptr));
    } else {
        band(0, inner, ptr);
    }
}

/// Rows per block of a column fold.
pub const COLUMN_BLOCK: usize = 64;

/// `partial[c] = fold(init, rows[0][c], rows[1][c], ...)` in row order, for the rows of
/// `x` (row length `partial.len()`): one block's part of a column fold.
#[inline(always)]
pub fn fold_rows<T: Scalar>(x: &[T], partial: &mut [T], init: T, fold: impl Fn(T, T) -> T) {
    partial.fill(init);
    for row in x.chunks_exact(partial.len()) {
        for (p, &v) in partial.iter_mut().zip(row) {
            *p = fold(*p, v);
        }
    }
}

/// `out[c] = fold(out[c], x[.., c])` over the rows of `x` (row length `cols`), in a fixed
/// order whatever the threads: rows in blocks of [`COLUMN_BLOCK`], each block folded from
/// `init` down its rows ([`fold_rows`]), the blocks' partials then folded into `out` in
/// block order. A fused elementwise step that also sums its columns computes the same
/// partials while its blocks are in cache, so its sums equal these bit for bit.
pub fn fold_columns<T: Scalar>(
    x: &[T],
    cols: usize,
    out: &mut [T],
    init: T,
    fold: impl Fn(T, T) -> T + Send + Sync + Copy,
) {
    const BAND: usize = 256;
    let rows = x.len() / cols;
    // Bands of at most BAND columns: the unit of parallel work (threads write disjoint
    // columns of `out`); the block partials of a band stay on the stack.
    let band = |c0: usize, c1: usize, out: &mut [T]| {
        vectorized(|| {
            let mut partial = [init; BAND];
            let part = &mut partial[..c1 - c0];
            for b in 0..rows.div_ceil(COLUMN_BLOCK) {
                let (r0, r1) = (b * COLUMN_BLOCK, ((b + 1) * COLUMN_BLOCK).min(rows));
                part.fill(init);
                for r in r0..r1 {
                    for (p, &v) in part.iter_mut().zip(&x[r * cols + c0..r * cols + c1]) {
                        *p = fold(*p, v);
                    }
                }
                for (o, &p) in out.iter_mut().zip(part.iter()) {
                    *o = fold(*o, p);
                }
            }
        })
    };
    let threads = rayon::current_num_threads().max(1);
    let width = cols
        .div_ceil(threads * 2)
        .div_ceil(16)
        .saturating_mul(16)
        .clamp(16, BAND);
    if x.len() >= PARALLEL_MIN && cols > width {
        out.par_chunks_mut(width)
            .enumerate()
            .for_each(|(k, o)| band(k * width, k * width + o.len(), o));
    } else {
        for (k, o) in out.chunks_mut(width).enumerate() {
            band(k * width, k * width + o.len(), o);
        }
    }
}

/// Folds `x` in 16 interleaved lanes (lane `j` takes elements `j, j + 16, ...`), then the
/// lanes pairwise, then the leftover tail: a fixed order that vectorizes (a plain fold is a
/// chain of dependent adds) and is more accurate than one running sum.
#[inline(always)]
pub fn fold_lanes<T: Scalar>(x: &[T], init: T, fold: impl Fn(T, T) -> T + Copy) -> T {
    const L: usize = 16;
    let chunks = x.chunks_exact(L);
    let tail = chunks.remainder();
    let mut acc = [init; L];
    for c in chunks {
        for j in 0..L {
            acc[j] = fold(acc[j], c[j]);
        }
    }
    let mut w = L / 2;
    while w > 0 {
        for j in 0..w {
            acc[j] = fold(acc[j], acc[j + w]);
        }
        w /= 2;
    }
    tail.iter().fold(acc[0], |a, &v| fold(a, v))
}

/// Folds all of `x` to one value. Large inputs are cut into a fixed number of parts, folded
/// in parallel into a stack array and then in order, so the result does not depend on how
/// rayon schedules the work (runs are reproducible bit for bit) and nothing is allocated;
/// blocks of 4096 are folded apart first, which also keeps f32 sums accurate.
pub fn reduce_all<T: Scalar>(x: &[T], init: T, fold: impl Fn(T, T) -> T + Send + Sync + Copy) -> T {
    const BLOCK: usize = 4096;
    const PARTS: usize = 64;
    let block = |c: &[T]| vectorized(|| fold_lanes(c, init, fold));
    let serial = |x: &[T]| x.chunks(BLOCK).map(block).fold(init, fold);
    if x.len() >= PARALLEL_MIN {
        let mut parts = [init; PARTS];
        let per = x.len().div_ceil(PARTS);
        parts
            .par_iter_mut()
            .zip(x.par_chunks(per))
            .for_each(|(p, c)| *p = serial(c));
        parts.iter().fold(init, |a, &v| fold(a, v))
    } else {
        serial(x)
    }
}

/// Copies `x` into `out` permuted: `out.shape[d] = x.shape[perm[d]]`.
pub fn transpose<T: Scalar>(x: &[T], x_shape: &[usize], perm: &[usize], out: &mut [T]) {
    let xs = strides(x_shape);
    let out_shape: Shape = perm.iter().map(|&p| x_shape[p]).collect();
    let st: Shape = perm.iter().map(|&p| xs[p]).collect();
    map1(
        out,
        &out_shape,
        &Strided {
            data: x,
            offset: 0,
            strides: st,
        },
        |v| v,
    );
}

/// `out = x[.., start..start + len, ..]` along `axis`.
pub fn slice<T: Scalar>(
    x: &[T],
    x_shape: &[usize],
    axis: usize,
    start: usize,
    len: usize,
    out: &mut [T],
) {
    let xs = strides(x_shape);
    let mut out_shape: Shape = x_shape.iter().copied().collect();
    out_shape[axis] = len;
    let a = Strided {
        data: x,
        offset: start * xs[axis],
        strides: xs,
    };
    map1(out, &out_shape, &a, |v| v);
}

/// Writes `x` into `out` at `start` along `axis` (`out` has the larger extent there); the
/// rest of `out` is left as it is.
pub fn place<T: Scalar>(
    x: &[T],
    x_shape: &[usize],
    axis: usize,
    start: usize,
    out: &mut [T],
    out_shape: &[usize],
) {
    let outer: usize = x_shape[..axis].iter().product();
    let block: usize = x_shape[axis..].iter().product();
    let out_block: usize = out_shape[axis..].iter().product();
    let off = start * out_shape[axis + 1..].iter().product::<usize>();
    for i in 0..outer {
        let o = i * out_block + off;
        out[o..o + block].copy_from_slice(&x[i * block..(i + 1) * block]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simd_levels_parse_order_and_cap() {
        assert_eq!(Simd::parse(" AVX2 "), Some(Simd::Avx2));
        assert_eq!(Simd::parse("avx512"), Some(Simd::Avx512));
        assert_eq!(Simd::parse("baseline"), Some(Simd::Baseline));
        assert_eq!(Simd::parse("sse9"), None);
        assert!(Simd::Baseline < Simd::Avx2 && Simd::Avx2 < Simd::Avx512);
        let all = Simd::available();
        assert_eq!(all.first(), Some(&Simd::Baseline));
        assert_eq!(all.last(), Some(&Simd::widest()));
        assert!(Simd::detected() <= Simd::widest());
        // Asking for more than the processor has runs what it has (safe). `fold_lanes` is
        // inlined into the closure, so it is compiled at each level here.
        let xs: Vec<f64> = (0..1000).map(|i| (i as f64 * 0.1).sin()).collect();
        let sum = |s: Simd| vectorized_for(s, || fold_lanes(&xs, 0.0, |a, b| a + b)).to_bits();
        for s in [Simd::Avx2, Simd::Avx512] {
            assert_eq!(sum(s), sum(Simd::Baseline), "{}", s.name());
        }
    }

    /// The outputs of the library's maps and reductions, as (what, bit patterns): every
    /// binary op's kernel (`map2`, same shape and broadcast), `where`'s `map3`, `transpose`
    /// and `slice` (`map1`), the sum and NaN-propagating max that `sum` and `max` pass to
    /// `reduce_into` over every axis set (row folds, column folds, bands), `reduce_all`, and
    /// `fold_columns`; small and above [`PARALLEL_MIN`].
    fn map_and_reduce_outputs<T: Scalar>() -> Vec<(String, Vec<u64>)> {
        let mut outs = Vec::new();
        let bits =
            |v: &[T]| -> Vec<u64> { v.iter().map(|x| x.to_f64_lossless().to_bits()).collect() };
        let val = |i: usize, salt: usize| {
            T::from_f64((((i * 7919 + salt * 104_729) % 2003) as f64 / 173.0 - 5.5) * 1.37)
        };
        // [8, 4096] is PARALLEL_MIN elements: the parallel paths run (as [8, 4, 1024], the
        // band of kept columns splits for up to 16 threads, the row folds too).
        for shape in [[7usize, 36], [8, 4096]] {
            let n = shape[0] * shape[1];
            let a: Vec<T> = (0..n).map(|i| val(i, 1)).collect();
            let b: Vec<T> = (0..n).map(|i| val(i, 2)).collect();
            let row: Vec<T> = (0..shape[1]).map(|i| val(i, 3)).collect();
            let mut out = vec![T::zero(); n];
            for &op in crate::ops::Binary::ALL {
                let sa = Strided::broadcast(&a, &shape, &shape);
                op.kernel(
                    &sa,
                    &Strided::broadcast(&b, &shape, &shape),
                    &mut out,
                    &shape,
                );
                outs.push((format!("{} {shape:?}", op.name()), bits(&out)));
                op.kernel(
                    &sa,
                    &Strided::broadcast(&row, &shape[1..], &shape),
                    &mut out,
                    &shape,
                );
                outs.push((format!("{} {shape:?} by a row", op.name()), bits(&out)));
            }
            map3(
                &mut out,
                &shape,
                &Strided::broadcast(&b, &shape, &shape),
                &Strided::broadcast(&a, &shape, &shape),
                &Strided::broadcast(&row, &shape[1..], &shape),
                |c, a, b| if c != T::zero() { a } else { b },
            );
            outs.push((format!("where {shape:?}"), bits(&out)));
            transpose(&a, &shape, &[1, 0], &mut out);
            outs.push((format!("transpose {shape:?}"), bits(&out)));
            let mut part = vec![T::zero(); shape[0] * 5];
            slice(&a, &shape, 1, 3, 5, &mut part);
            outs.push((format!("slice {shape:?}"), bits(&part)));
            let max = |a: T, b: T| if b > a || b.is_nan() { b } else { a };
            let x3 = [shape[0], 4, shape[1] / 4];
            for keep in [
                [1, 4, x3[2]],
                [x3[0], 1, x3[2]],
                [x3[0], 4, 1],
                [1, 1, x3[2]],
                [x3[0], 1, 1],
                [1, 4, 1],
            ] {
                let mut s = vec![T::zero(); keep.iter().product()];
                reduce_into(&a, &x3, &mut s, &keep, T::zero(), |a, b| a + b);
                outs.push((format!("sum {x3:?} to {keep:?}"), bits(&s)));
                reduce_into(&a, &x3, &mut s, &keep, T::neg_infinity(), max);
                outs.push((format!("max {x3:?} to {keep:?}"), bits(&s)));
            }
            outs.push((
                format!("sum all {shape:?}"),
                bits(&[reduce_all(&a, T::zero(), |a, b| a + b)]),
            ));
            outs.push((
                format!("max all {shape:?}"),
                bits(&[reduce_all(&a, T::neg_infinity(), max)]),
            ));
            let mut cols = vec![T::zero(); shape[1]];
            fold_columns(&a, shape[1], &mut cols, T::zero(), |a, b| a + b);
            outs.push((format!("fold_columns {shape:?}"), bits(&cols)));
        }
        outs
    }

    // Mistake caught: a map or reduction whose result depends on the vector instructions it
    // was compiled for (a contraction into FMAs, a reordered sum), which the docs rule out
    // ("Every level gives the same bits"). The kernels read their level once per process
    // (`Simd::detected`), so each level this processor has runs in a child process of this
    // test binary with `SYMGRAD_SIMD` set; the children print their outputs' bits and the
    // digests must agree. (A closure compiled here at two levels would test the compiler,
    // not these kernels.)
    #[test]
    fn maps_and_reductions_give_the_same_bits_at_every_simd_level() {
        let exe = std::env::current_exe().expect("the test binary");
        let mut runs: Vec<(Simd, Vec<String>)> = Vec::new();
        for simd in Simd::available() {
            let out = std::process::Command::new(&exe)
                .args([
                    "--exact",
                    "tensor::kernels::tests::simd_child_prints_kernel_bits",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("SYMGRAD_SIMD", simd.name())
                .env("SYMGRAD_SIMD_CHILD", "1")
                .output()
                .expect("the test binary runs");
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(out.status.success(), "{}: {text}", simd.name());
            let lines: Vec<String> = text
                .lines()
                .filter(|l| l.starts_with("bits "))
                .map(String::from)
                .collect();
            assert!(
                text.contains(&format!("level {}\n", simd.name())),
                "the child did not run at {}: {text}",
                simd.name()
            );
            assert!(
                lines.len() > 100,
                "{}: {} outputs",
                simd.name(),
                lines.len()
            );
            runs.push((simd, lines));
        }
        let (base, want) = &runs[0];
        for (simd, got) in &runs[1..] {
            for (w, g) in want.iter().zip(got) {
                assert_eq!(w, g, "{} and {} differ", base.name(), simd.name());
            }
            assert_eq!(want.len(), got.len());
        }
    }

    #[test]
    #[ignore = "a child of maps_and_reductions_give_the_same_bits_at_every_simd_level"]
    fn simd_child_prints_kernel_bits() {
        if std::env::var_os("SYMGRAD_SIMD_CHILD").is_none() {
            return;
        }
        println!("level {}", Simd::detected().name());
        for (t, outs) in [
            ("f32", map_and_reduce_outputs::<f32>()),
            ("f64", map_and_reduce_outputs::<f64>()),
        ] {
            for (what, bits) in outs {
                // FNV-1a over the bit patterns: a digest per output.
                let h = bits.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
                    (h ^ b).wrapping_mul(0x0100_0000_01b3)
                });
                println!("bits {t} {what}: {h:016x}");
            }
        }
    }

    #[test]
    fn bias_broadcast_and_reduce_are_transposes() {
        let a: Vec<f64> = (0..6).map(|v| v as f64).collect();
        let b = vec![10.0, 20.0, 30.0];
        let mut out = vec![0.0; 6];
        map2(
            &mut out,
            &[2, 3],
            &Strided::broadcast(&a, &[2, 3], &[2, 3]),
            &Strided::broadcast(&b, &[3], &[2, 3]),
            |x, y| x + y,
        );
        assert_eq!(out, vec![10.0, 21.0, 32.0, 13.0, 24.0, 35.0]);
        let mut s = vec![0.0; 3];
        reduce_into(&out, &[2, 3], &mut s, &[3], 0.0, |a, b| a + b);
        assert_eq!(s, vec![23.0, 45.0, 67.0]);
        let mut rows = vec![0.0; 2];
        reduce_into(&out, &[2, 3], &mut rows, &[2, 1], 0.0, |a, b| a + b);
        assert_eq!(rows, vec![63.0, 72.0]);
    }

    #[test]
    fn transpose_slice_place_round_trip() {
        let x: Vec<f64> = (0..24).map(|v| v as f64).collect();
        let mut t = vec![0.0; 24];
        transpose(&x, &[2, 3, 4], &[2, 0, 1], &mut t);
        // out[k, i, j] = x[i, j, k]; (k, i, j) = (1, 1, 2) has offset 6 + 3 + 2, and
        // x[1, 2, 1] has offset 12 + 8 + 1.
        assert_eq!(t[6 + 3 + 2], x[12 + 8 + 1]);
        let mut s = vec![0.0; 2 * 2 * 4];
        slice(&x, &[2, 3, 4], 1, 1, 2, &mut s);
        assert_eq!(&s[..4], &x[4..8]);
        let mut back = vec![0.0; 24];
        place(&s, &[2, 2, 4], 1, 1, &mut back, &[2, 3, 4]);
        assert_eq!(&back[4..12], &x[4..12]);
        assert_eq!(&back[..4], &[0.0; 4]);
    }

    #[test]
    fn large_reductions_over_every_axis_set_match_a_naive_fold() {
        // [40, 30, 50] = 60,000 elements: above PARALLEL_MIN, so the parallel row and column
        // paths run; reducing axes {0, 2} makes several rows fold into one output element.
        let shape = [40usize, 30, 50];
        let n: usize = shape.iter().product();
        let x: Vec<f64> = (0..n)
            .map(|i| ((i * 7919) % 1013) as f64 / 97.0 - 5.0)
            .collect();
        for mask in 1u32..8 {
            let keep: Vec<usize> = (0..3)
                .map(|d| if mask & (1 << d) != 0 { 1 } else { shape[d] })
                .collect();
            let m: usize = keep.iter().product();
            let (mut sum, mut max) = (vec![0.0; m], vec![0.0; m]);
            reduce_into(&x, &shape, &mut sum, &keep, 0.0, |a, b| a + b);
            reduce_into(&x, &shape, &mut max, &keep, f64::NEG_INFINITY, f64::max);
            let (mut want_sum, mut want_max) = (vec![0.0; m], vec![f64::NEG_INFINITY; m]);
            for (i, &v) in x.iter().enumerate() {
                let idx = [i / 1500, (i / 50) % 30, i % 50];
                let o = (0..3).fold(0, |o, d| {
                    o * keep[d] + if keep[d] == 1 { 0 } else { idx[d] }
                });
                want_sum[o] += v;
                want_max[o] = want_max[o].max(v);
            }
            assert_eq!(max, want_max, "max, mask {mask}");
            for (g, w) in sum.iter().zip(&want_sum) {
                assert!(
                    (g - w).abs() < 1e-9 * (1.0 + w.abs()),
                    "sum, mask {mask}: {g} vs {w}"
                );
            }
        }
    }

    #[test]
    fn lane_folds_keep_nan_and_sum_tails() {
        let nan_max = |a: f32, b: f32| if b > a || b.is_nan() { b } else { a };
        let mut x: Vec<f32> = (0..37).map(|i| i as f32).collect();
        assert_eq!(fold_lanes(&x, 0.0, |a, b| a + b), 666.0);
        assert_eq!(fold_lanes(&x, f32::NEG_INFINITY, nan_max), 36.0);
        for k in [0, 5, 31, 36] {
            let mut y = x.clone();
            y[k] = f32::NAN;
            assert!(
                fold_lanes(&y, f32::NEG_INFINITY, nan_max).is_nan(),
                "NaN at {k}"
            );
        }
        x.truncate(3);
        assert_eq!(fold_lanes(&x, 0.0, |a, b| a + b), 3.0);
    }

    #[test]
    fn large_parallel_map_matches_serial() {
        let n = PARALLEL_MIN * 3 + 7;
        let a: Vec<f32> = (0..n).map(|v| v as f32).collect();
        let mut o = vec![0.0f32; n];
        map2(
            &mut o,
            &[n],
            &Strided::broadcast(&a, &[n], &[n]),
            &Strided::broadcast(&[2.0f32], &[], &[n]),
            |x, y| x * y,
        );
        assert!(o.iter().enumerate().all(|(i, &v)| v == 2.0 * i as f32));
    }
}
