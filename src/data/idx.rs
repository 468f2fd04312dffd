//! MNIST's IDX format: a big-endian u32 magic number (0x00000803 for images, 0x00000801 for
//! labels), the dimension sizes as big-endian u32s, then the bytes. Gzipped files are
//! recognised by their first two bytes and decompressed on the fly.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use flate2::read::MultiGzDecoder;

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

/// Reads an IDX file's header and data (decompressed on the fly when it is gzipped, every
/// member of a multi-member gzip file as `gunzip` does): the sizes, then exactly the bytes
/// they promise. A promise larger than the memory limit (`tensor::memory_limit`: the
/// machine's memory, or `SYMGRAD_MEMORY_LIMIT`; the bytes become 4- or 8-byte values) is
/// refused before anything is read, so a gzip bomb or a header of absurd sizes cannot
/// exhaust memory.
fn read_idx(
    path: &Path,
    magic: u32,
    what: &'static str,
    dims: usize,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let io = |e: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let mut file = File::open(path).map_err(io)?;
    let mut first = [0u8; 2];
    let got = read_up_to(&mut file, &mut first).map_err(io)?;
    let start = std::io::Cursor::new(first[..got].to_vec());
    let gz = got == 2 && first == [0x1f, 0x8b];
    let reader: Box<dyn Read> = if gz {
        Box::new(MultiGzDecoder::new(start.chain(file)))
    } else {
        Box::new(start.chain(file))
    };
    read_idx_from(reader, path, gz, magic, what, dims)
}

/// [`read_idx`] over any reader (decompressed already): the header, then exactly the bytes
/// it promises, never more (the reader may be endless).
fn read_idx_from(
    mut reader: impl Read,
    path: &Path,
    gz: bool,
    magic: u32,
    what: &'static str,
    dims: usize,
) -> Result<(Vec<usize>, Vec<u8>), DataError> {
    let gz_err = |e: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        message: if gz {
            format!("gzip: {e}")
        } else {
            e.to_string()
        },
    };
    let need = 4 * (1 + dims);
    let mut head = vec![0u8; need];
    let got = read_up_to(&mut reader, &mut head).map_err(gz_err)?;
    let word = |i: usize| {
        u32::from_be_bytes([
            head[4 * i],
            head[4 * i + 1],
            head[4 * i + 2],
            head[4 * i + 3],
        ])
    };
    if got >= 4 && word(0) != magic {
        return Err(DataError::Magic {
            path: path.to_path_buf(),
            expected: magic,
            what,
            found: word(0),
        });
    }
    if got < need {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: need,
            found: got,
        });
    }
    let sizes: Vec<usize> = (1..=dims).map(|i| word(i) as usize).collect();
    let limit = crate::tensor::memory_limit() / 8;
    let data = sizes
        .iter()
        .try_fold(1usize, |a, &d| a.checked_mul(d))
        .filter(|&n| n <= limit)
        .ok_or_else(|| DataError::TooLarge {
            path: path.to_path_buf(),
            message: format!(
                "the header promises {} of {what} ({}), more than the memory limit allows ({} \
                 bytes as values of up to 8 bytes; set SYMGRAD_MEMORY_LIMIT to raise it)",
                sizes
                    .iter()
                    .map(|d| d.to_string())
                    .collect::<Vec<_>>()
                    .join(" x "),
                match sizes
                    .iter()
                    .try_fold(1u128, |a, &d| a.checked_mul(d as u128))
                {
                    Some(n) => format!("{n} bytes"),
                    None => "an overflowing number of bytes".into(),
                },
                limit
            ),
        })?;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(data as u64)
        .read_to_end(&mut bytes)
        .map_err(gz_err)?;
    if bytes.len() < data {
        return Err(DataError::Truncated {
            path: path.to_path_buf(),
            expected: data,
            found: bytes.len(),
        });
    }
    // A gzip member's CRC and length are checked at its end: read on to it (into a sink,
    // at most 64 KiB past the promise, so a bomb stays bounded) so that a damaged member,
    // or garbage after one, is an error rather than pixels accepted unchecked.
    if gz {
        std::io::copy(&mut reader.take(1 << 16), &mut std::io::sink()).map_err(gz_err)?;
    }
    Ok((sizes, bytes))
}

/// Fills as much of `buf` as the reader has, returning how much.
fn read_up_to(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Reads an IDX image file (`.gz` or raw).
pub fn read_idx_images(path: &Path) -> Result<IdxImages, DataError> {
    let (s, pixels) = read_idx(path, IMAGES_MAGIC, "images", 3)?;
    Ok(IdxImages {
        n: s[0],
        rows: s[1],
        cols: s[2],
        pixels,
    })
}

/// Reads an IDX label file (`.gz` or raw).
pub fn read_idx_labels(path: &Path) -> Result<Vec<u8>, DataError> {
    Ok(read_idx(path, LABELS_MAGIC, "labels", 1)?.1)
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
    // A file of no images, or of images of no pixels, would train and score on nothing
    // (mean errors of 0/0): refused here, where the data set is made from files.
    if im.n == 0 || im.rows * im.cols == 0 {
        return Err(DataError::Empty {
            path: ip,
            what: if im.n == 0 {
                "0 images".into()
            } else {
                format!("images of {} x {} pixels", im.rows, im.cols)
            },
        });
    }
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

/// Loads MNIST's test set alone (the two `t10k` files): what scoring a trained run needs,
/// without reading the 47 MB of training images.
///
/// ```
/// use std::path::Path;
/// let err = symgrad::data::load_mnist_test::<f32>(Path::new("no-such-folder")).unwrap_err();
/// assert!(err.to_string().contains("t10k-images-idx3-ubyte"), "{err}");
/// ```
pub fn load_mnist_test<T: Scalar>(dir: &Path) -> Result<Dataset<T>, DataError> {
    pair(dir, "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
}

/// Where MNIST is: `$SYMGRAD_MNIST` when it is set (whether or not the folder holds the
/// files: loading then names the one missing), else `../shared/data/mnist` from the working
/// folder or from the crate's folder. `None` when it is not set and neither holds the
/// training images.
pub fn find_mnist() -> Option<PathBuf> {
    // Set, it is the answer: a folder it names that lacks the files is an error to report
    // (the reader names the missing file), not a reason to train on another copy.
    if let Some(p) = std::env::var_os("SYMGRAD_MNIST") {
        return Some(PathBuf::from(p));
    }
    let mut candidates = Vec::new();
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

    /// The mistakes caught: a multi-member gzip file (which `gunzip` reads whole) taken for a
    /// truncated one, and a gzip stream that inflates past what the header promises being
    /// read to its end (a bomb): only the promised bytes are read.
    #[test]
    fn multi_member_gzip_reads_whole_and_a_bomb_reads_only_what_is_promised() {
        use std::io::Write;
        let d = tmp();
        let bytes = images_file(2, 2, 3, &[0, 1, 2, 3, 4, 5, 255, 254, 253, 252, 251, 250]);
        let mut gz = Vec::new();
        for part in [&bytes[..10], &bytes[10..]] {
            let mut e = flate2::write::GzEncoder::new(&mut gz, flate2::Compression::default());
            e.write_all(part).unwrap();
            e.finish().unwrap();
        }
        let p = write(&d, "two-members.gz", &gz);
        let a = read_idx_images(&p).unwrap();
        assert_eq!((a.n, a.pixels.len(), a.pixels[6]), (2, 12, 255));
        // 12 promised pixels followed by an endless stream (what a gzip bomb inflates to):
        // reading to the end first would never return.
        let endless = std::io::Cursor::new(bytes.clone()).chain(std::io::repeat(0));
        let (sizes, pixels) = read_idx_from(endless, &p, true, IMAGES_MAGIC, "images", 3).unwrap();
        assert_eq!((sizes, pixels), (vec![2, 2, 3], bytes[16..].to_vec()));
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
        // A header promising 2^32 - 1 images of 2^32 - 1 x 2^32 - 1 pixels (a gzip bomb's
        // header): refused before anything past it is read.
        let p = write(
            &d,
            "absurd",
            &images_file(u32::MAX, u32::MAX, u32::MAX, &[0; 16]),
        );
        let e = read_idx_images(&p).unwrap_err();
        assert_eq!(e.kind(), "too_large");
        let e = e.to_string();
        assert!(e.contains("memory limit") && e.contains("absurd"), "{e}");
        // A data set of no examples: refused, not trained on.
        let z = d.join("zero");
        std::fs::create_dir_all(&z).unwrap();
        write(&z, "train-images-idx3-ubyte", &images_file(0, 28, 28, &[]));
        write(&z, "train-labels-idx1-ubyte", &labels_file(&[]));
        write(&z, "t10k-images-idx3-ubyte", &images_file(1, 1, 1, &[1]));
        write(&z, "t10k-labels-idx1-ubyte", &labels_file(&[1]));
        let e = load_mnist::<f32>(&z).unwrap_err();
        assert_eq!(e.kind(), "empty", "{e}");
        // A corrupt gzip stream.
        let p = write(&d, "bad.gz", &[0x1f, 0x8b, 8, 0, 1, 2, 3]);
        assert!(matches!(
            read_idx_images(&p).unwrap_err(),
            DataError::Io { .. }
        ));
    }
}
