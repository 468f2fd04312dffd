//! Reverse-mode differentiation as a graph transform: `grad(cost, wrt)` returns new nodes;
//! `hessian_vector`, `jacobian_vector`, `jacobian` and `hessian` are built from it.
//!
//! The walk: mark the nodes on a path from some `wrt` to `cost` (a forward pass in id
//! order, which is topological), seed the cost's cotangent with 1, then visit the marked
//! nodes in reverse id order. Each node's cotangent is the sum of the contributions its
//! consumers sent it (fan-in); the node's op turns it into contributions for its own marked
//! inputs through its vector-Jacobian rule, and a contribution at a broadcast shape is summed
//! back to the input's shape. Nothing is evaluated: the result is an ordinary graph, so it
//! can be printed, compiled and differentiated again (Hessian-vector products).
//!
//! Safe `where`: the cotangent `where(c, a, b)` sends to `a` is zero where `c` is false, but
//! an op on the way to `a` may turn that zero into NaN (`sqrt`'s rule divides by `sqrt(x)`,
//! 0/0 at x = 0, NaN for x < 0). So the condition travels with the cotangent as a mask: every
//! elementwise rule on the branch selects its results with it (`where(mask, rule, 0)`), which
//! replaces such NaN by the zero they should be. A node that also gets an unmasked
//! cotangent drops the mask. Masks follow broadcasting: a condition smaller than the node is
//! broadcast to it, and an input broadcast into the node (a branch `sqrt(x)` of shape `[4]`
//! under a condition of `[3, 4]`) gets the mask summed back to its own shape, on wherever any
//! element it was broadcast to is on, as its cotangent is summed. Each mask node is made
//! once per call, so paths under one condition carry the same node and keep their mask
//! where they meet.

use std::collections::HashMap;

use crate::graph::{Dim, Expr, NodeId, Origin, SymShape};
use crate::ops::Op;
use crate::Scalar;

/// Whether a node's cotangent is known to vanish outside a condition.
#[derive(Clone, Copy)]
enum Mask<'g, T: Scalar> {
    /// No cotangent yet.
    Unset,
    /// Every contribution so far is zero where this mask is 0.
    On(Expr<'g, T>),
    /// Not known.
    Off,
}

/// What a mask node is made from, so that one `grad` call makes each mask once.
#[derive(Clone, PartialEq, Eq, Hash)]
enum MaskOf {
    /// `c != 0`: the branch `a` of `where(c, a, b)` is taken.
    Taken(NodeId),
    /// `c == 0`: the branch `b` is taken.
    NotTaken(NodeId),
    /// A mask for an input of the second shape of a node of the first
    /// ([`mask_for_input`]).
    Input(NodeId, SymShape, SymShape),
}

/// The gradients of the scalar `cost` with respect to each of `wrt`, as graph nodes;
/// `None` for an input the cost does not depend on.
///
/// # Panics
/// If `cost` has more than one element, or if the expressions come from different graphs.
///
/// ```
/// use symgrad::{dims, grad, Graph};
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![3]);
/// let unused = g.input("u", dims![3]);
/// let f = (x * x).sum_all();
/// let d = grad(f, &[x, unused]);
/// assert!(d[0].is_some() && d[1].is_none());
/// ```
pub fn grad<'g, T: Scalar>(cost: Expr<'g, T>, wrt: &[Expr<'g, T>]) -> Vec<Option<Expr<'g, T>>> {
    let g = cost.graph();
    let cs = cost.shape();
    assert!(
        cs.iter().all(|d| *d == Dim::Fixed(1)),
        "symgrad: grad needs a cost with one element, got shape {}",
        g.fmt_shape(&cs)
    );
    for w in wrt {
        assert!(
            std::ptr::eq(w.graph(), g),
            "symgrad: grad across two graphs"
        );
    }
    let n = cost.id().index() + 1;

    // Forward: which nodes depend on some wrt.
    let mut reaches = vec![false; n];
    for w in wrt {
        if w.id().index() < n {
            reaches[w.id().index()] = true;
        }
    }
    for i in 0..n {
        if !reaches[i] {
            let node = g.node(NodeId(i as u32));
            reaches[i] = node.inputs.iter().any(|inp| reaches[inp.index()]);
        }
    }

    // Backward: cotangents, summed as they arrive.
    let mut cot: Vec<Option<Expr<'g, T>>> = vec![None; n];
    let mut mask: Vec<Mask<'g, T>> = vec![Mask::Unset; n];
    // Mask nodes by what they are made from: two paths under one condition carry one node,
    // so their masks merge where the paths meet (as in a Hessian-vector product, whose
    // second pass meets every `where` of the first, each with the same condition).
    let mut made: HashMap<MaskOf, Expr<'g, T>> = HashMap::new();
    if reaches[n - 1] {
        let seed = g.with_origin(Origin::Grad { of: cost.id() }, || {
            let one = g.scalar(1.0);
            if cs.is_empty() {
                one
            } else {
                one.broadcast_to(cs.clone())
            }
        });
        cot[n - 1] = Some(seed);
    }
    for i in (0..n).rev() {
        let Some(gy) = cot[i] else { continue };
        let (op, inputs) = {
            let node = g.node(NodeId(i as u32));
            if node.op.is_leaf() {
                continue;
            }
            (node.op.clone(), node.inputs.clone())
        };
        let needs: Vec<bool> = inputs.iter().map(|x| reaches[x.index()]).collect();
        if !needs.iter().any(|&b| b) {
            continue;
        }
        let xs: Vec<Expr<'g, T>> = inputs.iter().map(|&x| g.expr(x)).collect();
        let y = g.expr(NodeId(i as u32));
        let own_mask = match mask[i] {
            Mask::On(m) if op.is_elementwise() => Some(m),
            _ => None,
        };
        g.with_origin(Origin::Grad { of: y.id() }, || {
            let contribs = op.vjp(&xs, y, gy, &needs);
            let y_shape = y.shape();
            for (k, ((x, c), &need)) in xs.iter().zip(contribs).zip(&needs).enumerate() {
                let Some(mut c) = c.filter(|_| need) else {
                    continue;
                };
                // The mask this contribution carries: a where's condition for its branches,
                // or this node's own mask, passed on through an elementwise rule.
                let c_id = xs[0].id();
                let carried = match &op {
                    Op::Where if k == 1 => Some(
                        *made
                            .entry(MaskOf::Taken(c_id))
                            .or_insert_with(|| xs[0].not_equal(0.0)),
                    ),
                    Op::Where if k == 2 => Some(
                        *made
                            .entry(MaskOf::NotTaken(c_id))
                            .or_insert_with(|| xs[0].equal(0.0)),
                    ),
                    _ => own_mask,
                };
                if let Some(m) = own_mask.filter(|_| !matches!(op, Op::Where)) {
                    if c.shape() == m.shape() {
                        c = m.select(c, 0.0);
                    }
                }
                let c = if c.shape() == x.shape() {
                    c
                } else {
                    c.sum_to(x.shape())
                };
                let xi = x.id().index();
                let keeps = carried.map(|m| {
                    let key = MaskOf::Input(m.id(), y_shape.clone(), x.shape());
                    *made
                        .entry(key)
                        .or_insert_with(|| mask_for_input(m, &y_shape, &x.shape()))
                });
                mask[xi] = match (mask[xi], cot[xi].is_some(), keeps) {
                    (Mask::Unset, false, Some(m)) => Mask::On(m),
                    (Mask::On(prev), true, Some(m)) if prev.id() == m.id() => Mask::On(m),
                    _ => Mask::Off,
                };
                let slot = &mut cot[xi];
                *slot = Some(match *slot {
                    Some(prev) => prev + c,
                    None => c,
                });
            }
        });
    }
    wrt.iter()
        .map(|w| cot.get(w.id().index()).copied().flatten())
        .collect()
}

/// The mask `m` (of the node's shape `y`, or broadcasting to it) as it applies to an input
/// of shape `x`: broadcast to `y`, then, if the input was broadcast into the node, summed
/// back to `x` and compared with 0. The cotangent the input gets is the node's summed the
/// same way, so it is zero wherever this mask is off.
fn mask_for_input<'g, T: Scalar>(m: Expr<'g, T>, y: &[Dim], x: &[Dim]) -> Expr<'g, T> {
    let ms = m.shape();
    if ms[..] == *x {
        return m;
    }
    let m = if ms[..] == *y {
        m
    } else {
        m.broadcast_to(y.iter().copied())
    };
    if x == y {
        m
    } else {
        m.sum_to(x.iter().copied()).not_equal(0.0)
    }
}

/// Hessian-vector products, `H v` with `H` the Hessian of the scalar `cost` with respect to
/// `wrt` taken as one vector: the gradient of `Σᵢ ⟨∂cost/∂wrtᵢ, vᵢ⟩`, two reverse passes
/// and never the Hessian itself (Theano's `Lop` of the gradient; Pearlmutter's trick). `v[i]`
/// has the shape of `wrt[i]`; the result has one entry per `wrt`, `None` where the product is
/// zero because nothing connects.
///
/// # Panics
/// As [`grad`], and if `v` and `wrt` differ in length or in a shape.
///
/// ```
/// use symgrad::grad::hessian_vector;
/// use symgrad::{dims, Graph, TensorRef};
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![2]);
/// let v = g.input("v", dims![2]);
/// // f = x0² x1: H = [[2 x1, 2 x0], [2 x0, 0]].
/// let f = (x.slice(0, 0, 1).square() * x.slice(0, 1, 2)).sum_all();
/// let hv = hessian_vector(f, &[x], &[v])[0].unwrap();
/// let out = hv.eval(&[
///     (x, TensorRef::new(&[2], &[3.0, 5.0])),
///     (v, TensorRef::new(&[2], &[1.0, 2.0])),
/// ])?;
/// assert_eq!(out.data(), &[2.0 * 5.0 + 2.0 * 3.0 * 2.0, 2.0 * 3.0]);
/// # Ok::<(), symgrad::Error>(())
/// ```
pub fn hessian_vector<'g, T: Scalar>(
    cost: Expr<'g, T>,
    wrt: &[Expr<'g, T>],
    v: &[Expr<'g, T>],
) -> Vec<Option<Expr<'g, T>>> {
    check_directions("hessian_vector", wrt, v);
    match along(grad(cost, wrt), v) {
        Some(dot) => grad(dot, wrt),
        None => vec![None; wrt.len()],
    }
}

/// Panics unless `v` has one direction per variable of `wrt`, each of its shape.
fn check_directions<T: Scalar>(what: &str, wrt: &[Expr<'_, T>], v: &[Expr<'_, T>]) {
    assert_eq!(
        wrt.len(),
        v.len(),
        "symgrad: {what} needs one direction per variable"
    );
    for (w, d) in wrt.iter().zip(v) {
        assert!(
            w.shape() == d.shape(),
            "symgrad: {what}: a direction of shape {} for a variable of shape {}",
            w.graph().fmt_shape(&d.shape()),
            w.graph().fmt_shape(&w.shape())
        );
    }
}

/// `Σᵢ ⟨gradsᵢ, vᵢ⟩` over the gradients that exist; `None` when none does.
fn along<'g, T: Scalar>(grads: Vec<Option<Expr<'g, T>>>, v: &[Expr<'g, T>]) -> Option<Expr<'g, T>> {
    grads
        .into_iter()
        .zip(v)
        .filter_map(|(gi, vi)| gi.map(|gi| (gi * *vi).sum_all()))
        .reduce(|a, b| a + b)
}

/// Jacobian-vector products, `J v` with `J` the Jacobian of `y` with respect to `wrt` taken
/// as one vector: the directional derivative of `y` along `v`, shaped as `y` (Theano's `Rop`).
/// Built from two reverse passes, so it works for every op that has a reverse rule: the first
/// gives `u ↦ Jᵀ u` for a placeholder `u` shaped as `y`, linear in `u`; the second
/// differentiates `⟨Jᵀ u, v⟩` with respect to `u`, which is `J v` and no longer reads `u`.
/// `v[i]` has the shape of `wrt[i]`; `None` when `y` depends on none of `wrt`. For the
/// transposed product `Jᵀ u` (Theano's `Lop`), take `grad((y * u).sum_all(), wrt)`.
///
/// # Panics
/// If `v` and `wrt` differ in length or in a shape, or the expressions come from different
/// graphs.
///
/// ```
/// use symgrad::grad::jacobian_vector;
/// use symgrad::{dims, Graph, TensorRef};
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![2]);
/// let v = g.input("v", dims![2]);
/// let y = x.exp() * 2.0; // J = diag(2 exp(x))
/// let jv = jacobian_vector(y, &[x], &[v]).unwrap();
/// let out = jv.eval(&[
///     (x, TensorRef::new(&[2], &[0.0, 1.0])),
///     (v, TensorRef::new(&[2], &[3.0, -1.0])),
/// ])?;
/// assert_eq!(out.data()[0], 6.0);
/// assert!((out.data()[1] + 2.0 * 1f64.exp()).abs() < 1e-14); // symgrad's exp, within an ulp
/// # Ok::<(), symgrad::Error>(())
/// ```
pub fn jacobian_vector<'g, T: Scalar>(
    y: Expr<'g, T>,
    wrt: &[Expr<'g, T>],
    v: &[Expr<'g, T>],
) -> Option<Expr<'g, T>> {
    let g = y.graph();
    check_directions("jacobian_vector", wrt, v);
    let u = g.placeholder("jacobian_vector_u", y.shape());
    let dot = along(grad((y * u).sum_all(), wrt), v)?;
    let jv = grad(dot, &[u])[0]?;
    assert!(
        !g.reachable(&[jv.id()]).contains(&u.id()),
        "symgrad: internal error: a reverse rule is not linear in its cotangent"
    );
    Some(jv)
}

/// The Jacobian of `y` with respect to `x`: shape `[y's element count] ++ x's shape`, row `i`
/// the gradient of `y`'s `i`-th element (row-major order). It takes one reverse pass per
/// element of `y`, as Theano's `jacobian` does (there through `scan`), so it is for small
/// `y`; for a product of the Jacobian with a vector, differentiate `sum(y * u)` instead.
/// `None` when `y` does not depend on `x`.
///
/// # Panics
/// If `y`'s shape has a symbolic dimension, or the expressions come from different graphs.
///
/// ```
/// use symgrad::grad::jacobian;
/// use symgrad::{dims, Graph, TensorRef};
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![2]);
/// let y = x.square() * 3.0; // J = diag(6 x)
/// let j = jacobian(y, x).unwrap();
/// let out = j.eval(&[(x, TensorRef::new(&[2], &[1.0, 2.0]))])?;
/// assert_eq!(out.shape(), &[2, 2]);
/// assert_eq!(out.data(), &[6.0, 0.0, 0.0, 12.0]);
/// # Ok::<(), symgrad::Error>(())
/// ```
pub fn jacobian<'g, T: Scalar>(y: Expr<'g, T>, x: Expr<'g, T>) -> Option<Expr<'g, T>> {
    let g = y.graph();
    let n: usize = y
        .shape_fixed()
        .unwrap_or_else(|| {
            panic!(
                "symgrad: jacobian needs an output of fixed shape, got {}",
                g.fmt_shape(&y.shape())
            )
        })
        .iter()
        .product();
    let flat = y.reshape([n]);
    let rows: Vec<Option<Expr<'g, T>>> = (0..n)
        .map(|i| grad(flat.slice(0, i, i + 1).sum_all(), &[x])[0])
        .collect();
    if rows.iter().all(Option::is_none) {
        return None;
    }
    let xs = x.shape();
    let row_shape: Vec<Dim> = std::iter::once(Dim::Fixed(1))
        .chain(xs.iter().copied())
        .collect();
    let parts: Vec<Expr<'g, T>> = rows
        .into_iter()
        .map(|r| {
            r.unwrap_or_else(|| g.scalar(0.0).broadcast_to(xs.iter().copied()))
                .reshape(row_shape.iter().copied())
        })
        .collect();
    Some(Expr::concat(&parts, 0))
}

/// The Hessian of the scalar `cost` with respect to `x`: shape `x's shape ++ x's shape`, the
/// [`jacobian`] of the gradient, one reverse pass per element of `x` (for large `x`, use
/// [`hessian_vector`]). `None` when the gradient does not depend on `x` (`cost` at most
/// linear in it).
///
/// # Panics
/// As [`grad`] and [`jacobian`]: `x` needs a fixed shape.
///
/// ```
/// use symgrad::grad::hessian;
/// use symgrad::{dims, Graph, TensorRef};
/// let g = Graph::<f64>::new();
/// let x = g.input("x", dims![2]);
/// let f = (x.slice(0, 0, 1) * x.slice(0, 1, 2)).sum_all(); // x0 x1
/// let h = hessian(f, x).unwrap();
/// let out = h.eval(&[(x, TensorRef::new(&[2], &[3.0, 5.0]))])?;
/// assert_eq!(out.data(), &[0.0, 1.0, 1.0, 0.0]);
/// # Ok::<(), symgrad::Error>(())
/// ```
pub fn hessian<'g, T: Scalar>(cost: Expr<'g, T>, x: Expr<'g, T>) -> Option<Expr<'g, T>> {
    let gx = grad(cost, &[x])[0]?;
    let xs = x.shape();
    jacobian(gx, x).map(|j| j.reshape(xs.iter().chain(xs.iter()).copied()))
}
