//! One libFuzzer target for every reader: the target's name comes from `SYMGRAD_FUZZ_TARGET`
//! (expr, values, npy, idx_images, idx_labels, params, checkpoint, report); file readers get
//! the input through a file in `$TMPDIR`. Any panic, crash or allocation past libFuzzer's
//! `-malloc_limit_mb` is a finding; an `Ok` result must hold together.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use symgrad::data::values::parse_value_list;
use symgrad::data::{parse_npy, read_idx_images, read_idx_labels, read_npy};
use symgrad::train::run::{load_params, load_report, verify_checkpoint};

fn setup() -> &'static (String, PathBuf) {
    static S: OnceLock<(String, PathBuf)> = OnceLock::new();
    S.get_or_init(|| {
        // Before any reader asks for the limit (read once per process).
        std::env::set_var("SYMGRAD_MEMORY_LIMIT", "64M");
        let target = std::env::var("SYMGRAD_FUZZ_TARGET").unwrap_or_else(|_| "npy".into());
        let file = std::env::temp_dir().join(format!("symgrad-libfuzzer-{}", std::process::id()));
        (target, file)
    })
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let (target, file) = setup();
    let text = || String::from_utf8_lossy(data).into_owned();
    let write = || std::fs::write(file, data).expect("a temporary file");
    match target.as_str() {
        "expr" => {
            if let Ok(p) = symgrad::graph::parse::<f64>(&text()) {
                assert!(!p.outputs.is_empty());
            }
        }
        "values" => {
            if let Ok(t) = parse_value_list(&text()) {
                assert_eq!(t.data().len(), t.shape().iter().product::<usize>());
            }
        }
        "npy" => {
            if let Ok(t) = parse_npy(data) {
                assert_eq!(t.data().len(), t.shape().iter().product::<usize>());
            }
            write();
            if let Ok(t) = read_npy(file) {
                assert_eq!(t.data().len(), t.shape().iter().product::<usize>());
            }
        }
        "idx_images" => {
            write();
            if let Ok(im) = read_idx_images(file) {
                assert_eq!(im.pixels.len(), im.n * im.rows * im.cols);
            }
        }
        "idx_labels" => {
            write();
            let _ = read_idx_labels(file);
        }
        "params" => {
            write();
            if let Ok((ae, x)) = load_params::<f64>(file) {
                assert_eq!(x.len(), ae.layout().len());
                assert!(x.iter().all(|v| v.is_finite()));
            }
        }
        "checkpoint" => {
            write();
            let _ = verify_checkpoint::<f64>(file);
        }
        "report" => {
            write();
            let _ = load_report(file);
        }
        other => panic!("SYMGRAD_FUZZ_TARGET={other}: not a target"),
    }
});
