//! The commands that read a finished run's folder: `eval FOLDER` (the test error), `encode`
//! (the test set's codes as CSV) and `reconstruct` (a PNG of test images and their
//! reconstructions).

use std::path::Path;

use symgrad::data::Dataset;
use symgrad::models::autoencoder::{Autoencoder, Loss};
use symgrad::train::run::{load_params, load_test_data, RunConfig};
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

fn run_data<T: Scalar>(run: &Path) -> Result<(Autoencoder, Vec<T>, Dataset<T>), AnyError> {
    check_run_folder(run)?;
    let (ae, x) = load_params::<T>(&run.join("params.safetensors"))?;
    let report = std::fs::read_to_string(run.join("report.json"))
        .map_err(|e| format!("{}: {e}", run.join("report.json").display()))?;
    let v: serde_json::Value = serde_json::from_str(&report)
        .map_err(|e| format!("{}: {e}", run.join("report.json").display()))?;
    let cfg: RunConfig = serde_json::from_value(v["config"].clone())
        .map_err(|e| format!("{}: config: {e}", run.join("report.json").display()))?;
    let test = load_test_data::<T>(&cfg)?;
    Ok((ae, x, test))
}

/// `symgrad eval FOLDER`: the trained run's test error on its data.
pub fn eval(run: &Path) -> Result<(), AnyError> {
    let (ae, x, test) = run_data::<f32>(run)?;
    let mut ft = symgrad::train::Finetuner::<f32>::new(&ae, Loss::CrossEntropy);
    say!(
        "test error per image: {:.4} ({} images)",
        ft.error(&x, &test)?,
        test.n
    );
    Ok(())
}

/// `symgrad encode FOLDER --out CSV`.
pub fn encode(run: &Path, out: &Path) -> Result<(), AnyError> {
    let (ae, x, test) = run_data::<f32>(run)?;
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
    let (ae, x, test) = run_data::<f32>(run)?;
    symgrad::train::picture::reconstructions(out, &ae, &x, &test)?;
    say!("wrote {}", out.display());
    Ok(())
}
