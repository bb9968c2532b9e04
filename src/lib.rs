//! tenantbench: a load-testing and benchmark harness for multi-tenant databases.
//!
//! It seeds realistic data for many tenants with skewed sizes into the layouts SaaS teams
//! choose between (shared database with a tenant field, database per tenant, hybrid),
//! verifies it, and runs tenant workloads over a matrix of variants into results files with
//! HDR histograms and the evidence behind them. See `docs/` and the README for the questions
//! it answers.
#![warn(missing_docs)]

pub mod app;
pub mod audit;
pub mod backend;
pub mod cli;
pub mod clock;
pub mod datagen;
pub mod directory;
pub mod gate;
pub mod http;
pub mod layout;
pub mod metrics;
pub mod op;
pub mod pacing;
pub mod population;
pub mod profile;
pub mod report;
pub mod runner;
pub mod scenario;
pub mod spans;
pub mod trial;
pub mod workload;
