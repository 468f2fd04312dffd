//! Property-based mutation fuzzing of every reader, seeded from the corpus (tests/corpus/):
//! byte flips, overwritten bytes, insertions, deletions, truncations, duplicated runs,
//! header integers set to edge values and numbers in text made huge. Each mutant must be
//! refused with a typed error or accepted with a result that holds together (a tensor's
//! length is its shape's product, parameters fit their layout), without a panic and within
//! a bounded peak heap. `SYMGRAD_FUZZ_CASES` sets the mutants per target (default 500, the
//! bounded run CI does); proptest's seed is fixed, so a run is reproducible.

mod hostile;

use std::path::{Path, PathBuf};

use hostile::{peak, run_lib, MEMORY_LIMIT, PEAK_BOUND, TARGETS};
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};

#[global_allocator]
static A: peak::Counting = peak::Counting;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus")
}

/// The seeds of a target: the corpus files of its manifest lines (folders for `run` and
/// `mnist`), up to 64 KiB each.
fn seeds(target: &str) -> Vec<PathBuf> {
    let manifest = std::fs::read_to_string(corpus().join("manifest.tsv")).unwrap();
    let wanted = if target == "npy_bytes" { "npy" } else { target };
    manifest
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split('\t').collect();
            (f.len() == 5 && f[0] == wanted && !f[1].starts_with('/')).then(|| corpus().join(f[1]))
        })
        .filter(|p| p.is_dir() || std::fs::metadata(p).is_ok_and(|m| m.len() <= 64 << 10))
        .collect()
}

/// One edit of a byte string.
#[derive(Clone, Debug)]
enum Edit {
    Flip(usize, u8),
    Set(usize, u8),
    Insert(usize, u8),
    Delete(usize),
    Truncate(usize),
    Duplicate(usize, u8),
    /// A 4- or 8-byte integer at a position, little- or big-endian, set to an edge value.
    Integer(usize, u8, u8),
    /// The digits at a position (or the next ones) replaced by a huge or odd number.
    Digits(usize, u8),
}

const EDGES: [u64; 8] = [
    0,
    1,
    0x7FFF_FFFF,
    0xFFFF_FFFF,
    1 << 32,
    1 << 62,
    u64::MAX,
    0x8000_0000,
];
const NUMBERS: [&str; 8] = [
    "0",
    "-1",
    "4294967296",
    "18446744073709551615",
    "99999999999999999999999",
    "1e308",
    "nan",
    "65536",
];

fn apply(b: &mut Vec<u8>, e: &Edit) {
    let at = |p: usize, len: usize| if len == 0 { 0 } else { p % len };
    match *e {
        Edit::Flip(p, bit) if !b.is_empty() => {
            let i = at(p, b.len());
            b[i] ^= 1 << (bit % 8)
        }
        Edit::Set(p, v) if !b.is_empty() => {
            let i = at(p, b.len());
            b[i] = v
        }
        Edit::Insert(p, v) => {
            let i = at(p, b.len() + 1);
            b.insert(i, v)
        }
        Edit::Delete(p) if !b.is_empty() => {
            let i = at(p, b.len());
            b.remove(i);
        }
        Edit::Truncate(p) => {
            let i = at(p, b.len() + 1);
            b.truncate(i)
        }
        Edit::Duplicate(p, n) if !b.is_empty() => {
            let i = at(p, b.len());
            let run: Vec<u8> = b[i..(i + n as usize).min(b.len())].to_vec();
            b.splice(i..i, run);
        }
        Edit::Integer(p, which, edge) if b.len() >= 8 => {
            let v = EDGES[edge as usize % EDGES.len()];
            let i = at(p, b.len() - 7);
            match which % 4 {
                0 => b[i..i + 4].copy_from_slice(&(v as u32).to_le_bytes()),
                1 => b[i..i + 4].copy_from_slice(&(v as u32).to_be_bytes()),
                2 => b[i..i + 8].copy_from_slice(&v.to_le_bytes()),
                _ => b[i..i + 8].copy_from_slice(&v.to_be_bytes()),
            }
        }
        Edit::Digits(p, k) if !b.is_empty() => {
            let i = at(p, b.len());
            if let Some(s) = (i..b.len()).find(|&j| b[j].is_ascii_digit()) {
                let end = (s..b.len())
                    .find(|&j| !b[j].is_ascii_digit())
                    .unwrap_or(b.len());
                b.splice(s..end, NUMBERS[k as usize % NUMBERS.len()].bytes());
            }
        }
        _ => {}
    }
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Edit::Flip(p, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Edit::Set(p, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Edit::Insert(p, v)),
        any::<usize>().prop_map(Edit::Delete),
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), any::<u8>()).prop_map(|(p, v)| Edit::Duplicate(p, v)),
        (any::<usize>(), any::<u8>(), any::<u8>()).prop_map(|(p, w, v)| Edit::Integer(p, w, v)),
        (any::<usize>(), any::<u8>()).prop_map(|(p, k)| Edit::Digits(p, k)),
    ]
}

/// Copies `seed` (a file, or a folder's files) to `dst` with one of its files mutated.
fn mutate(seed: &Path, dst: &Path, pick: usize, edits: &[Edit]) -> PathBuf {
    let _ = std::fs::remove_dir_all(dst);
    std::fs::create_dir_all(dst).unwrap();
    if seed.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(seed)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        let out = dst.join("case");
        std::fs::create_dir_all(&out).unwrap();
        for (i, f) in files.iter().enumerate() {
            let mut b = std::fs::read(f).unwrap();
            if i == pick % files.len().max(1) {
                edits.iter().for_each(|e| apply(&mut b, e));
            }
            std::fs::write(out.join(f.file_name().unwrap()), b).unwrap();
        }
        out
    } else {
        let mut b = std::fs::read(seed).unwrap();
        edits.iter().for_each(|e| apply(&mut b, e));
        let out = dst.join(seed.file_name().unwrap());
        std::fs::write(&out, b).unwrap();
        out
    }
}

fn cases() -> u32 {
    std::env::var("SYMGRAD_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500)
}

#[test]
fn mutants_of_the_corpus_are_refused_or_read_whole_without_panic_or_unbounded_memory() {
    // Before any reader asks for the limit (it is read once per process); one test, so
    // nothing else runs in this process meanwhile.
    std::env::set_var("SYMGRAD_MEMORY_LIMIT", MEMORY_LIMIT);
    let start = std::time::Instant::now();
    let mut report = Vec::new();
    for target in TARGETS {
        let seeds = seeds(target);
        assert!(!seeds.is_empty(), "{target}: no seeds");
        let dst =
            std::env::temp_dir().join(format!("symgrad-fuzz-{}-{target}", std::process::id()));
        let config = Config {
            cases: cases(),
            failure_persistence: None,
            max_shrink_iters: 200,
            ..Config::default()
        };
        let mut runner =
            TestRunner::new_with_rng(config, TestRng::deterministic_rng(RngAlgorithm::ChaCha));
        let (ok, refused) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
        let strategy = (
            0..seeds.len(),
            any::<usize>(),
            proptest::collection::vec(edit(), 1..6),
        );
        let result = runner.run(&strategy, |(s, pick, edits)| {
            let path = mutate(&seeds[s], &dst, pick, &edits);
            let (r, peak) = peak::peak_during(|| run_lib(target, &path));
            prop_assert!(
                peak <= PEAK_BOUND,
                "peak heap {peak} bytes from {:?}",
                seeds[s]
            );
            match r {
                Ok(()) => ok.set(ok.get() + 1),
                Err(_) => refused.set(refused.get() + 1),
            }
            Ok(())
        });
        let _ = std::fs::remove_dir_all(&dst);
        if let Err(e) = result {
            panic!("{target}: {e}");
        }
        report.push(format!(
            "{target} {} read/{} refused",
            ok.get(),
            refused.get()
        ));
    }
    println!(
        "fuzz: {} mutants per target in {:.1} s: {}",
        cases(),
        start.elapsed().as_secs_f64(),
        report.join(", ")
    );
}
