//! `ParamLayout`: named parameters as ranges of ONE flat vector x, and views into it.
//!
//! The optimizer sees only x; the graph sees `Param` nodes that carry their offset; a
//! compiled function reads each parameter straight from its range of x and writes each
//! gradient straight into the same range of the flat gradient. Nothing is flattened or
//! unflattened per call, and no view can go stale, because a view is only (offset, shape).

use std::collections::HashMap;
use std::ops::Range;

use crate::error::{Error, Result};
use crate::tensor::{numel, Shape, TensorRef};

/// Index of a parameter in its layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ParamId(pub u32);

/// One parameter: its name, shape and offset in x.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParamEntry {
    /// The name, unique in the layout.
    pub name: String,
    /// The shape (fixed).
    pub shape: Shape,
    /// Offset of the first element in x.
    pub offset: usize,
}

impl ParamEntry {
    /// The range of x this parameter occupies.
    pub fn range(&self) -> Range<usize> {
        self.offset..self.offset + numel(&self.shape)
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        numel(&self.shape)
    }

    /// Whether the parameter has no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Named parameters laid end to end in one flat vector, in the order they were added:
/// the seed's `x = weights || bias_hidden || bias_visible`.
///
/// ```
/// use symgrad::ParamLayout;
/// let mut layout = ParamLayout::new();
/// layout.add("W", &[3, 2]);
/// layout.add("b_h", &[2]);
/// layout.add("b_v", &[3]);
/// assert_eq!(layout.len(), 11);
/// let mut x = vec![0.0f64; layout.len()];
/// layout.view_mut(&mut x, "b_h").unwrap().fill(1.0);
/// assert_eq!(x[6..8], [1.0, 1.0]);
/// assert_eq!(layout.view(&x, "W").unwrap().shape, &[3, 2]);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ParamLayout {
    entries: Vec<ParamEntry>,
    by_name: HashMap<String, ParamId>,
    len: usize,
}

impl ParamLayout {
    /// An empty layout.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends a parameter; its range starts where the previous one ended.
    ///
    /// # Panics
    /// If the name is taken (a programming error).
    ///
    /// ```
    /// use symgrad::ParamLayout;
    /// let mut layout = ParamLayout::new();
    /// let w = layout.add("W", &[3, 2]);
    /// let b = layout.add("b", &[2]);
    /// assert_eq!(layout.entry(w).range(), 0..6);
    /// assert_eq!(layout.entry(b).range(), 6..8);
    /// assert_eq!((layout.len(), layout.count()), (8, 2));
    /// ```
    pub fn add(&mut self, name: &str, shape: &[usize]) -> ParamId {
        assert!(
            !self.by_name.contains_key(name),
            "symgrad: parameter `{name}` added twice"
        );
        let id = ParamId(self.entries.len() as u32);
        self.entries.push(ParamEntry {
            name: name.to_string(),
            shape: shape.iter().copied().collect(),
            offset: self.len,
        });
        self.by_name.insert(name.to_string(), id);
        self.len = crate::tensor::checked_numel::<f64>(shape)
            .and_then(|n| self.len.checked_add(n))
            .unwrap_or_else(|| {
                panic!("symgrad: parameter `{name}` of shape {shape:?} makes the layout larger than any array can be")
            });
        id
    }

    /// Total length of x.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether the layout holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of parameters.
    pub fn count(&self) -> usize {
        self.entries.len()
    }

    /// The id of `name`.
    pub fn id(&self, name: &str) -> Option<ParamId> {
        self.by_name.get(name).copied()
    }

    /// The entry of `id`.
    pub fn entry(&self, id: ParamId) -> &ParamEntry {
        &self.entries[id.0 as usize]
    }

    /// Every entry, in order.
    pub fn entries(&self) -> &[ParamEntry] {
        &self.entries
    }

    /// Every id, in order.
    pub fn ids(&self) -> impl Iterator<Item = ParamId> + '_ {
        (0..self.entries.len() as u32).map(ParamId)
    }

    /// The entry called `name`, or an error naming the parameters there are.
    ///
    /// ```
    /// use symgrad::{Error, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("W", &[3, 2]);
    /// layout.add("b", &[2]);
    /// assert_eq!(layout.lookup("b")?.offset, 6);
    /// let err = layout.lookup("c").unwrap_err();
    /// assert_eq!(err.to_string(), "no parameter named `c` (have: W, b)");
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn lookup(&self, name: &str) -> Result<&ParamEntry> {
        self.id(name)
            .map(|id| self.entry(id))
            .ok_or_else(|| Error::UnknownParam {
                name: name.to_string(),
                have: self
                    .entries
                    .iter()
                    .map(|e| e.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }

    /// The parameter (or coordinate of it) that holds coordinate `i` of x:
    /// `(name, multi-index)`.
    ///
    /// ```
    /// use symgrad::ParamLayout;
    /// let mut layout = ParamLayout::new();
    /// layout.add("W", &[3, 2]);
    /// layout.add("b", &[2]);
    /// assert_eq!(layout.locate(3), Some(("W", vec![1, 1])));
    /// assert_eq!(layout.locate(7), Some(("b", vec![1])));
    /// assert_eq!(layout.locate(8), None);
    /// ```
    pub fn locate(&self, i: usize) -> Option<(&str, Vec<usize>)> {
        let e = self.entries.iter().find(|e| e.range().contains(&i))?;
        let mut rem = i - e.offset;
        let mut idx = vec![0; e.shape.len()];
        for d in (0..e.shape.len()).rev() {
            idx[d] = rem % e.shape[d];
            rem /= e.shape[d];
        }
        Some((&e.name, idx))
    }

    fn check_len(&self, what: &'static str, given: usize) -> Result<()> {
        if given == self.len {
            Ok(())
        } else {
            Err(Error::Length {
                what,
                expected: self.len,
                given,
            })
        }
    }

    /// The parameter `name` as a view of `x`.
    ///
    /// ```
    /// use symgrad::{Error, ParamLayout};
    /// let mut layout = ParamLayout::new();
    /// layout.add("W", &[2, 2]);
    /// layout.add("b", &[2]);
    /// let x = [1.0, 2.0, 3.0, 4.0, 5.0, 6.0];
    /// let w = layout.view(&x, "W")?;
    /// assert_eq!((w.shape, w.data), (&[2, 2][..], &x[..4]));
    /// assert_eq!(layout.view(&x[..5], "W").unwrap_err(),
    ///     Error::Length { what: "parameter vector", expected: 6, given: 5 });
    /// # Ok::<(), symgrad::Error>(())
    /// ```
    pub fn view<'a, T>(&'a self, x: &'a [T], name: &str) -> Result<TensorRef<'a, T>> {
        self.check_len("parameter vector", x.len())?;
        let e = self.lookup(name)?;
        Ok(TensorRef {
            shape: &e.shape,
            data: &x[e.range()],
        })
    }

    /// The parameter `name` as a mutable slice of `x` (to initialise or inspect it).
    pub fn view_mut<'a, T>(&self, x: &'a mut [T], name: &str) -> Result<&'a mut [T]> {
        self.check_len("parameter vector", x.len())?;
        let e = self.lookup(name)?;
        Ok(&mut x[e.range()])
    }
}
