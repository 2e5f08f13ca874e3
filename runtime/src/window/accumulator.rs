//! What a window keeps per aggregate while events come in, and the value it reports. Values
//! missing from an event (an optional property absent, or null) leave every aggregate but
//! `count` as it was, as SQL's aggregates skip nulls.

use super::definition::{AggregateSpec, Kind};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::cmp::Ordering;
use std::collections::BTreeSet;

/// One aggregate's running state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Accumulator {
    /// Events counted.
    Count {
        /// How many.
        n: u64,
    },
    /// A sum, kept exact for integers.
    Sum {
        /// The sum of integer values.
        whole: i64,
        /// The sum of the other values.
        real: f64,
        /// Whether a value was not an integer.
        fractional: bool,
    },
    /// The smallest or largest value so far.
    Extreme {
        /// `min` or `max`.
        largest: bool,
        /// The value (none yet: `null`).
        value: Option<Value>,
    },
    /// A mean.
    Average {
        /// The sum of values.
        sum: f64,
        /// How many values.
        n: u64,
    },
    /// The distinct values, as canonical JSON.
    Distinct {
        /// The values seen.
        seen: BTreeSet<String>,
    },
    /// A rules-defined value (none yet: `null`).
    Custom {
        /// The value so far.
        value: Option<Value>,
    },
}

impl Accumulator {
    /// The empty state of `spec`.
    pub fn empty(spec: &AggregateSpec) -> Self {
        match spec.kind {
            Kind::Count => Accumulator::Count { n: 0 },
            Kind::Sum => Accumulator::Sum {
                whole: 0,
                real: 0.0,
                fractional: false,
            },
            Kind::Min | Kind::Max => Accumulator::Extreme {
                largest: spec.kind == Kind::Max,
                value: None,
            },
            Kind::Average => Accumulator::Average { sum: 0.0, n: 0 },
            Kind::Distinct => Accumulator::Distinct {
                seen: BTreeSet::new(),
            },
            Kind::Custom => Accumulator::Custom { value: None },
        }
    }

    /// Takes one event's value in (`None`: the event lacks it). A custom aggregate's new value
    /// comes from the rules, so it is given as `value`.
    pub fn add(&mut self, value: Option<&Value>) {
        match self {
            Accumulator::Count { n } => *n += 1,
            Accumulator::Custom { value: kept } => *kept = value.cloned(),
            _ => {
                if let Some(value) = value.filter(|v| !v.is_null()) {
                    self.take(value);
                }
            }
        }
    }

    fn take(&mut self, value: &Value) {
        match self {
            Accumulator::Sum {
                whole,
                real,
                fractional,
            } => match value.as_i64() {
                Some(v) if !*fractional => match whole.checked_add(v) {
                    Some(sum) => *whole = sum,
                    None => {
                        *real += *whole as f64 + v as f64;
                        *whole = 0;
                        *fractional = true;
                    }
                },
                _ => {
                    *real += value.as_f64().unwrap_or(0.0);
                    *fractional = true;
                }
            },
            Accumulator::Extreme {
                largest,
                value: kept,
            } => {
                let replace = match kept {
                    None => true,
                    Some(kept) => {
                        let order = compare(value, kept);
                        if *largest {
                            order == Ordering::Greater
                        } else {
                            order == Ordering::Less
                        }
                    }
                };
                if replace {
                    *kept = Some(value.clone());
                }
            }
            Accumulator::Average { sum, n } => {
                *sum += value.as_f64().unwrap_or(0.0);
                *n += 1;
            }
            Accumulator::Distinct { seen } => {
                seen.insert(value.to_string());
            }
            Accumulator::Count { .. } | Accumulator::Custom { .. } => {}
        }
    }

    /// Takes in `other`, the state of a later session merged into this one. A custom
    /// aggregate's merged value comes from the rules and is set afterwards.
    pub fn merge(&mut self, other: &Accumulator) {
        match (self, other) {
            (Accumulator::Count { n }, Accumulator::Count { n: more }) => *n += more,
            (
                Accumulator::Sum {
                    whole,
                    real,
                    fractional,
                },
                Accumulator::Sum {
                    whole: w,
                    real: r,
                    fractional: f,
                },
            ) => {
                match whole.checked_add(*w) {
                    Some(sum) => *whole = sum,
                    None => {
                        *real += *whole as f64 + *w as f64;
                        *whole = 0;
                        *fractional = true;
                    }
                }
                *real += r;
                *fractional |= f;
            }
            (
                this @ Accumulator::Extreme { .. },
                Accumulator::Extreme {
                    value: Some(value), ..
                },
            ) => {
                this.take(value);
            }
            (Accumulator::Average { sum, n }, Accumulator::Average { sum: s, n: more }) => {
                *sum += s;
                *n += more;
            }
            (Accumulator::Distinct { seen }, Accumulator::Distinct { seen: more }) => {
                seen.extend(more.iter().cloned());
            }
            (
                Accumulator::Custom {
                    value: value @ None,
                },
                Accumulator::Custom { value: later },
            ) => {
                value.clone_from(later);
            }
            _ => {}
        }
    }

    /// The value reported: a count, a sum (an integer while every value was one), the extreme
    /// value, the mean (`null` without values), the number of distinct values, or the rules'
    /// value.
    pub fn value(&self, integer: bool) -> Value {
        match self {
            Accumulator::Count { n } => Value::from(*n),
            Accumulator::Sum {
                whole,
                real,
                fractional,
            } => {
                if *fractional || !integer {
                    number(*whole as f64 + real)
                } else {
                    Value::from(*whole)
                }
            }
            Accumulator::Extreme { value, .. } | Accumulator::Custom { value } => {
                value.clone().unwrap_or(Value::Null)
            }
            Accumulator::Average { sum, n } => {
                if *n == 0 {
                    Value::Null
                } else {
                    number(sum / *n as f64)
                }
            }
            Accumulator::Distinct { seen } => Value::from(seen.len()),
        }
    }
}

/// A float as JSON: a whole one as an integer (`35`, not `35.0`), a non-finite one (which JSON
/// lacks) as `null`.
fn number(value: f64) -> Value {
    const EXACT: f64 = 9_007_199_254_740_992.0; // 2^53: integers up to here are exact floats
    if value.fract() == 0.0 && value.abs() < EXACT {
        return Value::from(value as i64);
    }
    serde_json::Number::from_f64(value).map_or(Value::Null, Value::Number)
}

/// Numbers by value, strings by text (RFC 3339 times in UTC sort so); across kinds, by kind.
fn compare(a: &Value, b: &Value) -> Ordering {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_i64(), y.as_i64()) {
            (Some(x), Some(y)) => x.cmp(&y),
            _ => x
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&y.as_f64().unwrap_or(0.0)),
        },
        (Value::String(x), Value::String(y)) => x.cmp(y),
        (Value::Bool(x), Value::Bool(y)) => x.cmp(y),
        _ => rank(a).cmp(&rank(b)),
    }
}

fn rank(value: &Value) -> u8 {
    match value {
        Value::Null => 0,
        Value::Bool(_) => 1,
        Value::Number(_) => 2,
        Value::String(_) => 3,
        Value::Array(_) => 4,
        Value::Object(_) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn spec(kind: Kind) -> AggregateSpec {
        AggregateSpec {
            name: "a".into(),
            kind,
            field: Some("x".into()),
            integer: true,
        }
    }

    #[test]
    fn each_kind_folds_and_merges() {
        let values = [json!(3), json!(1), Value::Null, json!(2)];
        let expect = [
            (Kind::Count, json!(4), json!(8)),
            (Kind::Sum, json!(6), json!(12)),
            (Kind::Min, json!(1), json!(1)),
            (Kind::Max, json!(3), json!(3)),
            (Kind::Average, json!(2), json!(2)),
            (Kind::Distinct, json!(3), json!(3)),
        ];
        for (kind, alone, merged) in expect {
            let mut accumulator = Accumulator::empty(&spec(kind));
            for value in &values {
                accumulator.add(Some(value));
            }
            assert_eq!(accumulator.value(true), alone, "{kind:?}");
            let copy = accumulator.clone();
            accumulator.merge(&copy);
            assert_eq!(accumulator.value(true), merged, "{kind:?} merged");
            let stored: Accumulator =
                serde_json::from_value(serde_json::to_value(&accumulator).unwrap()).unwrap();
            assert_eq!(stored, accumulator);
        }
    }

    #[test]
    fn sums_of_fractions_are_numbers_and_empty_means_are_null() {
        let mut sum = Accumulator::empty(&spec(Kind::Sum));
        sum.add(Some(&json!(10)));
        sum.add(Some(&json!(2.5)));
        assert_eq!(sum.value(false), json!(12.5));
        let average = Accumulator::empty(&spec(Kind::Average));
        assert_eq!(average.value(false), Value::Null);
        let mut earliest = Accumulator::empty(&spec(Kind::Min));
        earliest.add(Some(&json!("2026-01-02T00:00:00Z")));
        earliest.add(Some(&json!("2026-01-01T00:00:00Z")));
        assert_eq!(earliest.value(false), json!("2026-01-01T00:00:00Z"));
    }
}
