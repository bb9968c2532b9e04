//! `tenantbench merge`: combine the run directories of several load generators
//! (`run --worker i/N`) into one, by adding histograms — per group, per sampled tenant, per
//! interval of the `.hlog` files — and summing counts; percentiles are derived from the sums.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use hdrhistogram::Histogram;
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{
    IntervalLogIterator, IntervalLogWriterBuilder, LogEntry, Tag,
};

use crate::cli::MergeArgs;
use crate::metrics::histogram;
use crate::metrics::results::{self as res, Results, SecondSummary, Summary, Trial};
use crate::metrics::store::{read_results, spread, write_results};

/// Merges run directories; returns the exit status.
///
/// # Errors
/// Unreadable inputs, inputs of different scenarios or variants, an unwritable output.
pub fn merge(a: &MergeArgs) -> Result<u8> {
    let inputs: Vec<Results> = a
        .dirs
        .iter()
        .map(|d| read_results(d))
        .collect::<Result<_, _>>()?;
    let first = &inputs[0];
    for (d, r) in a.dirs.iter().zip(&inputs).skip(1) {
        if r.scenario.hash != first.scenario.hash {
            bail!(
                "{}: results of another scenario text (hash {} vs {} in {})",
                d.display(),
                r.scenario.hash,
                first.scenario.hash,
                a.dirs[0].display()
            );
        }
        if r.variants
            .iter()
            .map(|v| &v.id)
            .ne(first.variants.iter().map(|v| &v.id))
        {
            bail!(
                "{}: a different matrix of variants than {}",
                d.display(),
                a.dirs[0].display()
            );
        }
    }
    check_generators(&a.dirs, &inputs)?;
    std::fs::create_dir_all(&a.out).with_context(|| format!("creating {}", a.out.display()))?;
    let mut out = first.clone();
    out.worker = None;
    out.generators = a
        .dirs
        .iter()
        .zip(&inputs)
        .flat_map(|(d, r)| generators_of(d, r))
        .collect();
    out.interrupted = inputs.iter().any(|r| r.interrupted);
    out.trials.clear();
    for t0 in &first.trials {
        let parts: Vec<&Trial> = inputs
            .iter()
            .filter_map(|r| {
                r.trials
                    .iter()
                    .find(|t| t.variant == t0.variant && t.trial == t0.trial)
            })
            .collect();
        if parts.len() != inputs.len() {
            eprintln!(
                "{} trial {}: not in every input, left out",
                t0.variant, t0.trial
            );
            continue;
        }
        let mut t = merge_trials(&parts)?;
        // Interval logs: add the histograms of equal (tag, second).
        let logs: Vec<(&Path, &str)> = a
            .dirs
            .iter()
            .zip(&parts)
            .filter_map(|(d, p)| p.hlog.as_deref().map(|h| (d.as_path(), h)))
            .collect();
        if logs.len() == parts.len()
            && let Some(name) = t0.hlog.clone()
        {
            t.timeline = merge_hlogs(&logs, &a.out.join(&name), &parts)?;
            t.hlog = Some(name);
        } else {
            t.hlog = None;
        }
        out.trials.push(t);
    }
    out.spread = spread(&out);
    write_results(&a.out, &out)?;
    print!("{}", crate::report::terminal::summary_table(&out));
    for g in &out.generators {
        let cpu: f64 = g.trials.iter().map(|t| t.harness_s).sum();
        let wall: f64 = g.trials.iter().map(|t| t.wall_s).sum();
        println!(
            "  generator {} on {} ({} CPUs): harness CPU {cpu:.1} s over {wall:.0} s of trials ({:.0} % of a core)",
            g.worker,
            if g.host.is_empty() { "?" } else { &g.host },
            g.cores,
            100.0 * cpu / wall.max(1e-9)
        );
    }
    println!(
        "merged {} generators: {}",
        inputs.len(),
        a.out.join("results.json").display()
    );
    Ok(0)
}

/// Inputs written by `run --worker i/N` must be distinct generators of one N; fewer than N is
/// allowed (a generator that failed), and said, since the merge then holds part of the load.
fn check_generators(dirs: &[std::path::PathBuf], inputs: &[Results]) -> Result<()> {
    let mut seen: BTreeMap<(u32, u32), &Path> = BTreeMap::new();
    for (d, r) in dirs.iter().zip(inputs) {
        for w in generators_in(r) {
            if let Some(other) = seen.insert(w, d) {
                bail!(
                    "{}: generator {}/{} is already in {}; merge each generator's run directory once",
                    d.display(),
                    w.0,
                    w.1,
                    other.display()
                );
            }
        }
    }
    let ns: std::collections::BTreeSet<u32> = seen.keys().map(|w| w.1).collect();
    if ns.len() > 1 {
        bail!(
            "the inputs are generators of runs split {} ways: merge the generators of one run",
            ns.iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(" and ")
        );
    }
    if let Some(&n) = ns.first()
        && seen.len() < n as usize
    {
        let missing: Vec<String> = (0..n)
            .filter(|i| !seen.contains_key(&(*i, n)))
            .map(|i| format!("{i}/{n}"))
            .collect();
        eprintln!(
            "merge: {} of {n} generators; missing {}: the merged run holds only their share of the load",
            seen.len(),
            missing.join(", ")
        );
    }
    Ok(())
}

/// The (i, N) of the generators whose results `r` holds.
fn generators_in(r: &Results) -> Vec<(u32, u32)> {
    let parse = |w: &str| crate::cli::parse_worker(w).ok();
    if r.generators.is_empty() {
        r.worker.as_deref().and_then(parse).into_iter().collect()
    } else {
        r.generators
            .iter()
            .filter_map(|g| parse(&g.worker))
            .collect()
    }
}

/// The generators of one input with their CPU per trial: a merged input keeps its list; a
/// generator's (or a single process's) results give one entry, its trials read from them.
fn generators_of(dir: &Path, r: &Results) -> Vec<res::Generator> {
    if r.generators.len() > 1 {
        return r.generators.clone();
    }
    let mut g = r
        .generators
        .first()
        .cloned()
        .unwrap_or_else(|| res::Generator {
            worker: r
                .worker
                .clone()
                .unwrap_or_else(|| dir.display().to_string()),
            cores: r.environment.cores,
            ..res::Generator::default()
        });
    g.trials = r
        .trials
        .iter()
        .map(|t| res::GeneratorTrial {
            variant: t.variant.clone(),
            trial: t.trial,
            operations: t.operations,
            harness_s: t.evidence.cpu.harness_s,
            wall_s: t.evidence.cpu.wall_s,
        })
        .collect();
    vec![g]
}

/// Adds an encoded histogram; an absent one (empty: e.g. PostgreSQL records no pool checkout
/// waits) adds nothing.
fn add(into: &mut Histogram<u64>, b64: &str) -> Result<()> {
    if b64.is_empty() {
        return Ok(());
    }
    let h = res::decode(b64)?;
    into.add(&h).expect("auto-resizing histograms add");
    Ok(())
}

/// Merges one trial as several generators recorded it.
///
/// # Errors
/// A histogram that does not decode.
pub fn merge_trials(parts: &[&Trial]) -> Result<Trial> {
    let mut t = parts[0].clone();
    t.operations = parts.iter().map(|p| p.operations).sum();
    t.errors = parts.iter().map(|p| p.errors).sum();
    t.leaks = parts.iter().map(|p| p.leaks).sum();
    t.intended = parts.iter().map(|p| p.intended).sum::<Option<u64>>();
    // A summary per generator: percentiles cannot be merged, and no histogram is kept.
    t.start_lag = None;
    t.late_starts = parts.iter().map(|p| p.late_starts).sum();
    t.unissued = parts.iter().map(|p| p.unissued).sum();
    t.elapsed_s = parts.iter().map(|p| p.elapsed_s).fold(0.0, f64::max);
    if let Some(s) = parts
        .iter()
        .map(|p| p.status)
        .find(|s| *s != res::TrialStatus::Complete)
    {
        t.status = s;
    }
    t.groups = merge_groups(parts)?;
    t.tenants = merge_tenants(parts)?;
    merge_evidence(&mut t.evidence, parts)?;
    Ok(t)
}

/// The groups of several generators' trials added by (phase, op, class, outcome, error kind),
/// in order of first appearance, so merged groups keep the recorder's order.
fn merge_groups(parts: &[&Trial]) -> Result<Vec<res::Group>> {
    type GKey = (
        String,
        crate::op::Op,
        String,
        res::GroupOutcome,
        Option<crate::op::ErrorKind>,
    );
    let mut groups: BTreeMap<GKey, (res::Group, Histogram<u64>, Histogram<u64>)> = BTreeMap::new();
    let mut order: Vec<GKey> = Vec::new();
    for g in parts.iter().flat_map(|p| &p.groups) {
        let k = (
            g.phase.clone(),
            g.op,
            g.class.clone(),
            g.outcome,
            g.error_kind,
        );
        if !groups.contains_key(&k) {
            order.push(k.clone());
        }
        let e = groups.entry(k).or_insert_with(|| {
            let mut g0 = g.clone();
            g0.throughput = 0.0;
            (g0, histogram(), histogram())
        });
        e.0.throughput += g.throughput;
        add(&mut e.1, &g.response_histogram)?;
        add(&mut e.2, &g.service_histogram)?;
    }
    Ok(order
        .iter()
        .filter_map(|k| groups.remove(k))
        .map(|(mut g, r, s)| {
            g.throughput = (g.throughput * 10.0).round() / 10.0;
            g.response = Summary::of(&r);
            g.service = Summary::of(&s);
            g.response_histogram = res::encode(&r);
            g.service_histogram = res::encode(&s);
            g
        })
        .collect())
}

/// The tenant sample: the same tenants in every generator, each with the operations it ran
/// there (a generator may have run an operation for a tenant that another did not).
fn merge_tenants(parts: &[&Trial]) -> Result<Vec<res::TenantSample>> {
    let mut tenants: BTreeMap<(u32, crate::op::Op), (res::TenantSample, Histogram<u64>)> =
        BTreeMap::new();
    for x in parts.iter().flat_map(|p| &p.tenants) {
        let e = tenants.entry((x.rank, x.op)).or_insert_with(|| {
            let mut x0 = x.clone();
            x0.errors = 0;
            (x0, histogram())
        });
        e.0.errors += x.errors;
        add(&mut e.1, &x.histogram)?;
    }
    Ok(tenants
        .into_values()
        .map(|(mut ts, h)| {
            ts.response = Summary::of(&h);
            ts.histogram = res::encode(&h);
            ts
        })
        .collect())
}

/// Evidence: connections of every generator; checkouts, harness CPU and registry counts added.
fn merge_evidence(ev: &mut res::Evidence, parts: &[&Trial]) -> Result<()> {
    let mut wait = histogram();
    let mut ck = res::CheckoutEvidence::default();
    for p in parts {
        add(&mut wait, &p.evidence.checkout.wait_histogram)?;
        ck.checkouts += p.evidence.checkout.checkouts;
        ck.failed += p.evidence.checkout.failed;
        ck.connections_created += p.evidence.checkout.connections_created;
    }
    ck.wait = Summary::of(&wait);
    ck.wait_histogram = res::encode(&wait);
    ev.checkout = ck;
    ev.connections = parts
        .iter()
        .enumerate()
        .flat_map(|(i, p)| {
            p.evidence.connections.iter().cloned().map(move |mut c| {
                c.server = format!("{} (generator {i})", c.server);
                c
            })
        })
        .collect();
    ev.cpu.harness_s = parts.iter().map(|p| p.evidence.cpu.harness_s).sum();
    if let Some(r) = &mut ev.registry {
        for x in parts[1..]
            .iter()
            .filter_map(|p| p.evidence.registry.as_ref())
        {
            r.created += x.created;
            r.evicted_lru += x.evicted_lru;
            r.evicted_idle += x.evicted_idle;
            r.max_held += x.max_held;
        }
    }
    Ok(())
}

/// Adds the intervals of several `.hlog` files with equal tag and start offset; writes the sum
/// to `out` and returns its per-second summaries (errors summed from the trials' timelines).
fn merge_hlogs(logs: &[(&Path, &str)], out: &Path, parts: &[&Trial]) -> Result<Vec<SecondSummary>> {
    let mut sums: BTreeMap<(u64, String), Histogram<u64>> = BTreeMap::new();
    let mut start: Option<Duration> = None;
    for (dir, name) in logs {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        for e in IntervalLogIterator::new(&bytes) {
            match e {
                Ok(LogEntry::StartTime(t)) => {
                    start = Some(start.map_or(t, |s: Duration| s.min(t)));
                }
                Ok(LogEntry::Interval(i)) => {
                    let tag = i.tag().map(|t| t.as_str().to_string()).unwrap_or_default();
                    let sec = i.start_timestamp().as_secs_f64().round() as u64;
                    let h = res::decode(i.encoded_histogram())
                        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
                    sums.entry((sec, tag))
                        .or_insert_with(histogram)
                        .add(&h)
                        .expect("auto-resizing histograms add");
                }
                Ok(_) => {}
                Err(e) => bail!("{}: not an interval log: {e:?}", path.display()),
            }
        }
    }
    let mut buf = Vec::new();
    let mut ser = V2DeflateSerializer::new();
    {
        let mut b = IntervalLogWriterBuilder::new();
        b.add_comment(&format!(
            "tenantbench {}: merged from {} load generators",
            env!("CARGO_PKG_VERSION"),
            logs.len()
        ));
        if let Some(s) = start {
            b.with_start_time(std::time::UNIX_EPOCH + s);
        }
        let mut w = b.begin_log_with(&mut buf, &mut ser)?;
        for ((sec, tag), h) in &sums {
            w.write_histogram(
                h,
                Duration::from_secs(*sec),
                Duration::from_secs(1),
                Tag::new(tag),
            )
            .map_err(|e| anyhow::anyhow!("writing the merged interval log: {e:?}"))?;
        }
    }
    std::fs::File::create(out)
        .and_then(|mut f| f.write_all(&buf))
        .with_context(|| format!("writing {}", out.display()))?;
    // Errors per second and class, and of each kind: counts add across generators.
    type Kinds = BTreeMap<crate::op::ErrorKind, u64>;
    let mut errors: BTreeMap<(u64, String), (u64, Kinds)> = BTreeMap::new();
    for p in parts {
        for s in &p.timeline {
            let e = errors.entry((s.t, s.class.clone())).or_default();
            e.0 += s.errors;
            for (k, n) in &s.error_kinds {
                *e.1.entry(*k).or_default() += n;
            }
        }
    }
    let mut timeline: Vec<SecondSummary> = sums
        .iter()
        .map(|((t, class), h)| {
            let (e, kinds) = errors
                .get(&(*t, class.clone()))
                .cloned()
                .unwrap_or_default();
            SecondSummary {
                t: *t,
                class: class.clone(),
                errors: e,
                error_kinds: kinds,
                response: Summary::of(h),
            }
        })
        .collect();
    // Seconds with errors only.
    for ((t, class), (e, kinds)) in errors {
        if !sums.contains_key(&(t, class.clone())) && e > 0 {
            timeline.push(SecondSummary {
                t,
                class,
                errors: e,
                error_kinds: kinds,
                response: Summary::default(),
            });
        }
    }
    timeline.sort_by(|a, b| (a.t, &a.class).cmp(&(b.t, &b.class)));
    Ok(timeline)
}
