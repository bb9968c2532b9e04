//! Ctrl-C during a run: the first press stops after the current trial's bookkeeping, the
//! second aborts — watched through tokio for `run`, through the `ctrlc` handler goose would
//! otherwise install for `load`.

use std::sync::atomic::{AtomicU8, Ordering};

use tokio_util::sync::CancellationToken;

/// What the first Ctrl-C prints.
const INTERRUPTED: &str = "\ninterrupted: finishing the current trial's bookkeeping and writing what ran (Ctrl-C again to abort)";

/// First Ctrl-C: stop after the current trial's bookkeeping (`cancel`). Second: abort now
/// (`abort`; the run returns [`EXIT_ABORTED`](super::run::EXIT_ABORTED)).
pub async fn watch_ctrl_c(cancel: CancellationToken, abort: CancellationToken) {
    if tokio::signal::ctrl_c().await.is_ok() {
        eprintln!("{INTERRUPTED}");
        cancel.cancel();
        if tokio::signal::ctrl_c().await.is_ok() {
            abort.cancel();
        }
    }
}

/// Installs the Ctrl-C handler of a `load` run before goose installs its own (which then
/// fails harmlessly): the first press stops the run after the trial under way, whose attack
/// stops at once (`cancel`), the second aborts (`abort`).
pub fn for_goose(cancel: CancellationToken, abort: CancellationToken) {
    let presses = AtomicU8::new(0);
    let installed = ctrlc::set_handler(move || {
        if presses.fetch_add(1, Ordering::SeqCst) == 0 {
            eprintln!("{INTERRUPTED}");
            // The trial under way stops its attack on this token (`Trials::measure_http`).
            cancel.cancel();
        } else {
            abort.cancel();
        }
    });
    if let Err(e) = installed {
        eprintln!("warning: Ctrl-C will not stop the run cleanly: {e}");
    }
}
