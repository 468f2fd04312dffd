//! The Rust version promised in Cargo.toml (`rust-version`, and the README's set-up) is at
//! least what every package in Cargo.lock that this platform builds declares it needs: a
//! dependency bump that raises the minimum fails here rather than on a user's toolchain.

use std::process::Command;

fn parse(v: &str) -> Vec<u64> {
    v.split('.')
        .map(|p| {
            p.parse()
                .unwrap_or_else(|_| panic!("version part {p:?} in {v:?}"))
        })
        .collect()
}

/// The host's target triple, from `rustc -vV`.
fn host_triple() -> String {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(rustc)
        .arg("-vV")
        .output()
        .expect("rustc -vV runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("host: "))
        .expect("rustc -vV names the host")
        .trim()
        .to_string()
}

#[test]
fn declared_rust_version_covers_every_locked_package() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    // Offline and filtered to the host: on a fresh machine `cargo test` has downloaded only
    // the packages this platform builds (not, say, the Windows-only ones), and an
    // unfiltered `cargo metadata --offline` would fail for want of the others.
    let host = host_triple();
    let out = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--locked", "--offline"])
        .args(["--filter-platform", &host])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let meta: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let ours = parse(env!("CARGO_PKG_RUST_VERSION"));
    let mut needs: Vec<(Vec<u64>, String)> = meta["packages"]
        .as_array()
        .expect("packages")
        .iter()
        .filter_map(|p| {
            let rv = p["rust_version"].as_str()?;
            Some((
                parse(rv),
                format!(
                    "{} {} needs {rv}",
                    p["name"].as_str()?,
                    p["version"].as_str()?
                ),
            ))
        })
        .collect();
    needs.sort();
    let (most, who) = needs.last().expect("some package declares a rust-version");
    assert!(
        *most <= ours,
        "Cargo.toml's rust-version is {} but {who}: raise rust-version and the README's set-up",
        env!("CARGO_PKG_RUST_VERSION")
    );
    let readme = include_str!("../README.md");
    let promise = format!("Rust ({} or newer)", env!("CARGO_PKG_RUST_VERSION"));
    assert!(
        readme.contains(&promise),
        "README's set-up does not say {promise:?}"
    );
}
