//! symgrad's side of the scipy comparison (benches/compare/scipy_optim.py is scipy's): CG
//! (PR+) and L-BFGS (m = 10) from x0 = (-1.2, 1, ...), n = 1000, to |g|_inf <= 1e-5, with
//! their iteration and evaluation counts.
//!
//! Run: `cargo run --release --example optim_counts`

use symgrad::optim::problems::{chained_rosenbrock, extended_rosenbrock};
use symgrad::optim::{Beta, FusedObjective, Lbfgs, NonlinearCg};

fn main() {
    for p in [extended_rosenbrock(1000), chained_rosenbrock(1000)] {
        let mut obj = FusedObjective::new(p.n, |x: &[f64], g: &mut [f64]| p.fg(x, g));
        let mut x = p.x0.clone();
        let r = NonlinearCg::new(Beta::PolakRibierePlus).minimize(&mut obj, &mut x);
        println!(
            "{}: CG PR+ iterations {}, f evals {}, g evals {}, f = {:.3e}",
            p.name, r.iterations, r.f_evals, r.g_evals, r.f
        );
        let mut x = p.x0.clone();
        let r = Lbfgs::new().minimize(&mut obj, &mut x);
        println!(
            "{}: L-BFGS iterations {}, f evals {}, g evals {}, f = {:.3e}",
            p.name, r.iterations, r.f_evals, r.g_evals, r.f
        );
    }
}
