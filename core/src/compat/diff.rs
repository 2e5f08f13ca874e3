//! The structural diff: walks two schemas side by side, keyword by keyword, following `$ref` on
//! both sides (cycles stop where they close), and records typed changes with both locations.

use super::kind::ChangeKind as K;
use crate::schema::store::{NodeRef, Store};
use crate::schema::view::View;
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
        if old.has("type") || new.has("type") {
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

    fn annotations(&mut self, old: &View<'a>, new: &View<'a>) {
        const ANNOTATIONS: &[(&str, K)] = &[
            ("$id", K::IdChanged),
            ("title", K::TitleChanged),
            ("description", K::DescriptionChanged),
            ("default", K::DefaultChanged),
            ("examples", K::ExamplesChanged),
            ("deprecated", K::DeprecatedChanged),
            ("readOnly", K::ReadOnlyChanged),
            ("writeOnly", K::WriteOnlyChanged),
            ("contentEncoding", K::ContentChanged),
            ("contentMediaType", K::ContentChanged),
            ("contentSchema", K::ContentChanged),
        ];
        for (keyword, kind) in ANNOTATIONS {
            let a = old.get(keyword).map(|(v, _)| v);
            let b = new.get(keyword).map(|(v, _)| v);
            if !same(a, b) {
                self.push(*kind, old.location(keyword), new.location(keyword), "");
            }
        }
    }

    fn types(
        &mut self,
        old: &View<'a>,
        new: &View<'a>,
        a: &Option<BTreeSet<String>>,
        b: &Option<BTreeSet<String>>,
    ) {
        let (lo, ln) = (old.location("type"), new.location("type"));
        let show = |t: &Option<BTreeSet<String>>| match t {
            None => "any".to_owned(),
            Some(set) => set.iter().cloned().collect::<Vec<_>>().join("|"),
        };
        let detail = format!("type {} → {}", show(a), show(b));
        match (a, b) {
            (None, None) => {}
            (None, Some(_)) => self.push(K::TypeAdded, lo, ln, detail),
            (Some(_), None) => self.push(K::TypeRemoved, lo, ln, detail),
            (Some(o), Some(n)) => match (covers(n, o), covers(o, n)) {
                (true, true) => {}
                (true, false) => self.push(K::TypeExtended, lo, ln, detail),
                (false, true) => self.push(K::TypeNarrowed, lo, ln, detail),
                (false, false) => self.push(K::TypeChanged, lo, ln, detail),
            },
        }
    }

    fn values(&mut self, old: &View<'a>, new: &View<'a>) {
        let read = |view: &View<'a>| -> Option<(Vec<Value>, bool, NodeRef)> {
            if let Some((value, at)) = view.get("const") {
                return Some((vec![value.clone()], true, at));
            }
            match view.get("enum") {
                Some((Value::Array(values), at)) => Some((values.clone(), false, at)),
                _ => None,
            }
        };
        match (read(old), read(new)) {
            (None, None) => {}
            (None, Some((_, is_const, at))) => {
                let kind = if is_const {
                    K::ConstAdded
                } else {
                    K::EnumAdded
                };
                self.push(kind, old.at.clone(), at, "")
            }
            (Some((_, is_const, at)), None) => {
                let kind = if is_const {
                    K::ConstRemoved
                } else {
                    K::EnumRemoved
                };
                self.push(kind, at, new.at.clone(), "")
            }
            (Some((a, a_const, la)), Some((b, b_const, lb))) => {
                let a_in_b = a.iter().all(|x| b.iter().any(|y| json_eq(x, y)));
                let b_in_a = b.iter().all(|y| a.iter().any(|x| json_eq(x, y)));
                let detail = format!("{} → {}", show_values(&a), show_values(&b));
                match (a_in_b, b_in_a) {
                    (true, true) => {}
                    _ if a_const && b_const => self.push(K::ConstChanged, la, lb, detail),
                    (true, false) => self.push(K::EnumExtended, la, lb, detail),
                    (false, true) => self.push(K::EnumNarrowed, la, lb, detail),
                    (false, false) => self.push(K::EnumChanged, la, lb, detail),
                }
            }
        }
    }

    /// A numeric keyword: added, removed, increased or decreased.
    fn bound(&mut self, old: &View<'a>, new: &View<'a>, keyword: &str, kinds: [K; 4]) {
        let lower = keyword.starts_with("min") || keyword == "exclusiveMinimum";
        let (a, lo) = match old.bound(keyword, lower) {
            Some((v, at)) => (Some(v), at),
            None => (None, old.at.clone()),
        };
        let (b, ln) = match new.bound(keyword, lower) {
            Some((v, at)) => (Some(v), at),
            None => (None, new.at.clone()),
        };
        let [added, removed, increased, decreased] = kinds;
        let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
        let detail = format!("`{keyword}` {} → {}", show(a), show(b));
        // An absent lower bound is its default: writing the default out changes nothing, and
        // `minContains: 0` is looser than the absent 1.
        let default = match keyword {
            "minLength" | "minItems" | "minProperties" => Some(0.0),
            "minContains" => Some(1.0),
            _ => None,
        };
        match (a, b, default) {
            (None, Some(y), Some(d)) if y == d => {}
            (Some(x), None, Some(d)) if x == d => {}
            (None, Some(y), Some(d)) if y < d => self.push(decreased, lo, ln, detail),
            (Some(x), None, Some(d)) if x < d => self.push(increased, lo, ln, detail),
            (None, Some(_), _) => self.push(added, lo, ln, detail),
            (Some(_), None, _) => self.push(removed, lo, ln, detail),
            (Some(x), Some(y), _) if y > x => self.push(increased, lo, ln, detail),
            (Some(x), Some(y), _) if y < x => self.push(decreased, lo, ln, detail),
            _ => {}
        }
    }

    fn strings(&mut self, old: &View<'a>, new: &View<'a>) {
        use K::*;
        self.bound(
            old,
            new,
            "maxLength",
            [
                MaxLengthAdded,
                MaxLengthRemoved,
                MaxLengthIncreased,
                MaxLengthDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "minLength",
            [
                MinLengthAdded,
                MinLengthRemoved,
                MinLengthIncreased,
                MinLengthDecreased,
            ],
        );
        self.text(
            old,
            new,
            "pattern",
            [PatternAdded, PatternRemoved, PatternChanged],
        );
        self.text(
            old,
            new,
            "format",
            [FormatAdded, FormatRemoved, FormatChanged],
        );
    }

    fn text(
        &mut self,
        old: &View<'a>,
        new: &View<'a>,
        keyword: &str,
        [added, removed, changed]: [K; 3],
    ) {
        let a = old.get(keyword).map(|(v, _)| v);
        let b = new.get(keyword).map(|(v, _)| v);
        let (lo, ln) = (old.location(keyword), new.location(keyword));
        let show = |v: Option<&Value>| v.map_or("none".to_owned(), |v| v.to_string());
        let detail = format!("`{keyword}` {} → {}", show(a), show(b));
        match (a, b) {
            (None, Some(_)) => self.push(added, lo, ln, detail),
            (Some(_), None) => self.push(removed, lo, ln, detail),
            (Some(x), Some(y)) if x != y => self.push(changed, lo, ln, detail),
            _ => {}
        }
    }

    fn numbers(&mut self, old: &View<'a>, new: &View<'a>) {
        use K::*;
        self.bound(
            old,
            new,
            "minimum",
            [
                MinimumAdded,
                MinimumRemoved,
                MinimumIncreased,
                MinimumDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "maximum",
            [
                MaximumAdded,
                MaximumRemoved,
                MaximumIncreased,
                MaximumDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "exclusiveMinimum",
            [
                ExclusiveMinimumAdded,
                ExclusiveMinimumRemoved,
                ExclusiveMinimumIncreased,
                ExclusiveMinimumDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "exclusiveMaximum",
            [
                ExclusiveMaximumAdded,
                ExclusiveMaximumRemoved,
                ExclusiveMaximumIncreased,
                ExclusiveMaximumDecreased,
            ],
        );
        let a = old
            .get("multipleOf")
            .and_then(|(v, _)| v.as_f64())
            .filter(|v| *v > 0.0);
        let b = new
            .get("multipleOf")
            .and_then(|(v, _)| v.as_f64())
            .filter(|v| *v > 0.0);
        let (lo, ln) = (old.location("multipleOf"), new.location("multipleOf"));
        let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
        let detail = format!("`multipleOf` {} → {}", show(a), show(b));
        match (a, b) {
            (None, Some(_)) => self.push(MultipleOfAdded, lo, ln, detail),
            (Some(_), None) => self.push(MultipleOfRemoved, lo, ln, detail),
            (Some(x), Some(y)) if x != y => {
                let kind = if is_whole(x / y) {
                    MultipleOfReduced
                } else if is_whole(y / x) {
                    MultipleOfExpanded
                } else {
                    MultipleOfChanged
                };
                self.push(kind, lo, ln, detail)
            }
            _ => {}
        }
    }

    fn objects(&mut self, old: &View<'a>, new: &View<'a>) {
        let old_props = properties(old);
        let new_props = properties(new);
        let old_required = required(old);
        let new_required = required(new);
        let names: BTreeSet<&String> = old_props.keys().chain(new_props.keys()).collect();
        let mut encoded_required = HashSet::new();
        for name in names {
            match (old_props.get(name), new_props.get(name)) {
                (Some(a), Some(b)) => {
                    let (a, b) = (self.resolve(true, a), self.resolve(false, b));
                    self.compare(&a, &b);
                }
                (None, Some(b_node)) => {
                    let b = self.with_patterns(self.resolve(false, b_node), new, false, name);
                    let detail = format!("property `{name}`");
                    let now_required = new_required.contains(name) && !old_required.contains(name);
                    match self.allowance(old, true, name) {
                        Allowance::Forbidden if b.boolean == Some(false) => {
                            self.push(
                                K::PropertyWithFalseAddedToClosedContentModel,
                                old.location("properties"),
                                b_node.clone(),
                                detail,
                            );
                        }
                        Allowance::Forbidden => {
                            let kind = match (now_required, b.has("default")) {
                                (true, true) => {
                                    K::RequiredPropertyWithDefaultAddedToClosedContentModel
                                }
                                (true, false) => K::RequiredPropertyAddedToClosedContentModel,
                                (false, _) => K::OptionalPropertyAddedToClosedContentModel,
                            };
                            encoded_required.insert(name.clone());
                            self.push(kind, old.location("properties"), b_node.clone(), detail);
                        }
                        other => self.lone_member(
                            other,
                            &b,
                            Side::New,
                            (old.location("properties"), b_node.clone()),
                            [
                                K::PropertyWithEmptySchemaAddedToOpenContentModel,
                                K::PropertyAddedToOpenContentModel,
                                K::PropertyAddedToPartiallyOpenContentModel,
                            ],
                            detail,
                        ),
                    }
                }
                (Some(a_node), None) => {
                    let a = self.with_patterns(self.resolve(true, a_node), old, true, name);
                    let detail = format!("property `{name}`");
                    match self.allowance(new, false, name) {
                        Allowance::Forbidden => {
                            let kind = if a.boolean == Some(false) {
                                K::PropertyWithFalseRemovedFromClosedContentModel
                            } else {
                                K::PropertyRemovedFromClosedContentModel
                            };
                            self.push(kind, a_node.clone(), new.location("properties"), detail);
                        }
                        other => self.lone_member(
                            other,
                            &a,
                            Side::Old,
                            (a_node.clone(), new.location("properties")),
                            [
                                K::PropertyWithEmptySchemaRemovedFromOpenContentModel,
                                K::PropertyRemovedFromOpenContentModel,
                                K::PropertyRemovedFromPartiallyOpenContentModel,
                            ],
                            detail,
                        ),
                    }
                }
                (None, None) => {}
            }
        }
        for name in new_required.difference(&old_required) {
            if encoded_required.contains(name) {
                continue;
            }
            let with_default = new_props
                .get(name)
                .is_some_and(|node| self.resolve(false, node).has("default"));
            let kind = if with_default {
                K::RequiredWithDefaultAdded
            } else {
                K::RequiredAdded
            };
            self.push(
                kind,
                old.location("required"),
                new.location("required"),
                format!("`{name}`"),
            );
        }
        for name in old_required.difference(&new_required) {
            self.push(
                K::RequiredRemoved,
                old.location("required"),
                new.location("required"),
                format!("`{name}`"),
            );
        }
        self.additional(
            old,
            new,
            &["additionalProperties", "unevaluatedProperties"],
            K::AdditionalPropertiesAllowed,
            K::AdditionalPropertiesForbidden,
        );
        self.pattern_properties(old, new);
        self.optional_schema(
            old,
            new,
            "propertyNames",
            K::PropertyNamesAdded,
            K::PropertyNamesRemoved,
        );
        use K::*;
        self.bound(
            old,
            new,
            "minProperties",
            [
                MinPropertiesAdded,
                MinPropertiesRemoved,
                MinPropertiesIncreased,
                MinPropertiesDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "maxProperties",
            [
                MaxPropertiesAdded,
                MaxPropertiesRemoved,
                MaxPropertiesIncreased,
                MaxPropertiesDecreased,
            ],
        );
        self.dependencies(old, new);
    }

    /// A property or tuple position only one side declares, where the other side allows any value
    /// (open) or a schema (partially open); closed models are the caller's. `kinds` are the
    /// empty-schema, open and partially-open kinds; `at` the old and new locations.
    #[allow(clippy::too_many_arguments)]
    fn lone_member(
        &mut self,
        other_side: Allowance<'a>,
        member: &View<'a>,
        member_side: Side,
        at: (NodeRef, NodeRef),
        [empty, open, partial]: [K; 3],
        detail: String,
    ) {
        let (old_at, new_at) = at;
        match other_side {
            Allowance::Schema(cover) => {
                let trial = match member_side {
                    Side::New => self.trial(&cover, member),
                    Side::Old => self.trial(member, &cover),
                };
                let (old_at, new_at) = match member_side {
                    Side::New => (cover.at.clone(), new_at),
                    Side::Old => (old_at, cover.at.clone()),
                };
                self.push_trial(partial, old_at, new_at, detail, trial);
            }
            _ => {
                let kind = if member.is_empty() { empty } else { open };
                self.push(kind, old_at, new_at, detail);
            }
        }
    }

    /// What `view` allows for a property it does not declare.
    fn allowance(&self, view: &View<'a>, side_old: bool, name: &str) -> Allowance<'a> {
        match self
            .matching_patterns(view, side_old, name)
            .into_iter()
            .next()
        {
            Some(schema) => Allowance::Schema(schema),
            None => self.additional_allowance(view, side_old),
        }
    }

    /// The `patternProperties` schemas whose pattern matches `name`.
    fn matching_patterns(&self, view: &View<'a>, side_old: bool, name: &str) -> Vec<View<'a>> {
        let Some((Value::Object(patterns), at)) = view.get("patternProperties") else {
            return Vec::new();
        };
        patterns
            .keys()
            .filter(|pattern| {
                crate::schema::pattern::ecma_regex(pattern).is_some_and(|re| re.is_match(name))
            })
            .map(|pattern| {
                let node = NodeRef {
                    doc: at.doc,
                    pointer: crate::text::pointer::push(&at.pointer, pattern),
                };
                self.resolve(side_old, &node)
            })
            .collect()
    }

    /// A declared property also meets the `patternProperties` its name matches.
    fn with_patterns(
        &self,
        mut property: View<'a>,
        object: &View<'a>,
        side_old: bool,
        name: &str,
    ) -> View<'a> {
        for pattern in self.matching_patterns(object, side_old, name) {
            if pattern.boolean == Some(false) {
                property.boolean = Some(false);
            }
            property.layers.extend(pattern.layers);
        }
        property
    }

    /// What `additionalProperties` (or `unevaluatedProperties`) allows.
    fn additional_allowance(&self, view: &View<'a>, side_old: bool) -> Allowance<'a> {
        let additional = view
            .get("additionalProperties")
            .or_else(|| view.get("unevaluatedProperties"));
        match additional {
            None => self
                .inherited
                .get(&(side_old, view.at.clone()))
                .cloned()
                .unwrap_or(Allowance::Any),
            Some((Value::Bool(true), _)) => Allowance::Any,
            Some((Value::Bool(false), _)) => Allowance::Forbidden,
            Some((_, node)) => {
                let schema = self.resolve(side_old, &node);
                match schema.boolean {
                    Some(false) => Allowance::Forbidden,
                    _ if schema.is_empty() => Allowance::Any,
                    _ => Allowance::Schema(schema),
                }
            }
        }
    }

    /// `additionalProperties`/`additionalItems`-like keywords: allowed, forbidden, or compared.
    fn additional(
        &mut self,
        old: &View<'a>,
        new: &View<'a>,
        keywords: &[&str],
        allowed: K,
        forbidden: K,
    ) {
        let pick = |view: &View<'a>| keywords.iter().find_map(|k| view.get(k).map(|(_, at)| at));
        let a = pick(old)
            .map(|at| self.resolve(true, &at))
            .unwrap_or_else(|| View::absent(&old.at));
        let b = pick(new)
            .map(|at| self.resolve(false, &at))
            .unwrap_or_else(|| View::absent(&new.at));
        let closed = |v: &View<'a>| v.boolean == Some(false);
        match (closed(&a), closed(&b)) {
            (true, true) => {}
            (true, false) => self.push(allowed, a.at.clone(), b.at.clone(), ""),
            (false, true) => self.push(forbidden, a.at.clone(), b.at.clone(), ""),
            (false, false) => self.compare(&a, &b),
        }
    }

    fn pattern_properties(&mut self, old: &View<'a>, new: &View<'a>) {
        let read = |view: &View<'a>| -> BTreeMap<String, NodeRef> {
            match view.get("patternProperties") {
                Some((Value::Object(map), at)) => map
                    .keys()
                    .map(|k| {
                        (
                            k.clone(),
                            NodeRef {
                                doc: at.doc,
                                pointer: crate::text::pointer::push(&at.pointer, k),
                            },
                        )
                    })
                    .collect(),
                _ => BTreeMap::new(),
            }
        };
        let (a, b) = (read(old), read(new));
        for pattern in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            let detail = format!("pattern `{pattern}`");
            match (a.get(pattern), b.get(pattern)) {
                (Some(x), Some(y)) => {
                    let (x, y) = (self.resolve(true, x), self.resolve(false, y));
                    self.compare(&x, &y);
                }
                (None, Some(y)) => {
                    let added = self.resolve(false, y);
                    let verdict = match self.additional_allowance(old, true) {
                        Allowance::Forbidden => (added.boolean != Some(false)).then_some(Trial {
                            forward: false,
                            changes: 1,
                            ..Trial::SAME
                        }),
                        Allowance::Any => Some(self.trial(&View::absent(&old.at), &added)),
                        Allowance::Schema(cover) => Some(self.trial(&cover, &added)),
                    };
                    if let Some(trial) = verdict.filter(|t| !(t.backward && t.forward)) {
                        self.push_trial(
                            K::PatternPropertyAdded,
                            old.location("patternProperties"),
                            y.clone(),
                            detail,
                            trial,
                        );
                    }
                }
                (Some(x), None) => {
                    let removed = self.resolve(true, x);
                    let verdict = match self.additional_allowance(new, false) {
                        Allowance::Forbidden => (removed.boolean != Some(false)).then_some(Trial {
                            backward: false,
                            changes: 1,
                            ..Trial::SAME
                        }),
                        Allowance::Any => Some(self.trial(&removed, &View::absent(&new.at))),
                        Allowance::Schema(cover) => Some(self.trial(&removed, &cover)),
                    };
                    if let Some(trial) = verdict.filter(|t| !(t.backward && t.forward)) {
                        self.push_trial(
                            K::PatternPropertyRemoved,
                            x.clone(),
                            new.location("patternProperties"),
                            detail,
                            trial,
                        );
                    }
                }
                (None, None) => {}
            }
        }
    }

    /// A keyword holding one subschema that constrains when present (`contains` even when empty:
    /// it still asks for one item).
    fn optional_schema(
        &mut self,
        old: &View<'a>,
        new: &View<'a>,
        keyword: &str,
        added: K,
        removed: K,
    ) {
        match (old.get(keyword), new.get(keyword)) {
            (Some((_, x)), Some((_, y))) => {
                let (x, y) = (self.resolve(true, &x), self.resolve(false, &y));
                self.compare(&x, &y);
            }
            (None, Some((_, y))) => {
                if !self.resolve(false, &y).is_empty() || keyword == "contains" {
                    self.push(added, old.at.clone(), y, "");
                }
            }
            (Some((_, x)), None) => {
                if !self.resolve(true, &x).is_empty() || keyword == "contains" {
                    self.push(removed, x, new.at.clone(), "");
                }
            }
            (None, None) => {}
        }
    }

    fn dependencies(&mut self, old: &View<'a>, new: &View<'a>) {
        let lists = |view: &View<'a>| -> BTreeMap<String, (BTreeSet<String>, NodeRef)> {
            let mut out = BTreeMap::new();
            for keyword in ["dependentRequired", "dependencies"] {
                if let Some((Value::Object(map), at)) = view.get(keyword) {
                    for (key, value) in map {
                        if let Value::Array(names) = value {
                            let names = names
                                .iter()
                                .filter_map(|n| n.as_str().map(str::to_owned))
                                .collect();
                            out.insert(
                                key.clone(),
                                (
                                    names,
                                    NodeRef {
                                        doc: at.doc,
                                        pointer: crate::text::pointer::push(&at.pointer, key),
                                    },
                                ),
                            );
                        }
                    }
                }
            }
            out
        };
        let schemas = |view: &View<'a>| -> BTreeMap<String, NodeRef> {
            let mut out = BTreeMap::new();
            for keyword in ["dependentSchemas", "dependencies"] {
                if let Some((Value::Object(map), at)) = view.get(keyword) {
                    for (key, value) in map {
                        if value.is_object() || value.is_boolean() {
                            out.insert(
                                key.clone(),
                                NodeRef {
                                    doc: at.doc,
                                    pointer: crate::text::pointer::push(&at.pointer, key),
                                },
                            );
                        }
                    }
                }
            }
            out
        };
        let (a, b) = (lists(old), lists(new));
        for key in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            let detail = format!("when `{key}` is present");
            match (a.get(key), b.get(key)) {
                (Some((x, lx)), Some((y, ly))) => {
                    let kind = match (x.is_subset(y), y.is_subset(x)) {
                        (true, true) => continue,
                        (true, false) => K::DependentRequiredExtended,
                        (false, true) => K::DependentRequiredNarrowed,
                        (false, false) => K::DependentRequiredChanged,
                    };
                    self.push(kind, lx.clone(), ly.clone(), detail);
                }
                (None, Some((y, ly))) if !y.is_empty() => self.push(
                    K::DependentRequiredAdded,
                    old.at.clone(),
                    ly.clone(),
                    detail,
                ),
                (Some((x, lx)), None) if !x.is_empty() => self.push(
                    K::DependentRequiredRemoved,
                    lx.clone(),
                    new.at.clone(),
                    detail,
                ),
                _ => {}
            }
        }
        let (a, b) = (schemas(old), schemas(new));
        for key in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
            let detail = format!("when `{key}` is present");
            match (a.get(key), b.get(key)) {
                (Some(x), Some(y)) => {
                    let (x, y) = (self.resolve(true, x), self.resolve(false, y));
                    self.compare(&x, &y);
                }
                (None, Some(y)) => {
                    if !self.resolve(false, y).is_empty() {
                        self.push(K::DependentSchemaAdded, old.at.clone(), y.clone(), detail);
                    }
                }
                (Some(x), None) => {
                    if !self.resolve(true, x).is_empty() {
                        self.push(K::DependentSchemaRemoved, x.clone(), new.at.clone(), detail);
                    }
                }
                (None, None) => {}
            }
        }
    }

    fn arrays(&mut self, old: &View<'a>, new: &View<'a>) {
        use K::*;
        let (a_prefix, a_rest) = self.tuple(old, true);
        let (b_prefix, b_rest) = self.tuple(new, false);
        for index in 0..a_prefix.len().max(b_prefix.len()) {
            let detail = format!("position {index}");
            match (a_prefix.get(index), b_prefix.get(index)) {
                (Some(x), Some(y)) => self.compare(x, y),
                (None, Some(y)) => match rest_allowance(&a_rest) {
                    Allowance::Forbidden => self.push(
                        ItemAddedToClosedContentModel,
                        a_rest.at.clone(),
                        y.at.clone(),
                        detail,
                    ),
                    other => self.lone_member(
                        other,
                        y,
                        Side::New,
                        (a_rest.at.clone(), y.at.clone()),
                        [
                            ItemWithEmptySchemaAddedToOpenContentModel,
                            ItemAddedToOpenContentModel,
                            ItemAddedToPartiallyOpenContentModel,
                        ],
                        detail,
                    ),
                },
                (Some(x), None) => match rest_allowance(&b_rest) {
                    Allowance::Forbidden => self.push(
                        ItemRemovedFromClosedContentModel,
                        x.at.clone(),
                        b_rest.at.clone(),
                        detail,
                    ),
                    other => self.lone_member(
                        other,
                        x,
                        Side::Old,
                        (x.at.clone(), b_rest.at.clone()),
                        [
                            ItemWithEmptySchemaRemovedFromOpenContentModel,
                            ItemRemovedFromOpenContentModel,
                            ItemRemovedFromPartiallyOpenContentModel,
                        ],
                        detail,
                    ),
                },
                (None, None) => {}
            }
        }
        match (a_rest.boolean == Some(false), b_rest.boolean == Some(false)) {
            (true, true) => {}
            (true, false) => self.push(
                AdditionalItemsAllowed,
                a_rest.at.clone(),
                b_rest.at.clone(),
                "",
            ),
            (false, true) => self.push(
                AdditionalItemsForbidden,
                a_rest.at.clone(),
                b_rest.at.clone(),
                "",
            ),
            (false, false) => self.compare(&a_rest, &b_rest),
        }
        self.bound(
            old,
            new,
            "minItems",
            [
                MinItemsAdded,
                MinItemsRemoved,
                MinItemsIncreased,
                MinItemsDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "maxItems",
            [
                MaxItemsAdded,
                MaxItemsRemoved,
                MaxItemsIncreased,
                MaxItemsDecreased,
            ],
        );
        let unique = |view: &View<'a>| {
            view.get("uniqueItems")
                .is_some_and(|(v, _)| v == &Value::Bool(true))
        };
        match (unique(old), unique(new)) {
            (false, true) => self.push(
                UniqueItemsAdded,
                old.location("uniqueItems"),
                new.location("uniqueItems"),
                "",
            ),
            (true, false) => self.push(
                UniqueItemsRemoved,
                old.location("uniqueItems"),
                new.location("uniqueItems"),
                "",
            ),
            _ => {}
        }
        self.optional_schema(old, new, "contains", ContainsAdded, ContainsRemoved);
        if old.has("contains") && new.has("contains") {
            self.bound(
                old,
                new,
                "minContains",
                [
                    MinContainsAdded,
                    MinContainsRemoved,
                    MinContainsIncreased,
                    MinContainsDecreased,
                ],
            );
            self.bound(
                old,
                new,
                "maxContains",
                [
                    MaxContainsAdded,
                    MaxContainsRemoved,
                    MaxContainsIncreased,
                    MaxContainsDecreased,
                ],
            );
        }
    }

    /// Positional item schemas and the schema for the rest (`true` when absent).
    fn tuple(&self, view: &View<'a>, side_old: bool) -> (Vec<View<'a>>, View<'a>) {
        let positional = |at: &NodeRef, count: usize| -> Vec<View<'a>> {
            (0..count)
                .map(|i| {
                    self.resolve(
                        side_old,
                        &NodeRef {
                            doc: at.doc,
                            pointer: format!("{}/{i}", at.pointer),
                        },
                    )
                })
                .collect()
        };
        let rest = |keywords: &[&str]| {
            keywords
                .iter()
                .find_map(|k| view.get(k).map(|(_, at)| self.resolve(side_old, &at)))
                .unwrap_or_else(|| View::absent(&view.at))
        };
        if let Some((Value::Array(items), at)) = view.get("prefixItems") {
            return (
                positional(&at, items.len()),
                rest(&["items", "unevaluatedItems"]),
            );
        }
        if let Some((Value::Array(items), at)) = view.get("items") {
            return (
                positional(&at, items.len()),
                rest(&["additionalItems", "unevaluatedItems"]),
            );
        }
        (Vec::new(), rest(&["items", "unevaluatedItems"]))
    }

    fn negation(&mut self, old: &View<'a>, new: &View<'a>) {
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

    fn conditional(&mut self, old: &View<'a>, new: &View<'a>) {
        let branches = |view: &View<'a>, side_old: bool| {
            ["then", "else"].iter().any(|k| {
                view.get(k)
                    .is_some_and(|(_, at)| !self.resolve(side_old, &at).is_empty())
            })
        };
        match (old.get("if"), new.get("if")) {
            (None, Some((_, y))) if branches(new, false) => {
                self.push(K::ConditionAdded, old.at.clone(), y, "")
            }
            (Some((_, x)), None) if branches(old, true) => {
                self.push(K::ConditionRemoved, x, new.at.clone(), "")
            }
            (Some((_, x)), Some((_, y))) => {
                let (cx, cy) = (self.resolve(true, &x), self.resolve(false, &y));
                let trial = self.trial(&cx, &cy);
                if !(trial.backward && trial.forward) {
                    self.push(K::ConditionChanged, x, y, "");
                    return;
                }
                self.optional_schema(old, new, "then", K::ThenAdded, K::ThenRemoved);
                self.optional_schema(old, new, "else", K::ElseAdded, K::ElseRemoved);
            }
            _ => {}
        }
    }

    /// `allOf`/`anyOf`/`oneOf`. Returns true when the whole comparison was done here (a plain
    /// schema compared with a combination of alternatives).
    fn combinators(&mut self, old: &View<'a>, new: &View<'a>) -> bool {
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
                for (kb, lb, _) in &only_new {
                    self.push(
                        K::CombinatorAdded,
                        old.at.clone(),
                        lb.clone(),
                        format!("`{kb}`"),
                    );
                }
                for (ka, la, _) in &only_old {
                    self.push(
                        K::CombinatorRemoved,
                        la.clone(),
                        new.at.clone(),
                        format!("`{ka}`"),
                    );
                }
                false
            }
        }
    }

    fn subschemas(&self, side_old: bool, at: &NodeRef, count: usize) -> Vec<View<'a>> {
        (0..count)
            .map(|i| {
                self.resolve(
                    side_old,
                    &NodeRef {
                        doc: at.doc,
                        pointer: format!("{}/{i}", at.pointer),
                    },
                )
            })
            .collect()
    }

    /// Pairs subschemas across the sides (closest first), compares the pairs, and reports the
    /// rest as added or removed.
    fn match_subschemas(
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

/// Which side of the comparison a schema is on.
#[derive(Clone, Copy)]
enum Side {
    Old,
    New,
}

#[derive(Clone)]
enum Allowance<'a> {
    Forbidden,
    Any,
    Schema(View<'a>),
}

fn rest_allowance<'a>(rest: &View<'a>) -> Allowance<'a> {
    match rest.boolean {
        Some(false) => Allowance::Forbidden,
        _ if rest.is_empty() => Allowance::Any,
        _ => Allowance::Schema(rest.clone()),
    }
}

/// The combinators a schema uses (`anyOf`, `oneOf`, `allOf`), with their location and number of
/// subschemas.
fn combinators_of(view: &View<'_>) -> Vec<(String, NodeRef, usize)> {
    ["anyOf", "oneOf", "allOf"]
        .iter()
        .filter_map(|k| match view.get(k) {
            Some((Value::Array(list), at)) => Some(((*k).to_owned(), at, list.len())),
            _ => None,
        })
        .collect()
}

/// Whether the combinator is the schema's only assertion.
fn only_combinator(view: &View<'_>) -> bool {
    view.layers.iter().all(|layer| {
        layer.object.keys().all(|k| {
            !crate::schema::view::ASSERTIONS.contains(&k.as_str())
                || matches!(k.as_str(), "anyOf" | "oneOf")
        })
    })
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
fn types(view: &View<'_>) -> Option<BTreeSet<String>> {
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
    let values: Vec<&Value> = match (view.get("const"), view.get("enum")) {
        (Some((value, _)), _) => vec![value],
        (None, Some((Value::Array(values), _))) => values.iter().collect(),
        _ => return None,
    };
    Some(
        values
            .into_iter()
            .map(|v| json_type(v).to_owned())
            .collect(),
    )
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n)
            if n.is_i64() || n.is_u64() || n.as_f64().is_some_and(|f| f.fract() == 0.0) =>
        {
            "integer"
        }
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
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
