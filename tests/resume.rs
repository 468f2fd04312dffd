//! Nothing is lost: a run stopped (as by Ctrl-C) during pre-training and again during
//! fine-tuning, and resumed from its checkpoints each time, ends with the same parameters,
//! bit for bit, as a run that was never stopped; and files saved from the same contents are
//! the same bytes.

use std::collections::HashMap;
use std::ops::ControlFlow;
use std::path::PathBuf;

use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
use symgrad::train::run::{
    load_params, load_tensors, save_tensors, train_run, DataSource, Precision, RunConfig, RunError,
};
use symgrad::train::{Event, Finetune, FinetuneConfig, PretrainConfig};

fn config() -> RunConfig {
    RunConfig {
        data: DataSource::Curves,
        train_size: Some(600),
        test_size: Some(200),
        network: Autoencoder {
            sizes: vec![784, 32, 8, 2],
            units: vec![Unit::Logistic, Unit::Logistic, Unit::Linear],
            output_unit: Unit::Logistic,
            tied: false,
        },
        loss: Loss::CrossEntropy,
        pretrain: Some(PretrainConfig {
            batch: 100,
            ..PretrainConfig::paper(3)
        }),
        finetune: FinetuneConfig {
            method: Finetune::MinimizeM {
                batch: 200,
                line_searches: 3,
            },
            epochs: 4,
            loss: Loss::CrossEntropy,
            seed: 0,
        },
        precision: Precision::F32,
        seed: 9,
    }
}

fn dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("symgrad-resume-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

#[test]
fn a_resumed_run_ends_with_the_same_parameters_as_an_uninterrupted_one() {
    let cfg = config();
    let a = dir("whole");
    train_run::<f32>(&cfg, &a, false, &mut |_| ControlFlow::Continue(())).unwrap();

    let b = dir("interrupted");
    // Stop in the middle of layer 2's second epoch...
    let mut stop_pre = |e: &Event| match e {
        Event::PretrainBatch {
            layer: 1,
            epoch: 1,
            batch: 3,
            ..
        } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    };
    let err = train_run::<f32>(&cfg, &b, false, &mut stop_pre).unwrap_err();
    assert!(matches!(err, RunError::Interrupted(_)), "{err}");
    assert!(b.join("checkpoint.safetensors").exists());
    assert!(
        !b.join("params.safetensors").exists(),
        "no final parameters from an unfinished run"
    );
    // ...resume, and stop in the middle of fine-tuning epoch 3...
    let mut stop_ft = |e: &Event| match e {
        Event::FinetuneBatch {
            epoch: 2, batch: 1, ..
        } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    };
    assert!(matches!(
        train_run::<f32>(&cfg, &b, true, &mut stop_ft).unwrap_err(),
        RunError::Interrupted(_)
    ));
    // ...and resume to the end.
    let report = train_run::<f32>(&cfg, &b, true, &mut |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(report.state.records.len(), 4);
    // The unrolled network's error, measured in the second part, survives into the report.
    let whole: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(a.join("report.json")).unwrap()).unwrap();
    assert!(report.unrolled_test_error.is_some());
    assert_eq!(
        report.unrolled_test_error,
        whole["unrolled_test_error"].as_f64()
    );

    let (_, xa) = load_params::<f32>(&a.join("params.safetensors")).unwrap();
    let (_, xb) = load_params::<f32>(&b.join("params.safetensors")).unwrap();
    assert_eq!(xa.len(), xb.len());
    let differ = xa
        .iter()
        .zip(&xb)
        .filter(|(p, q)| p.to_bits() != q.to_bits())
        .count();
    assert_eq!(differ, 0, "{differ} of {} parameters differ", xa.len());
    assert!(
        std::fs::read(a.join("params.safetensors")).unwrap()
            == std::fs::read(b.join("params.safetensors")).unwrap(),
        "the two parameter files differ in bytes"
    );
}

#[test]
fn the_same_tensors_and_metadata_give_the_same_file_bytes() {
    let d = dir("bytes");
    std::fs::create_dir_all(&d).unwrap();
    let tensors = vec![
        (
            "w".to_string(),
            vec![2, 3],
            vec![1.5f32, -2.0, 0.0, 3.25, 1e-30, -0.0],
        ),
        ("b".to_string(), vec![3], vec![0.5f32, 0.25, -1.0]),
    ];
    // Twelve keys inserted in opposite orders: the maps iterate in different orders.
    let keys: Vec<String> = (0..12).map(|i| format!("key{i:02}")).collect();
    let meta = |rev: bool| -> HashMap<String, String> {
        let mut m = HashMap::new();
        let mut ks = keys.clone();
        if rev {
            ks.reverse();
        }
        for k in ks {
            m.insert(k.clone(), format!("value of {k}"));
        }
        m
    };
    let (p, q) = (d.join("p.safetensors"), d.join("q.safetensors"));
    save_tensors(&p, &tensors, meta(false)).unwrap();
    save_tensors(&q, &tensors, meta(true)).unwrap();
    let (bp, bq) = (std::fs::read(&p).unwrap(), std::fs::read(&q).unwrap());
    assert!(bp == bq, "the same contents saved twice differ in bytes");
    // The header is sorted, padded to 8 bytes, and the file reads back.
    let n = u64::from_le_bytes(bp[..8].try_into().unwrap()) as usize;
    assert_eq!(n % 8, 0);
    let header = std::str::from_utf8(&bp[8..8 + n]).unwrap();
    let at: Vec<usize> = keys
        .iter()
        .map(|k| header.find(k.as_str()).unwrap())
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{header}");
    let (back, m) = load_tensors::<f32>(&p).unwrap();
    assert_eq!(m, meta(false));
    for (name, _, v) in &tensors {
        let got: Vec<u32> = back[name].iter().map(|x| x.to_bits()).collect();
        let want: Vec<u32> = v.iter().map(|x| x.to_bits()).collect();
        assert_eq!(got, want, "{name}");
    }
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn damaged_or_missing_checkpoints_give_one_clear_error() {
    let cfg = config();
    let d = dir("damaged");
    let e = train_run::<f32>(&cfg, &d, true, &mut |_| ControlFlow::Continue(())).unwrap_err();
    assert!(e.to_string().contains("checkpoint.safetensors"), "{e}");
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join("checkpoint.safetensors"), b"not a checkpoint").unwrap();
    let e = train_run::<f32>(&cfg, &d, true, &mut |_| ControlFlow::Continue(())).unwrap_err();
    assert!(matches!(e, RunError::BadFile { .. }), "{e}");
    assert!(e.to_string().contains("not a safetensors file"), "{e}");
}
