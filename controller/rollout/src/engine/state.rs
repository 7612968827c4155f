//! The persisted rollout state (JSON): where the rollout is, what was pushed, and its history.

use crate::gates::{GateVerdict, SrmEvidence};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Milliseconds since the Unix epoch; the engine never reads a clock itself.
pub type UnixMillis = u64;

/// Most history entries kept; the oldest gate checks are dropped first.
pub const MAX_HISTORY: usize = 2_000;

/// Where a rollout is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "snake_case")]
pub enum Phase {
    /// Moving through the steps.
    Progressing,
    /// Holding the current weight until resumed (or aborted / promoted).
    Paused {
        /// Why it paused.
        reason: PauseReason,
    },
    /// Canary at 0 % (once `pending_push` is done); final.
    RolledBack {
        /// Why.
        reason: RollbackReason,
    },
    /// Canary at 100 % (once `pending_push` is done); final.
    Promoted,
}

impl Phase {
    /// Short name: `progressing`, `paused`, `rolled_back`, `promoted`.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Progressing => "progressing",
            Self::Paused { .. } => "paused",
            Self::RolledBack { .. } => "rolled_back",
            Self::Promoted => "promoted",
        }
    }

    /// True for rolled back and promoted.
    pub fn is_terminal(&self) -> bool {
        matches!(self, Self::RolledBack { .. } | Self::Promoted)
    }
}

/// Why a rollout paused.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PauseReason {
    /// Someone asked (`rollgate pause`).
    Manual,
    /// A gate had no data and its policy is `inconclusive`.
    Inconclusive {
        /// The gate.
        gate: String,
        /// Why there was no data.
        detail: String,
    },
    /// The `srm` gate found a sample-ratio mismatch: the step's data is invalid, so nothing
    /// is decided on it (no advance, no promotion, no rollback) until someone resumes.
    SampleRatioMismatch {
        /// The gate.
        gate: String,
        /// Observed exposures, expected shares and the p-value.
        evidence: SrmEvidence,
    },
}

/// Why a rollout was rolled back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RollbackReason {
    /// A gate failed `failure_limit` checks in a row.
    Gate {
        /// The gate.
        gate: String,
        /// The last value measured (none when no data counted as a failure).
        value: Option<f64>,
        /// The condition, e.g. `< 0.01`.
        condition: String,
        /// The condition's threshold.
        threshold: f64,
        /// Consecutive failed checks.
        failures: u32,
    },
    /// Someone asked (`rollgate abort`).
    Manual,
}

impl std::fmt::Display for PauseReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Manual => write!(f, "paused by request"),
            Self::Inconclusive { gate, detail } => {
                write!(f, "gate {gate:?} had no data ({detail})")
            }
            Self::SampleRatioMismatch { gate, evidence } => write!(
                f,
                "SRM (sample-ratio mismatch) found by gate {gate:?}: {evidence}; the step's data \
                 is invalid and no decision is taken on it (look for a routing or metrics bug, \
                 then `rollgate resume`)"
            ),
        }
    }
}

impl std::fmt::Display for RollbackReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Gate {
                gate,
                value,
                condition,
                failures,
                ..
            } => {
                let value = value.map_or_else(|| "no data".to_string(), |v| format!("{v}"));
                write!(f, "gate {gate:?} measured {value}, condition {condition} ({failures} failed check(s) in a row)")
            }
            Self::Manual => write!(f, "aborted by request"),
        }
    }
}

/// A request from `rollgate abort|promote|pause|resume`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ManualAction {
    /// Canary to 0 % at once.
    Abort,
    /// Canary to 100 % at once.
    Promote,
    /// Hold the current weight.
    Pause,
    /// Continue a paused rollout.
    Resume,
}

/// A control request with a unique id, so it is applied once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ControlRequest {
    /// Unique id (the CLI uses the request time in nanoseconds).
    pub id: String,
    /// What is asked.
    pub action: ManualAction,
}

/// Per-gate bookkeeping.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateStatus {
    /// Failed checks in a row (reset by a pass).
    pub consecutive_failures: u32,
    /// Failed checks since the rollout started.
    pub failures_total: u64,
    /// The latest verdict.
    pub last: Option<GateVerdict>,
    /// When it was checked last.
    pub last_checked_ms: Option<UnixMillis>,
}

/// Something that happened, kept in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum Event {
    /// A push was decided (persisted before the sink is written).
    PushPlanned {
        /// Canary weight.
        canary_bp: u32,
        /// Config version it will carry.
        version: u64,
    },
    /// The sink confirmed a push.
    Pushed {
        /// Canary weight.
        canary_bp: u32,
        /// Config version.
        version: u64,
    },
    /// A step's weight is live and its pause started.
    StepStarted {
        /// Step index.
        step: usize,
        /// Canary weight.
        canary_bp: u32,
        /// Pause length.
        pause_ms: u64,
    },
    /// A gate was checked.
    GateChecked {
        /// The verdict.
        verdict: GateVerdict,
    },
    /// The rollout paused.
    Paused {
        /// Why.
        reason: PauseReason,
    },
    /// The rollout resumed.
    Resumed,
    /// The rollout is being rolled back.
    RolledBack {
        /// Why.
        reason: RollbackReason,
    },
    /// The rollout is being promoted.
    Promoted,
    /// A control request did not apply in the current phase.
    ControlIgnored {
        /// The request.
        action: ManualAction,
        /// The phase it met.
        phase: String,
    },
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at_ms: UnixMillis,
    /// What.
    pub event: Event,
}

/// Everything needed to resume a rollout after a restart.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RolloutState {
    /// Rollout name (`metadata.name`).
    pub rollout: String,
    /// Where the rollout is.
    #[serde(flatten)]
    pub phase: Phase,
    /// Index of the current step.
    pub step: usize,
    /// Canary weight the sink holds, once confirmed.
    pub applied_canary_bp: Option<u32>,
    /// Weight decided but not confirmed by the sink yet (re-pushed, same version, on resume).
    pub pending_push: Option<u32>,
    /// Version of the latest decided config (ECDS `version_info`); bumps on every push.
    pub config_version: u64,
    /// End of the current step's pause, while progressing.
    pub pause_until_ms: Option<UnixMillis>,
    /// Pause left when the rollout was paused.
    pub pause_remaining_ms: Option<u64>,
    /// When the gates are checked next.
    pub next_check_ms: Option<UnixMillis>,
    /// Per-gate status, by gate name.
    pub gates: BTreeMap<String, GateStatus>,
    /// Id of the last control request applied.
    pub last_control_id: Option<String>,
    /// When the rollout started.
    pub started_at_ms: UnixMillis,
    /// When the state last changed.
    pub updated_at_ms: UnixMillis,
    /// What happened, oldest first.
    pub history: Vec<HistoryEntry>,
}

impl RolloutState {
    /// A rollout that has not pushed anything yet.
    pub fn new(rollout: &str, now: UnixMillis) -> Self {
        Self {
            rollout: rollout.to_string(),
            phase: Phase::Progressing,
            step: 0,
            applied_canary_bp: None,
            pending_push: None,
            config_version: 0,
            pause_until_ms: None,
            pause_remaining_ms: None,
            next_check_ms: None,
            gates: BTreeMap::new(),
            last_control_id: None,
            started_at_ms: now,
            updated_at_ms: now,
            history: Vec::new(),
        }
    }

    /// True when nothing is left to do: promoted or rolled back, and the last push confirmed.
    pub fn is_finished(&self) -> bool {
        self.phase.is_terminal() && self.pending_push.is_none()
    }

    /// The canary weight the sink should hold: the pending push, else the applied one.
    pub fn target_canary_bp(&self) -> Option<u32> {
        self.pending_push.or(self.applied_canary_bp)
    }

    /// Time left in the current pause.
    pub fn pause_left_ms(&self, now: UnixMillis) -> Option<u64> {
        match self.phase {
            Phase::Paused { .. } => self.pause_remaining_ms,
            _ => self.pause_until_ms.map(|until| until.saturating_sub(now)),
        }
    }

    /// Since when the current weight's traffic counts for the `srm` gate: the latest of the
    /// sink's confirmation of that weight and a resume after it (data from before a resume
    /// may be the mismatch someone just fixed).
    pub fn observed_since_ms(&self) -> Option<UnixMillis> {
        let applied = self.applied_canary_bp?;
        self.history.iter().rev().find_map(|h| match h.event {
            Event::Pushed { canary_bp, .. } if canary_bp == applied => Some(h.at_ms),
            Event::Resumed => Some(h.at_ms),
            _ => None,
        })
    }

    /// Parses a persisted state.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Serializes for persistence (pretty, stable field order).
    pub fn to_json(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string_pretty(self)
    }

    pub(crate) fn record(&mut self, at_ms: UnixMillis, event: Event) {
        self.history.push(HistoryEntry { at_ms, event });
        if self.history.len() > MAX_HISTORY {
            let oldest_check = self
                .history
                .iter()
                .position(|h| matches!(h.event, Event::GateChecked { .. }));
            self.history.remove(oldest_check.unwrap_or(0));
        }
    }
}
