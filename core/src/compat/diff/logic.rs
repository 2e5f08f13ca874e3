//! Schema logic: `not`, `if`/`then`/`else` and the combinators `allOf`, `anyOf` and `oneOf`, with
//! subschemas matched across the two sides.

use super::{Differ, HashMap, Store, Trial};
use crate::compat::kind::ChangeKind as K;
use crate::schema::store::NodeRef;
use crate::schema::view::View;
use serde_json::Value;
use std::collections::BTreeSet;

impl<'a> Differ<'a> {
    pub(super) fn negation(&mut self, old: &View<'a>, new: &View<'a>) {
        match (old.get("not"), new.get("not")) {
            (Some((_, x)), Some((_, y))) => {
                let (x, y) = (self.resolve(true, &x), self.resolve(false, &y));
                self.flipped = !self.flipped;
                self.compare(&x, &y);
                self.flipped = !self.flipped;
            }
            (None, Some((_, y))) => self.push(K::NotAdded, old.at.clone(), y, ""),
            (Some((_, x)), None) => self.push(K::NotRemoved, x, new.at.clone(), ""),
            (None, None) => {}
        }
    }

    pub(super) fn conditional(&mut self, old: &View<'a>, new: &View<'a>) {
        let branches = |view: &View<'a>, side_old: bool| {
            ["then", "else"].iter().any(|k| {
                view.get(k)
                    .is_some_and(|(_, at)| !self.resolve(side_old, &at).is_empty())
            })
        };
        // By meaning: a branch added keeps every old document when the old schema already
        // meets it (whatever the condition); a branch removed lets in nothing new when the new
        // schema meets it.
        match (old.get("if"), new.get("if")) {
            (None, Some((_, y))) if branches(new, false) => {
                let backward = self.branches_take(new, false, old);
                self.push_computed(K::ConditionAdded, old.at.clone(), y, backward, true);
            }
            (Some((_, x)), None) if branches(old, true) => {
                let forward = self.branches_take(old, true, new);
                self.push_computed(K::ConditionRemoved, x, new.at.clone(), true, forward);
            }
            (Some((_, x)), Some((_, y))) => {
                let (cx, cy) = (self.resolve(true, &x), self.resolve(false, &y));
                let trial = self.trial(&cx, &cy);
                if !(trial.backward && trial.forward) {
                    // Another condition: still harmless when the branches hold for every
                    // document of the other side anyway.
                    let backward = self.branches_take(new, false, old);
                    let forward = self.branches_take(old, true, new);
                    self.push_computed(K::ConditionChanged, x, y, backward, forward);
                    return;
                }
                for (keyword, added, removed) in [
                    ("then", K::ThenAdded, K::ThenRemoved),
                    ("else", K::ElseAdded, K::ElseRemoved),
                ] {
                    match (old.get(keyword), new.get(keyword)) {
                        (Some((_, a)), Some((_, b))) => {
                            let (a, b) = (self.resolve(true, &a), self.resolve(false, &b));
                            self.compare(&a, &b);
                        }
                        (None, Some((_, b))) => {
                            let branch = self.resolve(false, &b);
                            if !branch.is_empty() {
                                let backward = self.trial(old, &branch).backward;
                                self.push_computed(added, old.at.clone(), b, backward, true);
                            }
                        }
                        (Some((_, a)), None) => {
                            let branch = self.resolve(true, &a);
                            if !branch.is_empty() {
                                let forward = self.trial(&branch, new).forward;
                                self.push_computed(removed, a, new.at.clone(), true, forward);
                            }
                        }
                        (None, None) => {}
                    }
                }
            }
            _ => {}
        }
    }

    /// Whether every document of `other` (the other side's whole schema) meets each branch
    /// (`then`, `else`) that `view` (on side `side_old`) has.
    fn branches_take(&self, view: &View<'a>, side_old: bool, other: &View<'a>) -> bool {
        ["then", "else"].iter().all(|keyword| {
            let Some((_, at)) = view.get(keyword) else {
                return true;
            };
            let branch = self.resolve(side_old, &at);
            if side_old {
                self.trial(&branch, other).forward
            } else {
                self.trial(other, &branch).backward
            }
        })
    }

    /// A change whose verdicts the caller worked out.
    fn push_computed(
        &mut self,
        kind: K,
        old: NodeRef,
        new: NodeRef,
        backward: bool,
        forward: bool,
    ) {
        let trial = Trial {
            backward,
            forward,
            changes: 1,
            exception: false,
        };
        self.push_trial(kind, old, new, "", trial);
    }

    /// `allOf`/`anyOf`/`oneOf`. Returns true when the whole comparison was done here (a plain
    /// schema compared with a combination of alternatives).
    pub(super) fn combinators(&mut self, old: &View<'a>, new: &View<'a>) -> bool {
        let a = combinators_of(old);
        let b = combinators_of(new);
        let find = |list: &[(String, NodeRef, usize)], k: &str| {
            list.iter().find(|(x, _, _)| x == k).cloned()
        };
        // The same keyword on both sides: match its subschemas.
        for (k, la, na) in &a {
            if let Some((_, lb, nb)) = find(&b, k) {
                let xs = self.subschemas(true, la, *na);
                let ys = self.subschemas(false, &lb, nb);
                if k == "allOf" {
                    // `unevaluatedProperties` beside `allOf` also closes its members.
                    for (side, view, members) in [(true, old, &xs), (false, new, &ys)] {
                        if view.has("unevaluatedProperties") {
                            let allowance = self.additional_allowance(view, side);
                            for member in members.iter() {
                                self.inherited
                                    .insert((side, member.at.clone()), allowance.clone());
                            }
                        }
                    }
                }
                self.match_subschemas(&xs, &ys, k == "allOf", k == "oneOf");
            }
        }
        let only_old: Vec<_> = a
            .iter()
            .filter(|(k, _, _)| find(&b, k).is_none())
            .cloned()
            .collect();
        let only_new: Vec<_> = b
            .iter()
            .filter(|(k, _, _)| find(&a, k).is_none())
            .cloned()
            .collect();
        match (only_old.as_slice(), only_new.as_slice()) {
            ([], []) => false,
            ([(ka, la, na)], [(kb, lb, nb)]) => {
                let kind = match (ka.as_str(), kb.as_str()) {
                    (_, "anyOf") => K::CombinedTypeExtended,
                    ("anyOf", _) => K::CombinedTypeNarrowed,
                    _ => K::CombinedTypeChanged,
                };
                self.push(kind, la.clone(), lb.clone(), format!("`{ka}` → `{kb}`"));
                let xs = self.subschemas(true, la, *na);
                let ys = self.subschemas(false, lb, *nb);
                self.match_subschemas(
                    &xs,
                    &ys,
                    ka == "allOf" && kb == "allOf",
                    ka == "oneOf" || kb == "oneOf",
                );
                false
            }
            ([], [(kb, lb, nb)]) if a.is_empty() && kb != "allOf" && only_combinator(new) => {
                // A plain schema became one alternative among several.
                let ys = self.subschemas(false, lb, *nb);
                self.match_subschemas(std::slice::from_ref(old), &ys, false, kb == "oneOf");
                true
            }
            ([(ka, la, na)], []) if b.is_empty() && ka != "allOf" && only_combinator(old) => {
                let xs = self.subschemas(true, la, *na);
                self.match_subschemas(&xs, std::slice::from_ref(new), false, ka == "oneOf");
                true
            }
            _ => {
                // Judged by meaning: an added `anyOf` loses nothing the old schema accepted when
                // one alternative takes all of it (an `allOf`, when every member does); a removed
                // one adds nothing the old schema refused when one alternative took all of the
                // new schema.
                for (kb, lb, nb) in &only_new {
                    let ys = self.subschemas(false, lb, *nb);
                    let takes_old = |y: &View<'a>| self.trial(old, y).backward;
                    // A `oneOf` also refuses a document two members take: it keeps every old
                    // document only when its members cannot overlap.
                    let backward = match kb.as_str() {
                        "allOf" => ys.iter().all(takes_old),
                        "oneOf" => disjoint(&ys) && ys.iter().any(takes_old),
                        _ => ys.iter().any(takes_old),
                    };
                    let trial = Trial {
                        backward,
                        forward: true,
                        changes: 1,
                        exception: false,
                    };
                    self.push_trial(
                        K::CombinatorAdded,
                        old.at.clone(),
                        lb.clone(),
                        format!("`{kb}`"),
                        trial,
                    );
                }
                for (ka, la, na) in &only_old {
                    let xs = self.subschemas(true, la, *na);
                    let took_new = |x: &View<'a>| self.trial(x, new).forward;
                    let forward = match ka.as_str() {
                        "allOf" => xs.iter().all(took_new),
                        "oneOf" => disjoint(&xs) && xs.iter().any(took_new),
                        _ => xs.iter().any(took_new),
                    };
                    let trial = Trial {
                        backward: true,
                        forward,
                        changes: 1,
                        exception: false,
                    };
                    self.push_trial(
                        K::CombinatorRemoved,
                        la.clone(),
                        new.at.clone(),
                        format!("`{ka}`"),
                        trial,
                    );
                }
                false
            }
        }
    }

    /// The members of a combinator. In `anyOf` and `allOf` each counts once: a member written
    /// twice (`anyOf: [A, A, B]`) adds nothing. Not in `oneOf`, where a document matching both
    /// copies matches two members and fails.
    pub(super) fn subschemas(&self, side_old: bool, at: &NodeRef, count: usize) -> Vec<View<'a>> {
        let store = if side_old { self.old } else { self.new };
        let one_of = at.pointer.ends_with("/oneOf");
        let mut seen = std::collections::HashSet::new();
        (0..count)
            .map(|i| NodeRef {
                doc: at.doc,
                pointer: format!("{}/{i}", at.pointer),
            })
            .filter(|node| one_of || seen.insert(store.value(node).map(Value::to_string)))
            .map(|node| self.resolve(side_old, &node))
            .collect()
    }

    /// `view` with its plain alternatives read as a `type` list or an `enum` ([`alternatives`]),
    /// when the other side has no combinator of the same keyword to match them member by member.
    pub(super) fn flatten_alternatives(&self, view: &View<'a>, other: &View<'a>) -> View<'a> {
        let mut flattened = view.clone();
        if alternatives(view).is_some() && !other.has("anyOf") && !other.has("oneOf") {
            flattened.alternatives_flattened = true;
        }
        flattened
    }

    /// `view` with the members of its `allOf` as layers (a conjunction either way), when the
    /// other side has no `allOf` to match them with and every member is a plain schema (no
    /// combinator of its own, not a boolean): `{"allOf": [{"type": "string"}, {"maxLength":
    /// 3}]}` is then compared as `{"type": "string", "maxLength": 3}`.
    pub(super) fn merge_all_of(
        &self,
        side_old: bool,
        view: &View<'a>,
        other: &View<'a>,
    ) -> View<'a> {
        if other.has("allOf") || view.all_of_merged {
            return view.clone();
        }
        let Some((Value::Array(members), at)) = view.get("allOf") else {
            return view.clone();
        };
        let mut merged = view.clone();
        for member in self.subschemas(side_old, &at, members.len()) {
            let plain = member.boolean.is_none()
                && !["allOf", "anyOf", "oneOf"].iter().any(|k| member.has(k));
            if !plain {
                return view.clone();
            }
            merged.layers.extend(member.layers);
        }
        merged.all_of_merged = true;
        merged
    }

    /// The one member of a combinator that is a schema's only assertion, as the schema; the
    /// schema itself otherwise. Annotations beside it (a `description`) are kept out of the
    /// comparison only when the member has its own.
    pub(super) fn unwrap_singleton(
        &self,
        side_old: bool,
        view: &View<'a>,
        other: &View<'a>,
    ) -> View<'a> {
        let theirs = combinators_of(other);
        let mut current = view.clone();
        // A chain of singletons (`anyOf: [{allOf: [X]}]`) unwraps fully; bounded like `$ref`s.
        for _ in 0..8 {
            let combinators = combinators_of(&current);
            let [(keyword, at, 1)] = combinators.as_slice() else {
                return current;
            };
            if theirs.iter().any(|(k, _, _)| k == keyword) {
                return current;
            }
            let alone = current.layers.iter().all(|layer| {
                layer
                    .object
                    .keys()
                    .all(|k| !crate::schema::view::ASSERTIONS.contains(&k.as_str()) || k == keyword)
            });
            if !alone {
                return current;
            }
            let member = self.resolve(
                side_old,
                &NodeRef {
                    doc: at.doc,
                    pointer: format!("{}/0", at.pointer),
                },
            );
            if member.at == current.at {
                return current;
            }
            current = member;
        }
        current
    }

    /// Pairs subschemas across the sides (closest first), compares the pairs, and reports the
    /// rest as added or removed.
    pub(super) fn match_subschemas(
        &mut self,
        xs: &[View<'a>],
        ys: &[View<'a>],
        conjunction: bool,
        one_of: bool,
    ) {
        let (mut used_x, mut used_y) = (vec![false; xs.len()], vec![false; ys.len()]);
        // Subschemas written the same way pair first, without trial comparisons (long
        // alternative lists that barely change would otherwise cost n x m trials).
        let text = |store: &Store, view: &View<'a>| store.value(&view.at).map(|v| v.to_string());
        let mut unchanged: HashMap<String, Vec<usize>> = HashMap::new();
        for (j, y) in ys.iter().enumerate() {
            if let Some(t) = text(self.new, y) {
                unchanged.entry(t).or_default().push(j);
            }
        }
        let mut pairs = Vec::new();
        for (i, x) in xs.iter().enumerate() {
            let Some(candidates) = text(self.old, x).and_then(|t| unchanged.get_mut(&t)) else {
                continue;
            };
            if let Some(j) = candidates.pop() {
                used_x[i] = true;
                used_y[j] = true;
                pairs.push((i, j));
            }
        }
        let mut distances = Vec::new();
        for (i, x) in xs.iter().enumerate().filter(|(i, _)| !used_x[*i]) {
            for (j, y) in ys.iter().enumerate().filter(|(j, _)| !used_y[*j]) {
                let trial = self.trial(x, y);
                let penalty = usize::from(!trial.backward) + usize::from(!trial.forward);
                distances.push((trial.changes + penalty * 1000, i, j));
            }
        }
        distances.sort();
        for (i, j) in pairs {
            self.in_one_of += usize::from(one_of);
            self.compare(&xs[i], &ys[j]);
            self.in_one_of -= usize::from(one_of);
        }
        for (_, i, j) in distances {
            if !used_x[i] && !used_y[j] {
                used_x[i] = true;
                used_y[j] = true;
                self.in_one_of += usize::from(one_of);
                self.compare(&xs[i], &ys[j]);
                self.in_one_of -= usize::from(one_of);
            }
        }
        let anchor_new = ys
            .first()
            .map_or_else(|| xs[0].at.clone(), |y| y.at.clone());
        let anchor_old = xs
            .first()
            .map_or_else(|| ys[0].at.clone(), |x| x.at.clone());
        for (i, x) in xs.iter().enumerate().filter(|(i, _)| !used_x[*i]) {
            let kind = if conjunction {
                K::ConjunctRemoved
            } else {
                K::AlternativeRemoved
            };
            self.push(
                kind,
                x.at.clone(),
                anchor_new.clone(),
                format!("subschema {i}"),
            );
            if one_of && !conjunction {
                // Without this alternative, a document that matched two now matches one.
                if let Some(last) = self.changes.last_mut() {
                    last.confluent_exception = last.backward;
                }
            }
        }
        for (j, y) in ys.iter().enumerate().filter(|(j, _)| !used_y[*j]) {
            let kind = if conjunction {
                K::ConjunctAdded
            } else {
                K::AlternativeAdded
            };
            self.push(
                kind,
                anchor_old.clone(),
                y.at.clone(),
                format!("subschema {j}"),
            );
            if one_of && !conjunction {
                // An old document may now match two alternatives of a `oneOf`; Confluent
                // still calls this compatible.
                if let Some(last) = self.changes.last_mut() {
                    last.confluent_exception = last.backward;
                }
            }
        }
    }
}

/// The combinators a schema uses (`anyOf`, `oneOf`, `allOf`), with their location and number of
/// subschemas. Members of an `allOf` merged into the view, and alternatives that are only types
/// or only values (compared as a `type` list or an `enum`), are not combinators here.
pub(super) fn combinators_of(view: &View<'_>) -> Vec<(String, NodeRef, usize)> {
    let simple = flattened(view).and_then(|_| {
        ["anyOf", "oneOf"]
            .into_iter()
            .find(|k| matches!(view.get(k), Some((Value::Array(list), _)) if list.len() > 1))
    });
    ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter(|k| !(**k == "allOf" && view.all_of_merged) && simple != Some(**k))
        .filter_map(|k| match view.get(k) {
            Some((Value::Array(list), at)) => Some(((*k).to_owned(), at, list.len())),
            _ => None,
        })
        .collect()
}

/// Alternatives that say no more than a `type` list or an `enum` would.
pub(super) enum Alternatives {
    /// `anyOf: [{"type": "string"}, {"type": "integer"}]`: the union of the types.
    Types(BTreeSet<String>),
    /// `anyOf: [{"const": "a"}, {"enum": ["b", "c"]}]`: the union of the values.
    Values(Vec<Value>),
}

/// [`alternatives`] of a view whose comparison reads them as a `type` list or an `enum`.
pub(super) fn flattened(view: &View<'_>) -> Option<Alternatives> {
    view.alternatives_flattened
        .then(|| alternatives(view))
        .flatten()
}

/// The `anyOf` (or a `oneOf` whose members cannot overlap) of a schema that has no `type`,
/// `const` or `enum` of its own, when every member is written inline and says only a type or
/// only values (annotations aside).
pub(super) fn alternatives(view: &View<'_>) -> Option<Alternatives> {
    const ANNOTATIONS: &[&str] = &[
        "title",
        "description",
        "$comment",
        "examples",
        "default",
        "deprecated",
    ];
    if view.has("type") || view.has("const") || view.has("enum") {
        return None;
    }
    let (keyword, members) = ["anyOf", "oneOf"].iter().find_map(|k| match view.get(k) {
        Some((Value::Array(list), _)) if list.len() > 1 => Some((*k, list)),
        _ => None,
    })?;
    let only = |member: &Value, allowed: &[&str]| {
        member.as_object().is_some_and(|object| {
            object
                .keys()
                .all(|k| allowed.contains(&k.as_str()) || ANNOTATIONS.contains(&k.as_str()))
                && object.keys().any(|k| allowed.contains(&k.as_str()))
        })
    };
    if members.iter().all(|m| only(m, &["type"])) {
        let mut types = BTreeSet::new();
        let mut total = 0;
        for member in members {
            let listed: Vec<String> = match &member["type"] {
                Value::String(t) => vec![t.clone()],
                Value::Array(list) => list
                    .iter()
                    .filter_map(|t| t.as_str().map(str::to_owned))
                    .collect(),
                _ => return None,
            };
            total += listed.len();
            types.extend(listed);
        }
        let overlapping =
            types.len() < total || (types.contains("integer") && types.contains("number"));
        if keyword == "oneOf" && overlapping {
            return None;
        }
        return Some(Alternatives::Types(types));
    }
    if members.iter().all(|m| only(m, &["const", "enum"])) {
        let mut values: Vec<Value> = Vec::new();
        for member in members {
            let object = member.as_object()?;
            let listed: Vec<Value> = match (object.get("const"), object.get("enum")) {
                (Some(value), None) => vec![value.clone()],
                (None, Some(Value::Array(list))) => list.clone(),
                _ => return None,
            };
            for value in listed {
                if values.iter().any(|v| super::json_eq(v, &value)) {
                    if keyword == "oneOf" {
                        return None;
                    }
                    continue;
                }
                values.push(value);
            }
        }
        return Some(Alternatives::Values(values));
    }
    None
}

/// Whether the combinator is the schema's only assertion.
pub(super) fn only_combinator(view: &View<'_>) -> bool {
    view.layers.iter().all(|layer| {
        layer.object.keys().all(|k| {
            !crate::schema::view::ASSERTIONS.contains(&k.as_str())
                || matches!(k.as_str(), "anyOf" | "oneOf")
                || (k == "allOf" && view.all_of_merged)
        })
    })
}

/// Whether no document can match two of `members`: each declares `type`s no other shares (an
/// integer is also a number).
fn disjoint(members: &[View<'_>]) -> bool {
    let sets: Vec<Option<BTreeSet<String>>> = members.iter().map(super::types).collect();
    let overlap = |a: &BTreeSet<String>, b: &BTreeSet<String>| {
        a.iter().any(|t| {
            b.contains(t)
                || (t == "integer" && b.contains("number"))
                || (t == "number" && b.contains("integer"))
        })
    };
    sets.iter().enumerate().all(|(i, a)| {
        sets[i + 1..].iter().all(|b| match (a, b) {
            (Some(a), Some(b)) => !overlap(a, b),
            _ => false,
        })
    })
}
