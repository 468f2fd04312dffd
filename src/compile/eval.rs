//! `Expr::eval`: an expression's value at once, Theano's `eval`, through a function compiled
//! for it alone (kept out of `graph`, which knows nothing of evaluation).

use crate::ops::Op;
use crate::{Arg, Compiler, Error, Expr, ParamLayout, Result, Scalar, Tensor, TensorRef};

impl<'g, T: Scalar> Expr<'g, T> {
    /// Computes the expression's value now, as Theano's `eval` does: compiles a function
    /// of this expression alone (every rewrite on, as [`Compiler`] would) and runs it once.
    /// `inputs` gives a value to each input node the expression reads; symbolic dimensions
    /// are bound by them. For an expression that reads parameters, use [`Expr::eval_at`].
    ///
    /// ```
    /// use symgrad::{Graph, Tensor, TensorRef};
    /// let g = Graph::<f64>::new();
    /// let n = g.symbol("n");
    /// let x = g.input("x", [n]);
    /// let y = (x * 2.0).exp().sum_all();
    /// let v = y.eval(&[(x, TensorRef::new(&[2], &[0.0, 0.5]))])?;
    /// assert_eq!(v.shape(), &[] as &[usize]);
    /// assert!((v.data()[0] - (1.0 + 1f64.exp())).abs() < 1e-12);
    ///
    /// // A value for every input it reads is required:
    /// assert!(y.eval(&[]).is_err());
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    ///
    /// Compiling costs far more than running for small expressions: to evaluate the same
    /// expression many times, build a [`Function`](crate::Function) once with [`Compiler`].
    pub fn eval(self, inputs: &[(Expr<'g, T>, TensorRef<'_, T>)]) -> Result<Tensor<T>> {
        self.eval_at(&ParamLayout::new(), &[], inputs)
    }

    /// [`Expr::eval`] for an expression that reads parameters: their values are the ranges
    /// of `x` that `layout` gives them (the layout the parameters were made from).
    ///
    /// ```
    /// use symgrad::{Graph, ParamLayout, Tensor};
    /// let mut layout = ParamLayout::new();
    /// layout.add("w", &[2]);
    /// let g = Graph::<f64>::new();
    /// let w = g.param(&layout, "w");
    /// let v = w.square().sum_all().eval_at(&layout, &[3.0, 4.0], &[])?;
    /// assert_eq!(v.data(), &[25.0]);
    ///
    /// // x must have the layout's length:
    /// assert!(w.eval_at(&layout, &[3.0], &[]).is_err());
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    ///
    /// # Panics
    /// If a node given a value in `inputs` is not an input node, or the expression reads a
    /// parameter outside `layout` (programming errors, like building with a parameter of
    /// another layout).
    pub fn eval_at(
        self,
        layout: &ParamLayout,
        x: &[T],
        inputs: &[(Expr<'g, T>, TensorRef<'_, T>)],
    ) -> Result<Tensor<T>> {
        let args: Vec<(Expr<'g, T>, Arg<'_, T>)> =
            inputs.iter().map(|&(e, v)| (e, Arg::Values(v))).collect();
        self.eval_at_with(layout, x, &args)
    }

    /// [`Expr::eval`] with inputs that may be integer arrays ([`Arg::indices`]), for index
    /// inputs ([`Graph::index_input`](crate::Graph::index_input)).
    ///
    /// ```
    /// use symgrad::{Arg, Graph};
    /// let g = Graph::<f64>::new();
    /// let y = g.index_input("y", [3]);
    /// let v = y.one_hot(2).sum(&[0], false).eval_with(&[(y, Arg::indices(&[3], &[1i32, 1, 0]))])?;
    /// assert_eq!(v.data(), &[1.0, 2.0]);
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn eval_with(self, inputs: &[(Expr<'g, T>, Arg<'_, T>)]) -> Result<Tensor<T>> {
        self.eval_at_with(&ParamLayout::new(), &[], inputs)
    }

    /// [`Expr::eval_at`] with inputs that may be integer arrays, as [`Expr::eval_with`].
    pub fn eval_at_with(
        self,
        layout: &ParamLayout,
        x: &[T],
        inputs: &[(Expr<'g, T>, Arg<'_, T>)],
    ) -> Result<Tensor<T>> {
        let g = self.graph();
        for &id in &g.reachable(&[self.id()]) {
            match &g.node(id).op {
                Op::Input { name, .. } if !inputs.iter().any(|(e, _)| e.id() == id) => {
                    return Err(Error::Unbound {
                        what: "input",
                        name: name.clone(),
                    });
                }
                Op::Param { name, .. } if layout.id(name).is_none() => {
                    return Err(Error::Unbound {
                        what: "parameter",
                        name: name.clone(),
                    });
                }
                _ => {}
            }
        }
        let nodes: Vec<Expr<'g, T>> = inputs.iter().map(|(e, _)| *e).collect();
        let values: Vec<Arg<'_, T>> = inputs.iter().map(|(_, v)| *v).collect();
        let mut f = Compiler::new(g, layout).inputs(&nodes).output(self).build();
        f.run_with(x, &values, None)?;
        let out = f.output(0)?;
        Ok(Tensor::from_vec(out.shape.to_vec(), out.data.to_vec()))
    }
}
