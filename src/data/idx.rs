//! MNIST's IDX format: a big-endian u32 magic number (0x00000803 for images, 0x00000801 for
//! labels), the dimension sizes as big-endian u32s, then the bytes. Gzipped files are
//! recognised by their first two bytes and decompressed on the fly.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::GzDecoder;

use super::{DataError, Dataset};
use crate::Scalar;

const IMAGES_MAGIC: u32 = 0x0000_0803;
const LABELS_MAGIC: u32 = 0x0000_0801;

/// Images as read: `n` images of `rows x cols` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxImages {
    /// Number of images.
    pub n: usize,
    /// Rows per image.
    pub rows: usize,
    /// Columns per image.
    pub cols: usize,
    /// The pixels, image after image, row-major.
    pub pixels: Vec<u8>,
}

fn read_all(path: &Path) -> Result<Vec<u8>, DataError> {
    let io = |e: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut raw = Vec::new();
    File::open(path)
        .map_err(io)?
        .read_to_end(&mut raw)
        .map_err(io)?;
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| DataError::Io {
                path: path.to_path_buf(),
                message: format!("gzip: {e}"),
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn header(
    path: &Path,
    bytes: &[u8],
    magic: u32,
    what: &'static str,
    dims: usize,
) -> Result<Vec<usize>, DataError> {
    let need = 4 * (1 + dims);
    let word = |i: usize| {
        u32::from_be_bytes([
            bytes[4 * i],
            bytes[4 * i + 1],
            bytes[4 * i + 2],
            bytes[4 * i + 3],
        ])
    };
    if bytes.len() >= 4 && word(0) != magic {
        return Err(DataError::Magic {
            path: path.to_path_buf(),
            expected: magic,
            what,
            found: word(0),
        });
    }
    if bytes.len() < need {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: need,
            found: bytes.len(),
        });
    }
    let sizes: Vec<usize> = (1..=dims).map(|i| word(i) as usize).collect();
    let data: usize = sizes.iter().product();
    if bytes.len() < need + data {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: data,
            found: bytes.len() - need,
        });
    }
    Ok(sizes)
}

/// Reads an IDX image file (`.gz` or raw).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let bytes = read_all(path)?;
    let s = header(path, &bytes, IMAGES_MAGIC, "images", 3)?;
    let len = s[0] * s[1] * s[2];
    Ok(IdxImages {
        n: s[0],
        rows: s[1],
        cols: s[2],
        pixels: bytes[16..16 + len].to_vec(),
    })
}

/// Reads an IDX label file (`.gz` or raw).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    let bytes = read_all(path)?;
    let s = header(path, &bytes, LABELS_MAGIC, "labels", 1)?;
    Ok(bytes[8..8 + s[0]].to_vec())
}

/// MNIST's training and test sets, pixels scaled to [0, 1].
#[derive(Clone, Debug)]
pub struct Mnist<T> {
    /// 60,000 training images.
    pub train: Dataset<T>,
    /// 10,000 test images.
    pub test: Dataset<T>,
}

fn pair<T: Scalar>(dir: &Path, images: &str, labels: &str) -> Result<Dataset<T>, DataError> {
    let find = |stem: &str| -> PathBuf {
        let gz = dir.join(format!("{stem}.gz"));
        if gz.exists() {
            gz
        } else {
            dir.join(stem)
        }
    };
    let (ip, lp) = (find(images), find(labels));
    let im = read_idx_images(&ip)?;
    let lab = read_idx_labels(&lp)?;
    if im.n != lab.len() {
        return Err(DataError::Mismatch {
            images_path: ip,
            images: im.n,
            labels_path: lp,
            labels: lab.len(),
        });
    }
    let scale = 1.0 / 255.0;
    Ok(Dataset {
        n: im.n,
        dim: im.rows * im.cols,
        x: im
            .pixels
            .iter()
            .map(|&p| T::from_f64(p as f64 * scale))
            .collect(),
        labels: Some(lab),
    })
}

/// Loads MNIST from a folder holding the four IDX files (gzipped or not).
///
/// ```
/// use std::path::Path;
/// use symgrad::data::{find_mnist, load_mnist};
/// // A folder without the files: the error names the file it looked for.
/// let err = load_mnist::<f32>(Path::new("no-such-folder")).unwrap_err();
/// assert!(err.to_string().contains("train-images-idx3-ubyte"), "{err}");
/// if let Some(dir) = find_mnist() {
///     let mnist = load_mnist::<f32>(&dir).unwrap();
///     assert_eq!((mnist.train.n, mnist.test.n, mnist.train.dim), (60_000, 10_000, 784));
/// }
/// ```
pub fn load_mnist<T: Scalar>(dir: &Path) -> Result<Mnist<T>, DataError> {
    Ok(Mnist {
        train: pair(dir, "train-images-idx3-ubyte", "train-labels-idx1-ubyte")?,
        test: pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")?,
    })
}

/// Where MNIST is: `$SYMGRAD_MNIST`, else `../shared/data/mnist` from the working folder or
/// from the crate's folder. `None` when neither holds the training images.
pub fn find_mnist() -> Option<PathBuf> {
    let mut candidates = Vec::new();
    if let Some(p) = std::env::var_os("SYMGRAD_MNIST") {
        candidates.push(PathBuf::from(p));
    }
    candidates.push(PathBuf::from("../shared/data/mnist"));
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data/mnist"));
    candidates.into_iter().find(|d| {
        d.join("train-images-idx3-ubyte.gz").exists() || d.join("train-images-idx3-ubyte").exists()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, bytes).unwrap();
        p
    }

    fn images_file(n: u32, rows: u32, cols: u32, data: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [IMAGES_MAGIC, n, rows, cols] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(data);
        v
    }

    fn labels_file(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [LABELS_MAGIC, labels.len() as u32] {
            v.extend_from_slice(&w.to_be_bytes());
        }
        v.extend_from_slice(labels);
        v
    }

    fn tmp() -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "symgrad-idx-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn reads_raw_and_gzipped_files() {
        let d = tmp();
        let bytes = images_file(2, 2, 3, &[0, 1, 2, 3, 4, 5, 255, 254, 253, 252, 251, 250]);
        let raw = write(&d, "im", &bytes);
        let mut gz = Vec::new();
        {
            use std::io::Write;
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
            e.write_all(&bytes).unwrap();
        }
        let gzp = write(&d, "im.gz", &gz);
        let a = read_idx_images(&raw).unwrap();
        assert_eq!(a, read_idx_images(&gzp).unwrap());
        assert_eq!((a.n, a.rows, a.cols, a.pixels[6]), (2, 2, 3, 255));
    }

    #[test]
    fn damaged_files_give_typed_errors_naming_the_file() {
        let d = tmp();
        // Labels where images are expected: wrong magic.
        let p = write(&d, "wrong-magic", &labels_file(&[1, 2, 3]));
        let e = read_idx_images(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::Magic {
                    expected: IMAGES_MAGIC,
                    found: LABELS_MAGIC,
                    ..
                }
            ),
            "{e}"
        );
        assert!(
            e.to_string().contains("wrong-magic") && e.to_string().contains("0x00000803"),
            "{e}"
        );
        // A header announcing more pixels than there are.
        let p = write(&d, "truncated", &images_file(3, 2, 2, &[0; 10]));
        let e = read_idx_images(&p).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::Truncated {
                    expected: 12,
                    found: 10,
                    ..
                }
            ),
            "{e}"
        );
        // Shorter than a header.
        let p = write(&d, "tiny", &[0, 0, 8]);
        assert!(matches!(
            read_idx_labels(&p).unwrap_err(),
            DataError::Truncated { .. }
        ));
        // A missing file.
        let e = read_idx_labels(&d.join("absent")).unwrap_err();
        assert!(matches!(e, DataError::Io { .. }) && e.to_string().contains("absent"));
        // Images and labels that disagree.
        let m = d.join("mismatch");
        std::fs::create_dir_all(&m).unwrap();
        write(
            &m,
            "train-images-idx3-ubyte",
            &images_file(2, 1, 1, &[1, 2]),
        );
        write(&m, "train-labels-idx1-ubyte", &labels_file(&[1, 2, 3]));
        write(&m, "t10k-images-idx3-ubyte", &images_file(1, 1, 1, &[1]));
        write(&m, "t10k-labels-idx1-ubyte", &labels_file(&[1]));
        let e = load_mnist::<f32>(&m).unwrap_err();
        assert!(
            matches!(
                e,
                DataError::Mismatch {
                    images: 2,
                    labels: 3,
                    ..
                }
            ),
            "{e}"
        );
        // A corrupt gzip stream.
        let p = write(&d, "bad.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3]);
        assert!(matches!(
            read_idx_images(&p).unwrap_err(),
            DataError::Io { .. }
        ));
    }
}
