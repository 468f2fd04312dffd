//! symgrad: Theano's way of working, in Rust.
//!
//! You write a model's cost as a symbolic expression; symgrad differentiates it in reverse
//! mode into another expression, and compiles both into one fast function of a flat parameter
//! vector x that writes F(x) and ∇F(x). The pipeline, one module per stage:
//!
//! 1. **Build** ([`graph`]): a [`Graph`] of ops with shapes inferred as nodes are made;
//!    [`Expr`] handles overload the arithmetic operators. Inputs may have symbolic
//!    dimensions (the batch) bound at call time.
//! 2. **Differentiate** ([`grad()`]): a reverse walk that applies each op's vector-Jacobian
//!    rule ([`ops`]) and returns new graph nodes, so a gradient can be differentiated again.
//! 3. **Compile** ([`compile`]): the needed nodes become a flat program; buffers are planned
//!    once per binding of the symbolic dimensions and reused between calls.
//! 4. **Run**: parameters are named ranges of one vector x ([`ParamLayout`]); a call reads
//!    them in place and writes each gradient into its range of the flat gradient.
//!
//! ```
//! use symgrad::{dims, Compiler, Graph, ParamLayout, TensorRef};
//!
//! // Logistic regression: cost = mean(softplus(-y * (X w + b))).
//! let mut layout = ParamLayout::new();
//! layout.add("w", &[3, 1]);
//! layout.add("b", &[1]);
//! let g = Graph::<f64>::new();
//! let n = g.symbol("batch");
//! let x = g.input("X", dims![n, 3]);
//! let y = g.input("y", dims![n, 1]);
//! let (w, b) = (g.param(&layout, "w"), g.param(&layout, "b"));
//! let cost = (-y * (x.matmul(w) + b)).softplus().mean_all();
//! let mut f = Compiler::new(&g, &layout).inputs(&[x, y]).value_and_grad(cost).build();
//!
//! let params = vec![0.0; layout.len()];
//! let mut grad = vec![0.0; layout.len()];
//! let xs = [1.0, 2.0, 3.0, -1.0, -2.0, -3.0];
//! let ys = [1.0, -1.0];
//! let inputs = [TensorRef::new(&[2, 3], &xs), TensorRef::new(&[2, 1], &ys)];
//! let f0 = f.value_and_grad(&params, &inputs, &mut grad).unwrap();
//! assert!((f0 - 2f64.ln()).abs() < 1e-12);
//! assert!(grad[0] < 0.0); // increasing w[0] lowers the cost
//! ```

#![warn(missing_docs)]
pub mod check;
pub mod compile;
pub mod data;
pub mod error;
pub mod grad;
pub mod graph;
pub mod models;
pub mod ops;
pub mod optim;
pub mod params;
pub mod rewrite;
pub mod scalar;
pub mod tensor;
pub mod train;

pub use check::{check_gradient, GradCheckOptions, GradCheckReport};
pub use compile::{Arg, CallStats, Compiler, Function, Rewritten};
pub use error::{Error, Result};
pub use grad::grad;
pub use graph::{where_, Dim, Expr, Graph, IntoExpr, NodeId, SymId};
pub use params::{ParamId, ParamLayout};
pub use scalar::Scalar;
pub use tensor::{Tensor, TensorRef};
