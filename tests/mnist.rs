//! MNIST as read from the IDX files and through `train::run::load_data`, when the files are
//! present (`$SYMGRAD_MNIST` or `../shared/data/mnist`, as `data::find_mnist` looks).
//!
//! How a missing data set shows: this target has its own small harness (`harness = false`
//! in Cargo.toml) because libtest decides `#[ignore]` when it compiles, and a test that
//! returns early when the files are missing is reported `ok`, a pass that checked nothing.
//! Here, without the files, the test is reported as libtest reports an ignored one, with the
//! reason: `test mnist_files_read_as_the_reference_says ... ignored, SKIPPED: MNIST not
//! found ...` and `1 ignored` in the `test result:` line. With the files (this machine and
//! CI have them at ../shared/data/mnist) it runs on every `cargo test`. It accepts
//! libtest's `--list`, a name filter and `--exact`, and ignores the other options.

use std::path::Path;

use symgrad::data::{find_mnist, load_mnist};
use symgrad::models::autoencoder::{Autoencoder, Loss, Unit};
use symgrad::train::run::{load_data, DataSource, Precision, RunConfig};
use symgrad::train::{Finetune, FinetuneConfig};

const NAME: &str = "mnist_files_read_as_the_reference_says";

fn mnist_files_read_as_the_reference_says(dir: &Path) {
    let m = load_mnist::<f64>(dir).unwrap();
    assert_eq!((m.train.n, m.test.n, m.train.dim), (60_000, 10_000, 784));
    assert_eq!(&m.train.labels.as_ref().unwrap()[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&m.test.labels.as_ref().unwrap()[..5], &[7, 2, 1, 0, 4]);
    let mean = m.train.x.iter().sum::<f64>() / m.train.x.len() as f64;
    assert!((mean - 0.130660).abs() < 1e-6, "pixel mean {mean}");
    // The same images through a run's configuration, cut to its sizes, in f32.
    let cfg = RunConfig {
        data: DataSource::Mnist {
            dir: Some(dir.to_path_buf()),
        },
        train_size: Some(1000),
        test_size: Some(7),
        network: Autoencoder {
            sizes: vec![784, 8, 2],
            units: vec![Unit::Logistic, Unit::Linear],
            output_unit: Unit::Logistic,
            tied: false,
        },
        loss: Loss::CrossEntropy,
        pretrain: None,
        finetune: FinetuneConfig {
            method: Finetune::MinimizeM {
                batch: 100,
                line_searches: 3,
            },
            epochs: 1,
            loss: Loss::CrossEntropy,
            seed: 0,
        },
        precision: Precision::F32,
        seed: 0,
    };
    let (train, test) = load_data::<f32>(&cfg).unwrap();
    assert_eq!((train.n, test.n, train.dim, test.dim), (1000, 7, 784, 784));
    assert_eq!(&train.labels.as_ref().unwrap()[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&test.labels.as_ref().unwrap()[..5], &[7, 2, 1, 0, 4]);
    let same = train.x.iter().zip(&m.train.x).all(|(&a, &b)| a == b as f32);
    assert!(same, "load_data's first 1000 images are not MNIST's");
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--list") {
        println!("{NAME}: test");
        return;
    }
    // libtest's options that take a value as the next argument.
    let takes_value = [
        "--test-threads",
        "--skip",
        "--format",
        "--color",
        "--logfile",
        "-Z",
    ];
    let mut filters = Vec::new();
    let mut skip = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if takes_value.contains(&a.as_str()) {
            let v = it.next();
            if a == "--skip" {
                skip.extend(v.cloned());
            }
        } else if !a.starts_with('-') {
            filters.push(a.clone());
        }
    }
    let exact = args.iter().any(|a| a == "--exact");
    let matches = |f: &String| {
        if exact {
            f == NAME
        } else {
            NAME.contains(f.as_str())
        }
    };
    let selected = (filters.is_empty() || filters.iter().any(matches))
        && !skip.iter().any(|s| NAME.contains(s.as_str()));
    println!("\nrunning {} test", usize::from(selected));
    let result = |passed: usize, failed: usize, ignored: usize| {
        println!(
            "\ntest result: {}. {passed} passed; {failed} failed; {ignored} ignored; 0 measured; {} filtered out\n",
            if failed > 0 { "FAILED" } else { "ok" },
            usize::from(!selected)
        )
    };
    if !selected {
        result(0, 0, 0);
        return;
    }
    let Some(dir) = find_mnist() else {
        println!(
            "test {NAME} ... ignored, SKIPPED: MNIST not found (set SYMGRAD_MNIST or place the IDX files in ../shared/data/mnist)"
        );
        result(0, 0, 1);
        return;
    };
    let t = std::time::Instant::now();
    let outcome = std::panic::catch_unwind(|| mnist_files_read_as_the_reference_says(&dir));
    println!(
        "test {NAME} ... {} ({:.1} s, {})",
        if outcome.is_ok() { "ok" } else { "FAILED" },
        t.elapsed().as_secs_f64(),
        dir.display()
    );
    if outcome.is_ok() {
        result(1, 0, 0);
    } else {
        result(0, 1, 0);
        std::process::exit(101);
    }
}
