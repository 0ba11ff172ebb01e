//! The shared steps, each usable by every command.

pub mod derive;
pub mod follow;
pub mod hook;
pub mod hook_wait;
pub mod launch;
pub mod migrate;
pub mod pin;
pub mod preflight;
pub mod record;
pub mod recorded;
pub mod register;
pub mod resolve;
pub mod write;
