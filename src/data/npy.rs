//! Reading NumPy `.npy` files (version 1-3, little-endian `f4`/`f8`/integer, C order) into
//! an `f64` [`Tensor`], for `symgrad eval` and `explain`.

use std::path::Path;

use super::DataError;
use crate::tensor::Tensor;

/// The largest header a `.npy` file may have (NumPy writes a few hundred bytes; version 2
/// allows 4 GiB, which no real array needs).
const MAX_HEADER: usize = 1 << 20;

/// Reads a `.npy` file. Floats and integers of any width NumPy writes little-endian are
/// converted to `f64`; Fortran order, big-endian and object arrays are refused with an
/// error that names what the header says.
///
/// Only as many bytes as the header promises are read: a file that never ends
/// (`/dev/zero`) or whose header promises more than the file holds is an error, not an
/// allocation without bound.
///
/// ```no_run
/// let t = symgrad::data::read_npy(std::path::Path::new("x.npy")).unwrap();
/// println!("{:?}", t.shape());
/// ```
pub fn read_npy(path: &Path) -> Result<Tensor<f64>, DataError> {
    use std::io::Read;
    let io = |e: std::io::Error| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    };
    let npy = |f: Fail| DataError::Npy {
        path: path.to_path_buf(),
        kind: f.kind,
        message: f.message,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    // The magic, the version and the header's length, then the header, then the data: each
    // read bounded by what came before it.
    let mut head = Vec::new();
    (&mut file).take(12).read_to_end(&mut head).map_err(io)?;
    let (hlen, start) = header_len(&head).map_err(npy)?;
    let mut rest = Vec::new();
    (&mut file)
        .take((start + hlen - head.len().min(start + hlen)) as u64)
        .read_to_end(&mut rest)
        .map_err(io)?;
    head.extend(rest);
    let h = parse_header(&head).map_err(npy)?;
    // The values become `f64`s: a promise larger than the memory limit is refused before
    // anything is allocated, even when the file is (sparse and) that large.
    let limit = crate::tensor::memory_limit();
    let values = h.bytes / h.width * std::mem::size_of::<f64>();
    if values > limit {
        return Err(DataError::TooLarge {
            path: path.to_path_buf(),
            message: format!(
                "shape {:?} of {} is {} as f64 values, more than the memory limit of {} (set \
                 SYMGRAD_MEMORY_LIMIT, in bytes or with a K/M/G/T suffix, to raise it)",
                h.shape,
                h.descr,
                crate::tensor::fmt_bytes(values),
                crate::tensor::fmt_bytes(limit)
            ),
        });
    }
    // A regular file must hold what the header promises before any of it is read.
    let meta = file.metadata().map_err(io)?;
    let promised = h.data_start as u64 + h.bytes as u64;
    if meta.is_file() && meta.len() < promised {
        return Err(npy(fail(
            "truncated",
            format!(
                "truncated: shape {:?} of {} needs {} bytes of data, the file has {}",
                h.shape,
                h.descr,
                h.bytes,
                meta.len().saturating_sub(h.data_start as u64)
            ),
        )));
    }
    let mut data = head[h.data_start.min(head.len())..].to_vec();
    let want = h.bytes - data.len().min(h.bytes);
    (&mut file)
        .take(want as u64)
        .read_to_end(&mut data)
        .map_err(io)?;
    decode(&h, &data).map_err(npy)
}

/// Parses the bytes of a `.npy` file.
pub fn parse_npy(b: &[u8]) -> Result<Tensor<f64>, String> {
    let h = parse_header(b).map_err(|f| f.message)?;
    decode(&h, &b[h.data_start..]).map_err(|f| f.message)
}

/// Why a `.npy` file was refused: the kind [`DataError::kind`] reports, and the message.
struct Fail {
    kind: &'static str,
    message: String,
}

fn fail(kind: &'static str, message: impl Into<String>) -> Fail {
    Fail {
        kind,
        message: message.into(),
    }
}

/// What a `.npy` header says.
struct Header {
    shape: Vec<usize>,
    descr: String,
    kind: u8,
    width: usize,
    /// Where the data starts.
    data_start: usize,
    /// Bytes of data the shape and dtype need (checked: it did not overflow).
    bytes: usize,
}

/// The header's length and where it starts, from the first 10 or 12 bytes.
fn header_len(b: &[u8]) -> Result<(usize, usize), Fail> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err(fail(
            "npy_magic",
            "not a .npy file (expected the magic bytes \\x93NUMPY)",
        ));
    }
    let (hlen, start) = match b[6] {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(fail("npy_version", format!("unsupported .npy version {v}"))),
    };
    if hlen > MAX_HEADER {
        return Err(fail(
            "npy_header",
            format!("header of {hlen} bytes: more than the {MAX_HEADER} this reader accepts"),
        ));
    }
    Ok((hlen, start))
}

fn parse_header(b: &[u8]) -> Result<Header, Fail> {
    let (hlen, start) = header_len(b)?;
    let header = b
        .get(start..start + hlen)
        .ok_or_else(|| fail("npy_header", "truncated header"))?;
    let header =
        std::str::from_utf8(header).map_err(|_| fail("npy_header", "header is not text"))?;
    let field = |key: &str| -> Result<&str, Fail> {
        let k = format!("'{key}':");
        let at = header
            .find(&k)
            .ok_or_else(|| fail("npy_header", format!("header has no `{key}`: {header}")))?;
        Ok(header[at + k.len()..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or_else(|| fail("npy_dtype", "unreadable descr"))?;
    if field("fortran_order")?.starts_with("True") {
        return Err(fail(
            "npy_fortran",
            "Fortran-ordered arrays are not supported (save with C order)",
        ));
    }
    let shape_text = field("shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or_else(|| fail("npy_shape", "unreadable shape"))?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| fail("npy_shape", format!("bad dimension `{s}` in shape")))
        })
        .collect::<Result<_, _>>()?;
    let (kind, width) = match descr.as_bytes() {
        [b'<' | b'|', k, w @ ..] => (
            *k,
            std::str::from_utf8(w)
                .ok()
                .and_then(|w| w.parse::<usize>().ok())
                .ok_or_else(|| fail("npy_dtype", format!("unreadable dtype `{descr}`")))?,
        ),
        _ => {
            return Err(fail(
                "npy_dtype",
                format!("dtype `{descr}` is not little-endian numeric"),
            ))
        }
    };
    // Only the dtypes `decode` converts; checked before any size is computed from `width`
    // (a zero width would make every shape fit in no bytes).
    if !matches!(
        (kind, width),
        (b'f', 4 | 8) | (b'i', 1 | 4 | 8) | (b'u', 1) | (b'b', 1)
    ) {
        return Err(fail(
            "npy_dtype",
            format!("dtype `{descr}` is not supported (use float32 or float64)"),
        ));
    }
    let bytes = crate::tensor::checked_numel::<f64>(&shape)
        .and_then(|n| n.checked_mul(width))
        .ok_or_else(|| {
            fail(
                "npy_overflow",
                format!("shape {shape:?} holds more elements than any array can"),
            )
        })?;
    Ok(Header {
        shape,
        descr: descr.to_string(),
        kind,
        width,
        data_start: start + hlen,
        bytes,
    })
}

fn decode(h: &Header, data: &[u8]) -> Result<Tensor<f64>, Fail> {
    let (kind, width, descr) = (h.kind, h.width, &h.descr);
    if data.len() < h.bytes {
        return Err(fail(
            "truncated",
            format!(
                "truncated: shape {:?} of {descr} needs {} bytes, the file has {}",
                h.shape,
                h.bytes,
                data.len()
            ),
        ));
    }
    let vals: Vec<f64> = data[..h.bytes]
        .chunks_exact(width)
        .map(|c| match (kind, width) {
            (b'f', 8) => f64::from_le_bytes(c.try_into().expect("8 bytes")),
            (b'f', 4) => f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
            (b'i', 1) => c[0] as i8 as f64,
            (b'i', 4) => i32::from_le_bytes(c.try_into().expect("4 bytes")) as f64,
            (b'i', 8) => i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64,
            // (b'u', 1) | (b'b', 1), as `parse_header` allows
            _ => c[0] as f64,
        })
        .collect();
    Ok(Tensor::from_vec(h.shape.clone(), vals))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(descr: &str, shape: &str, data: &[u8]) -> Vec<u8> {
        let mut h = format!("{{'descr': '{descr}', 'fortran_order': False, 'shape': {shape}, }}");
        while (10 + h.len() + 1) % 64 != 0 {
            h.push(' ');
        }
        h.push('\n');
        let mut b = b"\x93NUMPY\x01\x00".to_vec();
        b.extend((h.len() as u16).to_le_bytes());
        b.extend(h.as_bytes());
        b.extend(data);
        b
    }

    #[test]
    fn reads_f8_f4_and_scalars_and_refuses_the_rest() {
        let d: Vec<u8> = [1.5f64, -2.0]
            .iter()
            .flat_map(|v| v.to_le_bytes())
            .collect();
        let t = parse_npy(&npy("<f8", "(2,)", &d)).unwrap();
        assert_eq!((t.shape(), t.data()), (&[2][..], &[1.5, -2.0][..]));
        let d: Vec<u8> = [0.25f32; 6].iter().flat_map(|v| v.to_le_bytes()).collect();
        let t = parse_npy(&npy("<f4", "(2, 3)", &d)).unwrap();
        assert_eq!(t.shape(), &[2, 3]);
        let t = parse_npy(&npy("<f8", "()", &3.0f64.to_le_bytes())).unwrap();
        assert_eq!(t.shape(), &[] as &[usize]);
        assert!(parse_npy(&npy(">f8", "(1,)", &[0; 8]))
            .unwrap_err()
            .contains("little-endian"));
        assert!(parse_npy(&npy("<f8", "(3,)", &[0; 8]))
            .unwrap_err()
            .contains("truncated"));
        assert!(parse_npy(b"hello world").unwrap_err().contains("magic"));
    }

    /// The mistakes caught: a zero-width dtype (chunks of size 0 panicked), an element
    /// count that wraps ((2^32, 2^32) passed as 0 elements against no data, then crashed a
    /// kernel), and a byte count that wraps.
    #[test]
    fn refuses_sizes_that_wrap_and_absurd_dtypes() {
        for descr in ["<f0", "<i0", "<f16", "<c16", "|O"] {
            let e = parse_npy(&npy(descr, "(2,)", &[0; 64])).unwrap_err();
            let known = ["not supported", "not little-endian", "unreadable dtype"];
            assert!(known.iter().any(|k| e.contains(k)), "{descr}: {e}");
        }
        let e = parse_npy(&npy("<f8", "(4294967296, 4294967296)", &[])).unwrap_err();
        assert!(e.contains("more elements"), "{e}");
        let e = parse_npy(&npy("<f8", "(2305843009213693952,)", &[])).unwrap_err();
        assert!(e.contains("more elements"), "{e}"); // 2^61 x 8 bytes wraps to 0
        let e = parse_npy(&npy("<f8", "(1000000000000,)", &[0; 8])).unwrap_err();
        assert!(e.contains("truncated"), "{e}");
    }

    /// The mistake caught: reading a file to its end before looking at the header, so that
    /// `/dev/zero` (or a huge file) is read without bound.
    #[test]
    fn reads_only_what_the_header_promises() {
        let e = read_npy(Path::new("/dev/zero")).unwrap_err().to_string();
        assert!(e.contains("magic"), "{e}");
        let dir = std::env::temp_dir().join(format!("symgrad-npy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("t.npy");
        let mut b = npy("<f8", "(1,)", &2.5f64.to_le_bytes());
        b.extend([0xAB; 100]); // trailing bytes beyond the data are not read
        std::fs::write(&p, &b).unwrap();
        assert_eq!(read_npy(&p).unwrap().data(), &[2.5]);
        std::fs::write(&p, npy("<f8", "(1000000, 1000000)", &[0; 16])).unwrap();
        assert_eq!(read_npy(&p).unwrap_err().kind(), "too_large");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    /// The mistake caught: a file as large as its header promises passed the length check
    /// and the reader allocated and read it: a sparse file of 1 TB (a header promising
    /// 1.25e11 f8 values) must be refused by the memory limit before any allocation.
    #[test]
    fn a_sparse_terabyte_file_is_refused_before_allocation() {
        let dir = std::env::temp_dir().join(format!("symgrad-npy-tb-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join("tb.npy");
        let head = npy("<f8", "(125000000000,)", &[]);
        std::fs::write(&p, &head).unwrap();
        let f = std::fs::OpenOptions::new().write(true).open(&p).unwrap();
        if f.set_len(head.len() as u64 + 1_000_000_000_000).is_ok() {
            let e = read_npy(&p).unwrap_err();
            assert_eq!(e.kind(), "too_large", "{e}");
            assert!(e.to_string().contains("memory limit"), "{e}");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
