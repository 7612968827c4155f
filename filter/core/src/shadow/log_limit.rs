//! Rate limit for the disagreement log line.

use super::JsonScalar;

/// Allows at most `per_window` lines per `window_ms` milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLimiter {
    per_window: u32,
    window_ms: u64,
    window_start_ms: u64,
    used: u32,
    suppressed: u64,
}

impl LogLimiter {
    /// A limiter of `per_window` lines per `window_ms` milliseconds.
    pub fn new(per_window: u32, window_ms: u64) -> LogLimiter {
        LogLimiter {
            per_window,
            window_ms,
            window_start_ms: 0,
            used: 0,
            suppressed: 0,
        }
    }

    /// Whether a line may be logged at `now_ms`. Returns the number of lines suppressed since
    /// the last allowed one, so the caller can say so.
    pub fn allow(&mut self, now_ms: u64) -> Option<u64> {
        if now_ms.saturating_sub(self.window_start_ms) >= self.window_ms
            || now_ms < self.window_start_ms
        {
            self.window_start_ms = now_ms;
            self.used = 0;
        }
        if self.used < self.per_window {
            self.used += 1;
            Some(std::mem::take(&mut self.suppressed))
        } else {
            self.suppressed = self.suppressed.saturating_add(1);
            None
        }
    }
}

/// The disagreement log line: the experiment and both values, never a body.
pub fn disagreement_line(
    experiment: &str,
    shadow: &JsonScalar,
    primary: &JsonScalar,
    suppressed: u64,
) -> String {
    let mut line = format!(
        "rollgate shadow disagreement: experiment={experiment} shadow={shadow} primary={primary}"
    );
    if suppressed > 0 {
        line.push_str(&format!(" ({suppressed} similar lines suppressed)"));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_window() {
        let mut limiter = LogLimiter::new(2, 1_000);
        assert_eq!(limiter.allow(0), Some(0));
        assert_eq!(limiter.allow(10), Some(0));
        assert_eq!(limiter.allow(20), None);
        assert_eq!(limiter.allow(30), None);
        assert_eq!(limiter.allow(1_000), Some(2));
    }

    #[test]
    fn line_names_experiment_and_values() {
        let line = disagreement_line(
            "fraud-v2",
            &JsonScalar::Number(0.5),
            &JsonScalar::Number(0.9),
            0,
        );
        assert_eq!(
            line,
            "rollgate shadow disagreement: experiment=fraud-v2 shadow=0.5 primary=0.9"
        );
    }
}
