//! Where a value sits in a TOML text: the 1-based line and column of a span and the line with
//! a caret under it, for `file:line:column` errors (scenarios, gate rules). A leaf.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// A value at a place in a file that is not what was expected: `file:line:column: message`,
/// then the line with a caret under the value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}:{line}:{column}: {message}\n{snippet}")]
pub struct Invalid {
    /// The file as given.
    pub path: PathBuf,
    /// 1-based line of the value.
    pub line: usize,
    /// 1-based column of the value.
    pub column: usize,
    /// What was wrong and what was expected.
    pub message: String,
    /// The value's line with a caret under it.
    pub snippet: String,
}

impl Invalid {
    /// The error `message` at `span` of `text`, read from `path` (only used in messages).
    pub fn at(path: &Path, text: &str, span: Range<usize>, message: impl Into<String>) -> Invalid {
        let (line, column, snippet) = locate(text, span);
        Invalid {
            path: path.to_path_buf(),
            line,
            column,
            message: message.into(),
            snippet,
        }
    }
}

/// 1-based line and column of a byte offset, and the line with a caret under the span.
pub fn locate(text: &str, span: Range<usize>) -> (usize, usize, String) {
    let start = span.start.min(text.len());
    let line_start = text[..start].rfind('\n').map_or(0, |i| i + 1);
    let line_end = text[start..].find('\n').map_or(text.len(), |i| start + i);
    let line = text[..start].matches('\n').count() + 1;
    let column = text[line_start..start].chars().count() + 1;
    let source_line = &text[line_start..line_end];
    let width = text[start..span.end.clamp(start, line_end)]
        .chars()
        .count()
        .max(1);
    let gutter = line.to_string();
    let snippet = format!(
        "{pad} |\n{gutter} | {source_line}\n{pad} | {spaces}{carets}",
        pad = " ".repeat(gutter.len()),
        spaces = " ".repeat(column - 1),
        carets = "^".repeat(width),
    );
    (line, column, snippet)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locate_points_at_the_value() {
        let (line, col, snip) = locate("a = 1\nbb = 22\n", 11..13);
        assert_eq!((line, col), (2, 6));
        assert!(snip.contains("bb = 22"), "{snip}");
        assert!(snip.ends_with("     ^^"), "{snip}");
    }
}
