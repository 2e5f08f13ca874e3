//! Upcast rules on a JSON payload of version N-1: what the upcaster should produce, for the
//! generated tests' expected values.

use super::{Target, apply};
use crate::project::annotations::{FieldPath, UpcastRule};
use crate::text::pointer;
use serde_json::Value;

/// What declarative `rules` make of `value`; `None` when a rule converts (its result is the
/// user's code).
pub(crate) fn apply_to_value(value: &Value, rules: &[UpcastRule]) -> Option<Value> {
    let mut payload = Payload(value.clone());
    apply(&mut payload, rules).ok()?;
    Some(payload.0)
}

struct Payload(Value);

impl Target for Payload {
    type Field = Value;

    fn take(&mut self, path: &FieldPath) -> Result<Option<Value>, String> {
        Ok(remove(&mut self.0, path.pointer()))
    }

    fn put(&mut self, path: &FieldPath, field: Option<Value>) -> Result<(), String> {
        match field {
            Some(value) => insert(&mut self.0, path.pointer(), value),
            None => {
                if let Some(parent) = pointer::parent(path.pointer()).filter(|p| !p.is_empty())
                    && self.0.pointer(parent).is_none()
                {
                    insert(&mut self.0, parent, Value::Object(serde_json::Map::new()));
                }
            }
        }
        Ok(())
    }

    fn fill(&mut self, path: &FieldPath, value: &Value) -> Result<(), String> {
        if self.0.pointer(path.pointer()).is_none() {
            insert(&mut self.0, path.pointer(), value.clone());
        }
        Ok(())
    }

    fn convert(&mut self, path: &FieldPath, using: &str) -> Result<(), String> {
        Err(format!(
            "`{}` goes through the conversion `{using}`, which is the user's code",
            path.pointer()
        ))
    }
}

fn remove(value: &mut Value, at: &str) -> Option<Value> {
    let (parent, last) = at.rsplit_once('/')?;
    value
        .pointer_mut(parent)?
        .as_object_mut()?
        .shift_remove(&pointer::unescape(last))
}

fn insert(value: &mut Value, at: &str, new: Value) {
    let Some(tokens) = pointer::tokens(at) else {
        return;
    };
    let Some((last, parents)) = tokens.split_last() else {
        return;
    };
    let mut current = value;
    for token in parents {
        let Some(object) = current.as_object_mut() else {
            return;
        };
        current = object
            .entry(token.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
    }
    if let Some(object) = current.as_object_mut() {
        object.insert(last.clone(), new);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::project::annotations::Upcast;
    use serde_json::json;

    fn rules(value: Value) -> Vec<UpcastRule> {
        serde_json::from_value::<Upcast>(json!({ "rules": value }))
            .unwrap()
            .rules
    }

    #[test]
    fn rules_applied_to_payloads_give_the_expected_next_version() {
        let rules = rules(json!([
            {"rename": {"from": "total", "to": "total_amount"}},
            {"default": {"field": "currency", "value": "EUR"}},
            {"move": {"from": "street", "to": "/address/street"}},
            {"move": {"from": "/contact/phone", "to": "phone"}},
            {"drop": {"field": "legacy"}}
        ]));
        let old =
            json!({"total": 10, "street": "Main St 1", "contact": {"phone": "+1"}, "legacy": true});
        assert_eq!(
            apply_to_value(&old, &rules),
            Some(
                json!({"total_amount": 10, "currency": "EUR", "address": {"street": "Main St 1"}, "contact": {}, "phone": "+1"})
            )
        );
        // A value already present is kept; a move of an absent field still creates its object.
        let old = json!({"total": 1, "currency": "USD", "contact": {}});
        assert_eq!(
            apply_to_value(&old, &rules),
            Some(json!({"total_amount": 1, "currency": "USD", "address": {}, "contact": {}}))
        );
        let convert =
            self::rules(json!([{"convert": {"field": "at", "using": "unix_to_rfc3339"}}]));
        assert_eq!(apply_to_value(&json!({"at": 0}), &convert), None);
    }
}
