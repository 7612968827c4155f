//! One module per subcommand; each owns its clap arguments and returns an exit code.

pub mod analyze;
pub mod bandit;
pub mod control;
pub mod leader_elect;
pub mod render;
pub mod report;
pub mod rollout_common;
pub mod run;
pub mod sample_size;
pub mod serve;
