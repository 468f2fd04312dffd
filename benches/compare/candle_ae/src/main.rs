//! Workload W in candle: the literal cross-entropy of the MNIST deep autoencoder, its gradient
//! by `backward()`, timed like the other peers (median after a warm-up call). Prints one JSON
//! line per precision.
//!
//! Usage: candle_ae --inputs DIR [--batch B] [--reps R] [--threads N] [--dtype float32|float64]

use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};

const SIZES: [usize; 5] = [784, 1000, 500, 250, 30];

fn layers() -> Vec<(usize, usize, bool)> {
    let k = SIZES.len() - 1;
    let mut v: Vec<(usize, usize, bool)> = (0..k).map(|i| (SIZES[i], SIZES[i + 1], i + 1 < k)).collect();
    v.extend((0..k).rev().map(|i| (SIZES[i + 1], SIZES[i], true)));
    v
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let get = |n: &str| args.iter().position(|a| a == n).and_then(|i| args.get(i + 1)).cloned();
    let dir = get("--inputs").ok_or("--inputs DIR is required")?;
    let batch: usize = get("--batch").map_or(Ok(1000), |v| v.parse())?;
    let reps: usize = get("--reps").map_or(Ok(15), |v| v.parse())?;
    let threads: usize = get("--threads").map_or(Ok(2), |v| v.parse())?;
    let dtypes: Vec<String> = match get("--dtype") {
        Some(d) => vec![d],
        None => vec!["float32".into(), "float64".into()],
    };
    let dev = Device::Cpu;
    let x_all = Tensor::read_npy(format!("{dir}/params.npy"))?;
    let data_all = Tensor::read_npy(format!("{dir}/data.npy"))?.narrow(0, 0, batch)?;
    for name in dtypes {
        let dt = if name == "float32" { DType::F32 } else { DType::F64 };
        let x = x_all.to_dtype(dt)?;
        let data = data_all.to_dtype(dt)?.to_device(&dev)?;
        let mut vars = Vec::new();
        let mut at = 0;
        for (i, o, _) in layers() {
            let w = Var::from_tensor(&x.narrow(0, at, i * o)?.reshape((i, o))?)?;
            at += i * o;
            let b = Var::from_tensor(&x.narrow(0, at, o)?)?;
            at += o;
            vars.push((w, b));
        }
        let call = || -> Result<f64, candle_core::Error> {
            let mut h = data.clone();
            for ((w, b), (_, _, lg)) in vars.iter().zip(layers()) {
                let a = h.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
                h = if lg { (a.neg()?.exp()? + 1.0)?.recip()? } else { a };
            }
            let y = h;
            let one_minus = |t: &Tensor| t.affine(-1.0, 1.0);
            let ll = ((&data * y.log()?)? + (one_minus(&data)? * one_minus(&y)?.log()?)?)?;
            let loss = ll.sum(1)?.mean_all()?.neg()?;
            let grads = loss.backward()?;
            // Touch every gradient, so none is left unmaterialized.
            for (w, b) in &vars {
                let _ = grads.get(w.as_tensor());
                let _ = grads.get(b.as_tensor());
            }
            loss.to_dtype(DType::F64)?.to_scalar::<f64>()
        };
        let mut f = call()?;
        let mut ts = Vec::with_capacity(reps);
        for _ in 0..reps {
            let t = Instant::now();
            f = call()?;
            ts.push(t.elapsed().as_secs_f64());
        }
        ts.sort_by(f64::total_cmp);
        println!(
            "{{\"peer\": \"candle\", \"dtype\": \"{name}\", \"batch\": {batch}, \"threads\": {threads}, \"ms\": {}, \"f\": {f}, \"version\": \"0.9\"}}",
            1e3 * ts[ts.len() / 2]
        );
    }
    Ok(())
}
