//! `tenantbench profile`: count a team's tenants through the driver of `--backend`, fit their
//! sizes, print the fit, and write the scenario that reproduces them (checked by loading it).

use anyhow::{Context as _, Result, bail};

use super::settings::driver;
use crate::audit::TENANT_FIELDS;
use crate::backend::Inspect;
use crate::cli::ProfileArgs;
use crate::datagen::Collection;
use crate::op::BackendKind;
use crate::population::tenant_id;
use crate::profile::{
    Counted, Mapped, Profile, Profiled, best_per_family, choose, distribution_toml, fits, mix,
    prefix_of, scenario_toml, sizes,
};
use crate::scenario::Scenario;
use crate::with_driver;

/// Documents sampled per collection to tell which fields it carries.
const FIELD_SAMPLE: u64 = 200;

/// Runs the profile; returns 0.
///
/// # Errors
/// An unreachable server, no tenant field, no tenant documents, a file that exists (without
/// `--force`) or cannot be written.
pub async fn profile(a: &ProfileArgs) -> Result<u8> {
    if a.exact_up_to < 1 {
        bail!("--exact-up-to 0: expected at least 1 document");
    }
    if a.out.exists() && !a.force {
        bail!(
            "{} exists; choose another -o or pass --force to replace it",
            a.out.display()
        );
    }
    let (kind, scope) = super::audit::scope_of(&a.own, FIELD_SAMPLE)?;
    let any = driver(&a.own.server, kind);
    let p = with_driver!(&any, |d| d
        .profile(&scope, a.exact_up_to)
        .await
        .map_err(anyhow::Error::from))
    .context("profiling")?;
    // The scenario's name: the file's, in the letters names may hold.
    let name: String = a
        .out
        .file_stem()
        .map_or_else(|| "profile".into(), |s| s.to_string_lossy().into_owned())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect();
    let (text, summary) = render(kind, &p, &name)?;
    // The file must load as any scenario does: a profile that does not is a bug here.
    Scenario::parse(&a.out, &text).map_err(|e| {
        anyhow::anyhow!("the profile's scenario does not load (a tenantbench bug): {e}")
    })?;
    std::fs::write(&a.out, &text).with_context(|| format!("writing {}", a.out.display()))?;
    print!("{summary}");
    println!(
        "wrote {}\nnext: tenantbench run --scenario {} --scale 0.01 --repeat 1",
        a.out.display(),
        a.out.display()
    );
    Ok(0)
}

/// The scenario text and the terminal summary of a profile.
///
/// # Errors
/// No tenant field, no tenant documents.
pub fn render(kind: BackendKind, p: &Profiled, name: &str) -> Result<(String, String)> {
    let Some(field) = &p.field else {
        bail!(
            "no field is named like a tenant field ({}, compared without case and underscores); name it with --tenant-field",
            TENANT_FIELDS.join(", ")
        );
    };
    let obs = sizes(&p.collections);
    if obs.is_empty() {
        bail!(
            "no document in {} carries {field:?}; is it the tenant field?",
            p.databases.join(", ")
        );
    }
    let candidates = fits(&obs);
    let best = choose(&candidates).context("no distribution fits")?;
    let (pct, mapping) = mix(&p.collections);
    let documents: u64 = obs.iter().sum();
    let described: Vec<String> = best_per_family(&candidates)
        .into_iter()
        .map(|f| format!("{}: {:.2}% misplaced", f.describe(), f.error * 100.0))
        .collect();
    let profile = Profile {
        name: name.to_string(),
        prefix: prefix_of(p.databases.first().map_or("db", String::as_str)),
        backend: kind.name().into(),
        server_version: p.server_version.clone(),
        databases: p.databases.join(", "),
        field: field.clone(),
        at: crate::clock::rfc3339(std::time::SystemTime::now()),
        tenants: obs.len(),
        documents,
        chosen: best.describe(),
        error_pct: format!("{:.2}", best.error * 100.0),
        distribution: distribution_toml(&best.distribution),
        min_per_tenant: best.min_per_tenant,
        candidates: described.clone(),
        mix: Collection::ALL
            .iter()
            .zip(pct)
            .map(|(c, p)| format!("{} = {p}", c.name()))
            .collect(),
        mapping: mapping_lines(&mapping),
        sampled: sampled_lines(&p.collections),
        noisy: tenant_id(1, obs.len() as u32),
    };
    let text = scenario_toml(&profile).context("rendering the scenario")?;
    let summary = summary(&profile, p, field, &obs, &described);
    Ok((text, summary))
}

/// Each mapped collection as the profile lists it: its label and documents, and the generated
/// collection it stands for.
fn mapping_lines(mapping: &[Mapped]) -> Vec<String> {
    mapping
        .iter()
        .map(|m| {
            format!(
                "{} ({} documents) → {}{}",
                m.label,
                m.documents,
                m.generated.name(),
                if m.by_name {
                    ""
                } else {
                    " (no collection of that name)"
                }
            )
        })
        .collect()
}

/// The collections whose fields were told from a sample, with the sample's size.
fn sampled_lines(collections: &[Counted]) -> Vec<String> {
    collections
        .iter()
        .filter_map(|c| {
            c.sampled
                .map(|s| format!("{} ({s} of {} documents)", c.name, c.documents))
        })
        .collect()
}

/// The terminal summary of a profile: the tenants and documents counted, the largest and
/// smallest tenant, the fit and its candidates, and the mix.
fn summary(
    profile: &Profile,
    p: &Profiled,
    field: &str,
    obs: &[u64],
    described: &[String],
) -> String {
    let documents = profile.documents;
    let mut summary = format!(
        "profile of {} ({} {}): {} tenants by {field:?}, {} documents in {} collections\n",
        profile.databases,
        profile.backend,
        profile.server_version,
        profile.tenants,
        documents,
        p.collections.len()
    );
    let share = |k: usize| obs.iter().take(k).sum::<u64>() as f64 * 100.0 / documents.max(1) as f64;
    summary.push_str(&format!(
        "  largest tenant {} documents ({:.1}%), top 10 {:.1}%, smallest {}\n",
        obs[0],
        share(1),
        share(10),
        obs[obs.len() - 1]
    ));
    summary.push_str(&format!(
        "  fit: {} ({}% of the documents at another rank than measured)\n  candidates:\n",
        profile.chosen, profile.error_pct
    ));
    for c in described {
        summary.push_str(&format!("    {c}\n"));
    }
    summary.push_str("  mix: ");
    summary.push_str(&profile.mix.join(", "));
    summary.push('\n');
    for m in &profile.mapping {
        summary.push_str(&format!("    {m}\n"));
    }
    summary
}
