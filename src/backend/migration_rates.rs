//! What migrations measured on each server, kept on this machine, so that `migrate --dry-run`
//! estimates a move from rates the server has shown — bulk copy, then index builds, catch-up,
//! verification and cut-over — or says it cannot. A file per user (`migrations.json` in
//! `$TENANTBENCH_STATE_DIR`, else `$XDG_STATE_HOME/tenantbench`, else
//! `~/.local/state/tenantbench`), keyed by database kind and `host:port`: never a user name or
//! password.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Measurements kept per server (the newest).
const KEEP: usize = 20;
/// Moves smaller than this say little about a server's rates.
pub const MIN_RECORDS: u64 = 100;

/// One verified migration's figures.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Measured {
    /// Records copied by the bulk copy.
    pub records: u64,
    /// Seconds of the bulk copy.
    pub copy_s: f64,
    /// Seconds from the start to the cut-over (copy, index builds, catch-ups, verification).
    pub cut_over_s: f64,
    /// The copy's `--copy-rate` limit, records/s (`None`: unlimited).
    pub rate_limit: Option<f64>,
    /// Whether a run's workload went on during it (`[[phase]] migrate`).
    pub under_load: bool,
    /// When (UTC, RFC 3339).
    pub at: String,
}

/// An estimate and what it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Estimate {
    /// Seconds to the cut-over.
    pub seconds: f64,
    /// The bulk copy's share of it.
    pub copy_s: f64,
    /// The measurement it scales.
    pub from: Measured,
}

/// The server a measurement belongs to: the database kind and the `host:port` of a URI whose
/// credentials were already redacted (`mongodb 127.0.0.1:27017`).
pub fn server_key(kind: &str, redacted_uri: &str) -> String {
    let rest = redacted_uri.split_once("://").map_or(redacted_uri, |x| x.1);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |x| x.1);
    format!("{kind} {host}")
}

fn path() -> Option<PathBuf> {
    let dir = match std::env::var_os("TENANTBENCH_STATE_DIR") {
        Some(d) => PathBuf::from(d),
        None => match std::env::var_os("XDG_STATE_HOME") {
            Some(d) => PathBuf::from(d).join("tenantbench"),
            None => PathBuf::from(std::env::var_os("HOME")?).join(".local/state/tenantbench"),
        },
    };
    Some(dir.join("migrations.json"))
}

type Store = std::collections::BTreeMap<String, Vec<Measured>>;

fn load() -> Store {
    path()
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Keeps a verified migration's figures for `server` ([`server_key`]). A store that cannot be
/// written is skipped with a line on stderr: the migration itself succeeded.
pub fn record(server: &str, m: Measured) {
    let Some(p) = path() else { return };
    let mut store = load();
    let list = store.entry(server.to_string()).or_default();
    list.push(m);
    let extra = list.len().saturating_sub(KEEP);
    list.drain(..extra);
    let written = p
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|()| {
            let text = serde_json::to_string_pretty(&store).map_err(std::io::Error::other)?;
            std::fs::write(&p, text)
        });
    if let Err(e) = written {
        eprintln!(
            "  note: could not keep the migration's rates in {}: {e}",
            p.display()
        );
    }
}

/// The time a move of `records` would take on `server`, scaled from the largest migration
/// measured there alike (without load first; an unlimited copy for an unlimited one): the
/// bulk copy at its records/s (or `rate`, when slower) and the rest in proportion to the
/// records. `None` when the server has no such measurement.
pub fn estimate(server: &str, records: u64, rate: Option<f64>) -> Option<Estimate> {
    estimate_from(load().get(server)?, records, rate)
}

fn estimate_from(list: &[Measured], records: u64, rate: Option<f64>) -> Option<Estimate> {
    let usable = |m: &&Measured| m.records >= MIN_RECORDS && m.copy_s > 0.0;
    let best = |quiet: bool, same_limit: bool| {
        list.iter()
            .filter(usable)
            .filter(|m| !quiet || !m.under_load)
            .filter(|m| !same_limit || m.rate_limit.is_some() == rate.is_some())
            .max_by_key(|m| m.records)
    };
    let from = best(true, true)
        .or_else(|| best(true, false))
        .or_else(|| best(false, true))
        .or_else(|| best(false, false))?
        .clone();
    let measured_rate = from.records as f64 / from.copy_s;
    let copy_rate = rate.map_or(measured_rate, |r| r.min(measured_rate));
    let copy_s = records as f64 / copy_rate;
    let rest = (from.cut_over_s - from.copy_s).max(0.0) * records as f64 / from.records as f64;
    Some(Estimate {
        seconds: copy_s + rest,
        copy_s,
        from,
    })
}

impl Measured {
    /// A verified migration's figures, for the estimates of later dry runs on the same server.
    pub fn of(r: &super::migrate::MigrationReport, rate: Option<f64>, under_load: bool) -> Self {
        Measured {
            records: r.copied,
            copy_s: r.copy_s,
            cut_over_s: r.cut_over_s,
            rate_limit: rate,
            under_load,
            at: crate::metrics::rfc3339(std::time::SystemTime::now()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(records: u64, copy_s: f64, cut_over_s: f64, under_load: bool) -> Measured {
        Measured {
            records,
            copy_s,
            cut_over_s,
            rate_limit: None,
            under_load,
            at: String::new(),
        }
    }

    #[test]
    fn keys_never_hold_credentials() {
        assert_eq!(
            server_key("mongodb", "mongodb://***@db.example:27017/app?tls=true"),
            "mongodb db.example:27017"
        );
        assert_eq!(
            server_key("postgres", "postgres://postgres@127.0.0.1:5432/postgres"),
            "postgres 127.0.0.1:5432"
        );
    }

    #[test]
    fn scales_the_largest_quiet_measurement() {
        // 10,000 records copied in 2 s, cut over at 5 s: 3 s of the rest per 10,000.
        let list = [
            m(500, 0.1, 0.3, false),
            m(10_000, 2.0, 5.0, false),
            m(50_000, 30.0, 40.0, true),
        ];
        let e = estimate_from(&list, 100_000, None).expect("an estimate");
        assert_eq!(e.from.records, 10_000);
        assert!(
            (e.copy_s - 20.0).abs() < 1e-9 && (e.seconds - 50.0).abs() < 1e-9,
            "{e:?}"
        );
        // A slower --copy-rate bounds the copy.
        let e = estimate_from(&list, 100_000, Some(1000.0)).expect("an estimate");
        assert!(
            (e.copy_s - 100.0).abs() < 1e-9 && (e.seconds - 130.0).abs() < 1e-9,
            "{e:?}"
        );
        // Nothing measured (or only tiny moves): no estimate.
        assert!(estimate_from(&[m(50, 0.1, 0.2, false)], 1000, None).is_none());
        assert!(estimate_from(&[], 1000, None).is_none());
    }
}
