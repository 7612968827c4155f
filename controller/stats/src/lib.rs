//! `rollgate-stats`: the statistics behind Rollgate's A/B decisions, pure (no IO) and checked
//! against scipy 1.17 / statsmodels 0.15.
//!
//! - fixed-horizon tests: [`proportions::two_proportion_z`], [`ttest::t_test`] (Student and
//!   Welch, Cohen's d), [`mann_whitney::mann_whitney_u`], [`chi_squared::chi_squared_contingency`];
//! - guard rails: [`srm::srm_check`] (sample-ratio mismatch), [`multiple::correct`]
//!   (Bonferroni, Holm);
//! - planning: [`power`] (statsmodels `NormalIndPower` / `TTestIndPower`, own noncentral t);
//! - peeking-safe monitoring: [`sequential`] (mSPRT always-valid p-values and confidence
//!   sequences, GrowthBook's N* parametrisation);
//! - skewed metrics: [`bootstrap::bootstrap_difference`] (seeded percentile bootstrap);
//! - variance reduction and ratio metrics: [`cuped::cuped`] (pre-experiment covariate),
//!   [`ratio::ratio_delta`] (delta method);
//! - decisions: [`decision::decide`] (seed 001 table, SRM overrides);
//! - adaptive allocation: [`bandit::allocate`] (Thompson, UCB1, epsilon-greedy → basis points);
//! - storage-friendly aggregates: [`summary::ProportionCounts`], [`summary::MeanSummary`];
//! - the `rollgate analyze --json` contract: [`analyze::analyze`].
//!
//! Sign convention everywhere: treatment minus control.

pub mod analyze;
pub mod bandit;
pub mod bootstrap;
pub mod chi_squared;
pub mod cuped;
pub mod decision;
pub mod dist;
pub mod error;
pub mod mann_whitney;
pub mod multiple;
pub mod nct;
pub mod power;
pub mod proportions;
pub mod ratio;
pub mod sequential;
pub mod srm;
pub mod summary;
pub mod ttest;

pub use error::StatsError;
