//! The goose attack of `tenantbench load`: one goose user per closed-loop worker (or per
//! open-loop worker, under goose's throttle), each operation's tenant drawn by the scenario's
//! tenant choice (or a user bound to one for `session_ops` operations), issuing the
//! workload's operations as the API's endpoints and recording each one, timed to its last body
//! byte, into tenantbench's histograms through [`External`].
//!
//! One transaction, not one per operation: the mix can differ by phase and by tenant class,
//! and goose's transaction weights are fixed for a whole attack. Its requests are named by
//! route (`GET /t/{tenant}/orders/{n}`), so goose's own report still has one row per
//! operation.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use goose::config::GooseConfiguration;
use goose::prelude::*;

use super::api::call_of;
use super::staging::Staging;
use crate::datagen::WyRand;
use crate::op::{ErrorKind, Outcome};
use crate::runner::external::External;
use crate::workload::Workload;

/// Goose's coordinated-omission mitigation in every attack (`average` cadence).
const CO_MITIGATION: GooseCoordinatedOmissionMitigation =
    GooseCoordinatedOmissionMitigation::Average;

/// The name of the mitigation every attack runs with, as results record it (`average`).
pub fn co_mitigation_name() -> String {
    format!("{CO_MITIGATION:?}").to_lowercase()
}

/// The goose engine's name and version, as results record it.
pub const ENGINE: &str = "goose 0.19.0";

/// Stops the attack under way, if any, as its first Ctrl-C would (goose's kill switch).
pub fn stop(reason: &str) {
    goose::trigger_killswitch(reason);
}

/// Goose logs through the `log` crate with a logger of its own that writes to stdout (a line
/// per failed request): a logger that drops everything, installed first, takes its place.
/// tenantbench counts failures in its results instead.
fn quiet_goose_log() {
    struct Drop;
    impl log::Log for Drop {
        fn enabled(&self, _: &log::Metadata) -> bool {
            false
        }
        fn log(&self, _: &log::Record) {}
        fn flush(&self) {}
    }
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = log::set_logger(&Drop);
    });
}

/// What one attack does.
#[derive(Debug, Clone)]
pub struct AttackPlan {
    /// The API's base URL (`http://127.0.0.1:8080`).
    pub base_url: String,
    /// Goose users.
    pub users: usize,
    /// Goose's throttle: requests per second across all users.
    pub throttle: Option<usize>,
    /// Pause after each request (a closed loop's think time).
    pub think: Duration,
    /// Goose's test plan (`users,time;…;0,0s`).
    pub test_plan: String,
    /// Goose's report files (`.html`, `.json`).
    pub reports: Vec<PathBuf>,
    /// Seed of the users' random streams.
    pub seed: u64,
    /// A user keeps its tenant for this many operations, then draws another (a session);
    /// `None`: every operation draws its tenant, so requests per tenant follow the tenant
    /// choice whatever the number of users.
    pub session_ops: Option<u64>,
    /// Per-request timeout.
    pub timeout: Duration,
    /// A team's own API: requests from its `[http]` templates (`None`: the reference API's
    /// endpoints).
    pub staging: Option<Arc<Staging>>,
    /// Send every request to this path instead of its endpoint, after building it as usual:
    /// the overhead benchmark's static `/healthz` (`benches/harness_http.rs`).
    pub fixed_path: Option<String>,
}

/// A run goose cannot plan: its warm-up is not shorter than its duration.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the workload's warmup ({:.1} s) must be shorter than its duration ({:.1} s)",
    warmup.as_secs_f64(),
    duration.as_secs_f64()
)]
pub struct TestPlanError {
    /// The workload's warm-up.
    pub warmup: Duration,
    /// The workload's duration.
    pub duration: Duration,
}

/// Goose refused an attack's configuration or failed to run it. Goose's error is in the
/// message, not chained as a source, so `{:#}` does not repeat it.
#[derive(Debug, thiserror::Error)]
#[error("goose: {0}")]
pub struct AttackError(pub GooseError);

/// The test plan of `users` over a run of `duration`, ramped up over its `warmup`, ending with
/// every user stopped. Goose plans in whole seconds: the ramp is the warm-up rounded down, the
/// end the duration rounded up (at least a second), so a scaled copy's fractions still run.
///
/// # Errors
/// A warm-up not shorter than the duration.
pub fn test_plan(
    users: usize,
    warmup: Duration,
    duration: Duration,
) -> Result<String, TestPlanError> {
    if warmup >= duration {
        return Err(TestPlanError { warmup, duration });
    }
    let ramp = warmup.as_secs();
    let end = (duration.as_secs() + u64::from(duration.subsec_nanos() > 0)).max(1);
    Ok(format!(
        "{users},{ramp}s;{users},{}s;0,0s",
        end.saturating_sub(ramp).max(1)
    ))
}

/// What goose itself counted over an attack.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GooseCounts {
    /// Requests sent.
    pub requests: u64,
    /// Requests goose counted as failed (its synthetic copies included).
    pub failures: u64,
    /// Synthetic requests of goose's coordinated-omission mitigation.
    pub synthetic: u64,
    /// Stalls the mitigation found.
    pub co_events: u64,
    /// Goose's p99 of its measured requests, µs.
    pub p99_us: Option<u64>,
    /// Goose's p99 with its synthetic backfill, µs.
    pub p99_backfilled_us: Option<u64>,
}

impl GooseCounts {
    fn of(m: &GooseMetrics) -> GooseCounts {
        let raw: Vec<_> = m.requests.values().map(|r| &r.raw_data).collect();
        let requests = raw.iter().map(|r| r.counter as u64).sum();
        let co = m.coordinated_omission_metrics.as_ref();
        GooseCounts {
            requests,
            failures: m.requests.values().map(|r| r.fail_count as u64).sum(),
            synthetic: co.map_or(0, |c| c.synthetic_requests),
            co_events: co.map_or(0, |c| c.co_events.len() as u64),
            p99_us: merged_p99(m.requests.values().map(|r| Some(&r.raw_data))),
            p99_backfilled_us: merged_p99(
                m.requests
                    .values()
                    .map(|r| r.coordinated_omission_data.as_ref().or(Some(&r.raw_data))),
            ),
        }
    }
}

/// The p99 over several of goose's per-request timing sets, from their buckets (goose keeps
/// bucketed times, not a histogram tenantbench can merge; the request with the most samples
/// dominates as it should).
fn merged_p99<'a>(
    sets: impl Iterator<Item = Option<&'a goose::metrics::GooseRequestMetricTimingData>>,
) -> Option<u64> {
    let mut all = crate::metrics::histogram();
    for t in sets.flatten() {
        for (&us, &n) in t.times_us.iter() {
            let _ = all.record_n(us.max(1), n as u64);
        }
    }
    (!all.is_empty()).then(|| all.value_at_quantile(0.99))
}

/// A user's state: its random streams (one for its tenants, so every variant and trial draws
/// the same tenants for user `i`; one for its operations), its tenant, the phase it drew the
/// tenant in, and the operations sent for it.
#[derive(Debug, Clone)]
struct UserState {
    tenants: WyRand,
    ops: WyRand,
    tenant: usize,
    phase: u16,
    sent: u64,
}

/// What every user's transaction shares.
struct Shared {
    workload: Workload,
    ids: Vec<String>,
    run: Arc<External>,
    seed: u64,
    session_ops: Option<u64>,
    staging: Option<Arc<Staging>>,
    fixed_path: Option<String>,
}

/// The HTTP status class of an answer as an outcome: 2xx done, 404 not found, other 4xx a
/// request the API refused (the harness's fault: `other`), 408/504 timeouts, other 5xx the
/// server's error.
pub fn outcome_of_status(status: u16) -> Outcome {
    match status {
        200..=299 => Outcome::Ok,
        404 => Outcome::NotFound,
        408 | 504 => Outcome::Error(ErrorKind::Timeout),
        400..=499 => Outcome::Error(ErrorKind::Other),
        _ => Outcome::Error(ErrorKind::Server),
    }
}

/// A staging endpoint's answer as an outcome: a status it expects is its answer (404 as
/// `not_found`), any other an error by its class (an unexpected 2xx is `other`).
pub fn outcome_expected(status: u16, expect: &[u16]) -> Outcome {
    if expect.contains(&status) {
        if status == 404 {
            Outcome::NotFound
        } else {
            Outcome::Ok
        }
    } else {
        match outcome_of_status(status) {
            Outcome::Ok | Outcome::NotFound => Outcome::Error(ErrorKind::Other),
            e => e,
        }
    }
}

fn method_of(m: &str) -> GooseMethod {
    match m {
        "POST" => GooseMethod::Post,
        "PATCH" => GooseMethod::Patch,
        "PUT" => GooseMethod::Put,
        "DELETE" => GooseMethod::Delete,
        "HEAD" => GooseMethod::Head,
        _ => GooseMethod::Get,
    }
}

/// A transport failure as an outcome.
fn outcome_of_error(e: &reqwest::Error) -> Outcome {
    if e.is_timeout() {
        Outcome::Error(ErrorKind::Timeout)
    } else {
        Outcome::Error(ErrorKind::Network)
    }
}

/// Runs the attack, recording into `run`; returns goose's own counts.
///
/// # Errors
/// Goose refused the configuration or failed to start.
pub async fn attack(
    plan: &AttackPlan,
    workload: Workload,
    ids: Vec<String>,
    run: Arc<External>,
) -> Result<GooseCounts, AttackError> {
    quiet_goose_log();
    let mut c = GooseConfiguration::default();
    c.host = Some(plan.base_url.clone());
    c.throttle_requests = plan.throttle;
    c.co_mitigation = Some(CO_MITIGATION);
    c.no_telnet = true;
    c.quiet = 1;
    c.no_print_metrics = true;
    c.timeout = Some(format!("{:.3}", plan.timeout.as_secs_f64()));
    c.report_file = plan
        .reports
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let shared = Arc::new(Shared {
        workload,
        ids,
        run,
        seed: plan.seed,
        session_ops: plan.session_ops,
        staging: plan.staging.clone(),
        fixed_path: plan.fixed_path.clone(),
    });
    let on_start: TransactionFunction = {
        let sh = shared.clone();
        Arc::new(move |user| {
            let sh = sh.clone();
            Box::pin(async move {
                bind_tenant(user, &sh);
                Ok(())
            })
        })
    };
    let operate: TransactionFunction = {
        let sh = shared.clone();
        Arc::new(move |user| {
            let sh = sh.clone();
            Box::pin(async move { operation(user, &sh).await })
        })
    };
    let mut scenario = Scenario::new("tenants")
        .register_transaction(
            Transaction::new(on_start)
                .set_name("bind tenant")
                .set_on_start(),
        )
        .register_transaction(Transaction::new(operate).set_name("operation"));
    if !plan.think.is_zero() {
        scenario = scenario
            .set_wait_time(plan.think, plan.think)
            .map_err(AttackError)?;
    }
    let metrics = GooseAttack::initialize_with_config(c)
        .map_err(AttackError)?
        .register_scenario(scenario)
        .set_default(GooseDefault::TestPlan, plan.test_plan.as_str())
        .map_err(AttackError)?
        .execute()
        .await
        .map_err(AttackError)?;
    Ok(GooseCounts::of(&metrics))
}

/// On start: the user's random streams and its tenant, drawn by the scenario's tenant choice
/// in the phase it starts in.
fn bind_tenant(user: &mut GooseUser, sh: &Shared) {
    let index = user.weighted_users_index as u64;
    let mix = |k: u64| WyRand::new(sh.seed ^ k ^ index.wrapping_mul(0x9e37_79b9_7f4a_7c15));
    let mut tenants = mix(0x7e4a_47c5);
    let phase = sh.run.phase_now();
    let tenant = sh.workload.tenant(&mut tenants, phase);
    user.set_session_data(UserState {
        tenants,
        ops: mix(0),
        tenant,
        phase,
        sent: 0,
    });
}

/// One operation: its tenant (drawn for every operation by default; with `session_ops`, kept
/// for that many and drawn again when a new phase begins, so a phase's shares hold), the
/// workload's next operation for it, the call, the answer read to its end, and the record.
async fn operation(user: &mut GooseUser, sh: &Shared) -> TransactionResult {
    let mut st = match user.get_session_data::<UserState>() {
        Some(s) => s.clone(),
        None => {
            bind_tenant(user, sh);
            user.get_session_data_unchecked::<UserState>().clone()
        }
    };
    let phase = sh.run.phase_now();
    if phase != st.phase || sh.session_ops.is_none_or(|n| st.sent >= n) {
        st.tenant = sh.workload.tenant(&mut st.tenants, phase);
        st.phase = phase;
        st.sent = 0;
    }
    st.sent += 1;
    let (req, class) = sh.workload.request(&mut st.ops, phase, st.tenant);
    user.set_session_data(st);
    let id = &sh.ids[req.tenant];
    let (request, expect) = match &sh.staging {
        None => {
            let call = call_of(&req, id);
            let path = sh.fixed_path.as_deref().unwrap_or(&call.path);
            let method = match sh.fixed_path {
                Some(_) => GooseMethod::Get,
                None => method_of(call.method),
            };
            let mut rb = user.get_request_builder(&method, path)?;
            if let Some(body) = &call.body {
                rb = rb.json(body);
            }
            let r = GooseRequest::builder()
                .name(call.route)
                .set_request_builder(rb)
                .build();
            (r, None)
        }
        Some(staging) => {
            // Every operation the workload can draw has an endpoint (`load` checked).
            let Some(e) = staging.endpoint(&req) else {
                return Ok(());
            };
            let call = staging.call(e, &req, id);
            // Absolute, so a base URL's own path (`https://host/api/v2`) is kept.
            let url = format!("{}{}", staging.base_url, call.path);
            let mut rb = user.get_request_builder(&method_of(&call.method), &url)?;
            for (name, value) in &call.headers {
                rb = rb.header(name.as_str(), value.as_str());
            }
            if let Some(body) = call.body {
                rb = rb.header("content-type", "application/json").body(body);
            }
            let mut r = GooseRequest::builder()
                .name(e.route.as_str())
                .set_request_builder(rb);
            if let [one] = e.expect[..] {
                r = r.expect_status_code(one);
            }
            (r.build(), Some(&e.expect))
        }
    };
    let slot = user.weighted_users_index;
    let started = sh.run.begin(slot);
    let response = user.request(request).await?;
    // Goose times to the response's headers, from after its throttle; the body is read here
    // and its time added, so a record is the whole answer.
    let ttfb = Duration::from_micros(response.request.response_time_micros());
    let read = Instant::now();
    let outcome = match response.response {
        Ok(r) => {
            let status = r.status().as_u16();
            match r.bytes().await {
                Ok(_) => match expect {
                    None => outcome_of_status(status),
                    Some(ex) => outcome_expected(status, ex),
                },
                Err(e) => outcome_of_error(&e),
            }
        }
        Err(e) => outcome_of_error(&e),
    };
    let took = ttfb + read.elapsed();
    sh.run
        .end_timed(started, took, req.op, class, outcome, req.tenant);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_test_plan_ramps_over_the_warmup_in_whole_seconds() {
        let s = Duration::from_secs;
        assert_eq!(test_plan(8, s(2), s(12)).unwrap(), "8,2s;8,10s;0,0s");
        assert_eq!(test_plan(2, s(0), s(3)).unwrap(), "2,0s;2,3s;0,0s");
        // A scaled copy: 0.2 s of warm-up, 1.2 s in all.
        let (w, d) = (Duration::from_millis(200), Duration::from_millis(1200));
        assert_eq!(test_plan(8, w, d).unwrap(), "8,0s;8,2s;0,0s");
        assert_eq!(
            test_plan(8, s(5), s(5)).unwrap_err().to_string(),
            "the workload's warmup (5.0 s) must be shorter than its duration (5.0 s)"
        );
    }

    #[test]
    fn results_name_the_mitigation_goose_runs_with() {
        assert_eq!(co_mitigation_name(), "average");
    }

    #[test]
    fn status_classes_become_outcomes() {
        assert_eq!(outcome_of_status(201), Outcome::Ok);
        assert_eq!(outcome_of_status(404), Outcome::NotFound);
        assert_eq!(outcome_of_status(422), Outcome::Error(ErrorKind::Other));
        assert_eq!(outcome_of_status(504), Outcome::Error(ErrorKind::Timeout));
        assert_eq!(outcome_of_status(503), Outcome::Error(ErrorKind::Server));
    }
}
