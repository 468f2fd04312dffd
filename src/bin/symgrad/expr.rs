//! The expression commands of the command line: `grad`, `eval` and `explain` over the text
//! form (`symgrad::graph::parse`), with values given inline or from `.npy` files.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use serde_json::json;
use symgrad::compile::Options;
use symgrad::graph::{parse_with, ParseOptions, Parsed};
use symgrad::{Compiler, Expr, Tensor, TensorRef};

use crate::AnyError;

/// A named value from the command line: `x=2`, `x=[1, 2, 3]`, `x=[[1, 2], [3, 4]]`,
/// `x=@file.npy`.
pub fn parse_value(s: &str) -> Result<(String, Tensor<f64>), AnyError> {
    let (name, v) = s.split_once('=').ok_or_else(|| {
        format!("--value `{s}`: expected NAME=VALUE, e.g. x=2 or x=[1,2] or x=@x.npy")
    })?;
    let name = name.trim().to_string();
    let v = v.trim();
    if let Some(path) = v.strip_prefix('@') {
        return Ok((name, symgrad::data::read_npy(Path::new(path))?));
    }
    use symgrad::data::values::{parse_value_list, ValueError};
    let t = parse_value_list(v).map_err(|e| match e {
        ValueError::Trailing(_) | ValueError::Tensor(_) => format!("--value {name}: {e}"),
        e => format!("--value {name}: {e} in `{v}`"),
    })?;
    Ok((name, t))
}

/// `x=3,4` or `x=` (a scalar).
fn parse_shape(s: &str) -> Result<(String, Vec<usize>), AnyError> {
    let (name, dims) = s
        .split_once('=')
        .ok_or_else(|| format!("--shape `{s}`: expected NAME=D1,D2,... e.g. x=3,4"))?;
    let dims = dims
        .split(',')
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(|d| {
            d.parse::<usize>()
                .map_err(|_| format!("--shape {name}: `{d}` is not a size"))
        })
        .collect::<Result<_, _>>()?;
    Ok((name.trim().to_string(), dims))
}

/// Parses `expr` with undeclared names as inputs (or, for `wrt`, parameters), shaped by the
/// values and shapes given.
fn parse_expr(
    expr: &str,
    wrt: &[String],
    values: &HashMap<String, Tensor<f64>>,
    shapes: &[String],
) -> Result<Parsed<f64>, AnyError> {
    let mut known: HashMap<String, Vec<usize>> = values
        .iter()
        .map(|(k, v)| (k.clone(), v.shape().to_vec()))
        .collect();
    let mut shaped = std::collections::HashSet::new();
    for s in shapes {
        let (n, d) = parse_shape(s)?;
        if !shaped.insert(n.clone()) || values.contains_key(&n) {
            return Err(format!("--shape {n}: its shape is given twice").into());
        }
        known.insert(n, d);
    }
    let opts = ParseOptions {
        implicit_inputs: Some(known),
        implicit_params: wrt.to_vec(),
    };
    let p = parse_with::<f64>(expr, &opts).map_err(|e| format!("in the expression, {e}"))?;
    if p.outputs.len() != 1 {
        return Err(format!("expected one expression, got {} outputs", p.outputs.len()).into());
    }
    Ok(p)
}

/// A number as `eval` prints it: the shortest form that reads back, with an exponent for
/// the very small and the very large (`1e-323`, not 323 digits).
fn show(v: f64) -> String {
    let a = v.abs();
    if a != 0.0 && a.is_finite() && !(1e-5..1e16).contains(&a) {
        format!("{v:e}")
    } else {
        v.to_string()
    }
}

fn values_map(values: &[String]) -> Result<HashMap<String, Tensor<f64>>, AnyError> {
    let mut map = HashMap::new();
    for v in values {
        let (name, t) = parse_value(v)?;
        if name.is_empty() {
            return Err(format!("--value `{v}`: the name before `=` is empty").into());
        }
        if map.insert(name.clone(), t).is_some() {
            return Err(format!("--value {name}: given twice").into());
        }
    }
    Ok(map)
}

/// `symgrad grad EXPR --wrt x`: the simplified gradient of a scalar expression.
pub fn grad_cmd(expr: &str, wrt: &[String], shapes: &[String], json: bool) -> Result<(), AnyError> {
    let p = parse_expr(expr, wrt, &HashMap::new(), shapes)?;
    let g = &p.graph;
    let cost = g.expr(p.outputs[0]);
    if cost
        .shape_fixed()
        .is_none_or(|s| s.iter().product::<usize>() != 1)
    {
        return Err(format!(
            "grad needs a scalar expression, got shape {}: wrap it in sum(...) or mean(...)",
            g.fmt_shape(&cost.shape())
        )
        .into());
    }
    let inputs: Vec<Expr<'_, f64>> = g.inputs().into_iter().map(|i| g.expr(i)).collect();
    let o = Compiler::new(g, &p.layout)
        .inputs(&inputs)
        .value_and_grad(cost)
        .fusion(false)
        .rewrite();
    let grads = o.grads.clone().unwrap_or_default();
    let mut out: Vec<(String, String)> = Vec::new();
    for name in wrt {
        let text = match p.layout.id(name) {
            Some(id) => match grads[id.0 as usize] {
                Some(node) => o.graph.expr_text(&[node]),
                None => "0".to_string(),
            },
            None => {
                // Theano raises `DisconnectedInputError` here; the answer 0 is right, but a
                // typo in `--wrt` would otherwise pass unseen.
                eprintln!(
                    "symgrad: note: `{name}` does not appear in the expression, so its \
                     gradient is 0"
                );
                "0".to_string()
            }
        };
        out.push((name.clone(), text));
    }
    if json {
        let gs: serde_json::Map<String, serde_json::Value> =
            out.iter().map(|(k, v)| (k.clone(), json!(v))).collect();
        let doc = json!({
            "expr": g.expr_text(&p.outputs),
            "value": o.graph.expr_text(&o.outputs),
            "gradient": gs,
        });
        say!("{}", serde_json::to_string_pretty(&doc)?);
    } else if out.len() == 1 {
        say!("{}", out[0].1);
    } else {
        for (k, v) in out {
            say!("d/d{k}: {v}");
        }
    }
    Ok(())
}

/// Compiles `p` (output 0) with `opts` and runs it at `values`; returns the function too.
fn run(
    p: &Parsed<f64>,
    values: &HashMap<String, Tensor<f64>>,
    wrt: &[String],
    opts: Options,
    fill: Option<f64>,
) -> Result<(symgrad::Function<f64>, Vec<f64>), AnyError> {
    let g = &p.graph;
    let inputs: Vec<Expr<'_, f64>> = g.inputs().into_iter().map(|i| g.expr(i)).collect();
    let out = g.expr(p.outputs[0]);
    let c = Compiler::new(g, &p.layout).inputs(&inputs).options(opts);
    let mut f = if wrt.is_empty() {
        c.output(out).build()
    } else {
        c.value_and_grad(out).build()
    };
    let mut owned: Vec<Tensor<f64>> = Vec::new();
    for e in &inputs {
        let name = match &g.node(e.id()).op {
            symgrad::ops::Op::Input { name, .. } => name.clone(),
            _ => unreachable!("inputs"),
        };
        match (values.get(&name), fill) {
            (Some(v), _) => owned.push(v.clone()),
            (None, Some(x)) => {
                let shape = e.shape_fixed().ok_or_else(|| {
                    format!("input `{name}` has a symbolic shape: give it with --value")
                })?;
                // Sized from the command line (`--shape`): checked before allocating.
                symgrad::tensor::checked_numel::<f64>(&shape)
                    .filter(|n| n.saturating_mul(8) <= symgrad::tensor::memory_limit())
                    .ok_or_else(|| {
                        format!(
                            "input `{name}` of shape {shape:?} is larger than the memory limit \
                             (set SYMGRAD_MEMORY_LIMIT to raise it)"
                        )
                    })?;
                owned.push(Tensor::full(&shape, x));
            }
            (None, None) => {
                return Err(
                    format!("no value for `{name}`: give one with --value {name}=...").into(),
                )
            }
        }
    }
    let mut x = vec![0.0; p.layout.len()];
    for name in wrt {
        if let (Some(e), Some(v)) = (p.layout.lookup(name).ok(), values.get(name)) {
            x[e.range()].copy_from_slice(v.data());
        } else if let (Ok(e), Some(v)) = (p.layout.lookup(name), fill) {
            x[e.range()].iter_mut().for_each(|t| *t = v);
        }
    }
    let refs: Vec<TensorRef<'_, f64>> = owned.iter().map(|t| t.view()).collect();
    let mut grad = vec![0.0; x.len()];
    let want_grad = f.has_gradient();
    f.run(&x, &refs, want_grad.then_some(&mut grad[..]))?;
    Ok((f, grad))
}

/// `symgrad eval EXPR --value x=...`: the expression's value.
pub fn eval_cmd(
    expr: &str,
    values: &[String],
    json: bool,
    nan_guard: bool,
) -> Result<(), AnyError> {
    let vals = values_map(values)?;
    let p = parse_expr(expr, &[], &vals, &[])?;
    let opts = Options {
        nan_guard,
        ..Options::default()
    };
    let (f, _) = run(&p, &vals, &[], opts, None)?;
    let out = f.output(0)?;
    if json {
        let doc = json!({
            "expr": p.graph.expr_text(&p.outputs),
            "shape": out.shape,
            "values": out.data.iter().map(|&v| if v.is_finite() { json!(v) } else { json!(symgrad::graph::fmt_number(v)) }).collect::<Vec<_>>(),
        });
        say!("{}", serde_json::to_string_pretty(&doc)?);
    } else if out.shape.is_empty() {
        say!("{}", show(out.data[0]));
    } else {
        say!("shape {:?}", out.shape);
        let row = out.shape.last().copied().unwrap_or(1).max(1);
        for chunk in out.data.chunks(row) {
            let parts: Vec<String> = chunk.iter().map(|&v| show(v)).collect();
            say!("{}", parts.join(" "));
        }
    }
    Ok(())
}

/// `symgrad explain EXPR [--wrt x] [--value x=...] [--dot DIR]`: every stage of compiling.
pub fn explain_cmd(
    expr: &str,
    wrt: &[String],
    values: &[String],
    shapes: &[String],
    dot: Option<&Path>,
) -> Result<(), AnyError> {
    let vals = values_map(values)?;
    let p = parse_expr(expr, wrt, &vals, shapes)?;
    say!("expression: {}", p.graph.expr_text(&p.outputs));
    if !wrt.is_empty() {
        say!("gradient with respect to: {}", wrt.join(", "));
    }
    let unfilled: Vec<String> = p
        .graph
        .inputs()
        .into_iter()
        .filter_map(|i| match &p.graph.node(i).op {
            symgrad::ops::Op::Input { name, .. } if !vals.contains_key(name) => Some(name.clone()),
            _ => None,
        })
        .chain(wrt.iter().filter(|w| !vals.contains_key(*w)).cloned())
        .collect();
    if !unfilled.is_empty() {
        say!("(no --value for {}: filled with 0.5)", unfilled.join(", "));
    }
    let opts = Options {
        record: true,
        ..Options::default()
    };
    let (f, grad) = run(&p, &vals, wrt, opts, Some(0.5))?;
    say!("{}", f.explain());
    if f.output(0)?.data.len() == 1 {
        say!("value: {}", f.output(0)?.data[0]);
    }
    for name in wrt {
        if let Ok(e) = p.layout.lookup(name) {
            say!("gradient {name}: {:?}", &grad[e.range()]);
        }
    }
    if let Some(dir) = dot {
        write_dots(f.explanation(), dir)?;
    }
    Ok(())
}

fn write_dots(report: &symgrad::rewrite::StageLog, dir: &Path) -> Result<(), AnyError> {
    // A folder that cannot be made is a failed write (status 1), as the files' writes are.
    std::fs::create_dir_all(dir).map_err(|e| symgrad::train::run::RunError::Io {
        path: dir.to_path_buf(),
        message: format!("cannot create the folder: {e}"),
    })?;
    let has_dot = std::process::Command::new("dot")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    let mut written = Vec::new();
    for (k, st) in report.stages.iter().enumerate() {
        let milestone = !st.name.contains("round") || st.fired.keys().any(|r| *r != "remove_dead");
        let Some(text) = st.dot.as_ref().filter(|_| milestone) else {
            continue;
        };
        let slug: String = st
            .name
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        let path: PathBuf = dir.join(format!("{:02}-{slug}.dot", k + 1));
        symgrad::train::run::write_atomic(&path, text.as_bytes())?;
        if has_dot {
            // dot's PNG on its standard output, written like every other output.
            let rendered = std::process::Command::new("dot")
                .arg("-Tpng")
                .arg(&path)
                .output()
                .ok()
                .filter(|o| o.status.success());
            if let Some(o) = rendered {
                symgrad::train::run::write_atomic(&path.with_extension("png"), &o.stdout)?;
            }
        }
        written.push(path);
    }
    say!(
        "wrote {} DOT file(s) to {}{}",
        written.len(),
        dir.display(),
        if has_dot {
            " and rendered each to PNG"
        } else {
            " (Graphviz `dot` is not installed: no PNG)"
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The mistake caught: recursion without bound over nested lists, which overflowed the
    /// stack (SIGSEGV) for `[[[...` tens of thousands deep.
    #[test]
    fn deeply_nested_values_are_refused_not_a_stack_overflow() {
        let deep = format!("x={}1{}", "[".repeat(100_000), "]".repeat(100_000));
        let e = parse_value(&deep).unwrap_err().to_string();
        assert!(e.contains("nested deeper than 64"), "{e}");
        let ok = format!("x={}1{}", "[".repeat(64), "]".repeat(64));
        assert_eq!(parse_value(&ok).unwrap().1.shape().len(), 64);
    }

    #[test]
    fn values_parse_inline() {
        let (n, t) = parse_value("x=[[1, 2], [3, 4.5]]").unwrap();
        assert_eq!(
            (n.as_str(), t.shape(), t.data()),
            ("x", &[2, 2][..], &[1.0, 2.0, 3.0, 4.5][..])
        );
        let (_, t) = parse_value("y = -2e3").unwrap();
        assert_eq!((t.shape(), t.data()), (&[][..], &[-2000.0][..]));
        assert!(parse_value("x=[1, [2]]").is_err());
        assert!(parse_value("x=[[1], [2, 3]]")
            .unwrap_err()
            .to_string()
            .contains("ragged"));
        assert!(parse_value("x")
            .unwrap_err()
            .to_string()
            .contains("NAME=VALUE"));
        assert!(parse_value("x=abc")
            .unwrap_err()
            .to_string()
            .contains("not a number"));
    }

    /// `data` as nested brackets of `shape`, row-major.
    fn nested_text(shape: &[usize], data: &[f64]) -> String {
        match shape.split_first() {
            None => format!("{}", data[0]),
            Some((&n, rest)) => {
                let size: usize = rest.iter().product();
                let items: Vec<String> = (0..n)
                    .map(|i| nested_text(rest, &data[i * size..(i + 1) * size]))
                    .collect();
                format!("[{}]", items.join(", "))
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn nested_lists_of_every_shape_parse_back(
            shape in proptest::collection::vec(0usize..4, 0..4),
            seed in 0u32..1000,
        ) {
            let n: usize = shape.iter().product();
            let data: Vec<f64> = (0..n).map(|i| f64::from(seed) * 0.25 - f64::from(i as u32)).collect();
            let (_, t) = parse_value(&format!("x={}", nested_text(&shape, &data))).unwrap();
            // An empty list hides the extents below it: `[]` reads as shape [0].
            let cut = shape.iter().position(|&d| d == 0).map_or(shape.len(), |k| k + 1);
            proptest::prop_assert_eq!(t.shape(), &shape[..cut]);
            proptest::prop_assert_eq!(t.data(), &data[..]);
        }
    }
}
