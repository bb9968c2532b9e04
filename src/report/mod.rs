//! Reports read only the results file (`metrics::results::Results`) and render it: terminal
//! tables now; HTML and Markdown join them (issue 4).

pub mod terminal;
