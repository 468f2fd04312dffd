//! Reading NumPy `.npy` files (version 1-3, little-endian `f4`/`f8`/integer, C order) into
//! an `f64` [`Tensor`], for `symgrad eval` and `explain`.

use std::path::Path;

use super::DataError;
use crate::tensor::Tensor;

/// Reads a `.npy` file. Floats and integers of any width NumPy writes little-endian are
/// converted to `f64`; Fortran order, big-endian and object arrays are refused with an
/// error that names what the header says.
///
/// ```no_run
/// let t = symgrad::data::read_npy(std::path::Path::new("x.npy")).unwrap();
/// println!("{:?}", t.shape());
/// ```
pub fn read_npy(path: &Path) -> Result<Tensor<f64>, DataError> {
    let bytes = std::fs::read(path).map_err(|e| DataError::Io {
        path: path.to_path_buf(),
        message: e.to_string(),
    })?;
    parse_npy(&bytes).map_err(|message| DataError::Npy {
        path: path.to_path_buf(),
        message,
    })
}

/// Parses the bytes of a `.npy` file.
pub fn parse_npy(b: &[u8]) -> Result<Tensor<f64>, String> {
    if b.len() < 10 || &b[..6] != b"\x93NUMPY" {
        return Err("not a .npy file (expected the magic bytes \\x93NUMPY)".into());
    }
    let major = b[6];
    let (hlen, start) = match major {
        1 => (u16::from_le_bytes([b[8], b[9]]) as usize, 10),
        2 | 3 if b.len() >= 12 => (u32::from_le_bytes([b[8], b[9], b[10], b[11]]) as usize, 12),
        v => return Err(format!("unsupported .npy version {v}")),
    };
    let header = b.get(start..start + hlen).ok_or("truncated header")?;
    let header = std::str::from_utf8(header).map_err(|_| "header is not text")?;
    let field = |key: &str| -> Result<&str, String> {
        let k = format!("'{key}':");
        let at = header
            .find(&k)
            .ok_or_else(|| format!("header has no `{key}`: {header}"))?;
        Ok(header[at + k.len()..].trim_start())
    };
    let descr = field("descr")?;
    let descr = descr
        .strip_prefix('\'')
        .and_then(|d| d.split('\'').next())
        .ok_or("unreadable descr")?;
    if field("fortran_order")?.starts_with("True") {
        return Err("Fortran-ordered arrays are not supported (save with C order)".into());
    }
    let shape_text = field("shape")?;
    let inner = shape_text
        .strip_prefix('(')
        .and_then(|s| s.split(')').next())
        .ok_or("unreadable shape")?;
    let shape: Vec<usize> = inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse()
                .map_err(|_| format!("bad dimension `{s}` in shape"))
        })
        .collect::<Result<_, _>>()?;
    let n: usize = shape.iter().product();
    let data = &b[start + hlen..];
    let (kind, width) = match descr.as_bytes() {
        [b'<' | b'|', k, w @ ..] => (
            *k,
            std::str::from_utf8(w)
                .ok()
                .and_then(|w| w.parse::<usize>().ok())
                .ok_or_else(|| format!("unreadable dtype `{descr}`"))?,
        ),
        _ => return Err(format!("dtype `{descr}` is not little-endian numeric")),
    };
    if data.len() < n * width {
        return Err(format!(
            "truncated: shape {shape:?} of {descr} needs {} bytes, the file has {}",
            n * width,
            data.len()
        ));
    }
    let vals: Vec<f64> = data[..n * width]
        .chunks_exact(width)
        .map(|c| match (kind, width) {
            (b'f', 8) => Ok(f64::from_le_bytes(c.try_into().expect("8 bytes"))),
            (b'f', 4) => Ok(f32::from_le_bytes(c.try_into().expect("4 bytes")) as f64),
            (b'i', 1) => Ok(c[0] as i8 as f64),
            (b'u', 1) | (b'b', 1) => Ok(c[0] as f64),
            (b'i', 4) => Ok(i32::from_le_bytes(c.try_into().expect("4 bytes")) as f64),
            (b'i', 8) => Ok(i64::from_le_bytes(c.try_into().expect("8 bytes")) as f64),
            _ => Err(format!(
                "dtype `{descr}` is not supported (use float32 or float64)"
            )),
        })
        .collect::<Result<_, _>>()?;
    Ok(Tensor::from_vec(shape, vals))
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
}
