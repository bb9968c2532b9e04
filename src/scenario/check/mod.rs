//! The checks that turn the file model into the validated settings: the [`Checker`] that
//! reports the first bad value at its `file:line:column`, and a module per area of the file.
//! Each check reports what was wrong and what was expected, at the span of the value.

use std::ops::Range;
use std::path::Path;
use std::time::Duration;

use toml::Spanned;

use crate::scenario::ScenarioError;
use crate::spans::Invalid;

mod axes;
mod faults;
mod http;
mod layout;
mod load;
mod matrix;
mod operation;
mod phases;
mod population;
mod target;
mod workload;

pub(super) use faults::{check_fault_variants, check_faults};
pub(super) use http::check_http;
pub(super) use layout::check_hybrid;
pub(super) use load::{check_load, check_profiles};
pub(super) use matrix::{MatrixInputs, check_connections, check_matrix};
pub(super) use operation::{check_operations, own_ops};
pub(super) use phases::check_phases;
pub(super) use population::{check_mix, check_population};
pub(super) use target::check_target;
pub(super) use workload::check_workload;

/// Collects the first error with its span.
pub(super) struct Checker<'a> {
    path: &'a Path,
    text: &'a str,
}

impl<'a> Checker<'a> {
    /// A checker of `text`, read from `path` (only used in messages).
    pub(super) fn new(path: &'a Path, text: &'a str) -> Checker<'a> {
        Checker { path, text }
    }
}

impl Checker<'_> {
    /// The scenario file's path.
    pub(super) fn path(&self) -> &Path {
        self.path
    }

    /// The scenario file's text.
    pub(super) fn text(&self) -> &str {
        self.text
    }

    /// A non-negative, finite number of seconds (below 10^7) as a duration.
    pub(super) fn seconds(&self, v: &Spanned<f64>, what: &str) -> Result<Duration, ScenarioError> {
        let x = *v.get_ref();
        if !(x >= 0.0 && x.is_finite() && x < 1e7) {
            return Err(self.err(v.span(), format!("expected {what} as seconds >= 0")));
        }
        Ok(Duration::from_secs_f64(x))
    }

    /// The error `message` at `span`: its line and column, and the line with a caret under it.
    pub(super) fn err(&self, span: Range<usize>, message: impl Into<String>) -> ScenarioError {
        Invalid::at(self.path, self.text, span, message).into()
    }
}
