//! Sizes that overflow or exceed memory: refused with a typed error at graph building, at
//! binding and at planning, never wrapped into a small size that a kernel then reads past
//! (the two memory-safety crashes of issue "Hostile inputs": a `pad` to a total near 2^64,
//! and an input of shape (2^32, 2^32) with no data).

use symgrad::graph::parse;
use symgrad::ops::{Op, Structural};
use symgrad::{dims, Compiler, Error, Graph, ParamLayout, TensorRef};

/// The mistake caught: `pad`'s shape rule adding `start + n` unchecked, so a total near 2^64
/// passes, and the result's element count wrapping at planning (it ended in SIGSEGV).
#[test]
fn pad_to_a_total_near_2_pow_64_is_refused_when_built() {
    let g = Graph::<f64>::new();
    let x = g.input("x", [3, 2]);
    let huge = Op::Structural(Structural::Pad {
        axis: 0,
        start: usize::MAX - 1,
        total: usize::MAX,
    });
    let why = g.try_apply(huge, &[x.id()]).unwrap_err().to_string();
    assert!(why.contains("does not fit"), "{why}");
    // Fits the axis, but [2^64 - 1, 2] elements cannot exist.
    let why = g
        .try_apply(
            Op::Structural(Structural::Pad {
                axis: 0,
                start: 0,
                total: usize::MAX,
            }),
            &[x.id()],
        )
        .unwrap_err()
        .to_string();
    assert!(why.contains("more elements than any array"), "{why}");
    let text = format!(
        "input x: [3, 2]\nout pad[axis=0, start=0, total={}](x)",
        isize::MAX
    );
    let err = parse::<f64>(&text).unwrap_err();
    assert!(err.message.contains("more elements"), "{err}");
    // Past what an attribute holds: a parse error, not a wrapped number.
    let text = format!(
        "input x: [3, 2]\nout pad[axis=0, start=0, total={}](x)",
        usize::MAX
    );
    assert!(parse::<f64>(&text).is_err());
    // The slice's end passes the axis's size: refused (its sum no longer wraps, since an
    // attribute holds at most isize::MAX).
    let text = format!(
        "input x: [3, 2]\nout slice[axis=0, start={}, len=4](x)",
        isize::MAX - 1
    );
    assert!(parse::<f64>(&text)
        .unwrap_err()
        .message
        .contains("exceeds size 3"));
}

/// The mistake caught: an input's element count computed unchecked, so (2^32, 2^32) wraps
/// to 0, passes against empty data, and the GEMM reads 2^64 elements (the `.npy` crash).
#[test]
fn an_input_whose_element_count_wraps_is_refused() {
    let g = Graph::<f32>::new();
    let (n, m) = (g.symbol("n"), g.symbol("m"));
    let a = g.input("A", dims![n, m]);
    let none = ParamLayout::new();
    let mut f = Compiler::new(&g, &none)
        .inputs(&[a])
        .output(a.matmul(a.transpose(&[1, 0])).sum_all())
        .build();
    let shape = [1usize << 32, 1 << 32];
    let err = f.value(&[], &[TensorRef::new(&shape, &[])]).unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("input `A`"), "{err}");
    // The function still works afterwards.
    let ok = f
        .value(&[], &[TensorRef::new(&[1, 2], &[3.0, 4.0])])
        .unwrap();
    assert_eq!(ok, 25.0);
}

/// The mistake caught: a step whose shape, once the symbols are bound, holds more elements
/// than an array can (each input is empty: a [2^62, 0] array has no elements), planned with
/// a wrapped size.
#[test]
fn a_step_whose_bound_size_overflows_is_refused_by_the_planner() {
    let g = Graph::<f32>::new();
    let (n, m, z) = (g.symbol("n"), g.symbol("m"), g.symbol("z"));
    let a = g.input("a", dims![n, z]);
    let b = g.input("b", dims![m, z]);
    // [n, 1] + [1, m]: an outer sum, n * m elements.
    let outer = a.sum(&[1], true) + b.sum(&[1], true).transpose(&[1, 0]);
    let none = ParamLayout::new();
    let mut f = Compiler::new(&g, &none)
        .inputs(&[a, b])
        .output(outer.sum_all())
        .build();
    let big = [1usize << 33, 0];
    let err = f
        .value(&[], &[TensorRef::new(&big, &[]), TensorRef::new(&big, &[])])
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("step"), "{err}");
}

/// The mistake caught: an arena larger than the machine allocated anyway (with overcommit,
/// the process is killed when the pages are touched) or aborting the process.
#[test]
fn a_plan_larger_than_memory_is_refused_before_allocating() {
    let g = Graph::<f64>::new();
    let (n, z) = (g.symbol("n"), g.symbol("z"));
    let a = g.input("a", dims![n, z]);
    let none = ParamLayout::new();
    let mut f = Compiler::new(&g, &none)
        .inputs(&[a])
        .output((a.sum(&[1], false) + 1.0).exp().sum_all())
        .build();
    // 2^50 f64 values: 8 PB of intermediate values, from an empty input.
    let err = f
        .value(&[], &[TensorRef::new(&[1 << 50, 0], &[])])
        .unwrap_err();
    assert!(matches!(err, Error::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("SYMGRAD_MEMORY_LIMIT"), "{err}");
    assert_eq!(
        f.arena_len(),
        None,
        "no plan is current after a refused one"
    );
    assert!(matches!(f.output(0), Err(Error::UnknownOutput { .. })));
    let v = f.value(&[], &[TensorRef::new(&[2, 0], &[])]).unwrap();
    assert!((v - 2.0 * std::f64::consts::E).abs() < 1e-14, "{v}");
}

/// The edge of the GEMM's unsafe region where the inner dimension is empty: `k == 0` must
/// write zeros (not leave the arena's old values, not read the empty operands), also when
/// the output is large enough to be split between threads. The mistake caught: returning
/// early without clearing the output, which would show a previous call's values.
#[test]
fn a_product_over_an_empty_inner_dimension_is_zero() {
    let g = Graph::<f64>::new();
    let (n, k) = (g.symbol("n"), g.symbol("k"));
    let a = g.input("a", dims![n, k]);
    let b = g.input("b", dims![k, 300]);
    let none = ParamLayout::new();
    let mut f = Compiler::new(&g, &none)
        .inputs(&[a, b])
        .output(a.matmul(b))
        .build();
    // First a call with k = 2, so that the arena holds non-zero values where the output goes.
    let (av, bv) = (vec![1.0; 200 * 2], vec![1.0; 2 * 300]);
    f.run(
        &[],
        &[
            TensorRef::new(&[200, 2], &av),
            TensorRef::new(&[2, 300], &bv),
        ],
        None,
    )
    .unwrap();
    assert!(f.output(0).unwrap().data.iter().all(|&v| v == 2.0));
    f.run(
        &[],
        &[
            TensorRef::new(&[200, 0], &[]),
            TensorRef::new(&[0, 300], &[]),
        ],
        None,
    )
    .unwrap();
    let out = f.output(0).unwrap();
    assert_eq!(out.shape, &[200, 300]);
    assert!(out.data.iter().all(|&v| v == 0.0));
}

/// The mistake caught: a constant or a parameter whose shape's element count wraps to 0 taken
/// for an empty array; folded into a product, the constant handed the GEMM k = 2^63 over
/// empty data (an out-of-bounds read in a build without overflow checks).
#[test]
fn constants_and_parameters_whose_counts_wrap_are_parse_errors() {
    let big = 1usize << 63;
    let text = format!("out const[2, {big}]() @ const[{big}, 2]()");
    let e = parse::<f64>(&text).unwrap_err();
    assert!(e.message.contains("more elements"), "{e}");
    let text = format!("param w: [2, {big}]\nout sum(w)");
    let e = parse::<f32>(&text).unwrap_err();
    assert!(e.message.contains("parameter `w`"), "{e}");
}
