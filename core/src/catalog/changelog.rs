//! What changed between two consecutive versions of an event, from the compatibility engine: each
//! change with its verdict, and the upcast rule that bridges it for stored events.

use super::text::{Flavor, cell, prose};
use crate::compat::{self, Change, Verdict};
use crate::project::annotations::{Upcast, UpcastRule};
use crate::project::config::Level;
use crate::project::model::EventVersion;
use crate::schema::store::{DocId, NodeRef, Store};
use crate::text::pointer;
use serde::Serialize;
use serde_json::{Value, json};

/// The changes from one version to the next.
#[derive(Debug, Clone, Serialize)]
pub struct Changelog {
    /// The earlier version.
    pub from: u32,
    /// The later version.
    pub to: u32,
    /// Why, from `x-eventsmith.upcast.description`.
    pub why: String,
    /// Every change, in the order the diff met them.
    pub changes: Vec<ChangeEntry>,
    /// Whether stored events of `from` are readable as `to` without an upcast.
    pub backward: bool,
    /// Whether readers of `from` can read `to` events.
    pub forward: bool,
    /// The verdict at the project's level, in words.
    pub verdict: String,
    /// How stored events of `from` become `to`: the rules in words, or the custom upcaster.
    pub upcast: Vec<String>,
}

impl Changelog {
    /// What a page's template sees of it, escaped for `flavor`: `from`, `to`, `why`, `verdict`,
    /// `upcast[]`, `changes[]` (`summary`, `at`, `verdict`, `breaking`, `bridge`).
    pub fn page_data(&self, flavor: Flavor) -> Value {
        json!({
            "from": self.from,
            "to": self.to,
            "why": prose(&self.why, flavor),
            "verdict": self.verdict,
            "upcast": self.upcast.iter().map(|u| cell(u, flavor)).collect::<Vec<_>>(),
            "changes": self.changes.iter().map(|c| json!({
                "summary": cell(&c.summary, flavor),
                "at": cell(&super::fields::inline_code(&c.at), flavor),
                "verdict": c.verdict,
                "breaking": c.breaking,
                "bridge": cell(&c.bridge, flavor),
            })).collect::<Vec<_>>(),
        })
    }
}

/// One change.
#[derive(Debug, Clone, Serialize)]
pub struct ChangeEntry {
    /// The change kind's stable id.
    pub kind: &'static str,
    /// What changed, in words.
    pub summary: String,
    /// The payload path it concerns (`/total`, `/lines/*/sku`), or the shared type's location.
    pub at: String,
    /// Both directions in words: "compatible both ways", "breaks backward" ...
    pub verdict: &'static str,
    /// Whether it breaks the project's level.
    pub breaking: bool,
    /// What bridges it for stored events: an upcast rule, the custom upcaster, or nothing needed.
    pub bridge: String,
}

/// The changelog from `previous` to `next`.
pub fn between(
    store: &Store,
    previous: &EventVersion,
    next: &EventVersion,
    level: Level,
) -> Changelog {
    let root = |doc| NodeRef {
        doc,
        pointer: String::new(),
    };
    let changes = compat::diff(store, &root(previous.schema), store, &root(next.schema));
    let verdict = Verdict::of(&changes);
    let upcast = next.annotations.upcast.as_ref();
    let entries = changes
        .iter()
        .map(|change| entry(store, change, previous.schema, next.schema, upcast, level))
        .collect();
    let at_level = if verdict.passes(level) {
        format!("Compatible at `{}`", level.name())
    } else {
        format!("Breaks `{}`", level.name())
    };
    Changelog {
        from: previous.version,
        to: next.version,
        why: upcast
            .and_then(|u| u.description.clone())
            .unwrap_or_default(),
        changes: entries,
        backward: verdict.backward,
        forward: verdict.forward,
        verdict: at_level,
        upcast: upcast.map(describe_upcast).unwrap_or_default(),
    }
}

fn entry(
    store: &Store,
    change: &Change,
    previous: DocId,
    next: DocId,
    upcast: Option<&Upcast>,
    level: Level,
) -> ChangeEntry {
    // A change to an object's properties is reported on the object; the detail names the
    // property (`property `total``), which is what rules name.
    let id = change.kind.id();
    let about_a_property = ["property-", "optional-property-", "required-property-"]
        .iter()
        .any(|prefix| id.starts_with(prefix))
        || matches!(
            id,
            "required-added" | "required-with-default-added" | "required-removed"
        );
    let named = about_a_property
        .then(|| change.detail.split('`').nth(1))
        .flatten();
    let refine = |path: String| match named {
        Some(name) if !path.ends_with(&format!("/{}", pointer::escape(name))) => {
            let parent = if path == "/" { "" } else { path.as_str() };
            pointer::push(parent, name)
        }
        _ => path,
    };
    let old_path = (change.old.doc == previous).then(|| refine(payload_path(&change.old.pointer)));
    let new_path = (change.new.doc == next).then(|| refine(payload_path(&change.new.pointer)));
    let at = match (&new_path, &old_path) {
        (Some(path), _) | (None, Some(path)) => path.clone(),
        (None, None) => {
            let document = store.document(change.new.doc);
            let file = document
                .path()
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            format!("{file}#{}", change.new.pointer)
        }
    };
    let summary = if change.detail.is_empty() {
        change.kind.summary().to_owned()
    } else {
        format!("{}: {}", change.kind.summary(), change.detail)
    };
    let bridge = if change.backward {
        "none needed".to_owned()
    } else {
        match upcast {
            Some(upcast) if upcast.custom => "the custom upcaster".to_owned(),
            Some(upcast) => {
                let bridging: Vec<String> = upcast
                    .rules
                    .iter()
                    .filter(|rule| bridges(rule, old_path.as_deref(), new_path.as_deref()))
                    .map(describe_rule)
                    .collect();
                if bridging.is_empty() {
                    "the upcast as a whole".to_owned()
                } else {
                    bridging.join("; ")
                }
            }
            None => "nothing: no upcast is declared".to_owned(),
        }
    };
    ChangeEntry {
        kind: change.kind.id(),
        summary,
        at,
        verdict: match (change.backward, change.forward) {
            (true, true) => "compatible both ways",
            (true, false) => "backward compatible, breaks forward",
            (false, true) => "breaks backward, forward compatible",
            (false, false) => "breaks backward and forward",
        },
        breaking: compat::breaks(change, level),
        bridge,
    }
}

/// The payload path of a schema pointer: property names, `*` for array items; keywords that
/// only combine (`allOf/0`) are skipped. `/properties/lines/items/properties/sku/maxLength`
/// is `/lines/*/sku`.
pub fn payload_path(schema_pointer: &str) -> String {
    let tokens = pointer::tokens(schema_pointer).unwrap_or_default();
    let mut path = String::new();
    let mut index = 0;
    while index < tokens.len() {
        match tokens[index].as_str() {
            "properties" | "patternProperties" if index + 1 < tokens.len() => {
                path = pointer::push(&path, &tokens[index + 1]);
                index += 2;
            }
            "items" | "additionalItems" | "contains" => {
                path = pointer::push(&path, "*");
                index += 1;
            }
            "prefixItems" if index + 1 < tokens.len() => {
                path = pointer::push(&path, &tokens[index + 1]);
                index += 2;
            }
            "allOf" | "anyOf" | "oneOf" | "$defs" | "definitions" => index += 2,
            _ => index += 1,
        }
    }
    if path.is_empty() {
        "/".to_owned()
    } else {
        path
    }
}

/// Whether `path` is `field` or inside it.
fn within(path: Option<&str>, field: &str) -> bool {
    path.is_some_and(|path| {
        let path = path.replace("/*", "");
        path == field || path.starts_with(&format!("{field}/"))
    })
}

/// Whether a rule bridges a change at `old` (in the previous version) or `new` (in the next):
/// the change is at or inside a path the rule reads or writes. A change reported on the object
/// holding a field (an added `required`, say) is bridged by a rule on any field of that object.
fn bridges(rule: &UpcastRule, old: Option<&str>, new: Option<&str>) -> bool {
    rule.read().is_some_and(|path| within(old, path.pointer()))
        || rule
            .written()
            .is_some_and(|path| within(new, path.pointer()))
}

/// A rule in words.
pub fn describe_rule(rule: &UpcastRule) -> String {
    let name = |path: &str| format!("`{}`", path.trim_start_matches('/'));
    match rule {
        UpcastRule::Rename { from, to } => {
            format!("rename {} to {}", name(from.pointer()), name(to.pointer()))
        }
        UpcastRule::Move { from, to } => {
            format!("move {} to {}", name(from.pointer()), name(to.pointer()))
        }
        UpcastRule::Default { field, value } => format!(
            "default {} to {}",
            name(field.pointer()),
            super::fields::code(value)
        ),
        UpcastRule::Drop { field } => format!("drop {}", name(field.pointer())),
        UpcastRule::Convert { field, using } => format!(
            "convert {} with {}",
            name(field.pointer()),
            super::fields::inline_code(using)
        ),
    }
}

fn describe_upcast(upcast: &Upcast) -> Vec<String> {
    if upcast.custom {
        vec!["a custom upcaster, written by hand".to_owned()]
    } else {
        upcast.rules.iter().map(describe_rule).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_pointers_become_payload_paths() {
        assert_eq!(payload_path(""), "/");
        assert_eq!(payload_path("/properties/total"), "/total");
        assert_eq!(
            payload_path("/properties/lines/items/properties/sku/maxLength"),
            "/lines/*/sku"
        );
        assert_eq!(payload_path("/allOf/0/properties/a~1b"), "/a~1b");
        assert_eq!(payload_path("/required"), "/");
    }

    #[test]
    fn rules_bridge_changes_on_their_fields() {
        let rename = UpcastRule::Rename {
            from: "total".to_owned().into(),
            to: "total_amount".to_owned().into(),
        };
        assert!(bridges(&rename, Some("/total"), Some("/")));
        assert!(bridges(&rename, Some("/"), Some("/total_amount")));
        assert!(!bridges(&rename, Some("/"), Some("/currency")));
        assert!(!bridges(
            &rename,
            Some("/lines/*/sku"),
            Some("/lines/*/sku")
        ));
        assert_eq!(describe_rule(&rename), "rename `total` to `total_amount`");
    }
}
