//! Use cases of the Mayor's Mailbox over its ports, and the HTTP API both deployments serve.

pub mod accounts;
pub mod attachments;
pub mod calendar;
pub mod delivery;
pub mod desk;
pub mod discussion;
pub mod error;
pub mod events;
pub mod export;
mod failpoint;
pub mod http;
pub mod input;
pub mod limiter;
pub mod notify;
pub mod open311;
pub mod opinion;
mod org_check;
pub use org_check::load_organisation;
pub mod ports;
pub mod published;
pub mod reports;
pub mod service;
pub mod views;
pub mod web;

pub use error::AppError;
pub use service::{Adapters, App};
