//! The canonical text form: print(parse(print(g))) == print(g) over random graphs, and the
//! parser's errors.

use proptest::prelude::*;
use symgrad::graph::{parse, parse_with, ParseOptions};
use symgrad::ops::{Binary, Op, Unary};
use symgrad::{dims, Graph, NodeId, ParamLayout, Tensor};

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
            7 => (Op::Transpose((0..rank).rev().collect()), vec![a]),
            8 => (
                Op::Sum {
                    axes: (0..rank).filter(|i| (n >> i) & 1 == 1).collect(),
                    keepdims: n.is_multiple_of(2),
                },
                vec![a],
            ),
            9 => (
                Op::Max {
                    axes: (0..rank.min(1)).collect(),
                    keepdims: n.is_multiple_of(3),
                },
                vec![a],
            ),
            10 => (
                Op::Numel {
                    axes: (0..rank).collect(),
                },
                vec![a],
            ),
            11 => (
                Op::Slice {
                    axis: rank.saturating_sub(1),
                    start: n % 2,
                    len: 1 + n % 2,
                },
                vec![a],
            ),
            12 => (
                Op::Pad {
                    axis: rank.saturating_sub(1),
                    start: n % 3,
                    total: 6,
                },
                vec![a],
            ),
            13 => (
                Op::Concat {
                    axis: rank.saturating_sub(1),
                },
                vec![a, b2],
            ),
            14 => {
                let shape = g.node(a).shape.clone();
                (Op::Reshape(shape), vec![a])
            }
            _ => {
                let mut shape = g.node(a).shape.clone();
                shape.insert(0, symgrad::Dim::Fixed(2));
                if n.is_multiple_of(2) {
                    (Op::BroadcastTo(shape), vec![a])
                } else {
                    (Op::SumTo(g.node(b2).shape.clone()), vec![a])
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

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn printing_what_was_parsed_gives_the_same_text(
        draws in prop::collection::vec((0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255, 0u8..=255), 1..60)
    ) {
        let (g, _, roots) = random_graph(&draws);
        let text = g.to_text(&roots);
        let back = parse::<f64>(&text).map_err(|e| TestCaseError::fail(format!("{e}\n{text}")))?;
        prop_assert_eq!(back.graph.to_text(&back.outputs), text);
        // And the parsed graph has the same number of nodes as the printed part of the original
        // (scalar constants are printed inline, so they may be duplicated, never merged).
        let printed = g.reachable(&roots).into_iter().filter(|&i| !matches!(g.node(i).op, Op::Const(ref t) if t.shape().is_empty())).count();
        let parsed = back.graph.reachable(&back.outputs).into_iter().filter(|&i| !matches!(back.graph.node(i).op, Op::Const(ref t) if t.shape().is_empty())).count();
        prop_assert_eq!(printed, parsed);
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

#[test]
fn negated_numbers_and_powers_keep_their_meaning() {
    for text in [
        "-(2)",
        "(-2) ^ x",
        "-(2 ^ x)",
        "-x ^ 2",
        "(-x) ^ 2",
        "x ^ y ^ 2",
        "(x ^ y) ^ 2",
        "x - (y - 1)",
        "x - y - 1",
        "x / (y * 2)",
        "-inf * x",
        "-(inf)",
        "x @ y @ x",
        "x @ (y @ x)",
        "(x > y) == (y > x)",
    ] {
        let shapes = [("x".to_string(), vec![2, 2]), ("y".to_string(), vec![2, 2])];
        let opts = ParseOptions {
            implicit_inputs: Some(shapes.into_iter().collect()),
            ..Default::default()
        };
        let p = parse_with::<f64>(text, &opts).unwrap();
        assert_eq!(p.graph.expr_text(&p.outputs), text);
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
