//! The commands that read a finished run's folder: `eval FOLDER` (the test error), `encode`
//! (the test set's codes as CSV) and `reconstruct` (a PNG of test images and their
//! reconstructions).

use std::path::Path;

use symgrad::data::Dataset;
use symgrad::models::autoencoder::Autoencoder;
use symgrad::train::run::{load_params, load_report, load_test_data, RunConfig};
use symgrad::Scalar;

use crate::AnyError;

/// Refuses a path that is not a run folder, saying which it is (missing, a file, or a folder
/// without parameters), before any file in it is read.
pub fn check_run_folder(run: &Path) -> Result<(), AnyError> {
    if !run.exists() {
        return Err(format!("no run folder at `{}`", run.display()).into());
    }
    if !run.is_dir() {
        return Err(format!("`{}` is a file, not a run folder", run.display()).into());
    }
    if !run.join("params.safetensors").is_file() {
        return Err(format!(
            "`{}` is not a finished run: it has no params.safetensors (resume an \
             interrupted one with `symgrad train --resume {}`)",
            run.display(),
            run.display()
        )
        .into());
    }
    Ok(())
}

/// The files a run folder is made of, which `encode` and `reconstruct` must not write over.
const RUN_FILES: [&str; 3] = [
    "params.safetensors",
    "report.json",
    "checkpoint.safetensors",
];

/// Refuses an output path that is one of `run`'s own files.
fn check_out(run: &Path, out: &Path) -> Result<(), AnyError> {
    let name = out.file_name().and_then(|n| n.to_str()).unwrap_or("");
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if RUN_FILES.contains(&name) && same(parent, run) {
        return Err(format!(
            "--out {}: that is the run's own {name}; write elsewhere",
            out.display()
        )
        .into());
    }
    Ok(())
}

fn run_data<T: Scalar>(
    run: &Path,
) -> Result<(Autoencoder, Vec<T>, Dataset<T>, RunConfig), AnyError> {
    check_run_folder(run)?;
    let (ae, x) = load_params::<T>(&run.join("params.safetensors"))?;
    // Bounded and checked like a configuration given on the command line: a damaged
    // report cannot ask for 10^15 test images.
    let cfg = load_report(&run.join("report.json"))?.config;
    if cfg.network != ae {
        return Err(format!(
            "{}: the report's network ({}) is not the parameters' ({})",
            run.display(),
            sizes(&cfg.network),
            sizes(&ae)
        )
        .into());
    }
    let test = load_test_data::<T>(&cfg)?;
    Ok((ae, x, test, cfg))
}

fn sizes(ae: &Autoencoder) -> String {
    let s: Vec<String> = ae.sizes.iter().map(|s| s.to_string()).collect();
    s.join("-")
}

/// `symgrad eval FOLDER`: the trained run's test error on its data.
pub fn eval(run: &Path) -> Result<(), AnyError> {
    let (ae, x, test, cfg) = run_data::<f32>(run)?;
    // The run's own loss: cross-entropy needs logistic outputs, which a run with linear
    // ones (trained with squared error) does not have.
    let mut ft = symgrad::train::Finetuner::<f32>::new(&ae, cfg.loss);
    say!(
        "test error per image: {:.4} ({} images)",
        ft.error(&x, &test)?,
        test.n
    );
    Ok(())
}

/// `symgrad encode FOLDER --out CSV`.
pub fn encode(run: &Path, out: &Path) -> Result<(), AnyError> {
    check_out(run, out)?;
    let (ae, x, test, _) = run_data::<f32>(run)?;
    let codes = symgrad::train::picture::encode(&ae, &x, &test)?;
    let k = *ae.sizes.last().expect("a network has layers");
    let mut s = String::from("label");
    for j in 0..k {
        s += &format!(",code{j}");
    }
    s.push('\n');
    for i in 0..test.n {
        let label = test
            .labels
            .as_ref()
            .map_or(String::new(), |l| l[i].to_string());
        s += &label;
        for v in &codes[i * k..(i + 1) * k] {
            s += &format!(",{v}");
        }
        s.push('\n');
    }
    symgrad::train::run::write_atomic(out, s.as_bytes())?;
    say!("wrote {} codes of {} units to {}", test.n, k, out.display());
    Ok(())
}

/// `symgrad reconstruct FOLDER --out PNG`.
pub fn reconstruct(run: &Path, out: &Path) -> Result<(), AnyError> {
    check_out(run, out)?;
    let (ae, x, test, _) = run_data::<f32>(run)?;
    symgrad::train::picture::reconstructions(out, &ae, &x, &test)?;
    say!("wrote {}", out.display());
    Ok(())
}
