//! Each minimizer's own work per iteration at n = 10^6, excluding F and ∇F: the time of
//! `2 + m` iterations minus that of 2 iterations, each minus the time spent inside the
//! objective (measured around every call), divided by m. The objective is the extended
//! Rosenbrock function (separable, so its iteration counts do not depend on n).
//!
//! Run: `cargo bench --bench optim_overhead`. Figures go to docs/PERFORMANCE.md.

use std::cell::Cell;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use symgrad::optim::problems::{extended_rosenbrock, Problem};
use symgrad::optim::{
    minimize_m, Beta, Budget, FusedObjective, Lbfgs, LearningRate, Momentum, NonlinearCg, Stop,
};

const N: usize = 1_000_000;

/// Runs `iters` iterations of a minimizer and returns (wall time, time inside the objective).
fn run(p: &Problem, which: &str, iters: usize) -> (Duration, Duration) {
    let inside = Cell::new(Duration::ZERO);
    let mut obj = FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| {
        let t = Instant::now();
        let f = p.fg(x, g);
        inside.set(inside.get() + t.elapsed());
        f
    });
    let mut x = p.x0.clone();
    let stop = Stop {
        grad_tol: 0.0,
        max_iter: iters,
        ..Stop::default()
    };
    let t = Instant::now();
    match which {
        "CG PR+" => {
            let mut m = NonlinearCg::new(Beta::PolakRibierePlus);
            m.stop = stop;
            m.keep_history = false;
            m.minimize(&mut obj, &mut x);
        }
        "L-BFGS m=10" => {
            let mut m = Lbfgs::new();
            m.stop = stop;
            m.keep_history = false;
            m.minimize(&mut obj, &mut x);
        }
        "minimize.m" => {
            minimize_m(&mut obj, &mut x, Budget::LineSearches(iters));
        }
        _ => {
            let mut m = Momentum::new(LearningRate::Constant(1e-4), 0.9);
            m.minimize_batches(&mut x, iters, 1, |_, x, g| {
                let t = Instant::now();
                let f = p.fg(x, g);
                inside.set(inside.get() + t.elapsed());
                f
            });
        }
    }
    (t.elapsed(), inside.get())
}

fn benches(c: &mut Criterion) {
    let p = extended_rosenbrock(N);
    let mut group = c.benchmark_group("minimizer_overhead_per_iteration_n1e6");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    for which in ["CG PR+", "L-BFGS m=10", "minimize.m", "momentum"] {
        group.bench_function(which, |b| {
            b.iter_custom(|iters| {
                let mut own = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let m = left.min(10);
                    let (t_a, o_a) = run(&p, which, 2);
                    let (t_b, o_b) = run(&p, which, 2 + m);
                    own += (t_b - o_b).saturating_sub(t_a - o_a);
                    left -= m;
                }
                own
            })
        });
    }
    group.finish();
}

criterion_group!(group, benches);
criterion_main!(group);
