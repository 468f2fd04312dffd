//! Data sets: MNIST's IDX files (gzipped or raw), the curves-like generator, seeded
//! shuffling into contiguous batches, and NumPy `.npy` arrays. Knows nothing of graphs.

mod curves;
mod idx;
mod npy;
pub mod values;

pub use curves::{curves_like, curves_like_range, CURVES_SIDE};
pub use idx::{
    find_mnist, load_mnist, load_mnist_test, read_idx_images, read_idx_labels, IdxImages, Mnist,
};
pub use npy::{parse_npy, read_npy};

use std::path::PathBuf;

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::SeedableRng;
use thiserror::Error;

use crate::Scalar;

/// Errors reading data files. Each names the file and what was expected.
#[derive(Debug, Error)]
pub enum DataError {
    /// The file could not be opened or read.
    #[error("{path}: {message}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the system said.
        message: String,
    },
    /// The file does not start with the expected IDX magic number.
    #[error("{path}: expected IDX magic number {expected:#010x} ({what}), found {found:#010x}")]
    Magic {
        /// The file.
        path: PathBuf,
        /// The magic number expected.
        expected: u32,
        /// What kind of file that is.
        what: &'static str,
        /// The number found.
        found: u32,
    },
    /// The file ends early.
    #[error(
        "{path}: truncated: the header announces {expected} bytes of data, the file has {found}"
    )]
    Truncated {
        /// The file.
        path: PathBuf,
        /// Bytes the header promises.
        expected: usize,
        /// Bytes there are.
        found: usize,
    },
    /// Images and labels do not go together.
    #[error("{images_path} has {images} images but {labels_path} has {labels} labels")]
    Mismatch {
        /// The image file.
        images_path: PathBuf,
        /// Its count.
        images: usize,
        /// The label file.
        labels_path: PathBuf,
        /// Its count.
        labels: usize,
    },
    /// A data set could not be found.
    #[error("{0}")]
    NotFound(String),
    /// A `.npy` file is not one this reader takes.
    #[error("{path}: {message}")]
    Npy {
        /// The file.
        path: PathBuf,
        /// Which check refused it (see [`DataError::kind`]).
        kind: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// A header promises more data than the memory limit
    /// ([`memory_limit`](crate::tensor::memory_limit), `SYMGRAD_MEMORY_LIMIT`) allows: refused
    /// before anything is allocated or read past the header.
    #[error("{path}: {message}")]
    TooLarge {
        /// The file.
        path: PathBuf,
        /// What the header promises and the limit.
        message: String,
    },
    /// A data set read from files holds no examples (or examples of no values): refused
    /// rather than trained and scored on nothing.
    #[error("{path}: {what}: nothing to train or test on")]
    Empty {
        /// The file.
        path: PathBuf,
        /// What is empty: `"0 images"`, `"images of 0 pixels"`.
        what: String,
    },
}

impl DataError {
    /// A short, stable name for the kind of failure, for tests and scripts that must tell
    /// one refusal from another without matching messages:
    ///
    /// | kind | the variant, and the check that refused |
    /// | --- | --- |
    /// | `io` | `Io`: the file could not be opened or read, or a gzip stream is corrupt |
    /// | `magic` | `Magic`: not the IDX magic number expected |
    /// | `truncated` | `Truncated`, or `Npy` whose data end early |
    /// | `mismatch` | `Mismatch`: images and labels of different counts |
    /// | `not_found` | `NotFound` |
    /// | `too_large` | `TooLarge`: more than the memory limit |
    /// | `empty` | `Empty`: a data set of no examples |
    /// | `npy_magic` | `Npy`: not starting with `\x93NUMPY` |
    /// | `npy_version` | `Npy`: a format version other than 1-3 |
    /// | `npy_header` | `Npy`: a header too long, cut short, not text, or without a field |
    /// | `npy_dtype` | `Npy`: a dtype not read (big-endian, objects, zero or odd widths) |
    /// | `npy_fortran` | `Npy`: Fortran order |
    /// | `npy_shape` | `Npy`: a shape that does not read as sizes |
    /// | `npy_overflow` | `Npy`: a shape whose element or byte count wraps |
    ///
    /// ```
    /// let e = symgrad::data::read_npy(std::path::Path::new("/dev/zero")).unwrap_err();
    /// assert_eq!(e.kind(), "npy_magic");
    /// ```
    pub fn kind(&self) -> &'static str {
        match self {
            DataError::Io { .. } => "io",
            DataError::Magic { .. } => "magic",
            DataError::Truncated { .. } => "truncated",
            DataError::Mismatch { .. } => "mismatch",
            DataError::NotFound(_) => "not_found",
            DataError::Npy { kind, .. } => kind,
            DataError::TooLarge { .. } => "too_large",
            DataError::Empty { .. } => "empty",
        }
    }
}

/// A data set as a row-major `[n, dim]` matrix of values in [0, 1], with optional labels.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset<T> {
    /// Number of examples.
    pub n: usize,
    /// Values per example.
    pub dim: usize,
    /// Row-major `[n, dim]`.
    pub x: Vec<T>,
    /// One label per example, if the data set has them.
    pub labels: Option<Vec<u8>>,
}

impl<T: Scalar> Dataset<T> {
    /// Example `i`.
    pub fn row(&self, i: usize) -> &[T] {
        &self.x[i * self.dim..(i + 1) * self.dim]
    }

    /// The first `n` examples.
    pub fn head(&self, n: usize) -> Self {
        let n = n.min(self.n);
        Dataset {
            n,
            dim: self.dim,
            x: self.x[..n * self.dim].to_vec(),
            labels: self.labels.as_ref().map(|l| l[..n].to_vec()),
        }
    }

    /// A copy with the examples in a seeded random order, so that an epoch's mini-batches
    /// are contiguous slices of it (one copy per epoch, none per batch).
    ///
    /// ```
    /// use symgrad::data::Dataset;
    /// let d = Dataset {
    ///     n: 4,
    ///     dim: 1,
    ///     x: vec![0.0f32, 1.0, 2.0, 3.0],
    ///     labels: Some(vec![0, 1, 2, 3]),
    /// };
    /// let s = d.shuffled(7);
    /// assert_eq!(s, d.shuffled(7)); // the same seed, the same order
    /// let labels = s.labels.as_ref().unwrap();
    /// for i in 0..4 {
    ///     assert_eq!(s.x[i], f32::from(labels[i])); // rows keep their labels
    /// }
    /// ```
    pub fn shuffled(&self, seed: u64) -> Self {
        let mut order: Vec<usize> = (0..self.n).collect();
        order.shuffle(&mut StdRng::seed_from_u64(seed));
        let mut x = Vec::with_capacity(self.x.len());
        for &i in &order {
            x.extend_from_slice(self.row(i));
        }
        let labels = self
            .labels
            .as_ref()
            .map(|l| order.iter().map(|&i| l[i]).collect());
        Dataset {
            n: self.n,
            dim: self.dim,
            x,
            labels,
        }
    }

    /// Mini-batch `k` of size `b` (the last may be shorter): `(rows, data)`.
    ///
    /// ```
    /// use symgrad::data::Dataset;
    /// let d = Dataset { n: 5, dim: 2, x: (0..10).map(f64::from).collect(), labels: None };
    /// assert_eq!(d.batches(2), 3);
    /// assert_eq!(d.batch(1, 2), (2, &[4.0, 5.0, 6.0, 7.0][..]));
    /// assert_eq!(d.batch(2, 2), (1, &[8.0, 9.0][..])); // the last is shorter
    /// ```
    pub fn batch(&self, k: usize, b: usize) -> (usize, &[T]) {
        let start = (k * b).min(self.n);
        let end = ((k + 1) * b).min(self.n);
        (end - start, &self.x[start * self.dim..end * self.dim])
    }

    /// Number of mini-batches of size `b`.
    pub fn batches(&self, b: usize) -> usize {
        self.n.div_ceil(b.max(1))
    }

    /// Converts the element type.
    pub fn cast<U: Scalar>(&self) -> Dataset<U> {
        Dataset {
            n: self.n,
            dim: self.dim,
            x: self
                .x
                .iter()
                .map(|v| U::from_f64(v.to_f64_lossless()))
                .collect(),
            labels: self.labels.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shuffling_is_seeded_and_keeps_rows_with_labels() {
        let d = Dataset {
            n: 5,
            dim: 2,
            x: (0..10).map(|v| v as f64).collect::<Vec<f64>>(),
            labels: Some(vec![0, 1, 2, 3, 4]),
        };
        let a = d.shuffled(3);
        assert_eq!(a, d.shuffled(3));
        assert_ne!(a.x, d.x);
        for i in 0..5 {
            let l = a.labels.as_ref().unwrap()[i] as usize;
            assert_eq!(a.row(i), d.row(l));
        }
        assert_eq!(d.batches(2), 3);
        assert_eq!(d.batch(2, 2), (1, &d.x[8..10]));
    }
}
