//! Step 1 of the learner's path: one expression built, differentiated, printed, compiled and
//! evaluated.
//!
//! Run: `cargo run --release --example 01_expression`

use symgrad::{dims, grad, Compiler, Graph, ParamLayout, TensorRef};

fn main() -> Result<(), symgrad::Error> {
    // 1. Build: f(x, y) = log(1 + exp(x * y)) + y^2, with x and y scalars given at call time.
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![]);
    let y = g.input("y", dims![]);
    let f = (1.0 + (x * y).exp()).log() + y.square();
    println!("f        = {f}");

    // 2. Differentiate: the gradient is more graph, built by each op's vector-Jacobian rule.
    let d = grad(f, &[x, y]);
    let (dx, dy) = (d[0].expect("f depends on x"), d[1].expect("f depends on y"));
    println!("df/dx    = {dx}");
    println!("df/dy    = {dy}");
    println!(
        "\nThe whole graph, one node a line (where each gradient node came from on the right):"
    );
    print!("{}", g.listing(&[f.id(), dx.id(), dy.id()]));

    // 3. Compile f and both derivatives into one function (shared work is computed once).
    let none = ParamLayout::new();
    let mut fun = Compiler::new(&g, &none)
        .inputs(&[x, y])
        .output(f)
        .output(dx)
        .output(dy)
        .build();

    // 4. Evaluate.
    for (xv, yv) in [(0.0, 0.0), (1.0, 2.0), (-3.0, 0.5)] {
        fun.run(
            &[],
            &[TensorRef::new(&[], &[xv]), TensorRef::new(&[], &[yv])],
            None,
        )?;
        let (fv, dxv, dyv) = (
            fun.scalar_output(0)?,
            fun.scalar_output(1)?,
            fun.scalar_output(2)?,
        );
        // By hand: df/dx = y sigmoid(xy), df/dy = x sigmoid(xy) + 2y.
        let s = 1.0 / (1.0 + (-(xv * yv)).exp());
        println!("x = {xv:5}, y = {yv:4}: f = {fv:.6}, df/dx = {dxv:.6} (by hand {:.6}), df/dy = {dyv:.6} (by hand {:.6})", yv * s, xv * s + 2.0 * yv);
    }
    println!(
        "\nThe compiled program and its buffer plan:\n{}",
        fun.describe()
    );
    Ok(())
}
