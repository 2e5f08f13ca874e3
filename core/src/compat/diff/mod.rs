//! The structural diff: walks two schemas side by side, keyword by keyword, following `$ref` on
//! both sides (cycles stop where they close), and records typed changes with both locations.

mod arrays;
mod logic;
mod objects;
mod scalars;

use super::kind::ChangeKind as K;
use crate::schema::store::{NodeRef, Store};
use crate::schema::view::View;
use objects::Allowance;
use objects::rest_allowance;
use serde_json::Value;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::rc::Rc;

/// One change between an old and a new schema.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// What changed.
    pub kind: K,
    /// Where, in the old schema (the keyword, or the schema that lacks it).
    pub old: NodeRef,
    /// Where, in the new schema.
    pub new: NodeRef,
    /// Documents valid under the old schema stay valid under the new one.
    pub backward: bool,
    /// Documents valid under the new schema are valid under the old one.
    pub forward: bool,
    /// The specifics, e.g. "`maxLength` 50 → 20".
    pub detail: String,
    /// The verdict follows Confluent's documented rule where the subset relation is stricter.
    pub confluent_exception: bool,
}

pub(crate) struct Differ<'a> {
    old: &'a Store,
    new: &'a Store,
    pub changes: Vec<Change>,
    visited: HashSet<(NodeRef, NodeRef, bool)>,
    /// Inside an odd number of `not`s: verdicts swap.
    flipped: bool,
    /// Inside a `oneOf` alternative: widening it may make a document match two alternatives.
    in_one_of: usize,
    /// Trial comparisons already made (combinator matching would otherwise repeat them
    /// exponentially in nested combinators), shared with the probes.
    trials: Rc<RefCell<HashMap<(NodeRef, NodeRef), Trial>>>,
    /// `unevaluatedProperties` of a parent, seen by its `allOf` members that set none themselves.
    inherited: HashMap<(bool, NodeRef), Allowance<'a>>,
}

/// What a comparison made without recording it found.
#[derive(Debug, Clone, Copy)]
struct Trial {
    backward: bool,
    forward: bool,
    changes: usize,
    /// Some verdict relies on a Confluent exception (e.g. inside a `oneOf`).
    exception: bool,
}

impl Trial {
    const SAME: Trial = Trial {
        backward: true,
        forward: true,
        changes: 0,
        exception: false,
    };
}

impl<'a> Differ<'a> {
    pub fn new(old: &'a Store, new: &'a Store) -> Self {
        Self {
            old,
            new,
            changes: Vec::new(),
            visited: HashSet::new(),
            flipped: false,
            in_one_of: 0,
            trials: Rc::default(),
            inherited: HashMap::new(),
        }
    }

    fn push(&mut self, kind: K, old: NodeRef, new: NodeRef, detail: impl Into<String>) {
        self.push_verdict(kind, old, new, detail, kind.backward(), kind.forward());
    }

    /// Records a change whose verdict a trial comparison gave.
    fn push_trial(
        &mut self,
        kind: K,
        old: NodeRef,
        new: NodeRef,
        detail: impl Into<String>,
        trial: Trial,
    ) {
        self.push_verdict(kind, old, new, detail, trial.backward, trial.forward);
        if trial.exception {
            if let Some(last) = self.changes.last_mut() {
                last.confluent_exception = true;
            }
        }
    }

    fn push_verdict(
        &mut self,
        kind: K,
        old: NodeRef,
        new: NodeRef,
        detail: impl Into<String>,
        backward: bool,
        forward: bool,
    ) {
        let (backward, forward) = if self.flipped {
            (forward, backward)
        } else {
            (backward, forward)
        };
        self.changes.push(Change {
            kind,
            old,
            new,
            backward,
            forward,
            detail: detail.into(),
            // Confluent judges `oneOf` like `anyOf`; a widened alternative can overlap another.
            confluent_exception: kind.is_confluent_exception()
                || (self.in_one_of > 0 && backward && !forward),
        });
    }

    /// Compares without recording: the verdicts a comparison would give, and how many changes.
    fn trial(&self, old: &View<'a>, new: &View<'a>) -> Trial {
        let key = (old.at.clone(), new.at.clone());
        if let Some(known) = self.trials.borrow().get(&key) {
            return *known;
        }
        // Assume compatibility while this very comparison is under way: a recursive schema
        // reaches it again through its cycle.
        self.trials.borrow_mut().insert(key.clone(), Trial::SAME);
        let mut probe = Differ::new(self.old, self.new);
        probe.trials = Rc::clone(&self.trials);
        probe.inherited = self.inherited.clone();
        probe.compare(old, new);
        let result = Trial {
            backward: probe.changes.iter().all(|c| c.backward),
            forward: probe.changes.iter().all(|c| c.forward),
            changes: probe.changes.len(),
            exception: probe.changes.iter().any(|c| c.confluent_exception),
        };
        self.trials.borrow_mut().insert(key, result);
        result
    }

    pub fn compare(&mut self, old: &View<'a>, new: &View<'a>) {
        // `{"anyOf": [X]}` (or `oneOf`, `allOf`) alone is X: compared as X, unless the other
        // side uses the same combinator, whose members are then matched one by one.
        let (old, new) = (
            &self.unwrap_singleton(true, old, new),
            &self.unwrap_singleton(false, new, old),
        );
        // An `allOf` facing a schema without one is compared as the conjunction it is.
        let (old, new) = (
            &self.merge_all_of(true, old, new),
            &self.merge_all_of(false, new, old),
        );
        let (old, new) = (
            &self.flatten_alternatives(old, new),
            &self.flatten_alternatives(new, old),
        );
        if !self
            .visited
            .insert((old.at.clone(), new.at.clone(), self.flipped))
        {
            return; // a cycle closed, or this pair was already compared
        }
        match (old.boolean, new.boolean) {
            (Some(false), Some(false)) => return,
            (Some(false), _) => {
                self.push(
                    K::SchemaWasFalse,
                    old.at.clone(),
                    new.at.clone(),
                    "was `false`",
                );
                return;
            }
            (_, Some(false)) => {
                self.push(
                    K::SchemaBecameFalse,
                    old.at.clone(),
                    new.at.clone(),
                    "is `false`",
                );
                return;
            }
            _ => {}
        }
        self.annotations(old, new);
        if self.combinators(old, new) {
            return;
        }
        let old_types = types(old);
        let new_types = types(new);
        // Types implied by `enum` on both sides are compared as the values themselves.
        let listed = |view: &View<'a>| {
            view.has("type")
                || matches!(logic::flattened(view), Some(logic::Alternatives::Types(_)))
        };
        if listed(old) || listed(new) {
            self.types(old, new, &old_types, &new_types);
        }
        self.values(old, new);
        let both = |t: &str| allows(&old_types, t) && allows(&new_types, t);
        if both("string") {
            self.strings(old, new);
        }
        if both("number") || both("integer") {
            self.numbers(old, new);
        }
        if both("object") {
            self.objects(old, new);
        }
        if both("array") {
            self.arrays(old, new);
        }
        self.negation(old, new);
        self.conditional(old, new);
    }

    fn resolve(&self, side_old: bool, node: &NodeRef) -> View<'a> {
        View::resolve(if side_old { self.old } else { self.new }, node)
    }
}

/// Which side of the comparison a schema is on.
#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

/// Declared properties across the layers (a name declared twice: the referring object's).
fn properties(view: &View<'_>) -> BTreeMap<String, NodeRef> {
    let mut out = BTreeMap::new();
    for (value, at) in view.get_all("properties") {
        if let Value::Object(map) = value {
            for name in map.keys() {
                out.entry(name.clone()).or_insert_with(|| NodeRef {
                    doc: at.doc,
                    pointer: crate::text::pointer::push(&at.pointer, name),
                });
            }
        }
    }
    out
}

/// Required names across the layers.
fn required(view: &View<'_>) -> BTreeSet<String> {
    view.get_all("required")
        .into_iter()
        .filter_map(|(value, _)| value.as_array())
        .flatten()
        .filter_map(|n| n.as_str().map(str::to_owned))
        .collect()
}

/// The types a schema admits: its `type` (intersected across layers), or the types of its
/// `enum`/`const` values.
pub(super) fn types(view: &View<'_>) -> Option<BTreeSet<String>> {
    let mut declared: Option<BTreeSet<String>> = None;
    for (value, _) in view.get_all("type") {
        let set: BTreeSet<String> = match value {
            Value::String(t) => [t.clone()].into(),
            Value::Array(list) => list
                .iter()
                .filter_map(|t| t.as_str().map(str::to_owned))
                .collect(),
            _ => continue,
        };
        declared = Some(match declared {
            None => set,
            // Both layers apply: keep what each admits (an integer is also a number).
            Some(previous) => {
                let admits = |within: &BTreeSet<String>, t: &str| {
                    within.contains(t) || (t == "integer" && within.contains("number"))
                };
                previous
                    .union(&set)
                    .filter(|t| admits(&previous, t) && admits(&set, t))
                    .cloned()
                    .collect()
            }
        });
    }
    if declared.is_some() {
        return declared;
    }
    // `anyOf: [{"type": "string"}, {"type": "integer"}]` is `type: ["string", "integer"]`.
    if let Some(logic::Alternatives::Types(types)) = logic::flattened(view) {
        return Some(types);
    }
    let values: Vec<Value> = match (view.get("const"), view.get("enum")) {
        (Some((value, _)), _) => vec![value.clone()],
        (None, Some((Value::Array(values), _))) => values.clone(),
        _ => match logic::flattened(view) {
            Some(logic::Alternatives::Values(values)) => values,
            _ => return None,
        },
    };
    Some(
        values
            .into_iter()
            .map(|v| crate::schema::json_type(&v).to_owned())
            .collect(),
    )
}

/// Whether a type set admits values of type `t` (an absent set admits all).
fn allows(types: &Option<BTreeSet<String>>, t: &str) -> bool {
    match types {
        None => true,
        Some(set) => {
            set.contains(t)
                || (t == "integer" && set.contains("number"))
                || (t == "number" && set.contains("integer"))
        }
    }
}

/// Whether every type in `inner` is admitted by `outer` (integer within number).
fn covers(outer: &BTreeSet<String>, inner: &BTreeSet<String>) -> bool {
    inner
        .iter()
        .all(|t| outer.contains(t) || (t == "integer" && outer.contains("number")))
}

fn is_whole(ratio: f64) -> bool {
    ratio >= 1.0 && (ratio - ratio.round()).abs() < 1e-9
}

fn same(a: Option<&Value>, b: Option<&Value>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(x), Some(y)) => json_eq(x, y),
        _ => false,
    }
}

/// JSON equality where 1 and 1.0 are the same number.
pub(crate) fn json_eq(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(p, q)| json_eq(p, q))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_eq(v, w)))
        }
        _ => a == b,
    }
}

fn show_values(values: &[Value]) -> String {
    let shown: Vec<String> = values.iter().take(6).map(Value::to_string).collect();
    let more = if values.len() > 6 { ", …" } else { "" };
    format!("[{}{more}]", shown.join(", "))
}
