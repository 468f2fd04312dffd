//! Peak memory of one F and ∇F call of workload W (the MNIST autoencoder, batch 1000, f32),
//! measured with a counting allocator, against what the call cannot do without: the
//! parameters, the gradient, the input batch, and the activations the backward pass needs.
//!
//! Run: `cargo run --release --example memory_w`

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use symgrad::compile::Options;
use symgrad::models::autoencoder::Autoencoder;
use symgrad::{Compiler, Graph, TensorRef};

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator, only counting bytes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(l) };
        if !p.is_null() {
            let now = LIVE.fetch_add(l.size(), Ordering::Relaxed) + l.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) };
        LIVE.fetch_sub(l.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static A: Counting = Counting;

const MB: f64 = 1e6;

fn main() {
    let ae = Autoencoder::mnist();
    let layout = ae.layout();
    let batch = 1000;
    let p: Vec<f32> = ae.init(&layout, 0.1, 1);
    let data: Vec<f32> = (0..batch * 784)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let shape = [batch, 784];
    let mut grad = vec![0.0f32; layout.len()];
    // Everything the call cannot do without: x, gradient, batch, and each layer's output
    // (the backward pass needs them all; the last layer's logits stand in for its output).
    let widths: usize = ae.sizes[1..].iter().sum::<usize>()
        + ae.sizes[1..ae.sizes.len() - 1].iter().sum::<usize>()
        + 784;
    let activations = batch * widths * 4;
    let needed = (2 * layout.len() + batch * 784) * 4 + activations;
    println!(
        "needed: x {:.1} MB + gradient {:.1} MB + batch {:.1} MB + activations {:.1} MB = {:.1} MB",
        layout.len() as f64 * 4.0 / MB,
        layout.len() as f64 * 4.0 / MB,
        (batch * 784 * 4) as f64 / MB,
        activations as f64 / MB,
        needed as f64 / MB
    );
    for (name, opts) in [
        ("all rewrites, fusion, in place", Options::default()),
        ("rewrites, no fusion, no in place", Options::unfused()),
        ("as built (literal)", Options::literal()),
    ] {
        let g = Graph::<f32>::new();
        let (x, cost) = ae.literal_cost(&g, &layout);
        let mut f = Compiler::new(&g, &layout)
            .inputs(&[x])
            .value_and_grad(cost)
            .options(opts)
            .build();
        drop(g);
        let inputs = [TensorRef::new(&shape, &data)];
        f.value_and_grad(&p, &inputs, &mut grad).unwrap();
        // Steady state: the arena and plan exist; measure the peak of one more call.
        let base = LIVE.load(Ordering::Relaxed);
        PEAK.store(base, Ordering::Relaxed);
        f.value_and_grad(&p, &inputs, &mut grad).unwrap();
        let peak = PEAK.load(Ordering::Relaxed);
        let arena = f.arena_len().unwrap_or(0) * 4;
        println!(
            "{name:34}: arena {:6.1} MB, heap at the call's peak {:6.1} MB = {:.2}x needed (of it, inside the call: {:.1} MB)",
            arena as f64 / MB,
            peak as f64 / MB,
            peak as f64 / needed as f64,
            (peak - base) as f64 / MB
        );
    }
}
