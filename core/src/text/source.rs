//! Source text of the files a run read, with the line index that turns byte offsets into
//! line and column.

use crate::diagnostic::Span;
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One file's text as read (invalid UTF-8 replaced, for display only) and its line starts.
#[derive(Debug)]
pub struct SourceFile {
    display: PathBuf,
    text: Arc<str>,
    line_starts: Vec<usize>,
}

impl SourceFile {
    /// Indexes `text`, which is shown to users under the name `display`.
    pub fn new(display: impl Into<PathBuf>, text: impl Into<Arc<str>>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            display: display.into(),
            text,
            line_starts,
        }
    }

    /// The path shown to users.
    pub fn display(&self) -> &Path {
        &self.display
    }

    /// The text.
    pub fn text(&self) -> &Arc<str> {
        &self.text
    }

    /// 1-based line and character column of a byte offset (clamped to the text).
    pub fn line_column(&self, offset: usize) -> (u32, u32) {
        let offset = floor_char_boundary(&self.text, offset.min(self.text.len()));
        let line = self.line_starts.partition_point(|&start| start <= offset) - 1;
        let column = self.text[self.line_starts[line]..offset].chars().count();
        (line as u32 + 1, column as u32 + 1)
    }

    /// The span of a byte range.
    pub fn span(&self, range: Range<usize>) -> Span {
        let (line, column) = self.line_column(range.start);
        let (end_line, end_column) = self.line_column(range.end);
        Span {
            start: floor_char_boundary(&self.text, range.start.min(self.text.len())),
            end: floor_char_boundary(&self.text, range.end.min(self.text.len())),
            line,
            column,
            end_line,
            end_column,
        }
    }

    /// Byte offset of a 1-based line and byte column, as parsers such as serde_json report them.
    pub fn offset_of(&self, line: usize, byte_column: usize) -> usize {
        let Some(&start) = self.line_starts.get(line.saturating_sub(1)) else {
            return self.text.len();
        };
        (start + byte_column.saturating_sub(1)).min(self.text.len())
    }
}

fn floor_char_boundary(text: &str, mut offset: usize) -> usize {
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The texts of every file a run read, by display path, for rendering snippets.
#[derive(Debug, Default, Clone)]
pub struct SourceMap {
    files: BTreeMap<PathBuf, Arc<str>>,
}

impl SourceMap {
    /// Remembers a file's text.
    pub fn insert(&mut self, file: &SourceFile) {
        self.files
            .insert(file.display.clone(), Arc::clone(&file.text));
    }

    /// Adds every file of another map.
    pub fn extend(&mut self, other: &SourceMap) {
        for (path, text) in &other.files {
            self.files.insert(path.clone(), Arc::clone(text));
        }
    }

    /// The text of a file by its display path.
    pub fn get(&self, display: &Path) -> Option<&Arc<str>> {
        self.files.get(display)
    }

    /// Every file, in path order.
    pub fn iter(&self) -> impl Iterator<Item = (&PathBuf, &Arc<str>)> {
        self.files.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_and_columns_count_characters() {
        let file = SourceFile::new("a.json", "{\n  \"é\": 1\n}");
        assert_eq!(file.line_column(0), (1, 1));
        assert_eq!(file.line_column(2), (2, 1));
        // the byte after `"é"` is the colon: 'é' is two bytes but one column
        let colon = file.text().find(':').unwrap();
        assert_eq!(file.line_column(colon), (2, 6));
        assert_eq!(file.line_column(10_000), (3, 2));
    }

    #[test]
    fn offsets_from_byte_columns() {
        let file = SourceFile::new("a.json", "ab\ncd");
        assert_eq!(file.offset_of(2, 2), 4);
        assert_eq!(file.offset_of(9, 1), 5);
    }
}
