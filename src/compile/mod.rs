//! Compiling graphs into [`Function`]s, in stages that each have a file:
//!
//! | file | stage |
//! | --- | --- |
//! | `builder.rs` | [`Compiler`]: what to compute; the stage driver [`Compiler::rewrite`] (rewrite phases, gradient, phases again, `stop_gradient` removed, fusion) to a [`Rewritten`] graph |
//! | `lower.rs` | the [`Rewritten`] graph to a [`Program`]: steps in topological order, copies, the flat gradient's targets, the column-sum fusion |
//! | `program.rs` | [`Program`], [`Step`], [`Kernel`]: what runs, no buffers |
//! | `plan.rs` | [`Plan`]: a program's buffers for one binding of the symbolic dimensions, checked against their bounds |
//! | `function.rs` | [`Function`]: a program and its runtime state; a call (bind, plan, steps, gradient writes) |
//! | `explain.rs` | `explain`, `describe`, profiles, the NaN guard's report |
//! | `eval.rs` | `Expr::eval`, an expression's value at once |
//!
//! Lowering keeps the nodes the outputs depend on, in id (topological) order. A call checks
//! the inputs, binds the symbols (the batch size), takes the cached plan for that binding or
//! makes one, and runs the kernels in order: inside one rayon scope when a value is large
//! enough for some kernel to split, on the caller's thread otherwise. In the steady state a
//! call allocates nothing of its own: the arena and the plans are kept between calls (see
//! [`CallStats`]); the gemm crate's packing buffers are all that is
//! left (counted in tests/alloc_free.rs).

mod arg;
mod builder;
mod eval;
mod explain;
mod function;
mod lower;
mod plan;
mod program;

pub use arg::{Arg, IndexData, IndexElement};
pub use builder::Compiler;
pub use function::Function;
pub use lower::Rewritten;
pub use plan::{Loc, Plan};
pub use program::{Kernel, Program, Step};

use crate::rewrite::Level;

/// Counters that show the steady state: after the first call with a given binding, further
/// calls build no plan and grow no buffer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CallStats {
    /// Calls made.
    pub calls: u64,
    /// Buffer plans built (one per new binding of the symbolic dimensions).
    pub plans_built: u64,
    /// Times the arena had to grow.
    pub arena_grows: u64,
    /// Current arena length, in elements.
    pub arena_len: usize,
    /// Calls that ran inside rayon's thread pool: those with a value large enough for some
    /// kernel to split between threads (see [`PARALLEL_MIN`](crate::tensor::kernels::PARALLEL_MIN)
    /// and [`PARALLEL_MIN_VALUE`](crate::tensor::gemm::PARALLEL_MIN_VALUE)). The others run
    /// on the caller's thread alone, which spares a small call the pool's wake-up (a scalar
    /// expression: 0.3 µs a call instead of 19).
    pub pooled_calls: u64,
}

/// What `Compiler::build` does between the graph as built and the program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Which rewrites run (default: all).
    pub rewrites: Level,
    /// Fuse elementwise chains into one pass over memory (default: on).
    pub fusion: bool,
    /// Let elementwise nodes write over an input whose value dies there (default: on).
    pub in_place: bool,
    /// Check every step's output for NaN and infinities, stopping at the first (default:
    /// off; turns fusion off so that each op is checked on its own).
    pub nan_guard: bool,
    /// Keep every stage's graph for [`Function::explanation`] (default: off).
    pub record: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            rewrites: Level::All,
            fusion: true,
            in_place: true,
            nan_guard: false,
            record: false,
        }
    }
}

impl Options {
    /// The rewrites, but neither fusion nor in-place buffer reuse: to measure what those two
    /// buy.
    pub fn unfused() -> Self {
        Options {
            fusion: false,
            in_place: false,
            ..Options::default()
        }
    }

    /// Everything off: the graph compiled as built, each op its own step, no buffer shared
    /// between a step's input and its output.
    pub fn literal() -> Self {
        Options {
            rewrites: Level::None,
            fusion: false,
            in_place: false,
            nan_guard: false,
            record: false,
        }
    }
}
