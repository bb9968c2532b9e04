//! Integration tests, one binary: a module per area (ripgrep's layout). Tests that need a
//! MongoDB server skip when none answers, and fail instead when `CI` is set.

mod util;

mod architecture;
mod audit;
mod cli;
mod commands_doc;
mod credentials;
mod datagen;
mod deploy;
mod existing;
mod faults;
mod fuzz;
mod gate;
mod http;
mod killed;
mod leaks;
mod load;
mod migrate;
mod mongo;
mod operations;
mod ops;
mod postgres;
mod profile;
mod report;
mod run;
mod scenario_errors;
mod smoke;
mod tenant_values;
mod workers;
