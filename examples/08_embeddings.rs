//! Step 8 of the learner's path: word embeddings by skip-gram with negative sampling
//! (Mikolov et al. 2013) over symgrad's own documentation. Words go to the compiled
//! function as integer ids (`Arg::indices`); `take` looks up their rows of the two embedding
//! tables, and the gradient reaches the tables through `scatter_add`: work in proportion to
//! the batch times the dimension, not to the vocabulary. Nearest neighbours of a few words
//! by cosine similarity are printed last.
//!
//! Run: `cargo run --release --example 08_embeddings` (a few seconds).

use std::collections::HashMap;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use symgrad::optim::{LearningRate, Momentum};
use symgrad::{dims, Arg, Compiler, Graph, ParamLayout};

/// The text: the repository's own documents, built into the example.
const TEXT: [&str; 5] = [
    include_str!("../README.md"),
    include_str!("../docs/TUTORIAL.md"),
    include_str!("../docs/ARCHITECTURE.md"),
    include_str!("../docs/PERFORMANCE.md"),
    include_str!("../docs/RESULTS.md"),
];

fn main() -> Result<(), symgrad::Error> {
    // Words: lower-case runs of letters and digits; the vocabulary is those seen 5 times.
    let words: Vec<String> = TEXT
        .iter()
        .flat_map(|t| t.split(|c: char| !c.is_alphanumeric()))
        .filter(|w| w.len() > 1)
        .map(str::to_lowercase)
        .collect();
    let mut counts: HashMap<&str, usize> = HashMap::new();
    for w in &words {
        *counts.entry(w).or_default() += 1;
    }
    let mut vocab: Vec<(&str, usize)> = counts.into_iter().filter(|&(_, c)| c >= 5).collect();
    vocab.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let id: HashMap<&str, u32> = vocab
        .iter()
        .enumerate()
        .map(|(i, (w, _))| (*w, i as u32))
        .collect();
    let corpus: Vec<u32> = words
        .iter()
        .filter_map(|w| id.get(w.as_str()).copied())
        .collect();
    let v = vocab.len();
    println!(
        "{} words, {} in a vocabulary of {v}",
        words.len(),
        corpus.len()
    );

    // (centre, context) pairs within 2 words.
    let window = 2;
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for (i, &c) in corpus.iter().enumerate() {
        let lo = i.saturating_sub(window);
        let hi = (i + window + 1).min(corpus.len());
        for (j, &o) in corpus[lo..hi].iter().enumerate() {
            if lo + j != i {
                pairs.push((c, o));
            }
        }
    }
    // Negatives drawn by unigram frequency to the power 3/4, through its cumulative table.
    let mut cumulative: Vec<f64> = vocab.iter().map(|&(_, c)| (c as f64).powf(0.75)).collect();
    for i in 1..v {
        cumulative[i] += cumulative[i - 1];
    }
    let total = cumulative[v - 1];

    // The model: score(c, o) = <E[c], F[o]>; loss = -log σ(score(c, o)) - Σ_k log σ(-score(c, n_k)).
    let (dim, negatives, batch) = (48, 5, 256);
    let mut layout = ParamLayout::new();
    layout.add("E", &[v, dim]);
    layout.add("F", &[v, dim]);
    let g = Graph::<f32>::new();
    let b = g.symbol("b");
    let centre = g.index_input("centre", dims![b]);
    let context = g.index_input("context", dims![b]);
    let negative = g.index_input("negative", dims![b, negatives]);
    let (e, f) = (g.param(&layout, "E"), g.param(&layout, "F"));
    let c = e.take(centre, 0); // [b, dim]
    let pos = (c * f.take(context, 0)).sum(&[1], false); // [b]
    let neg = (f.take(negative, 0) * c.reshape(dims![b, 1, dim])).sum(&[2], false); // [b, k]
                                                                                    // log σ(x) = -softplus(-x), so the loss is softplus of the negated scores
    let loss = (-pos).softplus().mean_all() + neg.softplus().sum(&[1], false).mean_all();
    let mut step = Compiler::new(&g, &layout)
        .inputs(&[centre, context, negative])
        .value_and_grad(loss)
        .build();

    let mut rng = StdRng::seed_from_u64(8);
    let mut params: Vec<f32> = (0..layout.len())
        .map(|i| {
            // E small and random, F zero (word2vec's start)
            if i < v * dim {
                (rng.random::<f32>() - 0.5) / dim as f32
            } else {
                0.0
            }
        })
        .collect();
    let mut sgd = Momentum::new(LearningRate::Constant(2.0), 0.9);
    let (mut cs, mut os, mut ns) = (
        vec![0u32; batch],
        vec![0u32; batch],
        vec![0u32; batch * negatives],
    );
    for epoch in 0..20 {
        // shuffled pairs, a fresh draw of negatives per batch
        let mut order: Vec<usize> = (0..pairs.len()).collect();
        for i in (1..order.len()).rev() {
            order.swap(i, rng.random_range(0..=i));
        }
        let batches = pairs.len() / batch;
        let report = sgd.minimize_batches(&mut params, 1, batches, |k, x, grad| {
            for (j, &p) in order[k * batch..(k + 1) * batch].iter().enumerate() {
                (cs[j], os[j]) = pairs[p];
            }
            for n in ns.iter_mut() {
                let r = rng.random::<f64>() * total;
                *n = cumulative.partition_point(|&c| c < r).min(v - 1) as u32;
            }
            let (s1, s2) = ([batch], [batch, negatives]);
            let args = [
                Arg::indices(&s1, &cs),
                Arg::indices(&s1, &os),
                Arg::indices(&s2, &ns),
            ];
            step.value_and_grad_with(x, &args, grad)
                .expect("ids in range")
        });
        if epoch % 5 == 4 {
            println!(
                "epoch {epoch:2}: mean loss {:.4} over {batches} batches",
                report.f
            );
        }
    }

    // Nearest neighbours by cosine similarity of the rows of E.
    let row = |i: usize| &params[i * dim..(i + 1) * dim];
    let norm = |r: &[f32]| r.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    let mut lines = Vec::new();
    for word in ["gradient", "f32", "matrix", "memory", "test", "error"] {
        let Some(&w) = id.get(word) else { continue };
        let (a, na) = (row(w as usize), norm(row(w as usize)));
        let mut sims: Vec<(f32, usize)> = (0..v)
            .filter(|&j| j != w as usize)
            .map(|j| {
                let bj = row(j);
                (
                    a.iter().zip(bj).map(|(x, y)| x * y).sum::<f32>() / (na * norm(bj)),
                    j,
                )
            })
            .collect();
        sims.sort_by(|x, y| y.0.total_cmp(&x.0));
        let near: Vec<String> = sims[..5]
            .iter()
            .map(|&(s, j)| format!("{} ({s:.2})", vocab[j].0))
            .collect();
        lines.push(format!("{word:>9}: {}", near.join(", ")));
    }
    println!("nearest neighbours:");
    for l in lines {
        println!("{l}");
    }
    Ok(())
}
