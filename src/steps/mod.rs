//! The shared steps, each usable by every command.

pub mod follow;
pub mod hook_wait;
pub mod launch;
pub mod pin;
pub mod preflight;
pub mod resolve;
