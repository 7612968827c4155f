//! Gate conditions: `< 0.01`, `<= 0.01`, `> 0.95`, `>= 0.95`, `== 0`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// How a measured value is compared with the threshold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum CompareOp {
    /// `<`
    #[serde(rename = "<")]
    Less,
    /// `<=`
    #[serde(rename = "<=")]
    LessOrEqual,
    /// `>`
    #[serde(rename = ">")]
    Greater,
    /// `>=`
    #[serde(rename = ">=")]
    GreaterOrEqual,
    /// `==`
    #[serde(rename = "==")]
    Equal,
}

impl CompareOp {
    fn symbol(self) -> &'static str {
        match self {
            Self::Less => "<",
            Self::LessOrEqual => "<=",
            Self::Greater => ">",
            Self::GreaterOrEqual => ">=",
            Self::Equal => "==",
        }
    }
}

/// A gate's pass condition: the value must satisfy `value <op> threshold`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Condition {
    /// The comparison.
    pub op: CompareOp,
    /// The threshold the value is compared with.
    pub threshold: f64,
}

impl Condition {
    /// Parses `"< 0.01"` (spaces optional).
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let ops = [
            ("<=", CompareOp::LessOrEqual),
            (">=", CompareOp::GreaterOrEqual),
            ("==", CompareOp::Equal),
            ("<", CompareOp::Less),
            (">", CompareOp::Greater),
        ];
        let Some((symbol, op)) = ops.iter().find(|(symbol, _)| text.starts_with(symbol)) else {
            return Err(format!(
                "{text:?} has no comparison; write one of `< 0.01`, `<= 0.01`, `> 0.95`, `>= 0.95`, `== 0`"
            ));
        };
        let number = text[symbol.len()..].trim();
        let threshold: f64 = number
            .parse()
            .map_err(|_| format!("{number:?} is not a number (in condition {text:?})"))?;
        if !threshold.is_finite() {
            return Err(format!("threshold {number:?} must be a finite number"));
        }
        Ok(Self { op: *op, threshold })
    }

    /// True when `value` satisfies the condition.
    pub fn holds(&self, value: f64) -> bool {
        match self.op {
            CompareOp::Less => value < self.threshold,
            CompareOp::LessOrEqual => value <= self.threshold,
            CompareOp::Greater => value > self.threshold,
            CompareOp::GreaterOrEqual => value >= self.threshold,
            CompareOp::Equal => value == self.threshold,
        }
    }
}

impl fmt::Display for Condition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.op.symbol(), self.threshold)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_operator() {
        let cases = [
            ("< 0.01", CompareOp::Less, 0.01),
            ("<=0.5", CompareOp::LessOrEqual, 0.5),
            ("> 100", CompareOp::Greater, 100.0),
            (" >= 0.95 ", CompareOp::GreaterOrEqual, 0.95),
            ("== 0", CompareOp::Equal, 0.0),
            ("< -1e-3", CompareOp::Less, -0.001),
        ];
        for (text, op, threshold) in cases {
            assert_eq!(
                Condition::parse(text),
                Ok(Condition { op, threshold }),
                "{text}"
            );
        }
    }

    #[test]
    fn refuses_garbage() {
        for bad in ["", "0.01", "< ", "<< 1", "= 1", "< abc", "< inf", "!= 1"] {
            assert!(Condition::parse(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn boundaries_follow_the_operator() {
        let at = |text: &str, value: f64| Condition::parse(text).map(|c| c.holds(value));
        assert_eq!(at("< 0.01", 0.01), Ok(false));
        assert_eq!(at("<= 0.01", 0.01), Ok(true));
        assert_eq!(at("> 0.95", 0.95), Ok(false));
        assert_eq!(at(">= 0.95", 0.95), Ok(true));
        assert_eq!(at("== 0", 0.0), Ok(true));
        assert_eq!(at("== 0", 0.1), Ok(false));
        assert_eq!(at("< 0.01", 0.009), Ok(true));
    }

    #[test]
    fn displays_as_written() {
        assert_eq!(
            Condition::parse("<0.01").map(|c| c.to_string()),
            Ok("< 0.01".to_string())
        );
    }
}
