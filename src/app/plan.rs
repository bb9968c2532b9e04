//! `tenantbench plan`: what a run of a scenario would do — variants, databases, estimated
//! documents, disk, connections and time — computed from the scenario alone, without a server.

use anyhow::Result;

use crate::backend::mongo::raw_document;
use crate::backend::{AnyDriver, Connections, Driver};
use crate::cli::PlanArgs;
use crate::datagen::{Collection, generate};
use crate::layout::Layout;
use crate::op::BackendKind;
use crate::pacing::{Pacer, StopCondition};
use crate::population::Population;
use crate::scenario::{Scenario, Variant};

/// The connections a variant opens, as its database kind's driver counts them.
fn connections(s: &Scenario, v: &Variant, pop: &Population, dbs: u64, servers: u64) -> String {
    let c = Connections {
        scenario: s,
        variant: v,
        pop,
        databases: dbs,
        servers,
    };
    crate::with_driver!(&AnyDriver::new(v.backend, None), |d| d.connections(&c))
}

/// Documents per second a seed loads on the 2-core development machine (docs/performance.md),
/// for time estimates.
const SEED_DOCS_PER_SEC: f64 = 50_000.0;
/// Index entry size estimate (key + record id + overhead), bytes, before compression.
const INDEX_ENTRY_BYTES: f64 = 40.0;

/// Prints the plan; returns the exit status.
///
/// # Errors
/// A bad scenario or flag.
pub fn plan(a: &PlanArgs) -> Result<u8> {
    let s = super::settings::load_scenario(&a.scenario, None, a.scale)?;
    super::settings::generated_data(&s, "plan")?;
    if let Some(n) = a.project {
        print!("{}", super::project::project(&s, n)?);
        return Ok(0);
    }
    let s = super::settings::narrow(
        &s,
        a.backend.kind,
        a.layout,
        a.indexes.profile.as_deref(),
        a.repeat,
    )?;
    print!("{}", render(&s));
    Ok(0)
}

/// Mean encoded size of a collection's documents, from a sample of the generator's output.
fn mean_bson_bytes(s: &Scenario, c: Collection) -> f64 {
    const N: u64 = 500;
    let total: usize = (0..N)
        .map(|i| {
            raw_document(&generate(s.seed, "t00001", c, i))
                .as_bytes()
                .len()
        })
        .sum();
    total as f64 / N as f64
}

/// The plan as text.
pub fn render(s: &Scenario) -> String {
    let pop = s.build_population();
    let mut out = header(s, &pop);
    let mut time = Time::new(s);
    for v in &s.matrix.variants {
        out.push_str(&variant_plan(s, &pop, v, &mut time));
    }
    out.push_str(&footer(s, &time));
    out
}

/// The scenario, its population and question, and the matrix's trials.
fn header(s: &Scenario, pop: &Population) -> String {
    let mut out = format!(
        "scenario {} ({}): {} tenants, {} documents, seed {}\n",
        s.name,
        s.path.display(),
        pop.tenants.len(),
        pop.documents(),
        s.seed
    );
    if let Some(q) = &s.question {
        out.push_str(&format!("question: {q}\n"));
    }
    out.push_str(&format!(
        "\n{} variants × {} trials = {} trials, run interleaved (A B A B …)\n",
        s.matrix.variants.len(),
        s.matrix.repeat,
        s.matrix.variants.len() as u32 * s.matrix.repeat
    ));
    for why in &s.matrix.skipped {
        out.push_str(&format!("  skipped: {why}\n"));
    }
    out
}

/// One variant's plan: its databases, data, load, connections and time.
fn variant_plan(s: &Scenario, pop: &Population, v: &Variant, time: &mut Time) -> String {
    // A variant's data scale or hybrid rule set: a derived scenario and population.
    let own = s.for_variant(v).ok().flatten();
    let own_pop = own.as_ref().map(Scenario::build_population);
    let (sv, pop) = match (&own, &own_pop) {
        (Some(x), Some(p)) => (x, p),
        _ => (s, pop),
    };
    let docs = pop.documents();
    let placement = sv.placement(pop, v.layout);
    let dbs = placement.databases.len() as u64;
    let servers = placement.servers().len() as u64;
    let profile = s.index_profile(&v.indexes).unwrap_or_default();
    let idx: usize = profile.values().map(Vec::len).sum();
    let index_bytes: f64 = profile
        .iter()
        .map(|(c, list)| {
            let n: u64 = pop.tenants.iter().map(|t| t.count(*c)).sum();
            n as f64 * list.len() as f64 * INDEX_ENTRY_BYTES
        })
        .sum();
    let name = v
        .name
        .as_deref()
        .map_or(String::new(), |n| format!(" \"{n}\""));
    let mut out = format!("\n  {}{name}\n    {}\n", v.id(), v.description());
    out.push_str(&format!(
        "    databases    {dbs} on {servers} server(s); {} tenant collections; {idx} secondary indexes per database, {} in all\n",
        dbs * Collection::COUNT as u64,
        idx as u64 * dbs
    ));
    out.push_str(&format!(
        "    data         {docs} documents ≈ {} BSON + ≈ {} of indexes, before compression\n",
        human(bson_bytes(s, pop)),
        human(index_bytes)
    ));
    out.push_str(&format!("    load         {}\n", load(v)));
    out.push_str(&format!(
        "    connections  {}\n",
        connections(s, v, pop, dbs, servers)
    ));
    let faults: Vec<String> = s
        .faults
        .iter()
        .filter(|f| f.kind.applies_to(v.backend))
        .map(|f| f.describe())
        .collect();
    if !faults.is_empty() {
        out.push_str(&format!("    faults       {}\n", faults.join("; ")));
    }
    out.push_str(&time.variant(s, (v.backend, sv.prefix.clone(), v.layout), docs));
    out
}

/// Bytes of a population's documents (the same documents in every layout).
fn bson_bytes(s: &Scenario, pop: &Population) -> f64 {
    Collection::ALL
        .iter()
        .map(|&c| {
            let n: u64 = pop.tenants.iter().map(|t| t.count(c)).sum();
            n as f64 * mean_bson_bytes(s, c)
        })
        .sum()
}

/// How the variant paces its operations.
fn load(v: &Variant) -> String {
    match v.pacer {
        Pacer::Closed { concurrency, .. } => format!("closed loop, concurrency {concurrency}"),
        Pacer::Open { rate, workers, .. } => {
            format!("open loop, {rate} ops/s, ≤ {workers} in flight")
        }
    }
}

/// The time estimate, added up over the variants: trials, and seeding where data is loaded.
struct Time {
    /// The mix writes: data is reloaded before every trial.
    writes: bool,
    /// Seconds per trial, unless the trial stops at a count.
    trial_s: Option<f64>,
    /// The data sets (backend, prefix, layout) loaded so far.
    layouts: Vec<(BackendKind, String, Layout)>,
    /// Seconds so far.
    total_s: f64,
}

impl Time {
    fn new(s: &Scenario) -> Time {
        Time {
            writes: s.workload.mix.iter().any(|(o, _)| s.writes(*o)),
            trial_s: match s.workload.stop {
                StopCondition::Duration(d) => Some(d.as_secs_f64()),
                StopCondition::Count(_) => None,
            },
            layouts: Vec::new(),
            total_s: 0.0,
        }
    }

    /// A variant's time line, its time added to the total.
    fn variant(&mut self, s: &Scenario, data: (BackendKind, String, Layout), docs: u64) -> String {
        let seed_s = docs as f64 / SEED_DOCS_PER_SEC;
        let first = !self.layouts.contains(&data);
        if first {
            self.layouts.push(data);
        }
        // Data is loaded on a layout's first use, and again before every trial when the
        // workload writes (writes mark the data dirty).
        let loads = if self.writes {
            s.matrix.repeat as f64
        } else if first {
            1.0
        } else {
            0.0
        };
        self.total_s += loads * seed_s;
        match self.trial_s {
            Some(t) => {
                self.total_s += t * s.matrix.repeat as f64;
                format!(
                    "    time         {:.0} s per trial (warm-up {:.0} s included){}\n",
                    t,
                    s.workload.warmup.as_secs_f64(),
                    if loads > 0.0 {
                        format!(
                            "; seeding ≈ {} × {loads:.0} when the server has no matching data",
                            span(seed_s)
                        )
                    } else {
                        String::new()
                    }
                )
            }
            None => "    time         count-stopped: depends on the server\n".into(),
        }
    }
}

/// A time span in the largest unit that keeps it readable: `40 s`, `12 min`, `3.5 h`,
/// `4.2 days`, `630 years`.
fn span(secs: f64) -> String {
    const DAY: f64 = 86_400.0;
    const YEAR: f64 = 365.25 * DAY;
    match secs {
        s if s < 120.0 => format!("{s:.0} s"),
        s if s < 2.0 * 3600.0 => format!("{:.0} min", s / 60.0),
        s if s < 2.0 * DAY => format!("{:.1} h", s / 3600.0),
        s if s < YEAR => format!("{:.1} days", s / DAY),
        s => format!("{:.0} years", s / YEAR),
    }
}

/// The total time and where the run writes.
fn footer(s: &Scenario, time: &Time) -> String {
    let long = if time.total_s > 86_400.0 {
        format!(
            "\nwarning: this plan takes more than a day (≈ {}); check the population's size and the matrix, or try it first with --scale 0.01",
            span(time.total_s)
        )
    } else {
        String::new()
    };
    format!(
        "\nestimated time: ≈ {} at most (seeding at ≈ {} docs/s; reused data is not reloaded){}{long}\nwrites to: reports/{}-<UTC time>/ (results.json, one .hlog per trial)\n",
        span(time.total_s),
        SEED_DOCS_PER_SEC,
        if time.writes {
            "; the mix writes, so data is reloaded before each trial"
        } else {
            ""
        },
        s.name
    )
}

fn human(b: f64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut x = b;
    let mut i = 0;
    while x >= 1024.0 && i < U.len() - 1 {
        x /= 1024.0;
        i += 1;
    }
    format!("{x:.1} {}", U[i])
}

#[cfg(test)]
mod tests {
    use super::span;

    #[test]
    fn long_spans_read_in_days_and_years() {
        assert_eq!(span(40.0), "40 s");
        assert_eq!(span(720.0), "12 min");
        assert_eq!(span(3.5 * 3600.0), "3.5 h");
        assert_eq!(span(4.2 * 86_400.0), "4.2 days");
        assert_eq!(span(20_000_000_000.0), "634 years");
    }
}
