//! Bad scenario files and the messages they must produce: file, line, column, what was expected.

use std::path::Path;

use tenantbench::scenario::Scenario;

const HEAD: &str = "name = \"bad\"\n[population]\n";

/// (case, TOML after the `[population]` header, expected `file:line:col`, expected words).
const CASES: &[(&str, &str, &str, &str)] = &[
    (
        "unknown key",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\ntennants = 3\n",
        "bad.toml:6:1",
        "unknown field `tennants`",
    ),
    (
        "wrong type",
        "tenants = \"ten\"\ndocuments = 100\ndistribution = \"uniform\"\n",
        "bad.toml:3:11",
        "invalid type",
    ),
    (
        "zero tenants",
        "tenants = 0\ndocuments = 100\ndistribution = \"uniform\"\n",
        "bad.toml:3:11",
        "between 1 and 1,000,000 tenants",
    ),
    (
        "zipf exponent zero",
        "tenants = 10\ndocuments = 100\ndistribution = { zipf = { s = 0.0 } }\n",
        "bad.toml:5:31",
        "Zipf exponent s > 0",
    ),
    (
        "zipf exponent negative",
        "tenants = 10\ndocuments = 100\ndistribution = { zipf = { s = -1.5 } }\n",
        "bad.toml:5:31",
        "Zipf exponent s > 0",
    ),
    (
        "pareto alpha zero",
        "tenants = 10\ndocuments = 100\ndistribution = { pareto = { alpha = 0 } }\n",
        "bad.toml:5:37",
        "expected a Pareto alpha > 0",
    ),
    (
        "unknown distribution",
        "tenants = 10\ndocuments = 100\ndistribution = { lognormal = { mu = 1.0 } }\n",
        "bad.toml:5:18",
        "unknown variant `lognormal`, expected one of `zipf`, `pareto`, `uniform`, `explicit`",
    ),
    (
        "tier shares over 100%",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[population.tiers]\nenterprise = 50\npremium = 40\nbasic = 30\n",
        "bad.toml:6:1",
        "tier shares add up to 120% of tenants; expected at most 100%",
    ),
    (
        "explicit shares over 100%",
        "tenants = 10\ndocuments = 100\ndistribution = { explicit = { shares = [0.7, 0.5] } }\n",
        "bad.toml:5:40",
        "expected at most 1 (100%)",
    ),
    (
        "minimum too large",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\nmin_per_tenant = 20\n",
        "bad.toml:6:18",
        "need 200 documents, but the scenario has 100",
    ),
    (
        "role for an unknown tenant",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[population.roles]\nnoisy = [\"t00011\"]\n",
        "bad.toml:7:10",
        "unknown tenant `t00011`; expected an id from t00001 to t00010",
    ),
    (
        "more dedicated tenants than tenants",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[layout.hybrid.rule]]\ntop = 11\nplacement = \"dedicated\"\n",
        "bad.toml:7:7",
        "dedicates more tenants than there are; expected 1 to 10",
    ),
    (
        "pooled rule without size",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[layout.hybrid.rule]]\nclass = \"premium\"\nplacement = \"pooled\"\n",
        "bad.toml:6:1",
        "needs `tenants_per_db`",
    ),
    (
        "a URI where a variable name belongs",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[layout.hybrid.rule]]\nclass = \"enterprise\"\nplacement = \"dedicated\"\nuri_env = \"mongodb://x\"\n",
        "bad.toml:9:11",
        "never the URI itself",
    ),
    (
        "unknown collection in the mix",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[data.mix]\ninvoices = 3\n",
        "bad.toml:7:1",
        "unknown field `invoices`, expected one of `users`, `orders`",
    ),
    (
        "unknown index profile",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[load]\nindexes = \"fast\"\n",
        "bad.toml:7:11",
        "unknown index profile `fast`; expected one of none, tenant, compound",
    ),
    (
        "index on a field the collection lacks",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[index_profile.mine]\nusers = [[\"tenant\", \"-amountCents\"]]\n",
        "bad.toml:7:21",
        "`users` has no field `amountCents`",
    ),
    (
        "batch size zero",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[load]\nbatch_size = 0\n",
        "bad.toml:7:14",
        "batch size between 1 and 100000",
    ),
    (
        "matrix: unknown index profile",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[matrix]\nindexes = [\"none\", \"tenat\"]\n",
        "bad.toml:7:20",
        "unknown index profile `tenat`; expected one of none, tenant, compound",
    ),
    (
        "matrix: a layout the backend lacks",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[matrix.variant]]\nlayout = \"rls\"\n",
        "bad.toml:6:1",
        "layout `rls` does not exist on mongodb",
    ),
    (
        "matrix: zero trials",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[matrix]\nrepeat = 0\n",
        "bad.toml:7:10",
        "expected repeat between 1 and 1,000",
    ),
    (
        "matrix: concurrency and rate",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[matrix]\nconcurrency = [4]\nrate = [100.0]\n",
        "bad.toml:8:9",
        "either a `concurrency` list or a `rate` list",
    ),
    (
        "matrix: axes and a variant list",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[matrix]\nindexes = [\"none\"]\n[[matrix.variant]]\nindexes = \"tenant\"\n",
        "bad.toml:8:1",
        "not both",
    ),
    (
        "matrix: duplicate variant",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[matrix.variant]]\nindexes = \"none\"\n[[matrix.variant]]\nindexes = \"none\"\n",
        "bad.toml:8:1",
        "appears twice",
    ),
    (
        "matrix: an empty label",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[matrix.variant]]\nindexes = \"none\"\nlabel = \" \"\n",
        "bad.toml:8:9",
        "expected a label of 1 to 60 characters on one line",
    ),
    (
        "matrix: one label for two variants",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[matrix.variant]]\nindexes = \"none\"\nlabel = \"plain\"\n[[matrix.variant]]\nindexes = \"tenant\"\nlabel = \"plain\"\n",
        "bad.toml:9:1",
        "label \"plain\" names two variants",
    ),
    (
        "connections: min above max",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[connections]\nmax_pool_size = 4\nmin_pool_size = 8\n",
        "bad.toml:8:17",
        "min_pool_size <= max_pool_size (4)",
    ),
    (
        "connections: unknown strategy",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[connections]\nstrategy = \"per-tenant-client\"\n",
        "bad.toml:7:12",
        "unknown variant `per-tenant-client`",
    ),
    (
        "phase: inside the warm-up",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[workload]\nduration_s = 10\nwarmup_s = 2\n[[phase]]\nname = \"burst\"\nstart_s = 1\n",
        "bad.toml:11:11",
        "may start at 2 s at the earliest",
    ),
    (
        "phase: unknown class",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[phase]]\nname = \"b\"\nstart_s = 3\nshare = { noizy = 0.5 }\n",
        "bad.toml:9:11",
        "unknown class or role `noizy`",
    ),
    (
        "phase: rate in a closed loop",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[phase]]\nname = \"b\"\nstart_s = 3\nrate = 50\n",
        "bad.toml:9:8",
        "applies to an open loop",
    ),
    (
        "phase: built-in name",
        "tenants = 10\ndocuments = 100\ndistribution = \"uniform\"\n[[phase]]\nname = \"steady\"\nstart_s = 3\n",
        "bad.toml:7:8",
        "built-in phases",
    ),
    ("not TOML at all", "tenants = = 10\n", "bad.toml:3:", ""),
];

#[test]
fn bad_scenarios_name_file_line_column_and_expectation() {
    let mut failures = Vec::new();
    for (case, body, location, words) in CASES {
        let text = format!("{HEAD}{body}");
        match Scenario::parse(Path::new("bad.toml"), &text) {
            Ok(_) => failures.push(format!("{case}: accepted")),
            Err(e) => {
                let msg = e.to_string();
                if !msg.starts_with(location) || !msg.contains(words) {
                    failures.push(format!(
                        "{case}: expected `{location}` … `{words}`, got:\n{msg}"
                    ));
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn a_missing_file_names_the_path() {
    let e = Scenario::load(Path::new("no/such/scenario.toml"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("no/such/scenario.toml"), "{e}");
}

#[test]
fn shipped_scenarios_are_valid() {
    for entry in std::fs::read_dir("scenarios").expect("scenarios/") {
        let path = entry.expect("entry").path();
        if path.extension().is_some_and(|e| e == "toml") {
            let s = Scenario::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let pop = s.build_population();
            assert_eq!(
                pop.documents(),
                s.population.documents,
                "{}",
                path.display()
            );
        }
    }
}

/// An existing target's scenario (no `[population]`): a query of the team's own, then `extra`.
fn target(extra: &str) -> String {
    format!(
        "name = \"own\"\n[target]\nexisting = true\ndatabase = \"app\"\n[[operation]]\nname = \"mine\"\ncollection = \"orders\"\nsql = 'SELECT 1 FROM orders WHERE t = $tenant'\nfilter = '{{\"t\": \"{{{{tenant}}}}\"}}'\n{extra}"
    )
}

#[test]
fn existing_targets_refuse_what_needs_generated_data_at_its_place() {
    let mix = "[workload]\nmix = { mine = 1 }\n";
    let ok = Scenario::parse(Path::new("own.toml"), &target(mix)).expect("a valid target");
    let t = ok.target.as_ref().expect("target");
    assert_eq!(t.database, "app");
    assert_eq!(ok.workload.mix.len(), 1);
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "existing false",
            target(mix).replace("existing = true", "existing = false"),
            "own.toml:3:12",
            "expected existing = true",
        ),
        (
            "a bad database name",
            target(mix).replace("\"app\"", "\"my.app\""),
            "own.toml:4:12",
            "database name",
        ),
        (
            "no mix",
            target("[workload]\nconcurrency = 2\n"),
            "own.toml:10:1",
            "your own operations",
        ),
        (
            "a built-in in the mix",
            target("[workload]\nmix = { mine = 1, list_recent = 1 }\n"),
            "own.toml:11:19",
            "`list_recent` is a built-in operation",
        ),
        (
            "a generated value in SQL",
            target(mix).replace("$tenant'", "$tenant AND s = $status'"),
            "own.toml:8:55",
            "{{status}} is a value of tenantbench's generated data",
        ),
        (
            "a generated value in a filter",
            target(mix).replace(
                "filter = '{\"t\": \"{{tenant}}\"}'",
                "filter = '{\"t\": \"{{tenant}}\", \"_id\": \"{{id}}\"}'",
            ),
            "own.toml:9:39",
            "{{id}} is a value",
        ),
        (
            "data shaping",
            target(&format!("{mix}[data.mix]\norders = 1\n")),
            "own.toml:12:2",
            "[data] shapes generated data",
        ),
        (
            "an index axis",
            target(&format!(
                "{mix}[matrix]\nindexes = [\"none\", \"tenant\"]\n"
            )),
            "own.toml:13:12",
            "layout, indexes, scale and hybrid axes",
        ),
    ];
    let wrong: Vec<String> = cases
        .into_iter()
        .filter_map(|(case, text, at, words)| {
            let e = match Scenario::parse(Path::new("own.toml"), &text) {
                Ok(_) => "accepted".to_string(),
                Err(e) => e.to_string(),
            };
            (!(e.contains(at) && e.contains(words))).then(|| format!("{case} (expected {at}): {e}"))
        })
        .collect();
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    let e = Scenario::parse(Path::new("own.toml"), "name = \"gen\"\n")
        .expect_err("no population")
        .to_string();
    assert!(e.contains("missing table [population]"), "{e}");
}

/// `file:line:column` of the first occurrence of `needle` in `text` (1-based, as errors say).
fn at(file: &str, text: &str, needle: &str) -> String {
    let i = text.find(needle).expect("needle in text");
    let line = text[..i].matches('\n').count() + 1;
    let col = i - text[..i].rfind('\n').map_or(0, |n| n + 1) + 1;
    format!("{file}:{line}:{col}")
}

/// The cases (name, text, needle, expected words) whose error, parsed as `file`, is not at the
/// needle's `file:line:col` with the words, each in a line saying what came instead.
fn misreported(file: &str, cases: Vec<(&str, String, &str, &str)>) -> Vec<String> {
    cases
        .into_iter()
        .filter_map(|(case, text, needle, words)| {
            let want = at(file, &text, needle);
            let e = match Scenario::parse(Path::new(file), &text) {
                Ok(_) => "accepted".to_string(),
                Err(e) => e.to_string(),
            };
            (!(e.contains(&want) && e.contains(words)))
                .then(|| format!("{case} (expected {want}: {words}): {e}"))
        })
        .collect()
}

#[test]
fn bad_migrations_are_reported_where_they_are_written() {
    let base = "name = \"mig\"\n[population]\ntenants = 40\ndocuments = 4000\ndistribution = \"uniform\"\n[workload]\nduration_s = 30\n\
                [[phase]]\nname = \"mv\"\nstart_s = 10\nmigrate = { tenant = \"largest\", to = \"dedicated\" }\n";
    let second = "[[phase]]\nname = \"again\"\nstart_s = 20\nmigrate = { tenant = \"median\", to = \"pooled\" }\n";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "unknown tenant word",
            base.replace("\"largest\"", "\"biggest\""),
            "\"biggest\"",
            "expected tenant = \"largest\", \"median\" or a tenant id",
        ),
        (
            "tenant outside the population",
            base.replace("\"largest\"", "\"t00041\""),
            "\"t00041\"",
            "tenant `t00041` is not in the population (t00001 … t00040)",
        ),
        (
            "unknown destination",
            base.replace("\"dedicated\"", "\"moon\""),
            "\"moon\"",
            "expected `to` = \"dedicated\", \"pooled\" or \"shared\"",
        ),
        (
            "negative rate",
            base.replace("\"dedicated\" }", "\"dedicated\", copy_rate = -5 }"),
            "-5",
            "expected a copy rate in records per second (0: unlimited)",
        ),
        (
            "batch size zero",
            base.replace("\"dedicated\" }", "\"dedicated\", batch_size = 0 }"),
            "0 }",
            "expected batch_size between 1 and 100,000 records",
        ),
        (
            "unknown key",
            base.replace("\"dedicated\" }", "\"dedicated\", speed = 3 }"),
            "speed",
            "unknown field `speed`",
        ),
        (
            "two migrating phases",
            format!(
                "{}{second}",
                base.replace("start_s = 10\n", "start_s = 10\nduration_s = 5\n")
            ),
            "{ tenant = \"median\"",
            "phase `mv` migrates already; expected one migrating phase per scenario",
        ),
        (
            "a layout without a tenant directory",
            format!("{base}[layout]\ndefault = \"per-tenant\"\n"),
            "{ tenant = \"largest\"",
            "a migration moves a tenant in the shared or hybrid layout",
        ),
        (
            "a variant's migrate_tenant without a migrating phase",
            format!(
                "{}[matrix]\n[[matrix.variant]]\nmigrate_tenant = \"median\"\n",
                base.replace(
                    "migrate = { tenant = \"largest\", to = \"dedicated\" }\n",
                    ""
                )
            ),
            "\"median\"",
            "expected a [[phase]] with `migrate = { … }`",
        ),
        (
            "a variant's tenant outside the population",
            format!("{base}[matrix]\n[[matrix.variant]]\nmigrate_tenant = \"t00099\"\n"),
            "\"t00099\"",
            "tenant `t00099` is not in the population",
        ),
        (
            "a copy rate under its old name, `rate` (a phase's rate is operations per second)",
            base.replace("to = \"dedicated\" }", "to = \"dedicated\", rate = 500 }"),
            "500",
            "`rate` in `migrate = { … }` is now `copy_rate` (records per second",
        ),
        (
            "a variant's copy rate under its old name, `migrate_rate`",
            format!("{base}[matrix]\n[[matrix.variant]]\nmigrate_rate = 500\n"),
            "500",
            "`migrate_rate` is now `migrate_copy_rate`",
        ),
    ];
    let wrong = misreported("mig.toml", cases);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // And a good one: every variant carries the phase's migration, a variant its own tenant.
    let s = Scenario::parse(
        Path::new("mig.toml"),
        &format!(
            "{base}[matrix]\n[[matrix.variant]]\nlabel = \"a\"\n[[matrix.variant]]\nmigrate_tenant = \"median\"\nmigrate_copy_rate = 2000\nlabel = \"b\"\n"
        ),
    )
    .expect("parses");
    let m: Vec<String> = s
        .matrix
        .variants
        .iter()
        .map(|v| v.migration.as_ref().expect("migrates").token())
        .collect();
    assert_eq!(
        m,
        ["mv.largest.dedicated.rmax", "mv.median.dedicated.r2000"]
    );
    assert_eq!(s.migration_phase().map(|p| p.0), Some("mv"));
    let pop = s.build_population();
    assert_eq!(pop.class_of(0), "moving-t00001");
    assert_eq!(pop.class_of(19), "moving-t00020");

    // Issue 29.6: a moving tenant with a role (a profiled scenario's `noisy` largest tenant) is
    // measured as `moving-<id>`, not as `noisy`; its role still places it and still takes the
    // role's share of a phase.
    let noisy = base
        .replace(
            "[workload]",
            "[population.roles]\nnoisy = [\"t00001\"]\n[workload]",
        )
        .replace(
            "[[phase]]\nname = \"mv\"",
            "[[phase]]\nname = \"burst\"\nstart_s = 2\nduration_s = 2\n[phase.share]\nnoisy = 0.5\n[[phase]]\nname = \"mv\"",
        );
    let s = Scenario::parse(Path::new("mig.toml"), &noisy).expect("parses");
    let pop = s.build_population();
    assert_eq!(pop.tenants[0].class(), "noisy", "the role stays");
    assert_eq!(pop.class_of(0), "moving-t00001", "measured as moving");
    let (names, of) = tenantbench::workload::classes(&pop);
    assert_eq!(names[usize::from(of[0])], "moving-t00001");
    assert!(!names.contains(&"noisy".to_string()), "{names:?}");
    let plan = tenantbench::scenario::PhasePlan::new(&s.workload, &s.phases);
    let w = tenantbench::workload::Workload::from_scenario(&pop, &s, &plan);
    let burst = plan.names.iter().position(|n| n == "burst").expect("burst") as u16;
    let mut rng = tenantbench::datagen::WyRand::new(1);
    let picked = (0..200).filter(|_| w.tenant(&mut rng, burst) == 0).count();
    assert!(
        picked >= 80,
        "the noisy share still picks the moving tenant: {picked} of 200"
    );
}

#[test]
fn bad_faults_are_reported_where_they_are_written() {
    let base = "name = \"flt\"\n[population]\ntenants = 40\ndocuments = 4000\ndistribution = \"uniform\"\n[workload]\nrate = 100\nduration_s = 30\n\
                [[fault]]\nkind = \"pause_server\"\nat_s = 10\nduration_s = 3\n";
    let pg = "[[matrix.variant]]\nbackend = \"postgres\"\n";
    let cases: Vec<(&str, String, &str, &str)> = vec![
        (
            "unknown kind",
            base.replace("\"pause_server\"", "\"unplug\""),
            "\"unplug\"",
            "expected kind = \"pause_server\", \"restart_server\", \"kill_connections\", \"lock_tenant\"",
        ),
        (
            "a fault that outlasts the run",
            base.replace("duration_s = 3\n", "duration_s = 25\n"),
            "25\n",
            "the fault ends at 35 s but the run lasts 30 s",
        ),
        (
            "no seconds before it",
            base.replace("at_s = 10", "at_s = 0.5"),
            "0.5",
            "expected at_s >= 1",
        ),
        (
            "zero duration",
            base.replace("duration_s = 3\n", "duration_s = 0.0\n"),
            "0.0",
            "expected duration_s > 0",
        ),
        (
            "a tenant for a server fault",
            base.replace("at_s = 10", "tenant = \"largest\"\nat_s = 10"),
            "\"largest\"",
            "`tenant` applies to lock_tenant",
        ),
        (
            "overlapping faults",
            format!("{base}[[fault]]\nkind = \"kill_connections\"\nat_s = 12\nduration_s = 2\n"),
            "[[fault]]\nkind = \"kill_connections\"",
            "this fault overlaps pause_server at 10 s for 3 s",
        ),
        (
            "a run that stops by count",
            base.replace("duration_s = 30\n", "count = 3000\n"),
            "[[fault]]",
            "a fault needs a run that stops by time",
        ),
        (
            "a server fault on PostgreSQL only",
            format!("{base}{pg}"),
            "\"pause_server\"",
            "pause_server applies to MongoDB variants",
        ),
        (
            "a table lock on MongoDB only",
            base.replace("\"pause_server\"", "\"lock_tenant\""),
            "\"lock_tenant\"",
            "lock_tenant applies to PostgreSQL variants",
        ),
        (
            "an unknown key",
            base.replace("at_s = 10", "at_s = 10\nwhen = 3"),
            "when",
            "unknown field `when`",
        ),
    ];
    let wrong = misreported("flt.toml", cases);
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // A good one: faults in time order, the lock's tenant by default the largest.
    let s = Scenario::parse(
        Path::new("flt.toml"),
        &format!(
            "{base}[[fault]]\nkind = \"lock_tenant\"\nat_s = 2\nduration_s = 1\n[[matrix.variant]]\n[[matrix.variant]]\nbackend = \"postgres\"\n"
        ),
    )
    .expect("valid faults");
    let kinds: Vec<&str> = s.faults.iter().map(|f| f.kind.name()).collect();
    assert_eq!(kinds, ["lock_tenant", "pause_server"]);
    assert_eq!(
        s.faults[0].tenant,
        Some(tenantbench::scenario::migration::TenantPick::Largest)
    );
}
