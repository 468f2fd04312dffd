//! The `symgrad` command with bad arguments, files and folders: one clear line on stderr,
//! a non-zero exit, never a panic, never a half-written file.

use std::process::Command;

fn symgrad(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .output()
        .expect("the binary runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn fails_with(args: &[&str], needle: &str) {
    let (ok, _, err) = symgrad(args);
    assert!(!ok, "{args:?} should fail");
    assert!(err.contains(needle), "{args:?}: stderr was {err:?}");
    assert!(!err.contains("panicked"), "{args:?} panicked: {err}");
}

#[test]
fn bad_arguments_give_one_clear_line() {
    fails_with(
        &["train", "--preset", "imagenet"],
        "--preset: expected demo, curves or mnist, got `imagenet`",
    );
    fails_with(&["train", "--batch", "0"], "--batch must be at least 1");
    fails_with(
        &["train", "--layers", "100,10"],
        "the network's input layer has 100",
    );
    fails_with(
        &["train", "--units", "logistic,swish,linear"],
        "--units: expected logistic, linear, relu or tanh, got `swish`",
    );
    fails_with(
        &["train", "--layers", "784,30", "--units", "logistic,linear"],
        "2 layer sizes need 1 unit types, got 2",
    );
    fails_with(&["train", "--epochs", "many"], "invalid value 'many'");
    fails_with(&["train", "--threads", "0"], "--threads must be at least 1");
    fails_with(
        &["train", "--train-size", "0"],
        "--train-size must be at least 1",
    );
    fails_with(
        &["train", "--test-size", "0"],
        "--test-size must be at least 1",
    );
    fails_with(
        &["train", "--output-unit", "linear"],
        "cross-entropy needs logistic output units",
    );
    fails_with(
        &["train", "--output-unit", "softmax"],
        "--output-unit: expected logistic or linear, got `softmax`",
    );
}

#[test]
fn unreadable_files_and_unwritable_folders_give_one_clear_line() {
    let tmp = std::env::temp_dir().join(format!("symgrad-cli-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // A file where the output folder should be.
    let file = tmp.join("a-file");
    std::fs::write(&file, b"x").unwrap();
    let out = file.join("run");
    fails_with(
        &[
            "train",
            "--epochs",
            "1",
            "--pretrain",
            "none",
            "--train-size",
            "50",
            "--test-size",
            "10",
            "--out",
            out.to_str().unwrap(),
        ],
        "a-file",
    );
    // MNIST from a folder without the files.
    fails_with(
        &[
            "train",
            "--mnist-dir",
            tmp.to_str().unwrap(),
            "--out",
            tmp.join("m").to_str().unwrap(),
        ],
        "train-images-idx3-ubyte",
    );
    // Resume of a folder without a checkpoint, eval of a folder without parameters.
    fails_with(
        &["train", "--resume", tmp.to_str().unwrap()],
        "checkpoint.safetensors",
    );
    fails_with(&["eval", tmp.to_str().unwrap()], "params.safetensors");
    // A damaged parameter file.
    std::fs::write(
        tmp.join("params.safetensors"),
        b"\x08\x00\x00\x00\x00\x00\x00\x00{broken}",
    )
    .unwrap();
    fails_with(&["eval", tmp.to_str().unwrap()], "not a safetensors file");
}

#[test]
fn a_tiny_run_writes_its_outputs_and_eval_reads_them() {
    let dir = std::env::temp_dir().join(format!("symgrad-cli-run-{}", std::process::id()));
    let d = dir.to_str().unwrap();
    let (ok, out, err) = symgrad(&[
        "train",
        "--layers",
        "784,16,2",
        "--pretrain",
        "ae",
        "--pretrain-epochs",
        "1",
        "--epochs",
        "2",
        "--batch",
        "100",
        "--train-size",
        "300",
        "--test-size",
        "100",
        "--out",
        d,
    ]);
    assert!(ok, "{out}\n{err}");
    assert!(
        out.contains("deep autoencoder") && out.contains("PCA, 2 components"),
        "{out}"
    );
    for f in [
        "params.safetensors",
        "report.json",
        "checkpoint.safetensors",
        "reconstructions.png",
        "learning_curve.png",
        "codes.png",
        "filters.png",
    ] {
        assert!(dir.join(f).exists(), "{f} missing");
    }
    assert!(
        std::fs::read_dir(&dir).unwrap().all(|e| !e
            .unwrap()
            .file_name()
            .to_string_lossy()
            .ends_with(".tmp")),
        "a temporary file was left"
    );
    let (ok, out, _) = symgrad(&["eval", d]);
    assert!(ok && out.contains("test error per image"), "{out}");
    let csv = dir.join("codes.csv");
    let (ok, _, err) = symgrad(&["encode", d, "--out", csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 101);
}

#[test]
fn ctrl_c_keeps_the_checkpoint_and_resume_finishes_the_run() {
    let dir = std::env::temp_dir().join(format!("symgrad-cli-sigint-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let child = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args([
            "train",
            "--layers",
            "784,32,6",
            "--pretrain",
            "none",
            "--epochs",
            "400",
            "--batch",
            "100",
            "--train-size",
            "500",
            "--test-size",
            "100",
            "--out",
            d,
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for a fine-tuning checkpoint, then interrupt.
    let ckpt = dir.join("checkpoint.safetensors");
    let t = std::time::Instant::now();
    while !ckpt.exists() && t.elapsed().as_secs() < 60 {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let killed = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "stderr: {err}");
    assert!(
        err.contains("interrupted") && err.contains("--resume"),
        "{err}"
    );
    assert!(ckpt.exists() && !dir.join("params.safetensors").exists());
    // Resume runs the saved configuration to its end; to keep the test short, check it on a
    // finished short run whose final outputs were removed: resume re-creates them.
    let short =
        std::env::temp_dir().join(format!("symgrad-cli-sigint-short-{}", std::process::id()));
    let s = short.to_str().unwrap();
    let (ok, _, err) = symgrad(&[
        "train",
        "--layers",
        "784,8,2",
        "--pretrain",
        "none",
        "--epochs",
        "2",
        "--batch",
        "100",
        "--train-size",
        "200",
        "--test-size",
        "50",
        "--out",
        s,
    ]);
    assert!(ok, "{err}");
    std::fs::remove_file(short.join("params.safetensors")).unwrap();
    let (ok, out, err) = symgrad(&["train", "--resume", s]);
    assert!(ok, "{err}");
    assert!(
        out.contains("deep autoencoder") && short.join("params.safetensors").exists(),
        "{out}"
    );
}

#[test]
fn grad_prints_the_simplified_gradient() {
    let (ok, out, err) = symgrad(&["grad", "log(1 + exp(x))", "--wrt", "x"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "sigmoid(x)");
    let (ok, out, _) = symgrad(&["grad", "log(1 + exp(x))", "--wrt", "x", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["gradient"]["x"], "sigmoid(x)");
    assert_eq!(v["value"], "softplus(x)");
    let (ok, out, _) = symgrad(&[
        "grad",
        "sum(w * x)",
        "--wrt",
        "w",
        "--wrt",
        "y",
        "--shape",
        "w=3",
        "--shape",
        "x=3",
    ]);
    assert!(ok);
    assert_eq!(out, "d/dw: x\nd/dy: 0\n");
    let (ok, out, err) = symgrad(&["grad", "x * y", "--wrt", "z"]);
    assert!(ok, "{err}");
    assert_eq!(out, "0\n");
    assert!(
        err.contains("`z` does not appear in the expression, so its gradient is 0"),
        "{err}"
    );
    // stop_gradient: a constant to grad, and gone from the simplified result.
    let (ok, out, err) = symgrad(&["grad", "stop_gradient(x * x) * x * y", "--wrt", "x"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "y * (x * x)");
    let (ok, out, _) = symgrad(&["grad", "stop_gradient(x) * 3", "--wrt", "x"]);
    assert!(ok);
    assert_eq!(out, "0\n");
    fails_with(
        &["grad", "x * 2", "--wrt", "x", "--shape", "x=2"],
        "grad needs a scalar expression, got shape [2]",
    );
    fails_with(&["grad", "frob(x)", "--wrt", "x"], "no op called `frob`");
    fails_with(
        &["grad", "x +", "--wrt", "x"],
        "line 1, column 4: expected an expression",
    );
}

#[test]
fn eval_takes_values_inline_and_from_npy() {
    let (ok, out, err) = symgrad(&["eval", "x * y + 1", "-v", "x=2", "-v", "y=[1, 2, 3]"]);
    assert!(ok, "{err}");
    assert_eq!(out, "shape [3]\n3 5 7\n");
    let (ok, out, _) = symgrad(&["eval", "sum(log(x))", "-v", "x=[1, 1]", "--json"]);
    assert!(ok);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["values"][0], 0.0);
    // A .npy file written by hand: float64, shape (2,).
    let dir = std::env::temp_dir().join(format!("symgrad-npy-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut h = "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }".to_string();
    while !(10 + h.len() + 1).is_multiple_of(64) {
        h.push(' ');
    }
    h.push('\n');
    let mut b = b"\x93NUMPY\x01\x00".to_vec();
    b.extend((h.len() as u16).to_le_bytes());
    b.extend(h.as_bytes());
    for v in [3.0f64, 4.0] {
        b.extend(v.to_le_bytes());
    }
    let path = dir.join("a.npy");
    std::fs::write(&path, b).unwrap();
    let arg = format!("a=@{}", path.display());
    let (ok, out, err) = symgrad(&["eval", "sqrt(sum(a * a))", "-v", &arg]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "5");
    fails_with(
        &["eval", "x + z", "-v", "x=1"],
        "no value for `z`: give one with --value z=...",
    );
    fails_with(
        &["eval", "x", "-v", "x=[1, [2]]"],
        "--value x: a list where a number was expected",
    );
    // Nested lists of any shape (a 2 x 3 was refused as ragged before), and ragged ones
    // refused in words (they panicked before).
    let (ok, out, err) = symgrad(&["eval", "x", "-v", "x=[[1, 2, 3], [4, 5, 6]]"]);
    assert!(ok, "{err}");
    assert_eq!(out, "shape [2, 3]\n1 2 3\n4 5 6\n");
    let (ok, out, err) = symgrad(&[
        "eval",
        "sum(x)",
        "-v",
        "x=[[[1], [2]], [[3], [4]], [[5], [6]]]",
    ]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "21");
    fails_with(
        &["eval", "x", "-v", "x=[[1, 2], [3]]"],
        "--value x: ragged list: 1 items where 2 came before",
    );
    fails_with(
        &["eval", "x", "-v", "x=[[1, 2], 3]"],
        "--value x: a number where a list was expected",
    );
    fails_with(
        &["eval", "x", "-v", "x=@/nonexistent.npy"],
        "/nonexistent.npy",
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn explain_shows_every_stage_and_writes_dot() {
    let dir = std::env::temp_dir().join(format!("symgrad-dot-{}", std::process::id()));
    let (ok, out, err) = symgrad(&[
        "explain",
        "log(sigmoid(x)) * y",
        "--wrt",
        "x",
        "--dot",
        dir.to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    for needle in [
        "== 1. as built",
        "stabilize, round 1 (6 nodes): log_sigmoid ×1",
        "# rule log_sigmoid",
        "== 9. gradient",
        "# grad of %",
        "fuse_elementwise",
        "== program",
        "@ Arena(",
        "arena:",
    ] {
        assert!(out.contains(needle), "missing `{needle}` in\n{out}");
    }
    assert!(dir.join("01-as-built.dot").exists());
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn a_reader_that_goes_away_ends_a_command_quietly() {
    // `symgrad demo | head -1`: the demo goes on printing (gradient check, training steps)
    // after the reader has closed the pipe; it must end with status 0 and no panic.
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(["demo", "--batch", "10", "--steps", "300"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    assert!(first.starts_with("1. "), "{first}");
    // The reader is dropped here: later writes meet a closed pipe.
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(out.status.code(), Some(0), "{err}");
}
