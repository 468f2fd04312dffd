//! The indexing family against plain reference loops: one-hot, take, scatter-add,
//! take-along-axis and its scatter-add, argmax, argmin, argsort, sort and top-k over random
//! shapes and indices (proptest), in f32 and f64; index inputs given as integer arrays; the
//! typed errors for indices out of range or not whole; deterministic scatter-adds; the text
//! form; and a softmax cross-entropy written with `take_along_axis` against one-hot.
//! Gradients to second order are in tests/op_table.rs.

use proptest::prelude::*;
use symgrad::graph::parse;
use symgrad::{dims, grad, Arg, Compiler, Error, Graph, ParamLayout, Tensor, TensorRef};

/// `(outer, n, inner)` of `shape` around `axis`.
fn split(shape: &[usize], axis: usize) -> (usize, usize, usize) {
    (
        shape[..axis].iter().product(),
        shape[axis],
        shape[axis + 1..].iter().product(),
    )
}

fn wrap(i: i64, n: usize) -> usize {
    if i < 0 {
        (n as i64 + i) as usize
    } else {
        i as usize
    }
}

/// A shape of rank 1 to 3 with an axis in it, and indices for that axis (some negative).
fn shape_axis_indices() -> impl Strategy<Value = (Vec<usize>, usize, Vec<usize>, Vec<i64>)> {
    (
        prop::collection::vec(1usize..6, 1..4),
        0usize..3,
        prop::collection::vec(1usize..5, 0..3),
    )
        .prop_flat_map(|(shape, axis, ishape)| {
            let axis = axis % shape.len();
            let n = shape[axis] as i64;
            let m: usize = ishape.iter().product();
            (
                Just(shape),
                Just(axis),
                Just(ishape),
                prop::collection::vec(-n..n, m..=m),
            )
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    // Mistakes caught: a wrong stride or offset in take's kernel (outer, index, inner
    // blocks), negative indices not counted from the end, scatter_add not the transpose
    // (summing repeated indices), the output shape rule.
    #[test]
    fn take_and_scatter_add_match_loops((shape, axis, ishape, idx) in shape_axis_indices()) {
        let g = Graph::<f64>::new();
        let n: usize = shape.iter().product();
        let a: Vec<f64> = (0..n).map(|k| k as f64 * 0.5 - 3.0).collect();
        let av = g.constant(Tensor::from_vec(shape.clone(), a.clone()));
        let iv = g.constant(Tensor::from_vec(ishape.clone(), idx.iter().map(|&i| i as f64).collect()));
        let got = av.take(iv, axis).eval(&[]).unwrap();
        let (outer, len, inner) = split(&shape, axis);
        let m = idx.len();
        let mut want = Vec::new();
        for o in 0..outer {
            for &i in &idx {
                let k = wrap(i, len);
                want.extend_from_slice(&a[(o * len + k) * inner..(o * len + k + 1) * inner]);
            }
        }
        let mut want_shape = shape[..axis].to_vec();
        want_shape.extend(&ishape);
        want_shape.extend(&shape[axis + 1..]);
        prop_assert_eq!(got.shape(), &want_shape[..]);
        prop_assert_eq!(got.data(), &want[..]);

        // scatter_add of the gathered slices back: each slice added at its index, in order
        let src = g.constant(got.clone());
        let back = src.scatter_add(iv, axis, len).eval(&[]).unwrap();
        let mut want_back = vec![0.0; n];
        for o in 0..outer {
            for (j, &i) in idx.iter().enumerate() {
                let k = wrap(i, len);
                for c in 0..inner {
                    want_back[(o * len + k) * inner + c] += got.data()[(o * m + j) * inner + c];
                }
            }
        }
        prop_assert_eq!(back.shape(), &shape[..]);
        prop_assert_eq!(back.data(), &want_back[..]);
    }

    // Mistakes caught: take_along_axis indexing the wrong lane (outer/inner mixed up), its
    // scatter not adding repeated positions, argmax/argmin taking the last of equals, argsort
    // not stable or not ascending, top_k not largest first.
    #[test]
    fn along_axis_and_arg_ops_match_loops(
        shape in prop::collection::vec(1usize..6, 1..4),
        axis in 0usize..3,
        k in 1usize..5,
        seed in 0u64..1000,
    ) {
        let axis = axis % shape.len();
        let g = Graph::<f32>::new();
        let n: usize = shape.iter().product();
        // few distinct values, so that ties occur
        let a: Vec<f32> = (0..n).map(|i| ((i as u64 * 7 + seed) % 5) as f32).collect();
        let (outer, len, inner) = split(&shape, axis);
        let mut ishape = shape.clone();
        ishape[axis] = k;
        let idx: Vec<i64> = (0..outer * k * inner)
            .map(|i| ((i as u64 * 13 + seed) % (2 * len as u64)) as i64 - len as i64)
            .collect();
        let av = g.constant(Tensor::from_vec(shape.clone(), a.clone()));
        let iv = g.constant(Tensor::from_vec(ishape.clone(), idx.iter().map(|&i| i as f32).collect()));
        let got = av.take_along_axis(iv, axis).eval(&[]).unwrap();
        let mut want = vec![0.0f32; idx.len()];
        let mut scattered = vec![0.0f32; n];
        for o in 0..outer {
            for j in 0..k {
                for c in 0..inner {
                    let p = (o * k + j) * inner + c;
                    let q = (o * len + wrap(idx[p], len)) * inner + c;
                    want[p] = a[q];
                    scattered[q] += a[q];
                }
            }
        }
        prop_assert_eq!(got.data(), &want[..]);
        let back = g.constant(got).scatter_add_along_axis(iv, axis, len).eval(&[]).unwrap();
        prop_assert_eq!(back.data(), &scattered[..]);

        let am = av.argmax(axis, false).eval(&[]).unwrap();
        let an = av.argmin(axis, true).eval(&[]).unwrap();
        let order = av.argsort(axis, false).eval(&[]).unwrap();
        let order_desc = av.argsort(axis, true).eval(&[]).unwrap();
        for o in 0..outer {
            for c in 0..inner {
                let lane: Vec<f32> = (0..len).map(|j| a[(o * len + j) * inner + c]).collect();
                let best = (0..len).fold(0, |b, j| if lane[j] > lane[b] { j } else { b });
                let least = (0..len).fold(0, |b, j| if lane[j] < lane[b] { j } else { b });
                prop_assert_eq!(am.data()[o * inner + c], best as f32);
                prop_assert_eq!(an.data()[o * inner + c], least as f32);
                let mut asc: Vec<usize> = (0..len).collect();
                asc.sort_by(|&p, &q| lane[p].partial_cmp(&lane[q]).unwrap());
                let mut desc: Vec<usize> = (0..len).collect();
                desc.sort_by(|&p, &q| lane[q].partial_cmp(&lane[p]).unwrap());
                for j in 0..len {
                    prop_assert_eq!(order.data()[(o * len + j) * inner + c], asc[j] as f32);
                    prop_assert_eq!(order_desc.data()[(o * len + j) * inner + c], desc[j] as f32);
                }
            }
        }
        if axis == shape.len() - 1 && k <= len {
            let (v, i) = av.top_k(k);
            let (v, i) = (v.eval(&[]).unwrap(), i.eval(&[]).unwrap());
            for o in 0..outer {
                let lane: Vec<f32> = (0..len).map(|j| a[o * len + j]).collect();
                let mut desc: Vec<usize> = (0..len).collect();
                desc.sort_by(|&p, &q| lane[q].partial_cmp(&lane[p]).unwrap());
                for j in 0..k {
                    prop_assert_eq!(i.data()[o * k + j], desc[j] as f32);
                    prop_assert_eq!(v.data()[o * k + j], lane[desc[j]]);
                }
            }
        }
    }
}

// Mistakes caught: an embedding lookup through an index input that reads the wrong rows, a
// gradient that is not the sum of the looked-up rows' cotangents (repeated ids), integer
// arrays of each type not converted, and the gradient of a table large enough to reach the
// parallel elementwise paths (64 x 512).
#[test]
fn embedding_lookup_through_an_index_input() {
    let (vocab, dim) = (64, 512);
    let mut layout = ParamLayout::new();
    layout.add("E", &[vocab, dim]);
    let g = Graph::<f64>::new();
    let n = g.symbol("n");
    let ids = g.index_input("ids", dims![n]);
    let e = g.param(&layout, "E").take(ids, 0);
    let cost = (e.square() * 0.5).sum_all();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[ids])
        .value_and_grad(cost)
        .build();
    let x: Vec<f64> = (0..vocab * dim).map(|k| (k % 97) as f64 * 0.01).collect();
    let id_list = [5u16, 63, 5, 0, 5];
    let mut dx = vec![0.0; x.len()];
    let v = f
        .run_with(&x, &[Arg::indices(&[5], &id_list)], Some(&mut dx))
        .map(|_| f.scalar_output(0).unwrap())
        .unwrap();
    let row = |r: usize| &x[r * dim..(r + 1) * dim];
    let want: f64 = id_list
        .iter()
        .map(|&r| row(r as usize).iter().map(|v| v * v * 0.5).sum::<f64>())
        .sum();
    assert!((v - want).abs() < 1e-9 * want, "{v} vs {want}");
    for r in 0..vocab {
        let count = id_list.iter().filter(|&&i| i as usize == r).count() as f64;
        for c in 0..dim {
            assert_eq!(dx[r * dim + c], count * x[r * dim + c], "row {r} col {c}");
        }
    }
    // every integer type gives the same
    let mut dx2 = vec![0.0; x.len()];
    for arg in [
        Arg::indices(&[5], &[5u8, 63, 5, 0, 5]),
        Arg::indices(&[5], &[5u32, 63, 5, 0, 5]),
        Arg::indices(&[5], &[5u64, 63, 5, 0, 5]),
        Arg::indices(&[5], &[5usize, 63, 5, 0, 5]),
        Arg::indices(&[5], &[5i32, 63, 5, 0, 5]),
        Arg::indices(&[5], &[5i64, -1, 5, 0, 5]),
    ] {
        assert_eq!(f.value_and_grad_with(&x, &[arg], &mut dx2).unwrap(), v);
        assert_eq!(dx2, dx);
    }
    // no gradient reaches the ids
    assert!(grad(cost, &[ids])[0].is_none());
}

// Mistakes caught: an id outside the table read out of bounds or silently giving a wrong
// row (the label 2.5 giving a zero row), an error that does not name the input and
// the value, a non-whole float given to an index input accepted, an integer too large for
// f32 rounded silently, and a failed call leaving the function unusable.
#[test]
fn bad_indices_are_typed_errors() {
    let g = Graph::<f32>::new();
    let n = g.symbol("n");
    let y = g.index_input("labels", dims![n]);
    let logits = g.input("logits", dims![n, 3]);
    let picked = logits
        .log_softmax(1)
        .take_along_axis(y.reshape(dims![n, 1]), 1)
        .sum_all();
    let none = ParamLayout::new();
    let mut f = Compiler::new(&g, &none)
        .inputs(&[y, logits])
        .output(picked)
        .output(y.one_hot(3))
        .build();
    let l = [0.1f32, 0.2, 0.3, 1.0, 2.0, 3.0];
    let call = |f: &mut symgrad::Function<f32>, labels: Arg<'_, f32>| {
        f.run_with(&[], &[labels, Arg::values(&[2, 3], &l)], None)
    };
    call(&mut f, Arg::indices(&[2], &[2i32, 0])).unwrap();
    let err = call(&mut f, Arg::indices(&[2], &[2i32, 3])).unwrap_err();
    assert_eq!(err.kind(), "index_out_of_range");
    let msg = err.to_string();
    assert!(
        msg.contains("input `labels`") && msg.contains("index 3"),
        "{msg}"
    );
    assert!(msg.contains("flat position 1"), "{msg}");
    let err = call(&mut f, Arg::indices(&[2], &[-4i64, 0])).unwrap_err();
    assert_eq!(err.kind(), "index_out_of_range", "{err}");
    // one_hot takes no negative index (take_along_axis does: -1 is the last class)
    let err = call(&mut f, Arg::indices(&[2], &[-1i64, 0])).unwrap_err();
    assert!(err.to_string().contains("one_hot[3]"), "{err}");
    // floats for an index input: whole numbers only
    let err = f
        .run(
            &[],
            &[TensorRef::new(&[2], &[2.5]), TensorRef::new(&[2, 3], &l)],
            None,
        )
        .unwrap_err();
    assert_eq!(err.kind(), "input_length", "{err}");
    let err = f
        .run(
            &[],
            &[
                TensorRef::new(&[2], &[2.5, 0.0]),
                TensorRef::new(&[2, 3], &l),
            ],
            None,
        )
        .unwrap_err();
    assert!(
        matches!(&err, Error::IndexInput { name, .. } if name == "labels"),
        "{err}"
    );
    assert!(err.to_string().contains("2.5"), "{err}");
    f.run(
        &[],
        &[
            TensorRef::new(&[2], &[2.0, 0.0]),
            TensorRef::new(&[2, 3], &l),
        ],
        None,
    )
    .unwrap();
    // 2^24 + 1 is not an f32
    let err = call(&mut f, Arg::indices(&[2], &[16_777_217i64, 0])).unwrap_err();
    assert_eq!(err.kind(), "index_input", "{err}");
    // and the function still works
    call(&mut f, Arg::indices(&[2], &[1u8, 1])).unwrap();
    assert_eq!(f.output(1).unwrap().data, &[0.0, 1.0, 0.0, 0.0, 1.0, 0.0]);
}

// Mistakes caught: a scatter-add whose order of summation depends on the thread count or
// the layout (the issue asks for the same bits whatever the threads): summed in index order,
// bit for bit as a serial loop, under one and two rayon threads, at a size (100,000 ids of
// 64 columns) that would reach any parallel path.
#[test]
fn scatter_add_is_deterministic() {
    let (m, width, size) = (100_000usize, 64usize, 37usize);
    let src: Vec<f32> = (0..m * width)
        .map(|k| ((k * 2_654_435_761usize) % 1000) as f32 * 1e-3 + 1e-7)
        .collect();
    let idx: Vec<f32> = (0..m).map(|k| ((k * 31) % size) as f32).collect();
    let run = || {
        let g = Graph::<f32>::new();
        let s = g.constant(Tensor::from_vec([m, width], src.clone()));
        let i = g.constant(Tensor::from_vec([m], idx.clone()));
        // an input keeps it from being constant-folded
        let z = g.input("z", [1]);
        (s + z)
            .scatter_add(i, 0, size)
            .eval(&[(z, TensorRef::new(&[1], &[0.0]))])
            .unwrap()
    };
    let mut want = vec![0.0f32; size * width];
    for (j, &i) in idx.iter().enumerate() {
        for c in 0..width {
            want[i as usize * width + c] += src[j * width + c];
        }
    }
    for threads in [1, 2] {
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap();
        let got = pool.install(run);
        assert_eq!(got.data(), &want[..], "{threads} thread(s)");
    }
}

// Mistakes caught: the cross-entropy written with take_along_axis disagreeing with the
// one-hot form (value or gradient), in f64, at a batch of 300 x 10 classes.
#[test]
fn cross_entropy_by_take_along_axis_equals_one_hot() {
    let (n, c) = (300usize, 10usize);
    let mut layout = ParamLayout::new();
    layout.add("W", &[c, c]);
    let x: Vec<f64> = (0..c * c)
        .map(|k| ((k * 37) % 11) as f64 * 0.1 - 0.5)
        .collect();
    let feats: Vec<f64> = (0..n * c)
        .map(|k| ((k * 13) % 7) as f64 * 0.3 - 1.0)
        .collect();
    let labels: Vec<u8> = (0..n).map(|k| ((k * 7) % c) as u8).collect();
    let mut results = Vec::new();
    for by_take in [true, false] {
        let g = Graph::<f64>::new();
        let b = g.symbol("n");
        let xs = g.input("x", dims![b, c]);
        let y = g.index_input("y", dims![b]);
        let logp = xs.matmul(g.param(&layout, "W")).log_softmax(1);
        let nll = if by_take {
            -logp
                .take_along_axis(y.reshape(dims![b, 1]), 1)
                .mean(&[0, 1], false)
        } else {
            -(logp * y.one_hot(c)).sum(&[1], false).mean(&[0], false)
        };
        let mut f = Compiler::new(&g, &layout)
            .inputs(&[xs, y])
            .value_and_grad(nll)
            .build();
        let mut dx = vec![0.0; x.len()];
        let v = f
            .value_and_grad_with(
                &x,
                &[Arg::values(&[n, c], &feats), Arg::indices(&[n], &labels)],
                &mut dx,
            )
            .unwrap();
        results.push((v, dx));
    }
    let ((v1, d1), (v2, d2)) = (&results[0], &results[1]);
    assert!((v1 - v2).abs() < 1e-12, "{v1} vs {v2}");
    for (a, b) in d1.iter().zip(d2) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

// Mistakes caught: an index input or an indexing op that does not print, parse back, or
// compute the same after the round trip (the scatter-add's symbolic size, the flags).
#[test]
fn indexing_ops_print_and_parse_back() {
    let g = Graph::<f64>::new();
    let n = g.symbol("n");
    let v = g.symbol("V");
    let y = g.index_input("y", dims![n]);
    let t = g.input("t", dims![v, 3]);
    let x = g.input("x", dims![n, 4]);
    let rows = t.take(y, 0);
    let back = rows.scatter_add(y, 0, v);
    let picked = x.take_along_axis(y.reshape(dims![n, 1]), -1);
    let outs = [
        rows.id(),
        back.id(),
        picked.id(),
        picked
            .scatter_add_along_axis(y.reshape(dims![n, 1]), 1, 4)
            .id(),
        y.one_hot(4).id(),
        x.argmax(1, false).id(),
        x.argmin(-1, true).id(),
        x.argsort(1, true).id(),
        x.sort(0, false).id(),
    ];
    let text = g.to_text(&outs);
    assert!(text.starts_with("index y: [n]"), "{text}");
    for needle in [
        "take[0]",
        "scatter_add[0, V]",
        "take_along_axis[1]",
        "scatter_add_along_axis[1, 4]",
        "one_hot[4]",
        "argmax[1]",
        "argmin[1, keepdims]",
        "argsort[1, descending]",
        "argsort[0]",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    let p = parse::<f64>(&text).unwrap();
    assert_eq!(p.graph.to_text(&p.outputs), text);
    // same values: y = [1, 3], t = 0..12 / 2, x = 0..8
    let tv: Vec<f64> = (0..12).map(|k| k as f64 / 2.0).collect();
    let xv: Vec<f64> = (0..8).map(|k| ((k * 5) % 8) as f64).collect();
    let args = [
        Arg::indices(&[2], &[1u8, 3]),
        Arg::values(&[4, 3], &tv),
        Arg::values(&[2, 4], &xv),
    ];
    let eval = |g: &Graph<f64>, outs: &[symgrad::NodeId], names: [symgrad::NodeId; 3]| {
        outs.iter()
            .map(|&o| {
                let pairs: Vec<_> = names
                    .iter()
                    .zip(&args)
                    .map(|(&id, a)| (g.expr(id), *a))
                    .collect();
                g.expr(o).eval_with(&pairs).map(|t| t.data().to_vec())
            })
            .collect::<Vec<_>>()
    };
    let before = eval(&g, &outs, [y.id(), t.id(), x.id()]);
    let ins = p.graph.inputs();
    let after = eval(&p.graph, &p.outputs, [ins[0], ins[1], ins[2]]);
    assert_eq!(before, after);
    assert!(before.iter().all(|r| r.is_ok()), "{before:?}");
}

// The review's defects, each the mistake it caught: a `scatter_add` axis near usize::MAX
// wrapping in the shape rule (a panic in the parser and the command line); a
// `scatter_add_along_axis` whose indices differ from its source (a panic, or elements
// silently dropped); `argmax` over an empty axis returning 0, and positions past 2^24 in
// f32 rounded to a wrong one; the gradient of `polygamma` at its highest order panicking.
#[test]
fn review_defects_stay_fixed() {
    let err =
        parse::<f64>("input g: [3]\nindex i: [3]\nscatter_add[18446744073709551615, 4](g, i)")
            .map(|_| ())
            .unwrap_err();
    assert!(err.to_string().contains("scatter_add"), "{err}");

    let g = Graph::<f64>::new();
    let s = g.constant(Tensor::from_vec([2, 1], vec![5.0, 7.0]));
    let wide = g.constant(Tensor::from_vec([2, 3], vec![0.0, 1.0, 2.0, 0.0, 1.0, 2.0]));
    assert!(s.try_scatter_add_along_axis(wide, 1, 4).is_err());
    let s3 = g.constant(Tensor::from_vec(
        [2, 3],
        vec![1.0, 10.0, 100.0, 2.0, 20.0, 200.0],
    ));
    let narrow = g.constant(Tensor::from_vec([2, 1], vec![0.0, 1.0]));
    assert!(s3.try_scatter_add_along_axis(narrow, 1, 2).is_err());
    // take_along_axis itself takes fewer or more along the axis
    assert_eq!(
        s3.take_along_axis(narrow, 1).eval(&[]).unwrap().data(),
        &[1.0, 20.0]
    );

    let empty = g.constant(Tensor::from_vec([2, 0], vec![]));
    let err = empty.argmax(1, false).eval(&[]).unwrap_err();
    assert_eq!(err.kind(), "index_out_of_range", "{err}");
    assert!(err.to_string().contains("empty axis"), "{err}");
    assert_eq!(empty.argsort(1, false).eval(&[]).unwrap().shape(), &[2, 0]);

    let g32 = Graph::<f32>::new();
    let n = (1usize << 24) + 2;
    let mut v = vec![0.0f32; n];
    v[n - 1] = 1.0;
    let x = g32.constant(Tensor::from_vec([n], v));
    let err = x.argmax(0, false).eval(&[]).unwrap_err();
    assert!(err.to_string().contains("not held exactly by f32"), "{err}");

    let y = g.input("y", [2]);
    let top = y.polygamma(symgrad::ops::MAX_POLYGAMMA);
    let d = grad(top.sum_all(), &[y])[0].unwrap();
    let d2 = grad(d.sum_all(), &[y])[0].unwrap();
    let v = d2.eval(&[(y, TensorRef::new(&[2], &[1.0, 2.0]))]).unwrap();
    assert!(v.data().iter().all(|v| v.is_nan()), "{:?}", v.data());
    let ok = parse::<f64>("input x: [2]\npolygamma[4294967295](x)");
    assert!(ok.is_ok(), "{:?}", ok.err());
}
