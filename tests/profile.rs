//! `profile` recovers a population it did not make: a database seeded from a known scenario
//! (Zipf s = 1, 40 tenants, 20,000 documents) is profiled on both servers into a scenario
//! whose distribution is Zipf with s within 0.05 of 1 and under 1% of the documents at
//! another rank, with the same tenants, documents and collection mix (within half a point);
//! counted from a sample instead, s stays within 0.1. The written file loads as any scenario.

use tenantbench::cli::{OwnDatabase, ProfileArgs, ServerArgs};
use tenantbench::layout::Layout;
use tenantbench::op::BackendKind;
use tenantbench::population::Distribution;
use tenantbench::scenario::Scenario;

use crate::util::tiny;

/// Profiles `db` into a scenario file and loads it back.
async fn profiled(backend: BackendKind, uri: String, db: &str, exact_up_to: u64) -> Scenario {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("team.toml");
    let a = ProfileArgs {
        own: OwnDatabase {
            server: ServerArgs {
                backend: tenantbench::cli::Backend {
                    kind: Some(backend),
                },
                uri: Some(uri),
            },
            databases: vec![db.into()],
            schemas: Vec::new(),
            tenant_field: None,
        },
        exact_up_to,
        out: out.clone(),
        force: false,
    };
    assert_eq!(
        tenantbench::app::profile::profile(&a)
            .await
            .expect("profile"),
        0
    );
    let again = tenantbench::app::profile::profile(&a).await;
    assert!(
        again.is_err_and(|e| e.to_string().contains("--force")),
        "a second profile must not overwrite the file"
    );
    Scenario::load(&out).expect("the profile's scenario loads")
}

/// Zipf's exponent of a profiled scenario.
fn zipf_s(s: &Scenario) -> f64 {
    match s.population.distribution {
        Distribution::Zipf { s } => s,
        ref d => panic!("expected a Zipf fit, got {d:?}"),
    }
}

fn recovered(known: &Scenario, got: &Scenario) {
    assert_eq!(got.population.tenants, known.population.tenants);
    assert_eq!(got.population.documents, known.population.documents);
    let s = zipf_s(got);
    assert!((s - 1.0).abs() <= 0.05, "s = {s}");
    for (a, b) in known.mix.iter().zip(&got.mix) {
        assert!((a - b).abs() <= 0.5, "mix {:?} vs {:?}", known.mix, got.mix);
    }
    // Under 1% of the documents at another rank: the profile's sizes against the seeded ones.
    let (k, g) = (known.build_population(), got.build_population());
    let moved: u64 = k
        .tenants
        .iter()
        .zip(&g.tenants)
        .map(|(a, b)| a.documents.abs_diff(b.documents))
        .sum();
    assert!(
        (moved as f64) < 0.02 * known.population.documents as f64,
        "{moved} documents differ"
    );
}

#[tokio::test]
async fn mongodb_profile_recovers_the_seeded_distribution() {
    let Some(client) = crate::util::server().await else {
        return;
    };
    let prefix = "tbt_profile";
    crate::util::clean(&client, prefix).await;
    let known = tiny(prefix, 40, 20_000, "");
    let setup = crate::util::setup(known.clone(), Layout::Shared).await;
    setup.seed("tenant").await;
    let db = format!("{prefix}_shared");
    let got = profiled(BackendKind::Mongodb, crate::util::uri(), &db, 1_000_000).await;
    recovered(&known, &got);
    // From samples of 3,000 documents per collection.
    let sampled = profiled(BackendKind::Mongodb, crate::util::uri(), &db, 3_000).await;
    let s = zipf_s(&sampled);
    assert!((s - 1.0).abs() <= 0.1, "sampled s = {s}");
    crate::util::clean(&client, prefix).await;
}

#[tokio::test]
async fn postgres_profile_recovers_the_seeded_distribution() {
    let Some(uri) = crate::util::pg().await else {
        return;
    };
    let prefix = "tbt_profile_pg";
    crate::util::pg_clean(&uri, prefix).await;
    let known = tiny(prefix, 40, 20_000, "");
    crate::util::pg_seeded(&uri, &known, Layout::Shared, "tenant").await;
    let got = profiled(
        BackendKind::Postgres,
        uri.clone(),
        &format!("{prefix}_shared"),
        1_000_000,
    )
    .await;
    recovered(&known, &got);
    crate::util::pg_clean(&uri, prefix).await;
}
