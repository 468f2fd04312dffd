//! The training paths the pipeline test does not take, each on small data in seconds:
//! fine-tuning by L-BFGS and by momentum (each resumed at an epoch boundary ends where an
//! uninterrupted call does), a whole run in f64, tied weights, and `Dataset::cast`.

use std::ops::ControlFlow;

use symgrad::data::{curves_like, Dataset};
use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
use symgrad::train::run::{load_tensors, train_run, DataSource, Precision, RunConfig};
use symgrad::train::{EpochRecord, Finetune, FinetuneConfig, Finetuner, PretrainConfig};

fn net(tied: bool) -> Autoencoder {
    Autoencoder {
        sizes: vec![784, 16, 4],
        units: vec![Unit::Logistic, Unit::Linear],
        output_unit: Unit::Logistic,
        tied,
    }
}

/// Fine-tunes `net()` from its initial weights on 300 curves, epochs `from..to`, starting
/// with `velocity`; returns x, the records and the last velocity the hook saw.
fn finetune(
    method: &Finetune,
    x: &mut [f32],
    from: usize,
    to: usize,
    velocity: Vec<f32>,
) -> (Vec<EpochRecord>, Vec<f32>) {
    let data = curves_like::<f32>(400, 8);
    let (train, test) = (
        data.head(300),
        Dataset {
            n: 100,
            dim: 784,
            x: data.x[300 * 784..].to_vec(),
            labels: None,
        },
    );
    let mut ft = Finetuner::<f32>::new(&net(false), Loss::CrossEntropy);
    let cfg = FinetuneConfig {
        method: method.clone(),
        epochs: to,
        loss: Loss::CrossEntropy,
        seed: 2,
    };
    let mut last_velocity = Vec::new();
    let records = ft
        .run(
            x,
            &train,
            &test,
            &cfg,
            from,
            velocity,
            &mut |_| ControlFlow::Continue(()),
            &mut |_, _, v| {
                last_velocity = v.to_vec();
                Ok(())
            },
        )
        .unwrap();
    (records, last_velocity)
}

fn bits(v: &[f32]) -> Vec<u32> {
    v.iter().map(|x| x.to_bits()).collect()
}

/// Both epochs in one call, and the first then the second from its checkpoint's x and
/// velocity: the same x bit for bit, and the error falls.
fn resumes_exactly(method: Finetune) -> Vec<EpochRecord> {
    let ae = net(false);
    let x0: Vec<f32> = ae.init(&ae.layout(), 0.1, 5);
    let mut whole = x0.clone();
    let (records, _) = finetune(&method, &mut whole, 0, 2, Vec::new());
    let mut split = x0.clone();
    let (first, v) = finetune(&method, &mut split, 0, 1, Vec::new());
    let (second, _) = finetune(&method, &mut split, 1, 2, v);
    assert_eq!(
        bits(&whole),
        bits(&split),
        "{method:?}: a resumed call ends elsewhere"
    );
    assert_eq!(
        (first[0].test_error, second[0].test_error),
        (records[0].test_error, records[1].test_error)
    );
    assert!(
        records[1].test_error < records[0].test_error,
        "{method:?} does not lower the error: {records:?}"
    );
    records
}

// Mistakes caught: L-BFGS fine-tuning that does not run its iterations or does not lower
// the error; and L-BFGS memory carried from one epoch to the next within a call, which a
// checkpoint (x alone) cannot carry, so that a run resumed at an epoch would end elsewhere
// (finetune.rs says each epoch starts a fresh L-BFGS; this holds it to that).
#[test]
fn lbfgs_finetuning_lowers_the_error_and_resumes_at_an_epoch_exactly() {
    let records = resumes_exactly(Finetune::Lbfgs { iterations: 4 });
    for r in &records {
        // 4 iterations a call, each at least one evaluation, plus the first.
        assert!(r.evaluations >= 5 && r.line_searches >= 4, "{r:?}");
    }
}

// Mistakes caught: momentum fine-tuning that does not lower the error, or whose velocity
// is not handed to the epoch hook (the checkpoint) or not taken back on resume: a resumed
// run would restart from zero velocity and end elsewhere.
#[test]
fn momentum_finetuning_lowers_the_error_and_resumes_with_its_velocity() {
    let method = Finetune::Momentum {
        batch: 50,
        lr: 0.002,
        momentum: 0.9,
    };
    let records = resumes_exactly(method.clone());
    assert_eq!(
        records[0].evaluations, 6,
        "one gradient per batch of 50 of 300"
    );
    // Without the velocity the second epoch differs: the check above can fail.
    let ae = net(false);
    let x0: Vec<f32> = ae.init(&ae.layout(), 0.1, 5);
    let (mut a, mut b) = (x0.clone(), x0);
    let (_, v) = finetune(&method, &mut a, 0, 1, Vec::new());
    assert!(v.iter().any(|&u| u != 0.0), "the hook saw no velocity");
    finetune(&method, &mut b, 0, 1, Vec::new());
    finetune(&method, &mut a, 1, 2, Vec::new());
    let mut c = b.clone();
    finetune(&method, &mut b, 1, 2, v);
    finetune(&method, &mut c, 1, 2, Vec::new());
    assert_eq!(bits(&a), bits(&c));
    assert_ne!(bits(&b), bits(&c), "the velocity made no difference");
}

fn run_config(tied: bool, precision: Precision, loss: Loss) -> RunConfig {
    RunConfig {
        data: DataSource::Curves,
        train_size: Some(300),
        test_size: Some(100),
        network: net(tied),
        loss,
        pretrain: Some(PretrainConfig {
            batch: 100,
            ..PretrainConfig::paper(2)
        }),
        finetune: FinetuneConfig {
            method: Finetune::MinimizeM {
                batch: 100,
                line_searches: 3,
            },
            epochs: 3,
            loss,
            seed: 0,
        },
        precision,
        seed: 6,
    }
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("symgrad-paths-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

// Mistakes caught: a path that works in f32 only (a constant or a conversion typed f32,
// a file written in f32 from an f64 run). The f64 run trains, lowers the error, writes its
// parameters as F64, and ends near the same run in f32.
#[test]
fn an_f64_run_trains_and_writes_f64_parameters() {
    let (d64, d32) = (tmp("f64"), tmp("f32"));
    let cfg = run_config(false, Precision::F64, Loss::CrossEntropy);
    let r64 = train_run::<f64>(&cfg, &d64, false, &mut |_| ControlFlow::Continue(())).unwrap();
    let cfg32 = RunConfig {
        precision: Precision::F32,
        ..cfg.clone()
    };
    let r32 = train_run::<f32>(&cfg32, &d32, false, &mut |_| ControlFlow::Continue(())).unwrap();
    let unrolled = r64.unrolled_test_error.unwrap();
    assert!(
        r64.test_error < unrolled,
        "{} vs {unrolled}",
        r64.test_error
    );
    assert!(
        (r64.test_error - r32.test_error).abs() < 0.05 * r32.test_error,
        "f64 {} against f32 {}",
        r64.test_error,
        r32.test_error
    );
    let bytes = std::fs::read(d64.join("params.safetensors")).unwrap();
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header = std::str::from_utf8(&bytes[8..8 + n]).unwrap();
    assert!(
        header.contains("\"F64\"") && !header.contains("\"F32\""),
        "{header}"
    );
    let (t, _) = load_tensors::<f64>(&d64.join("params.safetensors")).unwrap();
    assert_eq!(t.values().map(Vec::len).sum::<usize>(), r64.parameters);
    let _ = std::fs::remove_dir_all(&d64);
    let _ = std::fs::remove_dir_all(&d32);
}

// Mistakes caught: tied weights that still get a decoder matrix of their own (more
// parameters than the encoder's weights and both biases), or that do not train.
#[test]
fn tied_weights_share_the_encoders_matrices_and_train() {
    let d = tmp("tied");
    let cfg = run_config(true, Precision::F32, Loss::CrossEntropy);
    let r = train_run::<f32>(&cfg, &d, false, &mut |_| ControlFlow::Continue(())).unwrap();
    // W1 [784, 16], W2 [16, 4]; biases of both encoder layers and both decoder layers.
    assert_eq!(r.parameters, 784 * 16 + 16 * 4 + (16 + 4) + (16 + 784));
    assert_eq!(
        net(false).layout().len() - r.parameters,
        784 * 16 + 16 * 4,
        "untied adds one decoder matrix per layer"
    );
    let unrolled = r.unrolled_test_error.unwrap();
    assert!(r.test_error < unrolled, "{} vs {unrolled}", r.test_error);
    let _ = std::fs::remove_dir_all(&d);
}

// Mistake caught: a cast that drops or reorders values, or loses the labels or the shape.
#[test]
fn dataset_cast_keeps_shape_labels_and_values() {
    let d = Dataset {
        n: 3,
        dim: 2,
        x: vec![0.0f32, 1.0, 0.25, -0.5, 1e-7, 3.5],
        labels: Some(vec![7, 0, 2]),
    };
    let wide: Dataset<f64> = d.cast();
    assert_eq!(
        (wide.n, wide.dim, wide.labels.clone()),
        (3, 2, Some(vec![7, 0, 2]))
    );
    assert!(wide.x.iter().zip(&d.x).all(|(&w, &v)| w == v as f64));
    let back: Dataset<f32> = wide.cast();
    assert_eq!(bits(&back.x), bits(&d.x));
    let curves = curves_like::<f64>(5, 1);
    let narrow: Dataset<f32> = curves.cast();
    assert!(narrow.x.iter().zip(&curves.x).all(|(&a, &b)| a == b as f32));
    assert_eq!((narrow.n, narrow.dim, narrow.labels), (5, 784, None));
}
