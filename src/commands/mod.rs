//! One file per subcommand, each a short table of contents of the steps it takes.

pub mod gate;
pub mod render;
pub mod run;
