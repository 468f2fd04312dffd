//! Pictures of a run, as PNG: test images above their reconstructions (like the paper's
//! figure 2), the learning curve, a scatter of 2-D codes coloured by label, and tiles (such as
//! a layer's filters). Text uses a 5x7 pixel font built in here, so no font library is needed.

use std::path::Path;

use super::run::{write_atomic, RunError};
use super::EpochRecord;
use crate::data::Dataset;
use crate::models::autoencoder::Autoencoder;
use crate::{dims, Compiler, Graph, Scalar, TensorRef};

/// An RGB canvas.
struct Canvas {
    w: usize,
    h: usize,
    px: Vec<u8>,
}

impl Canvas {
    fn new(w: usize, h: usize) -> Self {
        Canvas {
            w,
            h,
            px: vec![255; w * h * 3],
        }
    }
    fn set(&mut self, x: i64, y: i64, c: [u8; 3]) {
        if x >= 0 && y >= 0 && (x as usize) < self.w && (y as usize) < self.h {
            let o = (y as usize * self.w + x as usize) * 3;
            self.px[o..o + 3].copy_from_slice(&c);
        }
    }
    fn text(&mut self, x: i64, y: i64, s: &str, c: [u8; 3]) {
        for (k, ch) in s.chars().enumerate() {
            let g = glyph(ch);
            for (row, bits) in g.iter().enumerate() {
                for col in 0..5 {
                    if bits & (1 << (4 - col)) != 0 {
                        self.set(x + (k * 6) as i64 + col, y + row as i64, c);
                    }
                }
            }
        }
    }
    fn save(&self, path: &Path) -> Result<(), RunError> {
        encode_png(path, self.w, self.h, png::ColorType::Rgb, &self.px)
    }
}

fn encode_png(
    path: &Path,
    w: usize,
    h: usize,
    color: png::ColorType,
    data: &[u8],
) -> Result<(), RunError> {
    let mut buf = Vec::new();
    {
        let mut enc = png::Encoder::new(&mut buf, w as u32, h as u32);
        enc.set_color(color);
        enc.set_depth(png::BitDepth::Eight);
        let io = |e: png::EncodingError| RunError::Io {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        let mut wr = enc.write_header().map_err(io)?;
        wr.write_image_data(data).map_err(io)?;
    }
    write_atomic(path, &buf)
}

/// 5x7 glyphs: digits, the letters the pictures use, and a few signs.
fn glyph(c: char) -> [u8; 7] {
    match c {
        '0' => [14, 17, 19, 21, 25, 17, 14],
        '1' => [4, 12, 4, 4, 4, 4, 14],
        '2' => [14, 17, 1, 2, 4, 8, 31],
        '3' => [31, 2, 4, 2, 1, 17, 14],
        '4' => [2, 6, 10, 18, 31, 2, 2],
        '5' => [31, 16, 30, 1, 1, 17, 14],
        '6' => [6, 8, 16, 30, 17, 17, 14],
        '7' => [31, 1, 2, 4, 8, 8, 8],
        '8' => [14, 17, 17, 14, 17, 17, 14],
        '9' => [14, 17, 17, 15, 1, 2, 12],
        '.' => [0, 0, 0, 0, 0, 12, 12],
        '-' => [0, 0, 0, 31, 0, 0, 0],
        ',' => [0, 0, 0, 0, 12, 4, 8],
        '(' => [2, 4, 8, 8, 8, 4, 2],
        ')' => [8, 4, 2, 2, 2, 4, 8],
        'a' => [0, 0, 14, 1, 15, 17, 15],
        'c' => [0, 0, 14, 16, 16, 17, 14],
        'd' => [1, 1, 13, 19, 17, 17, 15],
        'e' => [0, 0, 14, 17, 31, 16, 14],
        'g' => [0, 15, 17, 17, 15, 1, 14],
        'h' => [16, 16, 22, 25, 17, 17, 17],
        'i' => [4, 0, 12, 4, 4, 4, 14],
        'l' => [12, 4, 4, 4, 4, 4, 14],
        'm' => [0, 0, 26, 21, 21, 17, 17],
        'n' => [0, 0, 22, 25, 17, 17, 17],
        'o' => [0, 0, 14, 17, 17, 17, 14],
        'p' => [0, 0, 30, 17, 30, 16, 16],
        'r' => [0, 0, 22, 25, 16, 16, 16],
        's' => [0, 0, 14, 16, 14, 1, 30],
        't' => [8, 8, 28, 8, 8, 9, 6],
        'u' => [0, 0, 17, 17, 17, 19, 13],
        'x' => [0, 0, 17, 10, 4, 10, 17],
        'P' => [30, 17, 17, 30, 16, 16, 16],
        'C' => [14, 17, 16, 16, 16, 17, 14],
        'A' => [14, 17, 17, 31, 17, 17, 17],
        _ => [0; 7],
    }
}

/// Compiled forward pass to the code and to the reconstruction.
fn forward<T: Scalar>(
    ae: &Autoencoder,
    x: &[T],
    data: &Dataset<T>,
    n: usize,
) -> Result<(Vec<T>, Vec<T>), RunError> {
    let layout = ae.layout();
    let g = Graph::<T>::new();
    let b = g.symbol("batch");
    let xin = g.input("X", dims![b, ae.sizes[0]]);
    let f = ae.forward(&g, &layout, xin);
    let mut fun = Compiler::new(&g, &layout)
        .inputs(&[xin])
        .output(f.code)
        .output(f.output)
        .build();
    let (mut codes, mut recon) = (Vec::new(), Vec::new());
    let n = n.min(data.n);
    let head = data.head(n);
    for k in 0..head.batches(1000) {
        let (rows, xs) = head.batch(k, 1000);
        let shape = [rows, data.dim];
        fun.run(x, &[TensorRef::new(&shape, xs)], None)?;
        codes.extend_from_slice(fun.output(0)?.data);
        recon.extend_from_slice(fun.output(1)?.data);
    }
    Ok((codes, recon))
}

/// The codes of every example of `data`, row-major `[n, code units]`.
pub fn encode<T: Scalar>(ae: &Autoencoder, x: &[T], data: &Dataset<T>) -> Result<Vec<T>, RunError> {
    Ok(forward(ae, x, data, data.n)?.0)
}

/// The first 10 test images (top) above their reconstructions (bottom), 3x enlarged.
pub fn reconstructions<T: Scalar>(
    path: &Path,
    ae: &Autoencoder,
    x: &[T],
    data: &Dataset<T>,
) -> Result<(), RunError> {
    let side = (data.dim as f64).sqrt() as usize;
    let (n, scale, gap) = (10.min(data.n), 3, 4);
    let (_, recon) = forward(ae, x, data, n)?;
    let (w, h) = (
        n * (side * scale + gap) + gap,
        2 * (side * scale + gap) + gap,
    );
    let mut img = vec![128u8; w * h];
    for (row, src) in [&data.x[..n * data.dim], &recon[..]].iter().enumerate() {
        for i in 0..n {
            for r in 0..side * scale {
                for c in 0..side * scale {
                    let v = src[i * data.dim + (r / scale) * side + c / scale].to_f64_lossless();
                    let (px, py) = (
                        gap + i * (side * scale + gap) + c,
                        gap + row * (side * scale + gap) + r,
                    );
                    img[py * w + px] = (255.0 * (1.0 - v.clamp(0.0, 1.0))) as u8;
                }
            }
        }
    }
    encode_png(path, w, h, png::ColorType::Grayscale, &img)
}

/// Square grayscale tiles in a grid of `cols` columns, 2x enlarged: `values` holds
/// `values.len() / (side * side)` tiles of `side * side` row-major values each, each tile
/// scaled from its own minimum (black) to its maximum (white). For the filters a layer has
/// learned (its weight matrix's columns, one tile per hidden unit) or a batch of images.
///
/// ```
/// use symgrad::train::picture::tiles;
/// let path = std::env::temp_dir().join("symgrad-doc-tiles.png");
/// let two = [0.0, 1.0, 2.0, 3.0, 3.0, 2.0, 1.0, 0.0]; // two 2x2 tiles
/// tiles(&path, &two, 2, 2).unwrap();
/// assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));
/// # std::fs::remove_file(&path).ok();
/// ```
///
/// # Panics
/// If `side` or `cols` is 0, or `values.len()` is not a multiple of `side * side`.
pub fn tiles(path: &Path, values: &[f64], side: usize, cols: usize) -> Result<(), RunError> {
    assert!(
        side > 0 && cols > 0,
        "symgrad: tiles need a side and columns"
    );
    let per = side * side;
    assert_eq!(
        values.len() % per,
        0,
        "symgrad: {} values are not whole {side}x{side} tiles",
        values.len()
    );
    let (n, scale, gap) = (values.len() / per, 2, 2);
    let rows = n.div_ceil(cols).max(1);
    let cell = side * scale + gap;
    let (w, h) = (cols.min(n.max(1)) * cell + gap, rows * cell + gap);
    let mut img = vec![64u8; w * h];
    for (t, tile) in values.chunks(per).enumerate() {
        let lo = tile.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = tile.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let span = if hi > lo { hi - lo } else { 1.0 };
        let (x0, y0) = (gap + (t % cols) * cell, gap + (t / cols) * cell);
        for r in 0..side * scale {
            for c in 0..side * scale {
                let v = (tile[(r / scale) * side + c / scale] - lo) / span;
                img[(y0 + r) * w + x0 + c] = (255.0 * v.clamp(0.0, 1.0)) as u8;
            }
        }
    }
    encode_png(path, w, h, png::ColorType::Grayscale, &img)
}

/// The filters a layer has learned, as [`tiles`]: `w` is its weight matrix, `[inputs, units]`
/// row-major, with `inputs` a square image; the weights into each of its first `max_units`
/// units make one tile, `cols` tiles a row.
///
/// ```
/// use symgrad::train::picture::filters;
/// let path = std::env::temp_dir().join("symgrad-doc-filters.png");
/// let w = vec![0.5f32; 4 * 3]; // 2x2 inputs, 3 units
/// filters(&path, &w, 4, 2, 2).unwrap(); // the first 2 units
/// assert!(std::fs::read(&path).unwrap().starts_with(b"\x89PNG"));
/// # std::fs::remove_file(&path).ok();
/// ```
///
/// # Panics
/// If `inputs` is not a square, or `w.len()` is not a multiple of it.
pub fn filters<T: Scalar>(
    path: &Path,
    w: &[T],
    inputs: usize,
    max_units: usize,
    cols: usize,
) -> Result<(), RunError> {
    let side = (inputs as f64).sqrt().round() as usize;
    assert_eq!(
        side * side,
        inputs,
        "symgrad: filters need a square number of inputs"
    );
    assert_eq!(
        w.len() % inputs,
        0,
        "symgrad: weights are not [{inputs}, units]"
    );
    let units = w.len() / inputs;
    let values: Vec<f64> = (0..units.min(max_units))
        .flat_map(|j| (0..inputs).map(move |i| w[i * units + j].to_f64_lossless()))
        .collect();
    tiles(path, &values, side, cols)
}

/// Epochs to label on an axis from 1 to `n`: 1, then the multiples of a round step (1, 2 or 5
/// times a power of ten) that gives about four intervals, e.g. 1, 50, 100, 150, 200.
fn epoch_ticks(n: usize) -> Vec<usize> {
    let raw = (n.max(2) - 1) as f64 / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .expect("10 × mag >= raw, by the choice of mag")
        .max(1.0)
        .round() as usize;
    std::iter::once(1)
        .chain(
            (1..)
                .map(|k| k * step)
                .take_while(|&e| e <= n)
                .filter(|&e| e > 1),
        )
        .collect()
}

/// Train and test error per fine-tuning epoch, with PCA's test error as a dashed line, as
/// an SVG drawing (plotters): axes with round ticks, labels and a legend in real text, so it
/// reads at any size in a browser or an editor.
///
/// ```
/// use symgrad::train::EpochRecord;
/// let records: Vec<EpochRecord> = (1..=3)
///     .map(|e| EpochRecord {
///         epoch: e,
///         train_error: 9.0 / e as f64,
///         test_error: 10.0 / e as f64,
///         seconds: 1.0,
///         evaluations: 10,
///         line_searches: 3,
///         stops: Default::default(),
///     })
///     .collect();
/// let path = std::env::temp_dir().join(format!("symgrad-doc-curve-{}.svg", std::process::id()));
/// symgrad::train::picture::learning_curve(&path, &records, 5.0).unwrap();
/// let svg = std::fs::read_to_string(&path).unwrap();
/// assert!(svg.starts_with("<svg") && svg.contains("\nepoch\n</text>"));
/// assert!(svg.contains("\nPCA (test)\n</text>"));
/// std::fs::remove_file(&path).unwrap();
/// ```
pub fn learning_curve(path: &Path, records: &[EpochRecord], pca: f64) -> Result<(), RunError> {
    use plotters::prelude::*;
    let svg = learning_curve_svg(records, pca).map_err(|e| RunError::Io {
        path: path.to_path_buf(),
        message: format!("cannot draw the learning curve: {e}"),
    })?;
    return write_atomic(path, svg.as_bytes());

    fn learning_curve_svg(
        records: &[EpochRecord],
        pca: f64,
    ) -> Result<String, Box<dyn std::error::Error>> {
        let finite = |v: f64| if v.is_finite() { v } else { 0.0 };
        let ymax = records
            .iter()
            .map(|e| finite(e.train_error).max(finite(e.test_error)))
            .fold(finite(pca), f64::max)
            .max(1e-9)
            * 1.08;
        let n = records.len().max(2);
        let mut out = String::new();
        {
            let root = SVGBackend::with_string(&mut out, (720, 440)).into_drawing_area();
            root.fill(&WHITE)?;
            let mut chart = ChartBuilder::on(&root)
                .caption("Fine-tuning", ("sans-serif", 20))
                .margin(12)
                .x_label_area_size(44)
                .y_label_area_size(60)
                .build_cartesian_2d(1f64..n as f64, 0f64..ymax)?;
            let ticks = epoch_ticks(n);
            chart
                .configure_mesh()
                .x_desc("epoch")
                .y_desc("error per image")
                .x_labels(ticks.len().max(2))
                .x_label_formatter(&|v| format!("{:.0}", v))
                .y_label_formatter(&|v| format!("{v:.1}"))
                .light_line_style(WHITE.mix(0.0))
                .draw()?;
            let (blue, red, green) = (
                RGBColor(30, 90, 200),
                RGBColor(200, 40, 40),
                RGBColor(20, 150, 60),
            );
            chart
                .draw_series(LineSeries::new(
                    records.iter().map(|e| (e.epoch as f64, e.train_error)),
                    blue.stroke_width(2),
                ))?
                .label("train")
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], blue.stroke_width(2))
                });
            chart
                .draw_series(LineSeries::new(
                    records.iter().map(|e| (e.epoch as f64, e.test_error)),
                    red.stroke_width(2),
                ))?
                .label("test")
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 20, y)], red.stroke_width(2)));
            // PCA's error as a dashed line: short segments along the width.
            let dashes = 60;
            let seg = (n as f64 - 1.0) / dashes as f64;
            chart
                .draw_series((0..dashes).step_by(2).map(|k| {
                    let x0 = 1.0 + k as f64 * seg;
                    PathElement::new([(x0, pca), (x0 + seg, pca)], green.stroke_width(2))
                }))?
                .label("PCA (test)")
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], green.stroke_width(2))
                });
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::LowerLeft)
                .background_style(WHITE.mix(0.9))
                .border_style(BLACK)
                .label_font(("sans-serif", 14))
                .draw()?;
            root.present()?;
        }
        Ok(out)
    }
}

/// 2-D codes of the test set, coloured by label.
pub fn codes<T: Scalar>(
    path: &Path,
    ae: &Autoencoder,
    x: &[T],
    data: &Dataset<T>,
) -> Result<(), RunError> {
    let c = encode(ae, x, data)?;
    let (w, h, m) = (600usize, 600usize, 20.0);
    let mut cv = Canvas::new(w, h);
    let (mut lo, mut hi) = ([f64::INFINITY; 2], [f64::NEG_INFINITY; 2]);
    for p in c.chunks(2) {
        for d in 0..2 {
            lo[d] = lo[d].min(p[d].to_f64_lossless());
            hi[d] = hi[d].max(p[d].to_f64_lossless());
        }
    }
    let colours = [
        [31, 119, 180],
        [255, 127, 14],
        [44, 160, 44],
        [214, 39, 40],
        [148, 103, 189],
        [140, 86, 75],
        [227, 119, 194],
        [127, 127, 127],
        [188, 189, 34],
        [23, 190, 207],
    ];
    for (i, p) in c.chunks(2).enumerate() {
        let label = data.labels.as_ref().map_or(0, |l| l[i] as usize % 10);
        let x = m
            + (w as f64 - 2.0 * m) * (p[0].to_f64_lossless() - lo[0]) / (hi[0] - lo[0]).max(1e-12);
        let y = h as f64
            - m
            - (h as f64 - 2.0 * m) * (p[1].to_f64_lossless() - lo[1]) / (hi[1] - lo[1]).max(1e-12);
        for (dx, dy) in [(0, 0), (1, 0), (0, 1), (1, 1)] {
            cv.set(x as i64 + dx, y as i64 + dy, colours[label]);
        }
    }
    for (k, col) in colours.iter().enumerate() {
        cv.text(w as i64 - 20, 10 + 10 * k as i64, &k.to_string(), *col);
    }
    cv.save(path)
}

#[cfg(test)]
mod tests {
    use super::epoch_ticks;

    #[test]
    fn epoch_ticks_are_round_numbers_after_the_first_epoch() {
        assert_eq!(epoch_ticks(200), [1, 50, 100, 150, 200]);
        assert_eq!(epoch_ticks(40), [1, 10, 20, 30, 40]);
        assert_eq!(epoch_ticks(8), [1, 2, 4, 6, 8]);
        assert_eq!(epoch_ticks(25), [1, 10, 20]);
        assert_eq!(epoch_ticks(2), [1, 2]);
        assert_eq!(epoch_ticks(1), [1]);
    }
}
