//! Pure, validated input and the values derived from it: no AWS, no I/O beyond reading the
//! files the command line names.

pub mod arn;
pub mod connection;
pub mod duration;
pub mod hook_event;
pub mod iam;
pub mod identity;
pub mod image;
pub mod job;
pub mod migration;
pub mod network;
pub mod overrides;
pub mod record;
pub mod render;
pub mod secret_ref;
pub mod service;
pub mod stages;
pub mod taskdef;

/// `0.1.0 (commit 0123abcd4567)`: which build runs in a pipeline matters when reading its logs.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("ECS_MIGRATE_GIT_COMMIT"),
    ")"
);
