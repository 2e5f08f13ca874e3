//! `window-field`: what a window reads of its events (keys, aggregate fields, the time) must be
//! declared by every version of every event read, with a type that fits its use.

use super::fields::{Field, Shape, lookup};
use super::{Checker, at};
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::window::{AggregateKind, ENVELOPE_FIELDS, RECORDED};
use crate::text::similar::closest;
use std::collections::{BTreeMap, BTreeSet};

const SCALARS: &[&str] = &["string", "integer", "number", "boolean"];
const NUMBERS: &[&str] = &["integer", "number"];

/// What a field is read for, which decides the types it may have.
#[derive(Clone, Copy)]
enum Use<'u> {
    Key,
    Aggregate(&'u str),
    Time,
}

impl Use<'_> {
    /// How messages name the field at `path`.
    fn subject(self, path: &str) -> String {
        match self {
            Use::Key => format!("key `{path}`"),
            Use::Aggregate(name) => format!("the field `{path}` of aggregate `{name}`"),
            Use::Time => format!("the time `{path}`"),
        }
    }

    /// How to fix a field missing from some versions.
    fn missing_help(self) -> &'static str {
        match self {
            Use::Key => {
                "a key is a property that every version of every event read declares, or an envelope field: `$stream`, `$aggregate_id`, `$type`, `$correlation_id`"
            }
            Use::Aggregate(_) => {
                "an aggregate reads a property that every version of every event read declares: add it to the versions lacking it, or read another"
            }
            Use::Time => {
                "the time is a `date-time` property of every version of every event read, or `$recorded` (when the store recorded the event)"
            }
        }
    }
}

/// The types a use accepts, as messages say them, and how to fix a field of others.
struct Wanted<'w> {
    what: &'w str,
    help: &'w str,
}

/// One version of an event read, and what it declares at the path looked up.
struct Seen<'e> {
    event: &'e str,
    version: u32,
    field: Field,
}

/// `` `order.placed` v1 ``, `` `order.placed` v1 and v2 ``, `` `order.placed` v1, v2 and v3 ``.
fn versions_of(event: &str, versions: &[u32]) -> String {
    let listed: Vec<String> = versions.iter().map(|v| format!("v{v}")).collect();
    let joined = match listed.as_slice() {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    };
    format!("`{event}` {joined}")
}

/// Versions grouped by what is said of them (the event first), in that order.
fn grouped<K: Ord>(items: impl Iterator<Item = (K, u32)>) -> BTreeMap<K, Vec<u32>> {
    let mut groups: BTreeMap<K, Vec<u32>> = BTreeMap::new();
    for (said, version) in items {
        groups.entry(said).or_default().push(version);
    }
    groups
}

impl<'a> Checker<'a> {
    /// What every version of every event read declares at `path`.
    fn survey(&self, path: &str) -> Vec<Seen<'a>> {
        let mut seen = Vec::new();
        for (event, read) in self.events() {
            for version in &read.versions {
                seen.push(Seen {
                    event,
                    version: version.version,
                    field: lookup(self.project, version.schema, path),
                });
            }
        }
        seen
    }

    /// Reports the versions that lack the field; returns what the others declare (untyped
    /// where their schema does not say).
    fn declared<'s>(
        &mut self,
        usage: Use,
        path: &str,
        seen: &'s [Seen],
        place: &str,
    ) -> Vec<(&'s str, u32, Shape)> {
        let mut found = Vec::new();
        // Per event: what is wrong (a detail, a suggestion) and in which versions.
        let mut lacking = Vec::new();
        for Seen {
            event,
            version,
            field,
        } in seen
        {
            match field {
                Field::Declared { shape, .. } => found.push((*event, *version, shape.clone())),
                Field::Unknown => found.push((*event, *version, Shape::default())),
                Field::Missing {
                    parent,
                    name,
                    names,
                } => {
                    let detail = match parent.as_str() {
                        "" => String::new(),
                        parent => format!(": `{parent}` has no `{name}`"),
                    };
                    let near = closest(name, names.iter().map(String::as_str))
                        .map(|near| format!("did you mean `{near}`? "))
                        .unwrap_or_default();
                    lacking.push(((*event, detail, near), *version));
                }
                Field::NotObject { parent, shape } => {
                    let detail = format!(": `{parent}` is {}, not an object", shape.describe());
                    lacking.push(((*event, detail, String::new()), *version));
                }
            }
        }
        for ((event, detail, near), versions) in grouped(lacking.into_iter()) {
            self.push(
                Diagnostic::new(
                    Rule::WindowField,
                    format!(
                        "{} is not a property of {}{detail}",
                        usage.subject(path),
                        versions_of(event, &versions)
                    ),
                )
                .with_label("not in every event read")
                .with_help(format!("{near}{}", usage.missing_help())),
                place,
            );
        }
        found
    }

    /// Reports the versions where the field is not of the types `fits` accepts (`wanted`
    /// says which); returns whether all are.
    fn typed(
        &mut self,
        usage: Use,
        path: &str,
        found: &[(&str, u32, Shape)],
        fits: impl Fn(&Shape) -> bool,
        wanted: Wanted,
        place: &str,
    ) -> bool {
        let misfits = found
            .iter()
            .filter(|(_, _, shape)| !fits(shape))
            .map(|(event, version, shape)| ((*event, describe_for(usage, shape)), *version));
        let groups = grouped(misfits);
        for ((event, what), versions) in &groups {
            self.push(
                Diagnostic::new(
                    Rule::WindowField,
                    format!(
                        "{} is {what} in {}, not {}",
                        usage.subject(path),
                        versions_of(event, versions),
                        wanted.what
                    ),
                )
                .with_label(format!("not {}", wanted.what))
                .with_help(wanted.help),
                place,
            );
        }
        groups.is_empty()
    }

    /// Reports a field whose versions fit but do not agree on one type.
    fn one_type(
        &mut self,
        usage: Use,
        path: &str,
        found: &[(&str, u32, Shape)],
        help: &str,
        place: &str,
    ) -> bool {
        let types: BTreeSet<_> = found.iter().map(|(_, _, s)| s.types.clone()).collect();
        if types.len() <= 1 {
            return true;
        }
        let listed: Vec<String> = grouped(
            found
                .iter()
                .map(|(event, version, shape)| ((*event, shape.describe()), *version)),
        )
        .into_iter()
        .map(|((event, what), versions)| format!("{what} in {}", versions_of(event, &versions)))
        .collect();
        self.push(
            Diagnostic::new(
                Rule::WindowField,
                format!(
                    "{} is not of one type across the events read: {}",
                    usage.subject(path),
                    listed.join(", ")
                ),
            )
            .with_label("not one type")
            .with_help(help.to_owned()),
            place,
        );
        false
    }

    pub(super) fn check_keys(&mut self) {
        let keys = self.window.annotations.key.clone();
        for (index, key) in keys.iter().enumerate() {
            let place = at(&["key", &index.to_string()]);
            if key.starts_with('$') {
                self.check_envelope_key(key, &place);
                continue;
            }
            let seen = self.survey(key);
            let found = self.declared(Use::Key, key, &seen, &place);
            let scalar = |shape: &Shape| shape.single().is_some_and(|t| SCALARS.contains(&t));
            let wanted = Wanted {
                what: "a string, integer, number or boolean",
                help: "windows are grouped by the key's value: give the property one of these types (and no `null`) in every version of every event read",
            };
            if self.typed(Use::Key, key, &found, scalar, wanted, &place) {
                self.one_type(
                    Use::Key,
                    key,
                    &found,
                    "windows are grouped by the key's value, compared with its type: give the property one type in every version of every event read",
                    &place,
                );
            }
        }
    }

    fn check_envelope_key(&mut self, key: &str, place: &str) {
        if ENVELOPE_FIELDS.iter().any(|(name, _)| *name == key) {
            return;
        }
        let listed: Vec<String> = ENVELOPE_FIELDS
            .iter()
            .map(|(name, what)| format!("`{name}` ({what})"))
            .collect();
        let near = closest(key, ENVELOPE_FIELDS.iter().map(|(name, _)| *name))
            .map(|near| format!("did you mean `{near}`? "))
            .unwrap_or_default();
        let help = format!(
            "{near}the envelope fields a key may read are {}; without `$`, a key names a property of the events",
            listed.join(", ")
        );
        self.push(
            Diagnostic::new(
                Rule::WindowField,
                format!("key `{key}` is not an envelope field"),
            )
            .with_label("no such envelope field")
            .with_help(help),
            place,
        );
    }

    pub(super) fn check_time(&mut self) {
        let from = self.window.annotations.time.from.clone();
        if from == RECORDED {
            return;
        }
        let place = at(&["time", "from"]);
        if from.starts_with('$') {
            let help = match closest(&from, [RECORDED].into_iter()) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!(
                    "write `{RECORDED}` (when the store recorded the event) or the name of a `date-time` property of every event read"
                ),
            };
            self.push(
                Diagnostic::new(
                    Rule::WindowField,
                    format!("the time `{from}` is neither `{RECORDED}` nor a property"),
                )
                .with_label("no such time")
                .with_help(help),
                &place,
            );
            return;
        }
        let seen = self.survey(&from);
        let found = self.declared(Use::Time, &from, &seen, &place);
        self.typed(
            Use::Time,
            &from,
            &found,
            Shape::is_date_time,
            Wanted {
                what: "a `date-time` string",
                help: "an event's time must be a `date-time` string in every version: declare it `\"type\": \"string\", \"format\": \"date-time\"`, or use `$recorded`",
            },
            &place,
        );
    }

    /// Checks the field of each aggregate; returns, per aggregate whose field is declared with
    /// types that fit, the types it takes across the events read.
    /// Returns, per aggregate whose field fits, the types the field takes in the events read,
    /// and the aggregates whose field some event may lack.
    pub(super) fn check_aggregate_fields(
        &mut self,
    ) -> (BTreeMap<String, BTreeSet<String>>, BTreeSet<String>) {
        let mut types = BTreeMap::new();
        let mut sometimes_absent = BTreeSet::new();
        let aggregates = self.window.annotations.aggregates.clone();
        for (name, aggregate) in &aggregates {
            let Some(path) = &aggregate.field else {
                continue;
            };
            let usage = Use::Aggregate(name);
            let place = at(&["aggregates", name, "field"]);
            let seen = self.survey(path);
            let found = self.declared(usage, path, &seen, &place);
            // The runner reads each event at its latest version (older ones upcast): what
            // counts is whether that version always has the field. A field not declared there
            // is reported by `window-field` already.
            let latest = seen.iter().filter(|later| {
                seen.iter()
                    .all(|s| s.event != later.event || s.version <= later.version)
            });
            if latest
                .into_iter()
                .any(|seen| matches!(seen.field, Field::Declared { always: false, .. }))
            {
                sometimes_absent.insert(name.clone());
            }
            let fits = match aggregate.kind {
                AggregateKind::Sum | AggregateKind::Average => self.typed(
                    usage,
                    path,
                    &found,
                    |shape| shape.within(NUMBERS),
                    Wanted {
                        what: "a number",
                        help: "sums and averages add numbers: read a property that is an integer or a number (and not `null`) in every version of every event read",
                    },
                    &place,
                ),
                AggregateKind::Min | AggregateKind::Max => {
                    let comparable = |shape: &Shape| {
                        shape.within(NUMBERS) || shape.single() == Some("string")
                    };
                    let help = "min and max compare numbers with numbers and strings (such as times) with strings: read a property that is one or the other in every version of every event read";
                    self.typed(
                        usage,
                        path,
                        &found,
                        comparable,
                        Wanted {
                            what: "a number or a string",
                            help,
                        },
                        &place,
                    ) && self.one_kind_of_order(usage, path, &found, help, &place)
                }
                AggregateKind::Count | AggregateKind::Distinct | AggregateKind::Custom => true,
            };
            let union: Option<BTreeSet<String>> = found
                .iter()
                .map(|(_, _, shape)| shape.types.clone())
                .try_fold(BTreeSet::new(), |mut all, types| {
                    all.extend(types?);
                    Some(all)
                });
            // Only a field every version declares, with types that fit, types the property.
            let everywhere = found.len() == seen.len();
            if let (true, true, Some(union)) = (fits, everywhere, union) {
                types.insert(name.clone(), union);
            }
        }
        (types, sometimes_absent)
    }

    /// Min and max compare numbers or strings, not one with the other.
    fn one_kind_of_order(
        &mut self,
        usage: Use,
        path: &str,
        found: &[(&str, u32, Shape)],
        help: &str,
        place: &str,
    ) -> bool {
        let numeric = found.iter().filter(|(_, _, s)| s.within(NUMBERS)).count();
        if numeric == 0 || numeric == found.len() {
            return true;
        }
        self.one_type(usage, path, found, help, place)
    }
}

/// What a field is, as a message about `usage` says it.
fn describe_for(usage: Use, shape: &Shape) -> String {
    match (usage, shape.single(), &shape.format) {
        (Use::Time, Some("string"), Some(format)) => format!("a string of format `{format}`"),
        (Use::Time, Some("string"), None) => "a string without a `format`".to_owned(),
        _ => shape.describe(),
    }
}
