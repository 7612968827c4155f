//! Rollgate controller: the `rollgate` binary's shared glue.
//!
//! The logic lives in small crates beside this one, one job each:
//! - `rollgate-rollout` (`controller/rollout`): Rollout spec, the pure state machine
//!   `step(state, verdicts, now)`, Prometheus gates, sinks (Kubernetes WasmPlugin, ECDS file, stdout).
//! - `rollgate-stats` (`controller/stats`): A/B statistics matching scipy/statsmodels, bandits.
//! - `rollgate-api` (`controller/api`): the REST API of `rollgate serve` and its SQLite state.
//! - `rollgate-report` (`controller/report`): the HTML report with SVG plots.
//!
//! This crate holds only the command line (`src/cli/`) that drives them.
