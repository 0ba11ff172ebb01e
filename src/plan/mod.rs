//! Pure, validated input and the values derived from it: no AWS, no I/O beyond reading the
//! files the command line names.

pub mod arn;
pub mod connection;
pub mod duration;
pub mod iam;
pub mod identity;
pub mod image;
pub mod job;
pub mod migration;
pub mod network;
pub mod overrides;
pub mod render;
pub mod secret_ref;
pub mod service;
pub mod stages;
pub mod taskdef;
