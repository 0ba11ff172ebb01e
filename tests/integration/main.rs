//! The integration tests: the real binary against one shared emulator (emulator/), each test in
//! a world of its own (a region of the emulator, reset and seeded for it; tests/integration/
//! common.rs). One binary, so the SDK is linked and the emulator started once.

mod common;

mod ci;
mod gate;
mod hook;
mod iam_policy;
mod record;
mod reliability;
mod render;
mod right_call;
mod run_gate;
mod secrets;
mod untrusted_output;
