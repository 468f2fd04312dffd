//! Fused elementwise ops: a chain of elementwise ops run as one pass over memory.
//!
//! The fusion pass (`rewrite::fuse`) turns a tree of single-use elementwise nodes of one
//! shape into one `Op::Fused` node. Its kernel walks the output in chunks of [`CHUNK`]
//! elements: for each chunk it runs the members one after another over short scratch
//! registers that stay in L1 cache, each member as its own tight loop (so it vectorizes
//! like the unfused kernel), and writes only the last member's result to memory. Every
//! member computes with the same scalar function as its unfused op, so fusing never changes
//! a bit of the result.
//!
//! A fused node may work in place: the planner can give it the buffer of one same-shape
//! input whose value dies at this node (`alias`). If the last member, the one that writes
//! the chunk, reads that input, the kernel copies each chunk of it into a register first;
//! otherwise the earlier members read it where it lies, before the chunk is written.
//!
//! A broadcast operand (a bias row, a column) is read where it lies when a chunk stays within
//! one row: with rows of at least 64 elements, chunks end where rows end. Otherwise it is
//! gathered into a register chunk by chunk.

use std::mem::MaybeUninit;

use rayon::prelude::*;
use smallvec::SmallVec;

use super::elementwise::Operand;
use super::{Binary, Unary};
use crate::graph::{Dim, SymShape};
use crate::tensor::kernels::{
    fold_rows, return_on_simd, vectorized, Simd, Strided, COLUMN_BLOCK, PARALLEL_MIN,
};
use crate::tensor::{numel, TensorRef};
use crate::Scalar;

/// Elements per chunk.
pub const CHUNK: usize = 256;
/// Scratch slots (registers plus gathered inputs) a fused kernel may use.
pub const MAX_SLOTS: usize = 16;
/// Rows at least this long are walked in chunks that end where rows end, when an operand is
/// broadcast (shorter rows would make chunks too short to pay for their setup).
const ALIGN_MIN: usize = 64;

/// The op of one member.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum FusedOp {
    /// An elementwise function of one argument.
    Unary(Unary),
    /// `x^n`.
    Powi(i32),
    /// `polygamma[n](x)`.
    Polygamma(u32),
    /// An elementwise function of two arguments.
    Binary(Binary),
    /// `where(c, a, b)`.
    Where,
}

/// Where a member's argument comes from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Arg<T> {
    /// An earlier member (index into the member list).
    Member(usize),
    /// Input `k` of the fused node.
    Input(usize),
    /// A number.
    Value(T),
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Src<T> {
    Reg(usize),
    Input(usize),
    Value(T),
}

#[derive(Clone, Debug, PartialEq)]
struct Instr<T> {
    op: FusedOp,
    args: SmallVec<[Src<T>; 3]>,
    /// Register written (the last member writes the output instead).
    dst: usize,
}

/// A fused elementwise program over `inputs` operands.
#[derive(Clone, Debug, PartialEq)]
pub struct Fused<T> {
    inputs: usize,
    code: Vec<Instr<T>>,
    regs: usize,
    text: String,
}

impl<T: Scalar> Fused<T> {
    /// Builds the program of `members` (in order; the last is the result) over `inputs`
    /// operands, or `None` if it would need more than [`MAX_SLOTS`] scratch slots.
    pub fn new(inputs: usize, members: &[(FusedOp, SmallVec<[Arg<T>; 3]>)]) -> Option<Self> {
        let n = members.len();
        let mut last_use = vec![0usize; n];
        for (i, (_, args)) in members.iter().enumerate() {
            for a in args {
                if let Arg::Member(m) = a {
                    last_use[*m] = i;
                }
            }
        }
        let mut free: Vec<usize> = Vec::new();
        let mut regs = 0usize;
        let mut reg_of = vec![usize::MAX; n];
        let mut code = Vec::with_capacity(n);
        for (i, (op, args)) in members.iter().enumerate() {
            // The destination is taken before the arguments' registers are returned, so a
            // member never reads and writes one register.
            let dst = if i + 1 == n {
                usize::MAX
            } else {
                free.pop().unwrap_or_else(|| {
                    regs += 1;
                    regs - 1
                })
            };
            reg_of[i] = dst;
            let srcs = args
                .iter()
                .map(|a| match *a {
                    Arg::Member(m) => Src::Reg(reg_of[m]),
                    Arg::Input(k) => Src::Input(k),
                    Arg::Value(v) => Src::Value(v),
                })
                .collect();
            for a in args {
                if let Arg::Member(m) = a {
                    if last_use[*m] == i && !free.contains(&reg_of[*m]) {
                        free.push(reg_of[*m]);
                    }
                }
            }
            code.push(Instr {
                op: *op,
                args: srcs,
                dst,
            });
        }
        if regs + inputs > MAX_SLOTS {
            return None;
        }
        let text = describe(members);
        Some(Fused {
            inputs,
            code,
            regs,
            text,
        })
    }

    /// The shape rule: the operands broadcast together.
    pub fn infer_shape(&self, ins: &[&[Dim]]) -> Result<SymShape, String> {
        if ins.len() != self.inputs {
            return Err(format!("takes {} operands, got {}", self.inputs, ins.len()));
        }
        ins.iter()
            .try_fold(SymShape::new(), |acc, s| super::broadcast_shapes(&acc, s))
    }

    /// The number of operands.
    pub fn inputs(&self) -> usize {
        self.inputs
    }

    /// The number of members.
    pub fn len(&self) -> usize {
        self.code.len()
    }

    /// Whether there are no members (never, for a built program).
    pub fn is_empty(&self) -> bool {
        self.code.is_empty()
    }

    /// The members as one formula over the operands `#0`, `#1`, ...
    pub fn describe(&self) -> &str {
        &self.text
    }

    /// Computes the program into `out` (shape `out_shape`). Operand `alias`, if given, is
    /// the output buffer itself (its entry in `ins` is not read).
    pub fn eval(
        &self,
        ins: &[TensorRef<'_, T>],
        out: &mut [T],
        out_shape: &[usize],
        alias: Option<usize>,
    ) {
        let total = numel(out_shape);
        debug_assert_eq!(out.len(), total);
        let kinds = self.kinds(ins, out_shape, alias);
        let run = |start: usize, piece: &mut [T]| self.run_piece(&kinds, start, piece, out_shape);
        if total >= PARALLEL_MIN {
            let threads = rayon::current_num_threads().max(1);
            let piece = total.div_ceil(threads * 4).div_ceil(CHUNK) * CHUNK;
            out.par_chunks_mut(piece)
                .enumerate()
                .for_each(|(t, p)| run(t * piece, p));
        } else {
            run(0, out);
        }
    }

    /// Like [`Fused::eval`], and also sums the output's columns into `sums` (one per
    /// element of the last axis, summed over every leading index), as `sum_to` does and
    /// bit for bit the same
    /// ([`fold_columns`](crate::tensor::kernels::fold_columns)'s blocked order): each block of
    /// [`COLUMN_BLOCK`] rows is summed right after it is computed, while it is in cache,
    /// which saves the separate pass over memory. `partials` is scratch for one row of
    /// partial sums per block (at least `ceil(rows / COLUMN_BLOCK) * columns` elements).
    #[allow(clippy::too_many_arguments)]
    pub fn eval_with_column_sums(
        &self,
        ins: &[TensorRef<'_, T>],
        out: &mut [T],
        out_shape: &[usize],
        alias: Option<usize>,
        sums: &mut [T],
        partials: &mut [T],
    ) {
        let total = numel(out_shape);
        let cols = out_shape.last().copied().unwrap_or(1);
        debug_assert_eq!((out.len(), sums.len()), (total, cols));
        if total == 0 {
            sums.fill(T::zero());
            return;
        }
        let kinds = self.kinds(ins, out_shape, alias);
        let block = COLUMN_BLOCK * cols;
        let partials = &mut partials[..total.div_ceil(block) * cols];
        {
            let run = |b: usize, piece: &mut [T], partial: &mut [T]| {
                self.run_piece(&kinds, b * block, piece, out_shape);
                vectorized(|| fold_rows(piece, partial, T::zero(), |a, v| a + v));
            };
            if total >= PARALLEL_MIN {
                out.par_chunks_mut(block)
                    .zip(partials.par_chunks_mut(cols))
                    .enumerate()
                    .for_each(|(b, (piece, partial))| run(b, piece, partial));
            } else {
                for (b, (piece, partial)) in out
                    .chunks_mut(block)
                    .zip(partials.chunks_mut(cols))
                    .enumerate()
                {
                    run(b, piece, partial);
                }
            }
            sums.fill(T::zero());
            vectorized(|| {
                for partial in partials.chunks_exact(cols) {
                    for (s, &p) in sums.iter_mut().zip(partial) {
                        *s += p;
                    }
                }
            });
        }
    }

    /// The chunks of one piece, compiled for [`Simd::detected`]'s instructions.
    fn run_piece(&self, kinds: &[Kind<'_, T>], start: usize, piece: &mut [T], out_shape: &[usize]) {
        self.run_piece_for(Simd::detected(), kinds, start, piece, out_shape)
    }

    /// The chunks of one piece at level `simd` (capped at what the processor has), the
    /// always-inlined chunk loop compiled for that level's features.
    fn run_piece_for(
        &self,
        simd: Simd,
        kinds: &[Kind<'_, T>],
        start: usize,
        piece: &mut [T],
        out_shape: &[usize],
    ) {
        #[inline(always)]
        fn body<T: Scalar>(
            f: &Fused<T>,
            kinds: &[Kind<'_, T>],
            start: usize,
            piece: &mut [T],
            out_shape: &[usize],
        ) {
            // Registers, then a slot per operand, `stride` elements each: a chunk's length,
            // or less for a piece shorter than a chunk. Only the slots this program uses are
            // initialized (zeroed), so a small call does not clear the whole buffer, which
            // took half the time of a 32-example logistic regression's F and gradient.
            let stride = CHUNK.min(piece.len().next_multiple_of(16));
            let used = (f.regs + kinds.len()) * stride;
            let mut buf = [MaybeUninit::<T>::uninit(); MAX_SLOTS * CHUNK];
            for v in &mut buf[..used] {
                v.write(T::zero());
            }
            // SAFETY: the first `used` elements were just initialized (`new` keeps
            // `regs + inputs <= MAX_SLOTS`, and `stride <= CHUNK`).
            let scratch =
                unsafe { std::slice::from_raw_parts_mut(buf.as_mut_ptr() as *mut T, used) };
            // With a broadcast operand and rows of at least ALIGN_MIN, chunks end where
            // rows end (rows split into near-equal chunks), so the operand is read where it
            // lies instead of gathered.
            let row = out_shape.last().copied().unwrap_or(1);
            let align = row >= ALIGN_MIN && kinds.iter().any(|k| matches!(k, Kind::Gather(_)));
            let mut s = 0;
            while s < piece.len() {
                let mut len = CHUNK.min(piece.len() - s);
                if align {
                    let rest = row - (start + s) % row;
                    let even = rest.div_ceil(rest.div_ceil(CHUNK)).next_multiple_of(16);
                    len = len.min(rest).min(even);
                }
                f.run_chunk(
                    kinds,
                    start + s,
                    &mut piece[s..s + len],
                    out_shape,
                    (scratch, stride),
                );
                s += len;
            }
        }
        return_on_simd!(
            simd,
            fn run<T: Scalar>(
                f: &Fused<T>,
                kinds: &[Kind<'_, T>],
                start: usize,
                piece: &mut [T],
                out_shape: &[usize],
            ) {
                body(f, kinds, start, piece, out_shape)
            },
            (self, kinds, start, piece, out_shape)
        );
        body(self, kinds, start, piece, out_shape)
    }

    #[inline(always)]
    fn run_chunk(
        &self,
        kinds: &[Kind<'_, T>],
        start: usize,
        out: &mut [T],
        out_shape: &[usize],
        (scratch, stride): (&mut [T], usize),
    ) {
        let len = out.len();
        let here = out.as_mut_ptr() as *const T;
        let base = scratch.as_mut_ptr();
        // Where each operand is read this chunk: `len` elements from `ptrs[k]`, or, where
        // that is null, the one value `vals[k]`. Operands that cannot be read where they lie
        // are copied into slots after the registers. Two plain arrays rather than a vector
        // of enums: each entry is stored and loaded at one width, so the loads are forwarded
        // from the stores; a vector of enums, written field by field and copied whole,
        // stalled every chunk on that copy (13% of the samples of a three-member chain).
        let mut ptrs = [std::ptr::null::<T>(); MAX_SLOTS];
        let mut vals = [T::zero(); MAX_SLOTS];
        for (k, kind) in kinds.iter().enumerate() {
            let slot = (self.regs + k) * stride;
            // SAFETY: slot `regs + k` is a `stride`-long range of `scratch` that no register
            // and no other operand uses; `len <= stride`.
            let into_slot = || unsafe { std::slice::from_raw_parts_mut(base.add(slot), len) };
            match kind {
                Kind::Value(v) => vals[k] = *v,
                Kind::Contiguous(d) => ptrs[k] = d[start..start + len].as_ptr(),
                // `kinds` chose InPlace only if the last member, the one that writes `out`,
                // does not read this operand; every read of it ends before.
                Kind::InPlace => ptrs[k] = here,
                Kind::Alias => {
                    into_slot().copy_from_slice(out);
                    ptrs[k] = into_slot().as_ptr();
                }
                Kind::Gather(st) => match direct(st, out_shape, start, len) {
                    Some(Place::Value(v)) => vals[k] = v,
                    Some(Place::Slice(d)) => ptrs[k] = d.as_ptr(),
                    None => {
                        gather(st, out_shape, start, into_slot());
                        ptrs[k] = into_slot().as_ptr();
                    }
                },
            }
        }
        let last = self.code.len() - 1;
        for (i, ins) in self.code.iter().enumerate() {
            // SAFETY: registers and slots are disjoint `stride`-long ranges of `scratch`; the
            // destination register differs from every argument register (see `new`), and
            // the output chunk is not a register. So no slice read here overlaps the one
            // written.
            let operand = |src: &Src<T>| -> Operand<'_, T> {
                match *src {
                    Src::Value(v) => Operand::Value(v),
                    Src::Reg(r) => Operand::Slice(unsafe {
                        std::slice::from_raw_parts(base.add(r * stride), len)
                    }),
                    Src::Input(k) if ptrs[k].is_null() => Operand::Value(vals[k]),
                    // SAFETY: as above, and `ptrs[k]` addresses `len` elements of the
                    // operand (where it lies, or in its slot).
                    Src::Input(k) => {
                        Operand::Slice(unsafe { std::slice::from_raw_parts(ptrs[k], len) })
                    }
                }
            };
            let dst: &mut [T] = if i == last {
                &mut *out
            } else {
                unsafe { std::slice::from_raw_parts_mut(base.add(ins.dst * stride), len) }
            };
            match ins.op {
                FusedOp::Unary(u) => match operand(&ins.args[0]) {
                    Operand::Slice(a) => u.slice_kernel(a, dst),
                    Operand::Value(v) => dst.fill(u.apply(v)),
                },
                FusedOp::Powi(n) => match operand(&ins.args[0]) {
                    Operand::Slice(a) => super::elementwise::powi_slice(a, dst, n),
                    Operand::Value(v) => dst.fill(super::elementwise::powi(v, n)),
                },
                FusedOp::Polygamma(n) => {
                    let f = |v: T| T::from_f64(super::special::polygamma(n, v.to_f64_lossless()));
                    match operand(&ins.args[0]) {
                        Operand::Slice(a) => dst.iter_mut().zip(a).for_each(|(o, &v)| *o = f(v)),
                        Operand::Value(v) => dst.fill(f(v)),
                    }
                }
                FusedOp::Binary(b) => {
                    b.slice_kernel(operand(&ins.args[0]), operand(&ins.args[1]), dst)
                }
                FusedOp::Where => {
                    let [c, a, b] = [0, 1, 2].map(|k| operand(&ins.args[k]));
                    let at = |o: &Operand<'_, T>, j: usize| match o {
                        Operand::Slice(s) => s[j],
                        Operand::Value(v) => *v,
                    };
                    for (j, o) in dst.iter_mut().enumerate() {
                        *o = if at(&c, j) != T::zero() {
                            at(&a, j)
                        } else {
                            at(&b, j)
                        };
                    }
                }
            }
        }
    }
}

impl<T: Scalar> Fused<T> {
    /// How the kernel reads each operand.
    fn kinds<'a>(
        &self,
        ins: &[TensorRef<'a, T>],
        out_shape: &[usize],
        alias: Option<usize>,
    ) -> SmallVec<[Kind<'a, T>; 8]> {
        let total = numel(out_shape);
        // The last member writes the output chunk; if it does not read the aliased operand
        // itself, every read of that operand comes before the chunk is written, so the
        // members can read it where it lies.
        let last_reads = |k: usize| {
            self.code
                .last()
                .is_some_and(|ins| ins.args.contains(&Src::Input(k)))
        };
        ins.iter()
            .enumerate()
            .map(|(k, t)| {
                if alias == Some(k) {
                    if last_reads(k) {
                        Kind::Alias
                    } else {
                        Kind::InPlace
                    }
                } else if t.data.len() == 1 {
                    Kind::Value(t.data[0])
                } else if t.data.len() == total {
                    Kind::Contiguous(t.data)
                } else {
                    Kind::Gather(Strided::broadcast(t.data, t.shape, out_shape))
                }
            })
            .collect()
    }
}

enum Kind<'a, T> {
    Value(T),
    Contiguous(&'a [T]),
    /// A broadcast operand: read where it lies when a chunk stays on one run of its
    /// innermost axis, else gathered into a slot.
    Gather(Strided<'a, T>),
    /// The output buffer, copied into a slot before the chunk is written over it.
    Alias,
    /// The output buffer, read in place (the last member does not read it).
    InPlace,
}

/// A broadcast operand read where it lies over one chunk: one value or a slice.
#[derive(Clone, Copy)]
enum Place<'a, T> {
    Value(T),
    Slice(&'a [T]),
}

/// The operand at flat output indices `start..start + len` where it lies, if they are on
/// one run of its innermost axis: a slice when it is contiguous there (a bias row), one value
/// when it is broadcast there (a column).
fn direct<'a, T: Copy>(
    st: &Strided<'a, T>,
    shape: &[usize],
    start: usize,
    len: usize,
) -> Option<Place<'a, T>> {
    let Some(&row) = shape.last() else {
        return Some(Place::Value(st.data[st.offset]));
    };
    let inner = st.strides[shape.len() - 1];
    if inner > 1 || start % row + len > row {
        return None;
    }
    let (mut rem, mut off) = (start, st.offset);
    for (&d, &stride) in shape.iter().zip(&st.strides).rev() {
        off += rem % d * stride;
        rem /= d;
    }
    Some(if inner == 1 {
        Place::Slice(&st.data[off..off + len])
    } else {
        Place::Value(st.data[off])
    })
}

/// `dst[j] = operand at flat output index start + j`, walking the output's index space.
fn gather<T: Copy>(st: &Strided<'_, T>, shape: &[usize], start: usize, dst: &mut [T]) {
    let r = shape.len();
    let mut idx: SmallVec<[usize; 6]> = SmallVec::from_elem(0, r);
    let mut rem = start;
    let mut off = st.offset;
    for d in (0..r).rev() {
        idx[d] = rem % shape[d];
        rem /= shape[d];
        off += idx[d] * st.strides[d];
    }
    if r == 0 {
        dst.fill(st.data[off]);
        return;
    }
    // Runs along the innermost axis: a copy when the operand is contiguous there (a bias
    // row), a fill when it is broadcast there (a column), a strided walk otherwise.
    let (last, inner) = (r - 1, st.strides[r - 1]);
    let mut j = 0;
    while j < dst.len() {
        let run = (shape[last] - idx[last]).min(dst.len() - j);
        let out = &mut dst[j..j + run];
        match inner {
            0 => out.fill(st.data[off]),
            1 => out.copy_from_slice(&st.data[off..off + run]),
            s => {
                for (k, v) in out.iter_mut().enumerate() {
                    *v = st.data[off + k * s];
                }
            }
        }
        j += run;
        // Odometer step by `run` along the innermost axis, carrying outwards.
        idx[last] += run;
        off += run * inner;
        let mut d = last;
        while idx[d] == shape[d] && d > 0 {
            off -= idx[d] * st.strides[d];
            idx[d] = 0;
            d -= 1;
            idx[d] += 1;
            off += st.strides[d];
        }
    }
}

fn describe<T: Scalar>(members: &[(FusedOp, SmallVec<[Arg<T>; 3]>)]) -> String {
    let mut texts: Vec<String> = Vec::with_capacity(members.len());
    for (op, args) in members {
        let a: Vec<String> = args
            .iter()
            .map(|a| match a {
                Arg::Member(m) => texts[*m].clone(),
                Arg::Input(k) => format!("#{k}"),
                Arg::Value(v) => crate::graph::fmt_number(*v),
            })
            .collect();
        let t = match op {
            FusedOp::Unary(Unary::Neg) => format!("-{}", a[0]),
            FusedOp::Unary(u) => format!("{}({})", u.name(), strip(&a[0])),
            FusedOp::Powi(n) => format!("powi[{n}]({})", strip(&a[0])),
            FusedOp::Polygamma(n) => format!("polygamma[{n}]({})", strip(&a[0])),
            FusedOp::Binary(b) => match b.infix() {
                Some(sym) => format!("({} {sym} {})", a[0], a[1]),
                None => format!("{}({}, {})", b.name(), strip(&a[0]), strip(&a[1])),
            },
            FusedOp::Where => format!(
                "where({}, {}, {})",
                strip(&a[0]),
                strip(&a[1]),
                strip(&a[2])
            ),
        };
        texts.push(t);
    }
    strip(&texts.pop().unwrap_or_default()).to_string()
}

/// `t` without outer parentheses that enclose all of it.
fn strip(t: &str) -> &str {
    if t.starts_with('(') && t.ends_with(')') && balanced_inside(t) {
        &t[1..t.len() - 1]
    } else {
        t
    }
}

/// Whether the outer parentheses of `t` enclose all of it.
fn balanced_inside(t: &str) -> bool {
    let mut depth = 0i32;
    for (i, c) in t.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth == 0 && i + 1 < t.len() {
                    return false;
                }
            }
            _ => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gather_walks_a_broadcast_operand() {
        let bias = [1.0f64, 2.0, 3.0];
        let st = Strided::broadcast(&bias, &[3], &[2, 3]);
        let mut out = [0.0; 4];
        gather(&st, &[2, 3], 1, &mut out);
        assert_eq!(out, [2.0, 3.0, 1.0, 2.0]);
    }

    #[test]
    fn a_fused_chain_equals_its_ops_bit_for_bit() {
        // sigmoid(#0 + #1) * 2 over [3, 1000], #1 a broadcast bias.
        let members = [
            (
                FusedOp::Binary(Binary::Add),
                SmallVec::from_slice(&[Arg::Input(0), Arg::Input(1)]),
            ),
            (
                FusedOp::Unary(Unary::Sigmoid),
                SmallVec::from_slice(&[Arg::Member(0)]),
            ),
            (
                FusedOp::Binary(Binary::Mul),
                SmallVec::from_slice(&[Arg::Member(1), Arg::Value(2.0)]),
            ),
        ];
        let f = Fused::<f32>::new(2, &members).unwrap();
        assert_eq!(f.describe(), "sigmoid(#0 + #1) * 2");
        let x: Vec<f32> = (0..3000).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
        let b: Vec<f32> = (0..1000).map(|i| i as f32 * 0.001 - 0.5).collect();
        let mut out = vec![0.0; 3000];
        f.eval(
            &[TensorRef::new(&[3, 1000], &x), TensorRef::new(&[1000], &b)],
            &mut out,
            &[3, 1000],
            None,
        );
        for i in 0..3000 {
            let want = Unary::Sigmoid.apply(x[i] + b[i % 1000]) * 2.0;
            assert_eq!(out[i].to_bits(), want.to_bits());
        }
        // In place over operand 0.
        let mut buf = x.clone();
        f.eval(
            &[TensorRef::new(&[3, 1000], &[]), TensorRef::new(&[1000], &b)],
            &mut buf,
            &[3, 1000],
            Some(0),
        );
        assert_eq!(buf, out);
    }

    #[test]
    fn every_instruction_set_gives_the_same_bits() {
        // tanh(softplus(#0) * #1) - exp(-|#0|) + ln(#1), and sigmoid, over values that reach
        // the functions' special regions; each level this processor has against the scalar
        // functions, one member at a time.
        let x: Vec<f64> = [0.0, -0.0, 1e-30, 40.0, -40.0, 700.0, -800.0]
            .into_iter()
            .chain([f64::INFINITY, f64::NEG_INFINITY, f64::NAN])
            .chain((0..5000).map(|i| (i as f64 * 0.37).sin() * 30.0))
            .collect();
        let y: Vec<f64> = (0..x.len()).map(|i| 0.01 + (i % 97) as f64 * 0.5).collect();
        let members = [
            (
                FusedOp::Unary(Unary::Softplus),
                SmallVec::from_slice(&[Arg::Input(0)]),
            ),
            (
                FusedOp::Binary(Binary::Mul),
                SmallVec::from_slice(&[Arg::Member(0), Arg::Input(1)]),
            ),
            (
                FusedOp::Unary(Unary::Tanh),
                SmallVec::from_slice(&[Arg::Member(1)]),
            ),
            (
                FusedOp::Unary(Unary::Abs),
                SmallVec::from_slice(&[Arg::Input(0)]),
            ),
            (
                FusedOp::Unary(Unary::Neg),
                SmallVec::from_slice(&[Arg::Member(3)]),
            ),
            (
                FusedOp::Unary(Unary::Exp),
                SmallVec::from_slice(&[Arg::Member(4)]),
            ),
            (
                FusedOp::Binary(Binary::Sub),
                SmallVec::from_slice(&[Arg::Member(2), Arg::Member(5)]),
            ),
            (
                FusedOp::Unary(Unary::Log),
                SmallVec::from_slice(&[Arg::Input(1)]),
            ),
            (
                FusedOp::Binary(Binary::Add),
                SmallVec::from_slice(&[Arg::Member(6), Arg::Member(7)]),
            ),
            (
                FusedOp::Unary(Unary::Sigmoid),
                SmallVec::from_slice(&[Arg::Member(8)]),
            ),
        ];
        fn check<T: Scalar>(members: &[(FusedOp, SmallVec<[Arg<T>; 3]>)], x: &[T], y: &[T]) {
            let f = Fused::<T>::new(2, members).unwrap();
            let shape = [x.len()];
            let ins = [TensorRef::new(&shape, x), TensorRef::new(&shape, y)];
            let kinds = f.kinds(&ins, &shape, None);
            let want: Vec<T> = x
                .iter()
                .zip(y)
                .map(|(&a, &b)| {
                    let t = Unary::Tanh.apply(Unary::Softplus.apply(a) * b);
                    let e = Unary::Exp.apply(-a.abs());
                    Unary::Sigmoid.apply(t - e + Unary::Log.apply(b))
                })
                .collect();
            for simd in Simd::available() {
                let mut out = vec![T::zero(); x.len()];
                f.run_piece_for(simd, &kinds, 0, &mut out, &shape);
                for (i, (g, w)) in out.iter().zip(&want).enumerate() {
                    assert!(
                        g.to_f64_lossless().to_bits() == w.to_f64_lossless().to_bits()
                            || g.is_nan() && w.is_nan(),
                        "{} {}: element {i} (x = {:?}): {g:?} against {w:?}",
                        T::NAME,
                        simd.name(),
                        x[i]
                    );
                }
            }
        }
        check::<f64>(&members, &x, &y);
        let m32: Vec<(FusedOp, SmallVec<[Arg<f32>; 3]>)> = members
            .iter()
            .map(|(op, args)| {
                let a = args
                    .iter()
                    .map(|a| match *a {
                        Arg::Member(m) => Arg::Member(m),
                        Arg::Input(k) => Arg::Input(k),
                        Arg::Value(v) => Arg::Value(v as f32),
                    })
                    .collect();
                (*op, a)
            })
            .collect();
        let x32: Vec<f32> = x.iter().map(|&v| v as f32).collect();
        let y32: Vec<f32> = y.iter().map(|&v| v as f32).collect();
        check::<f32>(&m32, &x32, &y32);
    }

    #[test]
    fn broadcast_operands_read_in_place_or_gathered_give_the_same_bits() {
        // (#0 + #1) * #2 - #0 and #1 * (#0 + #2): a bias row #1 ([C]) and a column #2
        // ([R, 1]) over [R, C]. Rows of 30 are gathered, rows of 64 and more are walked in
        // chunks that end with the row, read where the operands lie; 37 x 1000 is split
        // between threads at places that are not row ends. Each is also run in place over
        // #0: the first program's last member reads #0 (copied before it is written), the
        // second's does not (read where it lies).
        let add = |a, b| (FusedOp::Binary(Binary::Add), SmallVec::from_slice(&[a, b]));
        let op = |o, a, b| (FusedOp::Binary(o), SmallVec::from_slice(&[a, b]));
        let first = Fused::<f64>::new(
            3,
            &[
                add(Arg::Input(0), Arg::Input(1)),
                op(Binary::Mul, Arg::Member(0), Arg::Input(2)),
                op(Binary::Sub, Arg::Member(1), Arg::Input(0)),
            ],
        )
        .unwrap();
        let second = Fused::<f64>::new(
            3,
            &[
                add(Arg::Input(0), Arg::Input(2)),
                op(Binary::Mul, Arg::Input(1), Arg::Member(0)),
            ],
        )
        .unwrap();
        for &(r, c) in &[(5, 30), (5, 64), (3, 70), (4, 784), (37, 1000)] {
            let x: Vec<f64> = (0..r * c).map(|i| (i as f64 * 0.37).sin()).collect();
            let row: Vec<f64> = (0..c).map(|j| j as f64 * 0.01 - 0.3).collect();
            let col: Vec<f64> = (0..r).map(|i| 1.5 - i as f64 * 0.1).collect();
            let wants: [Box<dyn Fn(usize, usize) -> f64>; 2] = [
                Box::new(|i, j| (x[i * c + j] + row[j]) * col[i] - x[i * c + j]),
                Box::new(|i, j| row[j] * (x[i * c + j] + col[i])),
            ];
            for (f, want) in [&first, &second].into_iter().zip(&wants) {
                let shapes = [[r, c], [c, 0], [r, 1]];
                let ins = [
                    TensorRef::new(&shapes[0], &x),
                    TensorRef::new(&shapes[1][..1], &row),
                    TensorRef::new(&shapes[2], &col),
                ];
                let mut out = vec![0.0; r * c];
                f.eval(&ins, &mut out, &[r, c], None);
                let mut buf = x.clone();
                let ins_alias = [TensorRef::new(&shapes[0], &[]), ins[1], ins[2]];
                f.eval(&ins_alias, &mut buf, &[r, c], Some(0));
                let mut sums = vec![0.0; c];
                let mut partials = vec![0.0; r.div_ceil(COLUMN_BLOCK) * c];
                let mut summed = vec![0.0; r * c];
                f.eval_with_column_sums(&ins, &mut summed, &[r, c], None, &mut sums, &mut partials);
                for i in 0..r {
                    for j in 0..c {
                        let w = want(i, j).to_bits();
                        let at = format!("{} at ({i}, {j}) of {r}x{c}", f.describe());
                        assert_eq!(out[i * c + j].to_bits(), w, "{at}");
                        assert_eq!(buf[i * c + j].to_bits(), w, "{at}, in place");
                        assert_eq!(summed[i * c + j].to_bits(), w, "{at}, with sums");
                    }
                }
                for j in 0..c {
                    let s: f64 = (0..r).map(|i| out[i * c + j]).sum();
                    assert!((sums[j] - s).abs() <= 1e-12 * (1.0 + s.abs()), "sum {j}");
                }
            }
        }
    }
}
