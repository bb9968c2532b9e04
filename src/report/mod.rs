//! Reports read only the results file (`metrics::results::Results`) and render it: terminal
//! tables, and an HTML report with inline SVG charts plus a Markdown summary.

pub mod analysis;
pub mod charts;
pub mod fit;
pub mod html;
pub mod names;
pub mod terminal;

/// A text as a Markdown table cell: `|` escaped as `\|`, line breaks as spaces, so that no value
/// can break a table.
pub fn markdown_cell(text: &str) -> String {
    text.replace("\r\n", " ")
        .replace(['\r', '\n'], " ")
        .replace('|', "\\|")
}
