//! Value lists as a person types them on the command line: a number (`2`, `-1e3`) or
//! nested bracketed lists of numbers (`[[1, 2], [3, 4]]`), read into an `f64` [`Tensor`]
//! whose shape is the lists' extents. Nesting is bounded, so no text can overflow the stack.

use thiserror::Error;

use crate::tensor::Tensor;

/// The deepest nesting of a value list: NumPy's largest number of dimensions.
pub const MAX_VALUE_RANK: usize = 64;

/// Why a value list was refused. The messages are the command line's (`symgrad eval -v`).
#[derive(Clone, Debug, PartialEq, Error)]
pub enum ValueError {
    /// Lists nested deeper than [`MAX_VALUE_RANK`].
    #[error("lists nested deeper than {MAX_VALUE_RANK} (NumPy's most dimensions)")]
    TooDeep,
    /// A list of another length than the lists before it at the same depth.
    #[error("ragged list: {count} items where {before} came before")]
    Ragged {
        /// Items in this list.
        count: usize,
        /// Items in the lists before it at its depth.
        before: usize,
    },
    /// A list where the lists before had numbers.
    #[error("a list where a number was expected")]
    ListForNumber,
    /// A number where the lists before had lists.
    #[error("a number where a list was expected")]
    NumberForList,
    /// Neither `,` nor `]` after an item.
    #[error("expected `,` or `]`")]
    Separator,
    /// A number that does not read as one.
    #[error("`{0}` is not a number")]
    NotANumber(String),
    /// Text after the value.
    #[error("unexpected `{0}` after the value")]
    Trailing(String),
    /// The values do not make a tensor (more than any array can hold).
    #[error("{0}")]
    Tensor(crate::Error),
}

impl ValueError {
    /// A short, stable name for the kind of mistake: `value_depth`, `value_ragged`,
    /// `value_list_for_number`, `value_number_for_list`, `value_separator`,
    /// `value_not_a_number`, `value_trailing`, or the tensor error's
    /// [`Error::kind`](crate::Error::kind).
    pub fn kind(&self) -> &'static str {
        match self {
            ValueError::TooDeep => "value_depth",
            ValueError::Ragged { .. } => "value_ragged",
            ValueError::ListForNumber => "value_list_for_number",
            ValueError::NumberForList => "value_number_for_list",
            ValueError::Separator => "value_separator",
            ValueError::NotANumber(_) => "value_not_a_number",
            ValueError::Trailing(_) => "value_trailing",
            ValueError::Tensor(e) => e.kind(),
        }
    }
}

/// Reads a number or nested bracketed lists of numbers into a tensor: a number is a
/// scalar (shape `[]`), `[...]` adds a dimension in front. Lists at one depth must have
/// the same length; an empty list hides the extents below it (`[]` reads as shape `[0]`).
///
/// ```
/// use symgrad::data::values::{parse_value_list, ValueError};
/// let t = parse_value_list("[[1, 2], [3, 4.5]]").unwrap();
/// assert_eq!((t.shape(), t.data()), (&[2, 2][..], &[1.0, 2.0, 3.0, 4.5][..]));
/// assert_eq!(parse_value_list("-2e3").unwrap().shape(), &[] as &[usize]);
/// let e = parse_value_list("[[1], [2, 3]]").unwrap_err();
/// assert_eq!(e, ValueError::Ragged { count: 2, before: 1 });
/// assert_eq!(e.kind(), "value_ragged");
/// let deep = format!("{}1{}", "[".repeat(100_000), "]".repeat(100_000));
/// assert_eq!(parse_value_list(&deep).unwrap_err().kind(), "value_depth");
/// ```
pub fn parse_value_list(text: &str) -> Result<Tensor<f64>, ValueError> {
    let (mut shape, mut leaf, mut data) = (Vec::new(), None, Vec::new());
    let rest = nested(text.trim(), 0, &mut shape, &mut leaf, &mut data)?;
    if !rest.trim().is_empty() {
        return Err(ValueError::Trailing(rest.to_string()));
    }
    // Every depth above the numbers' has closed a list, so every extent is known.
    let shape: Vec<usize> = shape.into_iter().map(|n| n.unwrap_or(0)).collect();
    Tensor::try_from_vec(shape, data).map_err(ValueError::Tensor)
}

/// Reads a number or a bracketed list at nesting `depth`, recording the extent of the lists
/// at each depth in `shape` (lists close innermost first, so `shape` is indexed by depth and
/// filled in as they close) and the depth at which numbers stand in `leaf`.
fn nested<'a>(
    s: &'a str,
    depth: usize,
    shape: &mut Vec<Option<usize>>,
    leaf: &mut Option<usize>,
    data: &mut Vec<f64>,
) -> Result<&'a str, ValueError> {
    let s = s.trim_start();
    if let Some(mut rest) = s.strip_prefix('[') {
        // Bounded, so that `[[[[...` tens of thousands deep cannot overflow the stack.
        if depth == MAX_VALUE_RANK {
            return Err(ValueError::TooDeep);
        }
        if leaf.is_some_and(|l| l <= depth) {
            return Err(ValueError::ListForNumber);
        }
        let mut count = 0;
        loop {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix(']') {
                if shape.len() <= depth {
                    shape.resize(depth + 1, None);
                }
                match shape[depth] {
                    None => shape[depth] = Some(count),
                    Some(n) if n == count => {}
                    Some(n) => return Err(ValueError::Ragged { count, before: n }),
                }
                return Ok(r);
            }
            if count > 0 {
                rest = rest.strip_prefix(',').ok_or(ValueError::Separator)?;
            }
            rest = nested(rest, depth + 1, shape, leaf, data)?;
            count += 1;
        }
    }
    match *leaf {
        Some(l) if l != depth => return Err(ValueError::NumberForList),
        None if shape.len() > depth => return Err(ValueError::NumberForList),
        _ => *leaf = Some(depth),
    }
    let end = s
        .find(|c: char| c == ',' || c == ']' || c.is_whitespace())
        .unwrap_or(s.len());
    let v: f64 = s[..end]
        .parse()
        .map_err(|_| ValueError::NotANumber(s[..end].to_string()))?;
    data.push(v);
    Ok(&s[end..])
}
