//! Objects: properties under open, closed and partially open content models, `required`,
//! `additionalProperties`, `patternProperties`, `propertyNames`, counts and dependencies.

use super::{Differ, HashSet, Side, Trial, properties, required};
use crate::compat::kind::ChangeKind as K;
use crate::schema::store::NodeRef;
use crate::schema::view::View;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

impl<'a> Differ<'a> {
    pub(super) fn objects(&mut self, old: &View<'a>, new: &View<'a>) {
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
    pub(super) fn lone_member(
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
    pub(super) fn allowance(&self, view: &View<'a>, side_old: bool, name: &str) -> Allowance<'a> {
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
    pub(super) fn matching_patterns(
        &self,
        view: &View<'a>,
        side_old: bool,
        name: &str,
    ) -> Vec<View<'a>> {
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
    pub(super) fn with_patterns(
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
    pub(super) fn additional_allowance(&self, view: &View<'a>, side_old: bool) -> Allowance<'a> {
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
    pub(super) fn additional(
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

    pub(super) fn pattern_properties(&mut self, old: &View<'a>, new: &View<'a>) {
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
    pub(super) fn optional_schema(
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

    pub(super) fn dependencies(&mut self, old: &View<'a>, new: &View<'a>) {
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
}

#[derive(Clone)]
pub(super) enum Allowance<'a> {
    Forbidden,
    Any,
    Schema(View<'a>),
}

pub(super) fn rest_allowance<'a>(rest: &View<'a>) -> Allowance<'a> {
    match rest.boolean {
        Some(false) => Allowance::Forbidden,
        _ if rest.is_empty() => Allowance::Any,
        _ => Allowance::Schema(rest.clone()),
    }
}
