//! The `symgrad` command with bad arguments, files and folders: one clear line on stderr,
//! a non-zero exit, never a panic, never a half-written file.

mod common;
use common::without_timings;
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

/// Runs `symgrad` in `dir` with `stdin` on its standard input: (exit status, stdout, stderr).
fn symgrad_in(dir: &std::path::Path, args: &[&str], stdin: &str) -> (Option<i32>, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("the binary runs");
    // A command that does not read its input closes the pipe: that is not an error here.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Bad input: exit status 2 and one line on stderr that contains `needle`.
fn refused(dir: &std::path::Path, args: &[&str], needle: &str) {
    let (code, _, err) = symgrad_in(dir, args, "");
    assert_eq!(code, Some(2), "{args:?}: stderr was {err:?}");
    assert!(err.contains(needle), "{args:?}: stderr was {err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{args:?}: {err:?}");
}

// Mistakes caught, one per line below: an expression that cannot come from a file or
// standard input; a missing run folder read as the expression `runs / latest`; a file taken
// for a run folder; options that a method ignores accepted silently; `--resume` quietly
// ignoring the options given with it; bad input exiting with 1 like a failed write.
#[test]
fn the_command_line_a_person_expects() {
    let tmp = std::env::temp_dir().join(format!("symgrad-cli-expect-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    // A program of several lines, in the text form that `explain` and `grad --json` print.
    std::fs::write(tmp.join("e.txt"), "let $1 = x * 3\n$1 + 1\n").unwrap();
    let (code, out, err) = symgrad_in(&tmp, &["eval", "-f", "e.txt", "-v", "x=2"], "");
    assert_eq!((code, out.trim()), (Some(0), "7"), "{err}");
    let (code, out, err) = symgrad_in(&tmp, &["eval", "-", "-v", "x=2"], "x ^ 2");
    assert_eq!((code, out.trim()), (Some(0), "4"), "{err}");
    let (code, out, err) = symgrad_in(&tmp, &["grad", "-f", "-", "--wrt", "x"], "sin(x)");
    assert_eq!((code, out.trim()), (Some(0), "cos(x)"), "{err}");
    let (code, out, err) = symgrad_in(&tmp, &["explain", "-f", "e.txt"], "");
    assert!(
        code == Some(0) && out.contains("expression: x * 3 + 1"),
        "{out}{err}"
    );
    refused(
        &tmp,
        &["eval", "-f", "missing.txt"],
        "-f missing.txt: cannot read",
    );
    // clap's own message for arguments that exclude each other: several lines, status 2.
    let (code, _, err) = symgrad_in(&tmp, &["eval", "x", "-f", "e.txt"], "");
    assert!(
        code == Some(2) && err.contains("cannot be used with"),
        "{err}"
    );
    // A path-like target that names nothing is a missing folder; a division still works.
    refused(
        &tmp,
        &["eval", "runs/latest"],
        "no run folder at `runs/latest`",
    );
    let (code, out, _) = symgrad_in(&tmp, &["eval", "2/4"], "");
    assert_eq!((code, out.trim()), (Some(0), "0.5"));
    refused(
        &tmp,
        &["eval", "e.txt"],
        "`e.txt` is a file, not a run folder",
    );
    refused(
        &tmp,
        &["encode", "nowhere", "--out", "c.csv"],
        "no run folder at `nowhere`",
    );
    refused(
        &tmp,
        &["train", "--resume", "nowhere"],
        "no run folder at `nowhere`",
    );
    refused(
        &tmp,
        &[
            "train", "--resume", "nowhere", "--epochs", "3", "--batch", "7",
        ],
        "--epochs, --batch cannot be changed",
    );
    refused(
        &tmp,
        &["train", "--finetune", "lbfgs", "--batch", "10"],
        "--batch does not apply to --finetune lbfgs",
    );
    refused(
        &tmp,
        &["train", "--pretrain", "none", "--pretrain-epochs", "3"],
        "--pretrain-epochs does not apply to --pretrain none",
    );
    refused(
        &tmp,
        &["train", "--data", "curves", "--mnist-dir", "."],
        "--mnist-dir does not apply to --data curves",
    );
    // The memory limit: a flag lowers it (this run needs about 30 MB), a bad value is refused
    // whether it comes from the flag or from the environment (it was silently ignored).
    refused(
        &tmp,
        &["train", "--memory-limit", "1M", "--train-size", "500"],
        "more than the limit of 1.0 MB",
    );
    refused(
        &tmp,
        &["train", "--memory-limit", "lots"],
        "--memory-limit `lots`: expected",
    );
    let out = Command::new(env!("CARGO_BIN_EXE_symgrad"))
        .args(["eval", "1 + 1"])
        .env("SYMGRAD_MEMORY_LIMIT", "8 gigs")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code() == Some(2) && err.contains("SYMGRAD_MEMORY_LIMIT `8 gigs`"),
        "{err}"
    );
    // A mistyped option is not an expression; a value given twice or without a name is
    // refused; tiny numbers print with an exponent.
    refused(
        &tmp,
        &["grad", "--jsn", "--wrt", "x"],
        "unknown option `--jsn`",
    );
    refused(
        &tmp,
        &["eval", "x", "-v", "x=1", "-v", "x=2"],
        "--value x: given twice",
    );
    refused(
        &tmp,
        &["eval", "1", "-v", "=1"],
        "the name before `=` is empty",
    );
    let (code, out, _) = symgrad_in(&tmp, &["eval", "erfc(27.2)"], "");
    assert_eq!((code, out.trim()), (Some(0), "1e-323"));
    // A run that fails before writing anything leaves no folder behind.
    refused(
        &tmp,
        &["train", "--mnist-dir", "nowhere", "--out", "m2"],
        "nowhere",
    );
    // Nothing was written by any of these.
    let mut left: Vec<String> = std::fs::read_dir(&tmp)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    assert_eq!(left, ["e.txt"]);
    std::fs::remove_dir_all(&tmp).unwrap();
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
    fails_with(&["train", "--threads", "0"], "--threads 0: give 1 to");
    // Refused at once rather than spawning threads for minutes (it hung).
    fails_with(
        &["train", "--threads", "100000"],
        "--threads 100000: give 1 to",
    );
    // A network or data too large for the machine is refused before anything is allocated
    // (each of these allocated until the machine said no).
    fails_with(
        &["train", "--layers", "784,1000000000000,30"],
        "SYMGRAD_MEMORY_LIMIT",
    );
    fails_with(
        &["train", "--layers", "784,4294967296,4294967296,30"],
        "more parameters than fit in memory",
    );
    fails_with(
        &["train", "--train-size", "1000000000000"],
        "SYMGRAD_MEMORY_LIMIT",
    );
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
    // Mistake caught: the banner printing Rust `Debug` structures (`Some(..)`, `Curves`,
    // `MinimizeM { batch: .. }`) rather than the configuration as a person reads it.
    let banner: String = out.lines().take(7).collect::<Vec<_>>().join("\n");
    for part in [
        "data:        curves-like images made from seed 1 (300 training, 100 test)",
        "network:     784-16-2 (logistic, linear units, logistic output, untied weights; ",
        "pre-train:   shallow autoencoders, 1 epoch a layer",
        "fine-tune:   minimize.m, 3 line searches on each batch of 100, 2 epochs, cross-entropy",
    ] {
        assert!(banner.contains(part), "{part:?} not in\n{banner}");
    }
    assert!(
        !banner.contains('{') && !banner.contains("Some("),
        "{banner}"
    );
    for f in [
        "params.safetensors",
        "report.json",
        "checkpoint.safetensors",
        "reconstructions.png",
        "learning_curve.svg",
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
    // Mistake caught: a picture of the wrong size or colour type, or of one colour (nothing
    // drawn): each is decoded. Reconstructions: 10 test images and theirs, 28 x 28 at 3x
    // with 4-pixel gaps; filters: 16 units in rows of 10, 28 x 28 at 2x with 2-pixel gaps.
    for (f, size, color) in [
        ("reconstructions.png", (884, 180), png::ColorType::Grayscale),
        ("codes.png", (600, 600), png::ColorType::Rgb),
        ("filters.png", (582, 118), png::ColorType::Grayscale),
    ] {
        let file = std::io::BufReader::new(std::fs::File::open(dir.join(f)).unwrap());
        let mut reader = png::Decoder::new(file).read_info().unwrap();
        let mut buf = vec![0; reader.output_buffer_size().unwrap()];
        let info = reader.next_frame(&mut buf).unwrap();
        assert_eq!(
            ((info.width, info.height), info.color_type),
            (size, color),
            "{f}"
        );
        let px = &buf[..info.buffer_size()];
        assert!(px.iter().any(|&v| v != px[0]), "{f} is all one colour");
    }
    // Mistake caught: a learning curve without its text (axis titles, legend) or without a
    // line per series (train, test: one polyline each over the epochs).
    let svg = std::fs::read_to_string(dir.join("learning_curve.svg")).unwrap();
    for text in ["epoch", "error per image", "train", "test", "PCA (test)"] {
        let element = format!(">\n{text}\n</text>");
        assert!(svg.contains(&element), "learning_curve.svg lacks {text}");
    }
    assert!(svg.matches("<polyline").count() >= 2, "{svg}");
    let (ok, out, _) = symgrad(&["eval", d]);
    assert!(ok && out.contains("test error per image"), "{out}");
    let csv = dir.join("codes.csv");
    let (ok, _, err) = symgrad(&["encode", d, "--out", csv.to_str().unwrap()]);
    assert!(ok, "{err}");
    // Mistake caught: a write error naming the temporary file rather than the path given.
    let lost = dir.join("no-such-folder").join("codes.csv");
    let (ok, _, err) = symgrad(&["encode", d, "--out", lost.to_str().unwrap()]);
    assert!(!ok && err.contains(lost.to_str().unwrap()), "{err}");
    assert!(!err.contains(".tmp"), "{err}");
    // Mistakes caught: an output written over the run's own parameters (the run was lost),
    // over a read-only file, through a symbolic link by replacing the link, or over a
    // folder; options of expressions taken quietly for a run folder.
    let params = dir.join("params.safetensors");
    let before = std::fs::read(&params).unwrap();
    let (ok, _, err) = symgrad(&["encode", d, "--out", params.to_str().unwrap()]);
    assert!(
        !ok && err.contains("the run's own params.safetensors"),
        "{err}"
    );
    assert_eq!(std::fs::read(&params).unwrap(), before);
    let ro = dir.join("ro.csv");
    std::fs::write(&ro, b"keep").unwrap();
    let mut perm = std::fs::metadata(&ro).unwrap().permissions();
    perm.set_readonly(true);
    std::fs::set_permissions(&ro, perm).unwrap();
    let (ok, _, err) = symgrad(&["encode", d, "--out", ro.to_str().unwrap()]);
    assert!(!ok && err.contains("read-only"), "{err}");
    assert_eq!(std::fs::read(&ro).unwrap(), b"keep");
    let link = dir.join("link.csv");
    std::os::unix::fs::symlink(&csv, &link).unwrap();
    let (ok, _, err) = symgrad(&["encode", d, "--out", link.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    let (ok, _, err) = symgrad(&["encode", d, "--out", dir.to_str().unwrap()]);
    assert!(!ok && err.contains("not a regular file"), "{err}");
    let (ok, _, err) = symgrad(&["eval", d, "--json"]);
    assert!(
        !ok && err.contains("--json applies to expressions"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(&csv).unwrap().lines().count(), 101);
}

// Mistake caught: `--loss squared-error` (with linear output units) not reaching the run's
// configuration, or a run with it that does not train.
#[test]
fn a_run_with_the_squared_error_loss_trains() {
    let dir = std::env::temp_dir().join(format!("symgrad-cli-sq-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let d = dir.to_str().unwrap();
    let (ok, out, err) = symgrad(&[
        "train",
        "--layers",
        "784,16,2",
        "--pretrain",
        "none",
        "--loss",
        "squared-error",
        "--output-unit",
        "linear",
        "--epochs",
        "3",
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
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("report.json")).unwrap()).unwrap();
    let cfg = &report["config"];
    assert_eq!(cfg["loss"], "squared-error", "{cfg}");
    assert_eq!(cfg["finetune"]["loss"], "squared-error", "{cfg}");
    assert_eq!(cfg["network"]["output_unit"], "linear", "{cfg}");
    let records = report["state"]["records"].as_array().unwrap();
    let test_error = |k: usize| records[k]["test_error"].as_f64().unwrap();
    assert_eq!(records.len(), 3);
    assert!(
        test_error(2) < test_error(0)
            && test_error(2) < report["unrolled_test_error"].as_f64().unwrap(),
        "{records:?}"
    );
    // Mistake caught: `eval` of this run scoring with cross-entropy, which panicked on
    // linear output units; its own loss is squared error.
    let (ok, out, err) = symgrad(&["eval", d]);
    assert!(ok && out.contains("test error per image"), "{out}{err}");
    // Mistake caught: a new run written over a finished one in a folder given by --out.
    let (ok, _, err) = symgrad(&["train", "--epochs", "1", "--out", d]);
    assert!(!ok && err.contains("it holds a run already"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ctrl_c_keeps_the_checkpoint_and_exits_with_130() {
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
    let _ = std::fs::remove_dir_all(&dir);
}

// Mistake caught: `train --resume` that does not continue the interrupted run from its
// checkpoint (reads the wrong configuration, restarts it, or loses the interrupted layer's
// errors). A run is stopped by its progress callback in the middle of pre-training, as
// Ctrl-C stops the command (the handler only sets the flag the callback reads), which
// leaves the checkpoint the command writes; the command line resumes it, and the
// parameters and report must be those of a run never stopped.
#[test]
fn resume_through_the_command_line_finishes_an_interrupted_run() {
    use std::ops::ControlFlow;
    use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
    use symgrad::train::run::{train_run, DataSource, Precision, RunConfig};
    use symgrad::train::{Event, Finetune, FinetuneConfig, PretrainConfig};
    let cfg = RunConfig {
        data: DataSource::Curves,
        train_size: Some(300),
        test_size: Some(100),
        network: Autoencoder {
            sizes: vec![784, 16, 4],
            units: vec![Unit::Logistic, Unit::Linear],
            output_unit: Unit::Logistic,
            tied: false,
        },
        loss: Loss::CrossEntropy,
        pretrain: Some(PretrainConfig {
            batch: 100,
            ..PretrainConfig::paper(2)
        }),
        finetune: FinetuneConfig {
            method: Finetune::MinimizeM {
                batch: 100,
                line_searches: 3,
            },
            epochs: 2,
            loss: Loss::CrossEntropy,
            seed: 0,
        },
        precision: Precision::F32,
        seed: 4,
    };
    let tmp = |name: &str| {
        let d =
            std::env::temp_dir().join(format!("symgrad-cli-resume-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    };
    let (whole, cut) = (tmp("whole"), tmp("cut"));
    train_run::<f32>(&cfg, &whole, false, &mut |_| ControlFlow::Continue(())).unwrap();
    let stopped = train_run::<f32>(&cfg, &cut, false, &mut |e| match e {
        Event::PretrainBatch {
            layer: 1,
            epoch: 1,
            batch: 1,
            ..
        } => ControlFlow::Break(()),
        _ => ControlFlow::Continue(()),
    });
    assert!(stopped.is_err() && !cut.join("params.safetensors").exists());
    let (ok, out, err) = symgrad(&["train", "--resume", cut.to_str().unwrap()]);
    assert!(ok, "{err}");
    assert!(out.contains("deep autoencoder"), "{out}");
    assert!(
        std::fs::read(whole.join("params.safetensors")).unwrap()
            == std::fs::read(cut.join("params.safetensors")).unwrap(),
        "the resumed run's parameters differ from the uninterrupted run's"
    );
    let report = |d: &std::path::Path| -> serde_json::Value {
        without_timings(
            serde_json::from_str(&std::fs::read_to_string(d.join("report.json")).unwrap()).unwrap(),
        )
    };
    assert_eq!(report(&cut), report(&whole));
    let _ = std::fs::remove_dir_all(&whole);
    let _ = std::fs::remove_dir_all(&cut);
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

/// What `grad` prints is accepted by `eval` as it is, a leading `-` included (clap took
/// `-(...)` for an option unless it came after `--`): the mistake caught is a positional
/// expression that may not start with a hyphen. Options before and after it still parse.
#[test]
fn a_printed_gradient_is_read_back_as_eval_s_argument() {
    let (ok, grad, err) = symgrad(&["grad", "cos(2 * x)", "--wrt", "x"]);
    assert!(ok, "{err}");
    let grad = grad.trim();
    assert!(grad.starts_with('-'), "{grad}");
    let (ok, out, err) = symgrad(&["eval", grad, "-v", "x=0.25"]);
    assert!(ok, "{err}");
    let want = -2.0 * (0.5f64).sin();
    let got: f64 = out.trim().parse().unwrap_or_else(|_| panic!("{out}"));
    assert!((got - want).abs() < 1e-12, "{got} against {want}");
    let (ok, out, err) = symgrad(&["eval", "-v", "x=3", "-x * 2"]);
    assert!(ok, "{err}");
    assert_eq!(out.trim(), "-6");
    let (ok, _, err) = symgrad(&["grad", "-x * x", "--wrt", "x"]);
    assert!(ok, "{err}");
    let (ok, _, err) = symgrad(&["explain", "-exp(x)"]);
    assert!(ok, "{err}");
}
