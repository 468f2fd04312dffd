//! Shared by the hostile-input tests (tests/corpus.rs, tests/fuzz.rs): each reader target
//! run on one input with the checks of an accepted result, the memory limit they run under,
//! and a counting global allocator measuring a case's peak heap on its own thread.
#![allow(dead_code)]

use std::path::Path;

use symgrad::data::values::parse_value_list;
use symgrad::data::{load_mnist, read_idx_images, read_idx_labels, read_npy};
use symgrad::train::run::{load_params, load_report, verify_checkpoint};

/// The memory limit the library cases run under (`SYMGRAD_MEMORY_LIMIT`): readers must
/// refuse promises above it before allocating them.
pub const MEMORY_LIMIT: &str = "64M";
/// The most heap one library case may take at its peak.
pub const PEAK_BOUND: usize = 64 << 20;

/// Every target the harnesses run in-process.
pub const TARGETS: [&str; 11] = [
    "expr",
    "values",
    "npy",
    "idx_images",
    "idx_labels",
    "mnist",
    "params",
    "checkpoint",
    "report",
    "run",
    "npy_bytes",
];

fn text(path: &Path) -> String {
    String::from_utf8_lossy(&std::fs::read(path).unwrap_or_default()).into_owned()
}

/// Runs one library case: `Ok(())` if the reader accepted the input (and what it returned
/// holds together), else the error's kind. A result that does not hold together panics.
pub fn run_lib(target: &str, path: &Path) -> Result<(), &'static str> {
    match target {
        "expr" => symgrad::graph::parse::<f64>(&text(path))
            .map(|p| assert!(!p.outputs.is_empty()))
            .map_err(|e| e.kind()),
        "values" => parse_value_list(&text(path))
            .map(|t| assert_eq!(t.data().len(), t.shape().iter().product::<usize>()))
            .map_err(|e| e.kind()),
        "npy" => read_npy(path)
            .map(|t| assert_eq!(t.data().len(), t.shape().iter().product::<usize>()))
            .map_err(|e| e.kind()),
        "idx_images" => read_idx_images(path)
            .map(|im| assert_eq!(im.pixels.len(), im.n * im.rows * im.cols))
            .map_err(|e| e.kind()),
        "idx_labels" => read_idx_labels(path).map(|_| ()).map_err(|e| e.kind()),
        "mnist" => load_mnist::<f32>(path)
            .map(|m| {
                for d in [&m.train, &m.test] {
                    assert!(d.n > 0 && d.dim > 0);
                    assert_eq!(d.x.len(), d.n * d.dim);
                    assert!(d.x.iter().all(|v| (0.0..=1.0).contains(v)));
                }
            })
            .map_err(|e| e.kind()),
        "params" => load_params::<f64>(path)
            .map(|(ae, x)| {
                assert_eq!(x.len(), ae.layout().len());
                assert!(x.iter().all(|v| v.is_finite()));
            })
            .map_err(|e| e.kind()),
        "checkpoint" => verify_checkpoint::<f64>(path).map_err(|e| e.kind()),
        "report" => load_report(path).map(|_| ()).map_err(|e| e.kind()),
        "npy_bytes" => symgrad::data::parse_npy(&std::fs::read(path).unwrap_or_default())
            .map(|t| assert_eq!(t.data().len(), t.shape().iter().product::<usize>()))
            .map_err(|_| "npy"),
        "run" => {
            let (ae, x) =
                load_params::<f64>(&path.join("params.safetensors")).map_err(|e| e.kind())?;
            assert_eq!(x.len(), ae.layout().len());
            load_report(&path.join("report.json")).map_err(|e| e.kind())?;
            let ck = path.join("checkpoint.safetensors");
            if ck.exists() {
                verify_checkpoint::<f64>(&ck).map_err(|e| e.kind())?;
            }
            Ok(())
        }
        other => panic!("unknown target `{other}`"),
    }
}

pub mod peak {
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    pub struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
        static PEAK: Cell<isize> = const { Cell::new(0) };
    }

    fn add(n: isize) {
        let _ = LIVE.try_with(|l| {
            let v = l.get() + n;
            l.set(v);
            let _ = PEAK.try_with(|p| {
                if v > p.get() {
                    p.set(v)
                }
            });
        });
    }

    // SAFETY: every call is passed on to `System` unchanged; the counters are `const`
    // thread-locals without destructors, which allocate nothing.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, l: Layout) -> *mut u8 {
            let p = System.alloc(l);
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn alloc_zeroed(&self, l: Layout) -> *mut u8 {
            let p = System.alloc_zeroed(l);
            if !p.is_null() {
                add(l.size() as isize);
            }
            p
        }
        unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
            add(-(l.size() as isize));
            System.dealloc(p, l)
        }
        unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
            let q = System.realloc(p, l, n);
            if !q.is_null() {
                add(n as isize - l.size() as isize);
            }
            q
        }
    }

    /// Runs `f` and returns its result with the peak of this thread's heap above what was live
    /// when it started, in bytes.
    pub fn peak_during<R>(f: impl FnOnce() -> R) -> (R, usize) {
        let base = LIVE.with(|l| l.get());
        PEAK.with(|p| p.set(base));
        let r = f();
        let peak = PEAK.with(|p| p.get());
        (r, (peak - base).max(0) as usize)
    }
}
