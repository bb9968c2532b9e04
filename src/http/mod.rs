//! HTTP: the reference multi-tenant API ([`api`], axum) that `serve` runs over one backend, so
//! the database questions can be asked through an application tier too.

pub mod api;
pub mod attack;
pub mod staging;
