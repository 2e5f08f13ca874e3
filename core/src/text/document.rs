//! A parsed JSON file: its value, its source and, on demand, the source position of every node.

use crate::diagnostic::Rule;
use crate::diagnostic::{Diagnostic, Span};
use crate::text::pointer;
use crate::text::source::SourceFile;
use serde_json::Value;
use std::collections::HashMap;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// Nesting deeper than this is refused before parsing, so no recursive step can exhaust the stack.
/// A schema nested 1,000 levels deep (2,000 JSON levels through `properties`) stays well within it.
pub const MAX_NESTING: usize = 4_096;

/// One JSON file, parsed.
#[derive(Debug)]
pub struct Document {
    path: PathBuf,
    source: Arc<SourceFile>,
    /// Where the JSON text starts in the file (3 after a byte order mark).
    offset: usize,
    value: Value,
    spans: OnceLock<SpanIndex>,
}

/// Where one node sits in the source: its value and, for an object member, its key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpan {
    /// The key of an object member, quotes included.
    pub key: Option<Range<usize>>,
    /// The value.
    pub value: Range<usize>,
}

#[derive(Debug, Default)]
struct SpanIndex {
    nodes: HashMap<String, NodeSpan>,
    duplicate_keys: Vec<(String, Range<usize>)>,
}

impl Document {
    /// Parses a file's bytes. `path` is where it lives, `display` how users see it. On failure the
    /// diagnostic is returned with the source, so the caller can still render it.
    pub fn parse(
        path: &Path,
        display: &Path,
        bytes: &[u8],
    ) -> Result<Document, (Diagnostic, Arc<SourceFile>)> {
        let (text, utf8_error) = match std::str::from_utf8(bytes) {
            Ok(text) => (text.to_owned(), None),
            Err(err) => (String::from_utf8_lossy(bytes).into_owned(), Some(err)),
        };
        let source = Arc::new(SourceFile::new(display, text));
        let fail = |diagnostic: Diagnostic| Err((diagnostic, Arc::clone(&source)));
        let at = |range: Range<usize>| Some(source.span(range));
        if let Some(err) = utf8_error {
            let start = err.valid_up_to();
            return fail(
                Diagnostic::new(Rule::Encoding, "file is not valid UTF-8")
                    .in_file(display, at(start..start + 1))
                    .with_label("this byte is not part of a UTF-8 character")
                    .with_help("JSON files are UTF-8: re-save the file with UTF-8 encoding"),
            );
        }
        let text = source.text();
        let offset = if text.starts_with('\u{feff}') { 3 } else { 0 };
        let json = &text[offset..];
        if json.trim().is_empty() {
            return fail(
                Diagnostic::new(Rule::JsonSyntax, "file is empty")
                    .in_file(display, at(0..0))
                    .with_label("expected a JSON object")
                    .with_help(
                        "a schema file holds one JSON Schema object, e.g. {\"type\": \"object\"}",
                    ),
            );
        }
        if let Some(at_depth) = too_deep(json.as_bytes()) {
            let start = offset + at_depth;
            return fail(
                Diagnostic::new(
                    Rule::JsonTooDeep,
                    format!("JSON nesting deeper than {MAX_NESTING} levels"),
                )
                .in_file(display, at(start..start + 1))
                .with_label("nesting limit reached here")
                .with_help("flatten the schema with `$defs` and `$ref`"),
            );
        }
        let mut deserializer = serde_json::Deserializer::from_str(json);
        deserializer.disable_recursion_limit();
        let parsed = serde::Deserialize::deserialize(&mut deserializer)
            .and_then(|value: Value| deserializer.end().map(|()| value));
        let value = match parsed {
            Ok(value) => value,
            Err(err) => {
                let line_offset = source.offset_of(err.line(), err.column());
                // serde_json counts columns from the start of the JSON, which is the file unless a
                // BOM preceded it on the first line.
                let start = if err.line() == 1 {
                    line_offset + offset
                } else {
                    line_offset
                };
                let start = start.min(text.len());
                let message = err.to_string();
                let message = match message.rfind(" at line ") {
                    Some(cut) => message[..cut].to_owned(),
                    None => message,
                };
                return fail(
                    Diagnostic::new(Rule::JsonSyntax, format!("invalid JSON: {message}"))
                        .in_file(display, at(start..start + 1))
                        .with_label(message)
                        .with_help(
                            "fix the JSON syntax; comments and trailing commas are not JSON",
                        ),
                );
            }
        };
        Ok(Document {
            path: path.to_owned(),
            source,
            offset,
            value,
            spans: OnceLock::new(),
        })
    }

    /// Where the file lives.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path shown to users.
    pub fn display(&self) -> &Path {
        self.source.display()
    }

    /// The source text.
    pub fn source(&self) -> &Arc<SourceFile> {
        &self.source
    }

    /// The parsed value.
    pub fn value(&self) -> &Value {
        &self.value
    }

    /// The node at a JSON pointer.
    pub fn get(&self, pointer: &str) -> Option<&Value> {
        self.value.pointer(pointer)
    }

    /// Source position of the node at a pointer.
    pub fn node_span(&self, pointer: &str) -> Option<&NodeSpan> {
        self.index().nodes.get(pointer)
    }

    /// The span to highlight for a node: a scalar itself; an object member's key when the value is
    /// a container (so the snippet stays one line); the opening bracket of the root.
    /// A pointer that is not in the file falls back to its nearest existing ancestor.
    pub fn span_of(&self, pointer: &str) -> Span {
        let mut current = pointer;
        loop {
            if let Some(node) = self.node_span(current) {
                let text = &self.source.text()[node.value.clone()];
                let range = match (&node.key, text.starts_with(['{', '['])) {
                    (Some(key), true) => key.clone(),
                    (None, true) => node.value.start..node.value.start + 1,
                    _ => node.value.clone(),
                };
                return self.source.span(range);
            }
            match pointer::parent(current) {
                Some(parent) => current = parent,
                None => return self.source.span(self.offset..self.offset),
            }
        }
    }

    /// The span of a member's key, or of the node when it has no key.
    pub fn key_span_of(&self, pointer: &str) -> Span {
        match self.node_span(pointer).and_then(|node| node.key.clone()) {
            Some(key) => self.source.span(key),
            None => self.span_of(pointer),
        }
    }

    /// Objects that repeat a key: the pointer of the member and the span of the repeated key.
    pub fn duplicate_keys(&self) -> impl Iterator<Item = (&str, Span)> {
        self.index()
            .duplicate_keys
            .iter()
            .map(|(pointer, range)| (pointer.as_str(), self.source.span(range.clone())))
    }

    /// A diagnostic positioned at the node of `pointer`.
    pub fn diagnostic_at(&self, diagnostic: Diagnostic, pointer: &str) -> Diagnostic {
        let span = self.span_of(pointer);
        diagnostic
            .in_file(self.display(), Some(span))
            .at_pointer(pointer)
    }

    /// [`Self::diagnostic_at`], highlighting the member's key rather than its value (for a
    /// finding about the keyword itself).
    pub fn diagnostic_at_key(&self, diagnostic: Diagnostic, pointer: &str) -> Diagnostic {
        let span = self.key_span_of(pointer);
        diagnostic
            .in_file(self.display(), Some(span))
            .at_pointer(pointer)
    }

    fn index(&self) -> &SpanIndex {
        self.spans
            .get_or_init(|| index_spans(&self.source.text()[self.offset..], self.offset))
    }
}

/// The offset where nesting first exceeds [`MAX_NESTING`], scanning brackets outside strings.
fn too_deep(bytes: &[u8]) -> Option<usize> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &b) in bytes.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

struct Container {
    pointer: String,
    start: usize,
    key: Option<Range<usize>>,
    is_object: bool,
    next_index: usize,
    keys: Vec<String>,
}

/// Maps every node of a JSON text (already known to be valid) to its source range, without
/// recursion.
fn index_spans(text: &str, base: usize) -> SpanIndex {
    let bytes = text.as_bytes();
    let mut index = SpanIndex::default();
    let mut stack: Vec<Container> = Vec::new();
    let mut i = 0;
    let skip_ws = |i: &mut usize| {
        while *i < bytes.len() && matches!(bytes[*i], b' ' | b'\t' | b'\n' | b'\r') {
            *i += 1;
        }
    };
    loop {
        skip_ws(&mut i);
        if i >= bytes.len() {
            break;
        }
        // Close containers and step over separators.
        match bytes[i] {
            b',' => {
                i += 1;
                continue;
            }
            b'}' | b']' => {
                let Some(done) = stack.pop() else { break };
                i += 1;
                index.nodes.insert(
                    done.pointer,
                    NodeSpan {
                        key: done.key,
                        value: base + done.start..base + i,
                    },
                );
                if stack.is_empty() {
                    break;
                }
                continue;
            }
            _ => {}
        }
        // Work out the pointer and key of the value that starts next.
        let (child, key) = match stack.last_mut() {
            None => (String::new(), None),
            Some(parent) if parent.is_object => {
                let key_start = i;
                i = string_end(bytes, i);
                let raw = &text[key_start + 1..i - 1];
                let name = if raw.contains('\\') {
                    serde_json::from_str::<String>(&text[key_start..i]).unwrap_or_default()
                } else {
                    raw.to_owned()
                };
                let child = pointer::push(&parent.pointer, &name);
                if parent.keys.contains(&name) {
                    index
                        .duplicate_keys
                        .push((child.clone(), base + key_start..base + i));
                } else {
                    parent.keys.push(name);
                }
                skip_ws(&mut i);
                i += 1; // the colon
                skip_ws(&mut i);
                (child, Some(base + key_start..base + i))
            }
            Some(parent) => {
                let child = format!("{}/{}", parent.pointer, parent.next_index);
                parent.next_index += 1;
                (child, None)
            }
        };
        let key = key.map(|range| range.start..trim_key_end(text, range, base));
        let start = i;
        match bytes.get(i) {
            Some(b'{') | Some(b'[') => {
                stack.push(Container {
                    pointer: child,
                    start,
                    key,
                    is_object: bytes[i] == b'{',
                    next_index: 0,
                    keys: Vec::new(),
                });
                i += 1;
            }
            Some(b'"') => {
                i = string_end(bytes, i);
                index.nodes.insert(
                    child,
                    NodeSpan {
                        key,
                        value: base + start..base + i,
                    },
                );
            }
            Some(_) => {
                while i < bytes.len()
                    && !matches!(bytes[i], b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r')
                {
                    i += 1;
                }
                index.nodes.insert(
                    child,
                    NodeSpan {
                        key,
                        value: base + start..base + i,
                    },
                );
                if stack.is_empty() {
                    break;
                }
            }
            None => break,
        }
    }
    index
}

/// The key range ends at its closing quote, not after the colon and spaces that follow.
fn trim_key_end(text: &str, range: Range<usize>, base: usize) -> usize {
    let slice = &text[range.start - base..range.end - base];
    let closing = slice.rfind('"').map_or(slice.len(), |i| i + 1);
    range.start + closing
}

/// Index just past the string starting at `start` (which is a `"`).
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Document {
        Document::parse(Path::new("t.json"), Path::new("t.json"), text.as_bytes()).unwrap()
    }

    fn error(bytes: &[u8]) -> Diagnostic {
        Document::parse(Path::new("t.json"), Path::new("t.json"), bytes)
            .unwrap_err()
            .0
    }

    #[test]
    fn every_node_has_its_position() {
        let doc = parse("{\n  \"a\": [1, {\"b~/\": \"x\"}],\n  \"c\": null\n}");
        let text = doc.source().text().clone();
        let at = |p: &str| &text[doc.node_span(p).unwrap().value.clone()];
        assert_eq!(at(""), &text[..]);
        assert_eq!(at("/a/0"), "1");
        assert_eq!(at("/a/1/b~0~1"), "\"x\"");
        assert_eq!(at("/c"), "null");
        let key = doc.node_span("/c").unwrap().key.clone().unwrap();
        assert_eq!(&text[key], "\"c\"");
        assert_eq!(doc.span_of("/a/1/b~0~1").line, 2);
        assert_eq!(doc.span_of("/c").column, 8);
        // a container member points at its key
        assert_eq!(doc.span_of("/a").column, 3);
        // a missing pointer falls back to its parent
        assert_eq!(doc.span_of("/c/nope").column, 8);
    }

    #[test]
    fn escaped_keys_and_duplicates() {
        let doc = parse(r#"{"a\u0041": 1, "x": 1, "x": 2}"#);
        assert!(doc.node_span("/aA").is_some());
        let dups: Vec<_> = doc
            .duplicate_keys()
            .map(|(p, s)| (p.to_owned(), s.column))
            .collect();
        assert_eq!(dups, vec![("/x".to_owned(), 24)]);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let doc = parse("\u{feff}{\"a\": true}");
        assert_eq!(doc.value()["a"], true);
        assert_eq!(doc.span_of("/a").column, 8);
    }

    #[test]
    fn syntax_errors_are_positioned() {
        let err = error(b"{\n  \"a\": 1,\n}");
        assert_eq!(err.code, "json-syntax");
        assert_eq!(err.span.unwrap().line, 3);
        let err = error(b"{\"a\": \xff}");
        assert_eq!(err.code, "encoding");
        assert_eq!(err.span.unwrap().column, 7);
        assert_eq!(error(b"  \n").code, "json-syntax");
        assert_eq!(error(b"{} {}").code, "json-syntax");
    }

    #[test]
    fn deep_nesting_is_refused_not_overflowed() {
        let deep = "[".repeat(MAX_NESTING + 1) + &"]".repeat(MAX_NESTING + 1);
        assert_eq!(error(deep.as_bytes()).code, "json-too-deep");
        crate::text::stack::with_large_stack(|| {
            let ok = "[".repeat(MAX_NESTING) + &"]".repeat(MAX_NESTING);
            let doc = parse(&ok);
            assert!(doc.node_span(&"/0".repeat(MAX_NESTING - 1)).is_some());
        })
        .unwrap();
    }
}
