//! Nothing is lost: a run stopped (as by Ctrl-C) during pre-training and again during
//! fine-tuning, and resumed from its checkpoints each time, ends with the same parameters,
//! bit for bit, and the same report (every curve, the pre-training errors of every layer)
//! as a run that was never stopped, having run only what was left; and files saved from the
//! same contents are the same bytes.

mod common;
use common::without_timings;
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

/// Where the events of a call began: (layer, epoch, batch) of its first pre-training batch
/// and (epoch, batch) of its first fine-tuning batch.
#[derive(Debug, Default, PartialEq)]
struct FirstEvents {
    pretrain: Option<(usize, usize, usize)>,
    finetune: Option<(usize, usize)>,
}

impl FirstEvents {
    fn see(&mut self, e: &Event) {
        match *e {
            Event::PretrainBatch {
                layer,
                epoch,
                batch,
                ..
            } => {
                self.pretrain.get_or_insert((layer, epoch, batch));
            }
            Event::FinetuneBatch { epoch, batch, .. } => {
                self.finetune.get_or_insert((epoch, batch));
            }
            _ => {}
        }
    }
}

// Mistakes caught: a resume that loses state (the interrupted layer's pre-training errors
// were dropped from the report: 3, 2 and 3 epochs' errors instead of 3 each; a fine-tuning
// curve cut or doubled), and a resume that restarts from scratch (which, training being
// deterministic, would end with the same parameters: the events of each resumed call must
// begin where the interruption left off, at the start of the epoch it interrupted).
#[test]
fn a_resumed_run_ends_with_the_same_parameters_as_an_uninterrupted_one() {
    let cfg = config();
    let a = dir("whole");
    let whole_report =
        train_run::<f32>(&cfg, &a, false, &mut |_| ControlFlow::Continue(())).unwrap();
    assert_eq!(
        whole_report
            .state
            .pretrain_errors
            .iter()
            .map(Vec::len)
            .collect::<Vec<_>>(),
        [3, 3, 3]
    );

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
    let mut first = FirstEvents::default();
    let mut stop_ft = |e: &Event| {
        first.see(e);
        match e {
            Event::FinetuneBatch {
                epoch: 2, batch: 1, ..
            } => ControlFlow::Break(()),
            _ => ControlFlow::Continue(()),
        }
    };
    assert!(matches!(
        train_run::<f32>(&cfg, &b, true, &mut stop_ft).unwrap_err(),
        RunError::Interrupted(_)
    ));
    assert_eq!(
        first,
        FirstEvents {
            pretrain: Some((1, 1, 0)),
            finetune: Some((0, 0)),
        },
        "the first resume restarts layer 2's second epoch"
    );
    // ...and resume to the end.
    let mut first = FirstEvents::default();
    let report = train_run::<f32>(&cfg, &b, true, &mut |e| {
        first.see(e);
        ControlFlow::Continue(())
    })
    .unwrap();
    assert_eq!(
        first,
        FirstEvents {
            pretrain: None,
            finetune: Some((2, 0)),
        },
        "the second resume restarts fine-tuning epoch 3, and pre-trains nothing"
    );
    assert_eq!(report.state.records.len(), 4);
    assert!(report.unrolled_test_error.is_some());
    // The whole report (every curve, the pre-training errors per layer, the final and
    // baseline errors), on disk and returned, is the uninterrupted run's, timings aside.
    let on_disk = |d: &PathBuf| -> serde_json::Value {
        without_timings(
            serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap(),
        )
    };
    assert_eq!(on_disk(&b), on_disk(&a), "the reports differ");
    assert_eq!(
        without_timings(serde_json::to_value(&report).unwrap()),
        without_timings(serde_json::to_value(&whole_report).unwrap())
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

/// Nothing lost to a damaged checkpoint: one whose `current` holds NaN, one whose `current`
/// is a few values short, and one whose velocity has the wrong length, are each refused
/// before anything is written, and the finished run's parameters and report keep their bytes. The
/// mistakes caught: resuming from a diverged checkpoint (it overwrote params.safetensors,
/// report.json and the pictures with NaN ones), and taking vectors of the wrong length.
#[test]
fn a_damaged_checkpoint_is_refused_before_anything_is_written() {
    let mut cfg = config();
    cfg.finetune.epochs = 1;
    let d = dir("nan-checkpoint");
    train_run::<f32>(&cfg, &d, false, &mut |_| ControlFlow::Continue(())).unwrap();
    let files = ["params.safetensors", "report.json"];
    let before: Vec<Vec<u8>> = files
        .iter()
        .map(|f| std::fs::read(d.join(f)).unwrap())
        .collect();
    let ckpt = d.join("checkpoint.safetensors");
    let (tensors, meta) = load_tensors::<f32>(&ckpt).unwrap();
    let damaged = |edit: &dyn Fn(&str, &mut Vec<f32>)| {
        let mut t: Vec<(String, Vec<usize>, Vec<f32>)> = tensors
            .iter()
            .map(|(n, v)| {
                let mut v = v.clone();
                edit(n, &mut v);
                (n.clone(), vec![v.len()], v)
            })
            .collect();
        t.sort_by(|a, b| a.0.cmp(&b.0));
        save_tensors(&ckpt, &t, meta.clone()).unwrap();
        train_run::<f32>(&cfg, &d, true, &mut |_| ControlFlow::Continue(())).unwrap_err()
    };
    let e = damaged(&|n, v| {
        if n == "current" {
            v.iter_mut().for_each(|x| *x = f32::NAN)
        }
    });
    assert!(
        matches!(e, RunError::BadFile { .. }) && e.to_string().contains("NaN"),
        "{e}"
    );
    let e = damaged(&|n, v| {
        if n == "current" {
            v.truncate(v.len() - 3)
        }
    });
    assert!(e.to_string().contains("`current` (x) needs"), "{e}");
    let e = damaged(&|n, v| {
        if n == "velocity" {
            *v = vec![0.0; 5]
        }
    });
    assert!(e.to_string().contains("`velocity` has 5 values"), "{e}");
    for (f, b) in files.iter().zip(&before) {
        assert_eq!(
            &std::fs::read(d.join(f)).unwrap(),
            b,
            "{f} was written over"
        );
    }
}

/// The mistake caught: a parameter file whose network metadata does not hold together (one
/// layer, a unit list shorter than the layers, a zero size) taken as it is, which made
/// `symgrad eval` report an error of 0.0 for a one-layer network or index out of bounds.
#[test]
fn parameter_files_with_impossible_networks_are_refused() {
    let d = dir("bad-network");
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("params.safetensors");
    for (network, needle) in [
        (
            r#"{"sizes":[784],"units":[],"output_unit":"logistic","tied":false}"#,
            "at least 2",
        ),
        (
            r#"{"sizes":[784,30,2],"units":["logistic"],"output_unit":"logistic","tied":false}"#,
            "need 2 unit types",
        ),
        (
            r#"{"sizes":[784,0],"units":["logistic"],"output_unit":"logistic","tied":false}"#,
            "must be positive",
        ),
        // 2^41 parameters: refused before the vector for them is allocated (it aborted).
        (
            r#"{"sizes":[1048576,1048576],"units":["logistic"],"output_unit":"logistic","tied":false}"#,
            "more than the memory limit",
        ),
    ] {
        let meta = HashMap::from([("network".to_string(), network.to_string())]);
        save_tensors::<f32>(&p, &[("W1".into(), vec![1], vec![0.0])], meta).unwrap();
        let e = load_params::<f32>(&p).unwrap_err();
        assert!(matches!(e, RunError::BadFile { .. }), "{e}");
        assert!(e.to_string().contains(needle), "{network}: {e}");
    }
}
