//! Pure, validated input and the values derived from it: no AWS, no I/O beyond reading the
//! files the command line names.

pub mod iam;
pub mod identity;
pub mod image;
pub mod network;
pub mod overrides;
pub mod secret_ref;
pub mod taskdef;
