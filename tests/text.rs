//! The canonical text form: print(parse(print(g))) == print(g) over random graphs, which
//! compute the same values as the graphs printed; the precedence of the infix form, checked
//! by value against graphs built in Rust; and the parser's errors.

use proptest::prelude::*;
use symgrad::graph::{parse, parse_with, ParseOptions};
use symgrad::ops::{Binary, Op, Reduce, Structural, Unary};
use symgrad::{dims, Expr, Graph, NodeId, ParamLayout, Tensor, TensorRef};

const NUMBERS: &[f64] = &[
    0.0,
    1.0,
    -2.0,
    0.1,
    1e-30,
    -0.0,
    2.5e300,
    f64::INFINITY,
    f64::NEG_INFINITY,
    f64::NAN,
    3.4028235e38,
    -7.25,
];

/// Builds a random graph from a list of (op, operand, operand, operand, attribute) draws;
/// draws whose shapes do not fit are skipped. Returns the graph and its roots.
fn random_graph(draws: &[(u8, u8, u8, u8, u8)]) -> (Graph<f64>, ParamLayout, Vec<NodeId>) {
    let mut layout = ParamLayout::new();
    layout.add("w", &[3, 3]);
    layout.add("v.bias", &[3]);
    let g = Graph::<f64>::new();
    let b = g.symbol("batch");
    let mut pool: Vec<NodeId> = vec![
        g.input("x", dims![b, 3]).id(),
        g.input("y", dims![3]).id(),
        g.param(&layout, "w").id(),
        g.param(&layout, "v.bias").id(),
        g.constant(Tensor::from_vec(vec![2], vec![1.5, -0.0])).id(),
    ];
    for &(op, a, b_, c, attr) in draws {
        let pick = |k: u8| pool[k as usize % pool.len()];
        let (a, b2, c) = (pick(a), pick(b_), pick(c));
        let rank = g.node(a).shape.len();
        let n = attr as usize;
        let (op, ins): (Op<f64>, Vec<NodeId>) = match op % 16 {
            0 => (Op::Unary(Unary::ALL[n % Unary::ALL.len()]), vec![a]),
            1 | 2 => (Op::Binary(Binary::ALL[n % Binary::ALL.len()]), vec![a, b2]),
            3 => (
                Op::Const(Tensor::scalar(NUMBERS[n % NUMBERS.len()])),
                vec![],
            ),
            4 => (Op::Powi(n as i32 % 5 - 1), vec![a]),
            5 => (Op::Where, vec![a, b2, c]),
            6 => (
                Op::MatMul {
                    ta: n % 2 == 1,
                    tb: n % 4 >= 2,
                },
                vec![a, b2],
            ),
            7 => (
                Op::Structural(Structural::Transpose((0..rank).rev().collect())),
                vec![a],
            ),
            8 => (
                Op::Reduce(Reduce::Sum {
                    axes: (0..rank).filter(|i| (n >> i) & 1 == 1).collect(),
                    keepdims: n.is_multiple_of(2),
                }),
                vec![a],
            ),
            9 => {
                let (axes, keepdims) = ((0..rank.min(1)).collect(), n.is_multiple_of(3));
                let r = if n.is_multiple_of(2) {
                    Reduce::Max { axes, keepdims }
                } else {
                    Reduce::Min { axes, keepdims }
                };
                (Op::Reduce(r), vec![a])
            }
            10 => (
                Op::Reduce(Reduce::Numel {
                    axes: (0..rank).collect(),
                }),
                vec![a],
            ),
            11 => (
                Op::Structural(Structural::Slice {
                    axis: rank.saturating_sub(1),
                    start: n % 2,
                    len: 1 + n % 2,
                }),
                vec![a],
            ),
            12 => (
                Op::Structural(Structural::Pad {
                    axis: rank.saturating_sub(1),
                    start: n % 3,
                    total: 6,
                }),
                vec![a],
            ),
            13 => (
                Op::Structural(Structural::Concat {
                    axis: rank.saturating_sub(1),
                }),
                vec![a, b2],
            ),
            14 => {
                let shape = g.node(a).shape.clone();
                (Op::Structural(Structural::Reshape(shape)), vec![a])
            }
            _ => {
                let mut shape = g.node(a).shape.clone();
                shape.insert(0, symgrad::Dim::Fixed(2));
                if n.is_multiple_of(2) {
                    (Op::Structural(Structural::BroadcastTo(shape)), vec![a])
                } else {
                    (
                        Op::Structural(Structural::SumTo(g.node(b2).shape.clone())),
                        vec![a],
                    )
                }
            }
        };
        let id = if ins.is_empty() {
            let Op::Const(t) = op else { unreachable!() };
            Ok(g.constant(t).id())
        } else {
            g.try_apply(op, &ins)
        };
        if let Ok(id) = id {
            pool.push(id);
        }
    }
    let n = pool.len();
    let roots = vec![pool[n - 1], pool[n / 2]];
    (g, layout, roots)
}

/// The values of `roots` in `g` with the inputs `x` = X ([2, 3]), `y` = Y ([3]) and the
/// parameters named in `layout` taken from `params` by name (NaN-boxed as bit patterns, so
/// that NaNs compare equal), or the error's text.
fn values_of(
    g: &Graph<f64>,
    layout: &ParamLayout,
    roots: &[NodeId],
    params: &[(&str, Vec<f64>)],
    xs: &[f64],
    ys: &[f64],
) -> Vec<Result<Vec<u64>, String>> {
    let mut flat = vec![0.0; layout.len()];
    for e in layout.entries() {
        let (_, v) = params
            .iter()
            .find(|(n, _)| *n == e.name)
            .expect("a known parameter");
        flat[e.range()].copy_from_slice(v);
    }
    let (xshape, yshape) = ([2, 3], [3]);
    let mut inputs: Vec<(Expr<'_, f64>, TensorRef<'_, f64>)> = Vec::new();
    for id in g.inputs() {
        let name = match &g.node(id).op {
            Op::Input { name, .. } => name.clone(),
            _ => continue,
        };
        let value = match name.as_str() {
            "x" => TensorRef::new(&xshape, xs),
            "y" => TensorRef::new(&yshape, ys),
            other => panic!("unexpected input {other}"),
        };
        inputs.push((g.expr(id), value));
    }
    roots
        .iter()
        .map(|&r| {
            let reads: Vec<NodeId> = g.reachable(&[r]);
            let mine: Vec<(Expr<'_, f64>, TensorRef<'_, f64>)> = inputs
                .iter()
                .filter(|(e, _)| reads.contains(&e.id()))
                .copied()
                .collect();
            g.expr(r)
                .eval_at(layout, &flat, &mine)
                .map(|t| {
                    t.data()
                        .iter()
                        .map(|v| {
                            if v.is_nan() {
                                f64::NAN.to_bits()
                            } else {
                                v.to_bits()
                            }
                        })
                        .collect()
                })
                .map_err(|e| e.to_string())
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printing_what_was_parsed_gives_the_same_text(
        draws in prop::collection::vec((0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255), 1..60)
    ) {
        let (g, g_layout, roots) = random_graph(&draws);
        let text = g.to_text(&roots);
        let back = parse::<f64>(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back.graph.to_text(&back.outputs), text.clone());
        // And the parsed graph has the same number of nodes as the printed part of the original
        // (scalar constants are printed inline, so they may be duplicated, never merged).
        let printed = g.reachable(&roots).into_iter().filter(|&i| !matches!(g.node(i).op, Op::Const(ref t) if t.shape().is_empty())).count();
        let parsed = back.graph.reachable(&back.outputs).into_iter().filter(|&i| !matches!(back.graph.node(i).op, Op::Const(ref t) if t.shape().is_empty())).count();
        prop_assert_eq!(printed, parsed);
        // Mistake caught: a printer or parser that changes what a graph computes while
        // printing the same text back (a swapped operand order, an attribute read wrong).
        // The original graph and the parsed one give the same bits at the same inputs.
        let params = [
            ("w", (0..9).map(|i| (i as f64 - 4.0) / 3.0).collect::<Vec<f64>>()),
            ("v.bias", vec![0.5, -1.25, 2.0]),
        ];
        let (xs, ys) = ([0.3, -1.0, 2.5, 0.0, 1.5, -0.75], [1.0, -2.0, 0.25]);
        let want = values_of(&g, &g_layout, &roots, &params, &xs, &ys);
        let got = values_of(&back.graph, &back.layout, &back.outputs, &params, &xs, &ys);
        prop_assert_eq!(got, want, "{}", text);
    }
}

#[test]
fn f32_numbers_print_in_their_own_shortest_form() {
    let g = Graph::<f32>::new();
    let x = g.input("x", dims![]);
    let y = x * 0.1 + 1e-7;
    let text = g.to_text(&[y.id()]);
    assert_eq!(text, "input x: []\nout x * 0.1 + 0.0000001\n");
    let back = parse::<f32>(&text).unwrap();
    assert_eq!(back.graph.to_text(&back.outputs), text);
}

type Reference = for<'g> fn(Expr<'g, f64>, Expr<'g, f64>) -> Expr<'g, f64>;

// Mistake caught: a precedence or associativity rule of the infix form that parses a text
// into another computation than the one it reads as (`-x ^ 2` as `(-x) ^ 2`, `x ^ y ^ 2` as
// `(x ^ y) ^ 2`, `x - y - 1` as `x - (y - 1)`). Each text is parsed and evaluated, and
// compared with the value of the graph built in Rust with the meaning intended, at random
// small integers (where negative bases have powers); its printed form must be the text.
#[test]
fn negated_numbers_and_powers_keep_their_meaning() {
    use rand::{Rng, SeedableRng};
    let cases: [(&str, Reference); 15] = [
        ("-(2)", |x, _| -x.graph().scalar(2.0)),
        ("(-2) ^ x", |x, _| x.graph().scalar(-2.0).pow(x)),
        ("-(2 ^ x)", |x, _| -x.graph().scalar(2.0).pow(x)),
        ("-x ^ 2", |x, _| -x.pow(2.0)),
        ("(-x) ^ 2", |x, _| (-x).pow(2.0)),
        ("x ^ y ^ 2", |x, y| x.pow(y.pow(2.0))),
        ("(x ^ y) ^ 2", |x, y| x.pow(y).pow(2.0)),
        ("x - (y - 1)", |x, y| x - (y - 1.0)),
        ("x - y - 1", |x, y| (x - y) - 1.0),
        ("x / (y * 2)", |x, y| x / (y * 2.0)),
        ("-inf * x", |x, _| x.graph().scalar(f64::NEG_INFINITY) * x),
        ("-(inf)", |x, _| -x.graph().scalar(f64::INFINITY)),
        ("x @ y @ x", |x, y| x.matmul(y).matmul(x)),
        ("x @ (y @ x)", |x, y| x.matmul(y.matmul(x))),
        ("(x > y) == (y > x)", |x, y| x.gt(y).equal(y.gt(x))),
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(26);
    for (text, reference) in cases {
        let shapes = [("x".to_string(), vec![2, 2]), ("y".to_string(), vec![2, 2])];
        let opts = ParseOptions {
            implicit_inputs: Some(shapes.into_iter().collect()),
            ..Default::default()
        };
        let p = parse_with::<f64>(text, &opts).unwrap();
        assert_eq!(p.graph.expr_text(&p.outputs), text);
        for _ in 0..4 {
            let xs: Vec<f64> = (0..4).map(|_| rng.random_range(-3..=3) as f64).collect();
            let ys: Vec<f64> = (0..4)
                .map(|_| {
                    rng.random_range(1..=3) as f64 * if rng.random_bool(0.5) { 1.0 } else { -1.0 }
                })
                .collect();
            let shape = [2, 2];
            let value = |g: &Graph<f64>, root: Expr<'_, f64>| -> Vec<f64> {
                let reads = g.reachable(&[root.id()]);
                let inputs: Vec<(Expr<'_, f64>, TensorRef<'_, f64>)> = g
                    .inputs()
                    .into_iter()
                    .filter(|id| reads.contains(id))
                    .map(|id| {
                        let data = match &g.node(id).op {
                            Op::Input { name, .. } if name == "x" => &xs,
                            _ => &ys,
                        };
                        (g.expr(id), TensorRef::new(&shape, &data[..]))
                    })
                    .collect();
                root.eval(&inputs).unwrap().data().to_vec()
            };
            let got = value(&p.graph, p.graph.expr(p.outputs[0]));
            let g = Graph::<f64>::new();
            let (x, y) = (g.input("x", dims![2, 2]), g.input("y", dims![2, 2]));
            let want = value(&g, reference(x, y));
            let same = got.len() == want.len()
                && got.iter().zip(&want).all(|(a, b)| {
                    a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= 1e-12 * b.abs()
                });
            assert!(
                same,
                "{text} at x = {xs:?}, y = {ys:?}: {got:?}, meant {want:?}"
            );
        }
    }
}

#[test]
fn parse_errors_say_where_and_what() {
    let cases = [
        (
            "input x: [3]\nout x +",
            2,
            "expected an expression, found end of line",
        ),
        ("input x: [3]\nout y", 2, "`y` is not declared"),
        ("input x: [3]\ninput x: [2]", 2, "`x` is declared twice"),
        ("input x: [3]\nout x @ x", 2, "matmul"),
        ("input x: [3]\nout frob(x)", 2, "no op called `frob`"),
        (
            "input x: [3]\nout exp(x, x)",
            2,
            "`exp` takes 1 argument(s), got 2",
        ),
        (
            "input x: [3]\nout max(x, x",
            2,
            "expected `,` or `)`, found end of line",
        ),
        ("input x: [3]\nout sum[0 1](x)", 2, "expected `,` or `]`"),
        ("input x: [3]\nout const[2](1 2)", 2, "expected `,` or `)`"),
        ("param w: [batch]", 1, "needs a fixed shape"),
        ("input x: [3]\nout $1", 2, "`$1` is used before it is bound"),
        ("input x: [3]\nout x ? 2", 2, "unexpected character `?`"),
        ("input x: [3]\nout const[2](1)", 2, "needs 2 values, got 1"),
        ("input x: [3]", 1, "expected at least one `out` line"),
        (
            "input x: [3]\nout powi[-3000000000](x)",
            2,
            "`powi`'s exponent -3000000000 is out of range",
        ),
    ];
    for (text, line, msg) in cases {
        let e = parse::<f64>(text).unwrap_err();
        assert_eq!(e.line, line, "{text}: {e}");
        assert!(e.message.contains(msg), "{text}: {e}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let text = format!("input x: []\nout {}x{}", "(".repeat(5000), ")".repeat(5000));
    let e = parse::<f64>(&text).unwrap_err();
    assert!(e.message.contains("nest deeper"), "{e}");
    let text = format!("input x: []\nout {}x", "-".repeat(5000));
    assert!(parse::<f64>(&text).is_err());
}

#[test]
fn long_chains_print_with_lets_and_parse_back() {
    let g = Graph::<f64>::new();
    let x = g.input("x", dims![]);
    let mut y = x;
    for _ in 0..500 {
        y = (y * 0.5).tanh();
    }
    let text = g.to_text(&[y.id()]);
    assert!(text.lines().count() > 10, "cut with lets");
    let back = parse::<f64>(&text).unwrap();
    assert_eq!(back.graph.to_text(&back.outputs), text);
}

/// The canonical text of `out <expr>` over `x: [2, 3, 4]`, or the parse error's message.
fn over_x(expr: &str) -> Result<String, String> {
    parse::<f64>(&format!("input x: [2, 3, 4]\nout {expr}"))
        .map(|p| p.graph.expr_text(&p.outputs))
        .map_err(|e| e.message)
}

// Mistake caught: negative axes refused by the text form (`sum[-1](x)` answered "found
// `NegInt(1)`"), or counted other than NumPy counts them. Every call that takes an axis takes
// one counted from the last, the graph holds it counted from the first (so the text prints,
// and reads back as, the positive form), and an axis out of range says which rank it misses,
// never naming a parser token.
#[test]
fn negative_axes_count_from_the_last_in_every_call_that_takes_an_axis() {
    let cases = [
        ("sum[-1](x)", "sum[2](x)"),
        ("sum[-1, -3, keepdims](x)", "sum[2, 0, keepdims](x)"),
        ("max[-2](x)", "max[1](x)"),
        ("mean[-1](x)", "mean[2](x)"),
        ("numel[-1](x)", "numel[2](x)"),
        ("transpose[-1, 0, -2](x)", "transpose[2, 0, 1](x)"),
        (
            "slice[axis=-1, start=1, len=2](x)",
            "slice[axis=2, start=1, len=2](x)",
        ),
        (
            "pad[axis=-3, start=1, total=4](x)",
            "pad[axis=0, start=1, total=4](x)",
        ),
        ("concat[axis=-1](x, x)", "concat[axis=2](x, x)"),
        ("softmax[-1](x)", "softmax[2](x)"),
        ("log_softmax[-3](x)", "log_softmax[0](x)"),
    ];
    for (negative, positive) in cases {
        let want = over_x(positive).unwrap();
        assert_eq!(over_x(negative), Ok(want), "{negative}");
    }
    let errors = [
        ("sum[-4](x)", "axis -4 is out of range for rank 3"),
        ("numel[3](x)", "axis 3 is out of range for rank 3"),
        ("softmax[-4](x)", "axis -4 is out of range for rank 3"),
        ("mean[-4](x)", "axis -4 is out of range for rank 3"),
        (
            "slice[axis=-4, start=0, len=1](x)",
            "axis -4 is out of range for rank 3",
        ),
        (
            "concat[axis=-9](x, x)",
            "axis -9 is out of range for rank 3",
        ),
        (
            "slice[axis=0, start=-1, len=1](x)",
            "`slice` takes `start=` of 0 or more, found `start=-1`",
        ),
        ("sum[0, -3](x)", "axis 0 given twice"),
        ("const[-2](1, 2)", "found `-2`"),
        ("reshape[-1](x)", "a shape has no negative size `-1`"),
    ];
    for (text, want) in errors {
        let e = over_x(text).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
        assert!(!e.contains("NegInt") && !e.contains("Int("), "{text}: {e}");
    }
}

// Mistake caught: `transpose(x)` without a permutation refused, where NumPy's
// `np.transpose(x)` reverses the axes.
#[test]
fn transpose_without_a_permutation_reverses_the_axes() {
    assert_eq!(over_x("transpose(x)"), over_x("transpose[2, 1, 0](x)"));
    let p = parse::<f64>("input v: [5]\nout transpose(v)").unwrap();
    assert_eq!(p.graph.expr_text(&p.outputs), "transpose[0](v)");
    // A permutation that is given must still be one.
    assert!(over_x("transpose[](x)")
        .unwrap_err()
        .contains("not a permutation"));
}

// Mistake caught: `min` missing from the text form (only `-max(-x)` could be written), or
// read with other axes than `max` takes.
#[test]
fn min_reads_and_prints_like_max() {
    assert_eq!(
        over_x("min[-1, keepdims](x)").unwrap(),
        "min[2, keepdims](x)"
    );
    assert_eq!(over_x("min(x)").unwrap(), "min[0, 1, 2](x)");
    let p = parse::<f64>("input v: [4]\nout min(v)").unwrap();
    let v = p.graph.expr(p.graph.inputs()[0]);
    let out = p.graph.expr(p.outputs[0]);
    let got = out.eval(&[(v, TensorRef::new(&[4], &[3.0, -1.0, 2.0, 5.0]))]);
    assert_eq!(got.unwrap().data(), &[-1.0]);
}
