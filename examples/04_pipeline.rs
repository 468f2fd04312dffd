//! Step 4 of the learner's path: the whole Theano-style pipeline, stage by stage, for one
//! expression: text → graph → gradient graph → rewritten graph → fused program with its
//! buffer plan → numbers. docs/TUTORIAL.md walks through the same steps with `symgrad
//! explain`.
//!
//! Run: `cargo run --release --example 04_pipeline`

use symgrad::graph::parse;
use symgrad::rewrite::{run_phases, Level, StageLog};
use symgrad::{grad, Compiler, TensorRef};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // 1. Text → graph. A logistic unit's cross-entropy, written literally, over a batch.
    let text = "input t: [batch, 3]\n\
                param w: [3]\n\
                param b: []\n\
                let $1 = sigmoid(t * w + b)\n\
                out sum[0, 1](-(t * log($1) + (1 - t) * log(1 - $1)))";
    let p = parse::<f64>(text)?;
    let g = &p.graph;
    println!(
        "1. parsed, printed back in the canonical form:\n{}",
        g.to_text(&p.outputs)
    );

    // 2. The gradient, as built: more graph, each node tagged with the rule that made it.
    let cost = g.expr(p.outputs[0]);
    let params = [g.param(&p.layout, "w"), g.param(&p.layout, "b")];
    let d = grad(cost, &params);
    let roots = [cost.id(), d[0].unwrap().id(), d[1].unwrap().id()];
    println!(
        "2. value and gradient as built ({} nodes):",
        g.reachable(&roots).len()
    );
    print!("{}", g.listing(&roots));

    // 3. Rewrites to a fixed point, with the rules that fired.
    let mut report = StageLog::default();
    let (g2, r2) = run_phases(g, &roots, Level::All, &mut report, "");
    println!(
        "\n3. rewritten ({} nodes); rules fired: {:?}",
        g2.reachable(&r2).len(),
        report.totals
    );
    print!("{}", g2.to_text(&r2));

    // 4. The compiler does all of that (differentiating after the stability rules, so the
    //    gradient of the stable form is what gets compiled), then fuses elementwise chains
    //    and plans buffers at the first call.
    let inputs = [g.expr(g.inputs()[0])];
    let mut f = Compiler::new(g, &p.layout)
        .inputs(&inputs)
        .value_and_grad(cost)
        .record(true)
        .build();
    let x = [0.5, -1.0, 2.0, 0.1];
    let t = [1.0, 0.0, 1.0, 0.0, 1.0, 1.0];
    let mut gr = [0.0; 4];
    let v = f.value_and_grad(&x, &[TensorRef::new(&[2, 3], &t)], &mut gr)?;
    println!("\n4. the compiled program and its buffer plan for batch = 2:");
    print!("{}", f.describe());
    println!("\n5. F = {v:.6}, ∇F = {gr:.6?}");

    // The same numbers from the graph as built, compiled literally, at logits of ±1000:
    // the literal form overflows, the rewritten one does not.
    let big = [400.0, -400.0, 400.0, 0.0];
    let v = f.value_and_grad(&big, &[TensorRef::new(&[2, 3], &t)], &mut gr)?;
    let mut lit = Compiler::new(g, &p.layout)
        .inputs(&inputs)
        .value_and_grad(cost)
        .options(symgrad::compile::Options::literal())
        .build();
    let mut gl = [0.0; 4];
    let vl = lit.value_and_grad(&big, &[TensorRef::new(&[2, 3], &t)], &mut gl)?;
    println!(
        "   at logits of ±400: rewritten F = {v:.1}, ∇F = {gr:.1?}; literal F = {vl}, ∇F = {gl:?}"
    );
    Ok(())
}
