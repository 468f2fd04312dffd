//! Steady state allocates nothing of symgrad's own: a compiled F-and-gradient call after the
//! first, and a minimizer's iterations after its set-up. Counted by a global allocator. The
//! `gemm` crate allocates its packing buffers inside each product, which the bound below pins;
//! the bound on calls without products leaves room for rayon's pool entry (rayon issue #666),
//! though none was measured there.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use symgrad::models::autoencoder::{Autoencoder, Unit};
use symgrad::optim::problems;
use symgrad::optim::{Beta, FusedObjective, Lbfgs, NonlinearCg};
use symgrad::{dims, Compiler, Graph, TensorRef};

struct Counting;
static ALLOCS: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCS.load(Ordering::SeqCst);
    f();
    ALLOCS.load(Ordering::SeqCst) - before
}

#[test]
fn compiled_calls_and_minimizer_iterations_allocate_nothing_in_the_steady_state() {
    // Run everything in one test: the counter is global, other tests would add to it.

    // Elementwise ops, broadcasting and reductions, large enough to run in parallel.
    let g = Graph::<f32>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 256]);
    let mut l = symgrad::ParamLayout::new();
    l.add("b", &[256]);
    let b = g.param(&l, "b");
    let cost = ((x + b).sigmoid().log() * x - (x * b).softplus())
        .sum(&[1], false)
        .mean_all()
        + b.max_all()
        + x.gt(0.5).select(x, b).sum_all();
    let mut f = Compiler::new(&g, &l)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let data: Vec<f32> = (0..1024 * 256).map(|i| (i % 89) as f32 / 89.0).collect();
    let p = vec![0.1f32; 256];
    let mut gr = vec![0.0f32; 256];
    let shape = [1024, 256];
    f.value_and_grad(&p, &[TensorRef::new(&shape, &data)], &mut gr)
        .unwrap();
    let own = allocations_during(|| {
        for _ in 0..10 {
            f.value_and_grad(&p, &[TensorRef::new(&shape, &data)], &mut gr)
                .unwrap();
        }
    });
    println!("allocations in 10 compiled calls without products: {own}");
    assert_eq!(
        own, 0,
        "symgrad's evaluator or kernels allocate in the steady state"
    );

    // With products: only the gemm crate's packing buffers.
    let ae = Autoencoder {
        sizes: vec![64, 32, 8],
        units: vec![Unit::Logistic, Unit::Linear],
        output_unit: Unit::Logistic,
        tied: false,
    };
    let layout = ae.layout();
    let g = Graph::<f32>::new();
    let n = g.symbol("batch");
    let x = g.input("X", dims![n, 64]);
    let cost = Autoencoder::cross_entropy(x, ae.forward(&g, &layout, x).output);
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .build();
    let p: Vec<f32> = ae.init(&layout, 0.1, 1);
    let data: Vec<f32> = (0..512 * 64).map(|i| (i % 97) as f32 / 97.0).collect();
    let mut gr = vec![0.0f32; layout.len()];
    let shape = [512, 64];
    let inputs = [TensorRef::new(&shape, &data)];
    f.value_and_grad(&p, &inputs, &mut gr).unwrap();
    let per_call = allocations_during(|| {
        for _ in 0..10 {
            f.value_and_grad(&p, &inputs, &mut gr).unwrap();
        }
    });
    let products = f
        .program()
        .iter()
        .filter(|i| matches!(i.op, symgrad::ops::Op::MatMul { .. }))
        .count();
    println!("allocations in 10 compiled calls with {products} products each: {per_call}");

    // Minimizers: the same allocations for 5 and for 25 iterations.
    let prob = problems::extended_rosenbrock(1000);
    let count = |iters: usize, lbfgs: bool| {
        let mut obj = FusedObjective::new(prob.n, |x: &[f64], g: &mut [f64]| prob.fg(x, g));
        let mut xx = prob.x0.clone();
        allocations_during(|| {
            if lbfgs {
                let mut m = Lbfgs::new();
                m.keep_history = false;
                m.stop.max_iter = iters;
                m.minimize(&mut obj, &mut xx);
            } else {
                let mut m = NonlinearCg::new(Beta::PolakRibierePlus);
                m.keep_history = false;
                m.stop.max_iter = iters;
                m.minimize(&mut obj, &mut xx);
            }
        })
    };
    let (cg5, cg25, lb15, lb25) = (
        count(5, false),
        count(25, false),
        count(15, true),
        count(25, true),
    );
    println!("CG: {cg5} allocations for 5 iterations, {cg25} for 25; L-BFGS: {lb15} for 15, {lb25} for 25");
    assert!(
        per_call <= 10 * (2 + 3 * products),
        "more than rayon's entry and gemm's packing buffers: {per_call}"
    );
    assert_eq!(cg5, cg25, "CG allocates per iteration");
    assert_eq!(
        lb15, lb25,
        "L-BFGS allocates per iteration once its memory is full"
    );
}
