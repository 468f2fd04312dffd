use symgrad::graph::{parse_with, ParseOptions};
use symgrad::*;
fn main() {
    let p = parse_with::<f64>(
        "log(1 + exp(x))",
        &ParseOptions {
            implicit_inputs: Some(Default::default()),
        },
    )
    .unwrap();
    println!("{}", p.graph.to_text(&p.outputs));
    let layout = ParamLayout::new();
    let f = Compiler::new(&p.graph, &layout)
        .output(p.graph.expr(p.outputs[0]))
        .record(true)
        .build();
    for s in &f.explanation().stages {
        println!("{} {:?} {}", s.name, s.fired, s.nodes);
    }
    // W
    let ae = symgrad::models::autoencoder::Autoencoder::mnist();
    let layout = ae.layout();
    let g = Graph::<f32>::new();
    let b = g.symbol("batch");
    let x = g.input("x", dims![b, 784]);
    let fw = ae.forward(&g, &layout, x);
    let cost = symgrad::models::autoencoder::Autoencoder::cross_entropy(x, fw.output);
    let t = std::time::Instant::now();
    let mut f = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .record(false)
        .build();
    println!("compile {:?}", t.elapsed());
    for s in &f.explanation().stages {
        println!("{} {:?} {}", s.name, s.fired, s.nodes);
    }
    let xs: Vec<f32> = (0..1000 * 784)
        .map(|i| ((i * 7919) % 1000) as f32 / 1000.0)
        .collect();
    let params: Vec<f32> = (0..layout.len())
        .map(|i| (((i * 31) % 200) as f32 - 100.0) * 0.0005)
        .collect();
    let mut grad = vec![0.0; layout.len()];
    let v = f
        .value_and_grad(&params, &[TensorRef::new(&[1000, 784], &xs)], &mut grad)
        .unwrap();
    println!("F {v} arena {:?}", f.arena_len());
    println!("{}", f.describe());
    let mut f0 = Compiler::new(&g, &layout)
        .inputs(&[x])
        .value_and_grad(cost)
        .options(symgrad::compile::Options::literal())
        .build();
    let mut grad0 = vec![0.0; layout.len()];
    let v0 = f0
        .value_and_grad(&params, &[TensorRef::new(&[1000, 784], &xs)], &mut grad0)
        .unwrap();
    let md = grad
        .iter()
        .zip(&grad0)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    println!("F0 {v0} arena {:?} maxdiff {md}", f0.arena_len());
    for (name, ff) in [("opt", &mut f), ("lit", &mut f0)] {
        let t = std::time::Instant::now();
        for _ in 0..10 {
            ff.value_and_grad(&params, &[TensorRef::new(&[1000, 784], &xs)], &mut grad)
                .unwrap();
        }
        println!("{name} {:?}", t.elapsed() / 10);
    }
}
