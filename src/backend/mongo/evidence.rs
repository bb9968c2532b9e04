//! Server-side and driver-side evidence of a trial on MongoDB: connection-pool checkout waits
//! from the driver's CMAP events, `serverStatus.connections` sampled once a second, and the
//! document counts `explain` figures are compared with.

use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hdrhistogram::Histogram;
use mongodb::Client;
use mongodb::bson::doc;
use mongodb::event::EventHandler;
use mongodb::event::cmap::CmapEvent;
use tokio_util::sync::CancellationToken;

use super::seed::bson_i64;
use crate::metrics::results::{CheckoutEvidence, ConnectionSample, Summary, encode};
use crate::metrics::{histogram, micros, put};

/// Checkout waits and counts of every client it is installed in (CMAP events).
#[derive(Debug)]
pub struct CheckoutStats {
    wait: Mutex<Histogram<u64>>,
    checkouts: AtomicU64,
    failed: AtomicU64,
    created: AtomicU64,
}

impl Default for CheckoutStats {
    fn default() -> Self {
        CheckoutStats {
            wait: Mutex::new(histogram()),
            checkouts: AtomicU64::new(0),
            failed: AtomicU64::new(0),
            created: AtomicU64::new(0),
        }
    }
}

impl CheckoutStats {
    /// The driver event handler that feeds these statistics. The driver calls it on its own
    /// tasks, once per pool event; it only takes a short lock to record a wait.
    pub fn handler(self: &Arc<Self>) -> EventHandler<CmapEvent> {
        let me = self.clone();
        EventHandler::callback(move |ev: CmapEvent| match ev {
            CmapEvent::ConnectionCheckedOut(e) => {
                me.checkouts.fetch_add(1, Ordering::Relaxed);
                me.record(e.duration);
            }
            CmapEvent::ConnectionCheckoutFailed(e) => {
                me.failed.fetch_add(1, Ordering::Relaxed);
                me.record(e.duration);
            }
            CmapEvent::ConnectionCreated(_) => {
                me.created.fetch_add(1, Ordering::Relaxed);
            }
            _ => {}
        })
    }

    fn record(&self, d: Duration) {
        let mut h = self.wait.lock().unwrap_or_else(|p| p.into_inner());
        put(&mut h, micros(d));
    }

    /// The statistics as results evidence.
    pub fn evidence(&self) -> CheckoutEvidence {
        let h = self.wait.lock().unwrap_or_else(|p| p.into_inner());
        CheckoutEvidence {
            checkouts: self.checkouts.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            connections_created: self.created.load(Ordering::Relaxed),
            wait: Summary::of(&h),
            wait_histogram: encode(&h),
        }
    }
}

/// `serverStatus.connections`: (current, totalCreated).
///
/// # Errors
/// The driver's error (e.g. the user may not run `serverStatus`).
pub async fn server_connections(client: &Client) -> mongodb::error::Result<(i64, i64)> {
    let s = client
        .database("admin")
        .run_command(doc! {"serverStatus": 1})
        .await?;
    let c = s.get_document("connections").cloned().unwrap_or_default();
    Ok((bson_i64(c.get("current")), bson_i64(c.get("totalCreated"))))
}

/// Samples `serverStatus.connections` of one server every second until cancelled, with a
/// client of its own (one pooled connection, in the baseline). `baseline` is the `current`
/// reading taken before the trial's clients existed.
pub async fn sample_connections(
    client: Client,
    server: String,
    baseline: i64,
    cancel: CancellationToken,
) -> Vec<ConnectionSample> {
    let start = tokio::time::Instant::now();
    let mut out = Vec::new();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = cancel.cancelled() => break,
        }
        if let Ok((current, total_created)) = server_connections(&client).await {
            out.push(ConnectionSample {
                t_s: (start.elapsed().as_secs_f64() * 1000.0).round() / 1000.0,
                server: server.clone(),
                current,
                total_created,
                trial: current - baseline,
            });
        }
    }
    out
}
