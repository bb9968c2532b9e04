//! Reports read only the results file (`metrics::results::Results`) and render it: terminal
//! tables, and an HTML report with inline SVG charts plus a Markdown summary.

pub mod analysis;
pub mod charts;
pub mod fit;
pub mod html;
pub mod terminal;
