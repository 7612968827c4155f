//! Reading typed fields out of the JSON request, with errors naming the dotted field path.

use serde_json::{Map, Value};

use crate::error::StatsError;

/// A JSON object together with its dotted path in the request.
#[derive(Clone, Copy)]
pub(crate) struct Obj<'a> {
    pub map: &'a Map<String, Value>,
    pub path: &'a str,
}

pub(crate) fn join(path: &str, key: &str) -> String {
    if path.is_empty() {
        key.to_string()
    } else {
        format!("{path}.{key}")
    }
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl<'a> Obj<'a> {
    /// The request root, which must be an object.
    pub fn root(value: &'a Value) -> Result<Self, StatsError> {
        match value {
            Value::Object(map) => Ok(Obj { map, path: "" }),
            other => Err(StatsError::invalid(
                "(input)",
                format!("must be one JSON object, got {}", type_name(other)),
            )),
        }
    }

    fn get(&self, key: &str) -> Option<&'a Value> {
        self.map.get(key).filter(|v| !v.is_null())
    }

    pub fn required(&self, key: &str) -> Result<&'a Value, StatsError> {
        self.get(key)
            .ok_or_else(|| StatsError::invalid(join(self.path, key), "missing required field"))
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn object(&self, key: &str, path: &'a str) -> Result<Obj<'a>, StatsError> {
        match self.required(key)? {
            Value::Object(map) => Ok(Obj { map, path }),
            other => Err(StatsError::invalid(
                path,
                format!("must be an object, got {}", type_name(other)),
            )),
        }
    }

    pub fn string(&self, key: &str) -> Result<&'a str, StatsError> {
        let value = self.required(key)?;
        value.as_str().ok_or_else(|| {
            StatsError::invalid(
                join(self.path, key),
                format!("must be a string, got {}", type_name(value)),
            )
        })
    }

    pub fn opt_string(&self, key: &str, default: &'a str) -> Result<&'a str, StatsError> {
        if self.has(key) {
            self.string(key)
        } else {
            Ok(default)
        }
    }

    pub fn f64(&self, key: &str) -> Result<f64, StatsError> {
        number(self.required(key)?, &join(self.path, key))
    }

    pub fn opt_f64(&self, key: &str, default: f64) -> Result<f64, StatsError> {
        if self.has(key) {
            self.f64(key)
        } else {
            Ok(default)
        }
    }

    pub fn u64(&self, key: &str) -> Result<u64, StatsError> {
        count(self.required(key)?, &join(self.path, key))
    }

    pub fn opt_u64(&self, key: &str, default: u64) -> Result<u64, StatsError> {
        if self.has(key) {
            self.u64(key)
        } else {
            Ok(default)
        }
    }

    pub fn array(&self, key: &str) -> Result<&'a Vec<Value>, StatsError> {
        let value = self.required(key)?;
        value.as_array().ok_or_else(|| {
            StatsError::invalid(
                join(self.path, key),
                format!("must be an array, got {}", type_name(value)),
            )
        })
    }

    pub fn f64_array(&self, key: &str) -> Result<Vec<f64>, StatsError> {
        let path = join(self.path, key);
        let items = self.array(key)?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| number(v, &format!("{path}[{i}]")))
            .collect()
    }

    pub fn u64_array(&self, key: &str) -> Result<Vec<u64>, StatsError> {
        let path = join(self.path, key);
        let items = self.array(key)?;
        items
            .iter()
            .enumerate()
            .map(|(i, v)| count(v, &format!("{path}[{i}]")))
            .collect()
    }

    /// Non-empty array of finite numbers (samples).
    pub fn samples(&self, key: &str) -> Result<Vec<f64>, StatsError> {
        let values = self.f64_array(key)?;
        if values.is_empty() {
            return Err(StatsError::invalid(
                join(self.path, key),
                "is empty; give at least one value",
            ));
        }
        Ok(values)
    }
}

fn number(value: &Value, path: &str) -> Result<f64, StatsError> {
    match value.as_f64() {
        Some(x) if x.is_finite() => Ok(x),
        _ => Err(StatsError::invalid(
            path,
            format!("must be a finite number, got {}", type_name(value)),
        )),
    }
}

pub(crate) fn count(value: &Value, path: &str) -> Result<u64, StatsError> {
    if let Some(n) = value.as_u64() {
        return Ok(n);
    }
    match value.as_f64() {
        Some(x) if x < 0.0 => Err(StatsError::invalid(
            path,
            format!("must be a non-negative count, got {x}"),
        )),
        Some(x) if x.fract() == 0.0 && x <= 9.007_199_254_740_992e15 => Ok(x as u64),
        Some(x) => Err(StatsError::invalid(
            path,
            format!("must be a whole non-negative count, got {x}"),
        )),
        None => Err(StatsError::invalid(
            path,
            format!(
                "must be a non-negative integer count, got {}",
                type_name(value)
            ),
        )),
    }
}
