//! Structs from object schemas: fields, undeclared properties (maps, pattern-keyed values),
//! `allOf` members merged, and the checks on keys.

use super::{
    Additional, Checks, Field, Item, Kind, NodeRef, RustPattern, Scope, Ty, TypeSpace, Value, View,
    field_name, type_name, unboxed,
};

/// Keywords that may evaluate an object's keys besides `properties` and `patternProperties`,
/// as `unevaluatedProperties` counts them.
const EVALUATING: &[&str] = &[
    "oneOf",
    "anyOf",
    "if",
    "then",
    "else",
    "dependentSchemas",
    "$dynamicRef",
];

impl<'a> TypeSpace<'a> {
    pub(super) fn item(&mut self, node: &NodeRef, view: &View<'a>, without: Option<&str>) -> Item {
        let parent = self.defs[self.by_node[&(node.clone(), without.map(str::to_owned))]]
            .name
            .clone();
        let object = self.object(node).cloned().unwrap_or_default();
        let strings = |values: &[Value]| {
            let mut scope = Scope::new();
            values
                .iter()
                .filter_map(Value::as_str)
                .map(|json| (scope.claim(type_name(json, "Empty")), json.to_owned()))
                .collect()
        };
        match self.kind(&object) {
            Kind::Const => {
                let value = object.get("const").cloned().unwrap_or_default();
                return Item::Enum {
                    variants: strings(&[value]),
                };
            }
            Kind::Enum => {
                let values = object.get("enum").and_then(Value::as_array).cloned();
                return Item::Enum {
                    variants: strings(&values.unwrap_or_default()),
                };
            }
            Kind::Choice(_) => return self.choice_item(node, &parent),
            _ => {}
        }
        // Properties from the node and, merged in order, from every `allOf` member.
        let mut sources = Vec::new();
        self.collect_members(node, &mut sources, 0);
        let mut required: Vec<String> = Vec::new();
        let mut properties: Vec<(String, NodeRef)> = Vec::new();
        let mut closed = false;
        for member in &sources {
            let member_view = View::resolve(self.store, member);
            if let Some((Value::Array(names), _)) = member_view.get("required") {
                required.extend(names.iter().filter_map(Value::as_str).map(str::to_owned));
            }
            if let Some((Value::Object(props), at)) = member_view.get("properties") {
                for json in props.keys() {
                    if properties.iter().all(|(name, _)| name != json) {
                        properties.push((json.clone(), Self::child(&at, &[json])));
                    }
                }
            }
        }
        // `unevaluatedProperties: false` closes the struct only where nothing else may evaluate
        // a key: no applicator, no `$ref` beside it, no member whose own `additionalProperties`
        // or `unevaluatedProperties` allows keys (the schema check refuses what it must).
        let allows_keys = |view: &View<'_>, keyword: &str| {
            view.get(keyword)
                .is_some_and(|(v, _)| v != &Value::Bool(false))
        };
        let evaluated_elsewhere = sources.iter().any(|member| {
            let member = View::resolve(self.store, member);
            member.layers.len() > 1
                || EVALUATING.iter().any(|k| member.has(k))
                || allows_keys(&member, "additionalProperties")
                || allows_keys(&member, "unevaluatedProperties")
        });
        let closed_by = ["additionalProperties", "unevaluatedProperties"]
            .into_iter()
            .filter(|k| *k == "additionalProperties" || !evaluated_elsewhere)
            .find(|k| view.get(k).is_some_and(|(v, _)| v == &Value::Bool(false)));
        closed |= closed_by.is_some();
        // Keys matching a `patternProperties` pattern (of the node or an `allOf` member) are
        // allowed even then.
        let patterns = sources.iter().any(|member| {
            View::resolve(self.store, member)
                .get("patternProperties")
                .is_some_and(|(v, _)| v.as_object().is_some_and(|p| !p.is_empty()))
        });
        closed &= !patterns;
        let mut scope = Scope::new();
        let mut fields = Vec::new();
        for (json, at) in properties {
            if Some(json.as_str()) == without {
                continue;
            }
            let ty = self.ty(&at, &format!("{parent}_{json}"));
            let field_view = View::resolve(self.store, &at);
            let text = |k: &str| {
                field_view
                    .get(k)
                    .and_then(|(v, _)| v.as_str().map(str::to_owned))
            };
            fields.push(Field {
                rust: scope.claim(field_name(&json)),
                required: required.contains(&json),
                json,
                ty,
                doc: text("description").or_else(|| text("title")),
                default: field_view.get("default").map(|(v, _)| v.clone()),
                deprecated: field_view.get("deprecated").map(|(v, _)| v)
                    == Some(&Value::Bool(true)),
            });
        }
        // A closed struct has no map of undeclared keys, so nothing for key checks to check.
        let additional = (!closed).then(|| {
            let ty = self.extra_values(view, &format!("{parent}Value"));
            let checks = Checks {
                key_patterns: match closed_by {
                    Some(closed_by) if patterns => self.key_patterns(&sources, closed_by),
                    _ => Vec::new(),
                },
                property_names: self.property_name_checks(node),
                ..Checks::default()
            };
            Additional {
                rust: scope.claim("additional_properties".to_owned()),
                ty,
                checks: Box::new(checks),
            }
        });
        Item::Struct {
            fields,
            closed,
            additional,
        }
    }

    /// The type of the values of undeclared properties: `additionalProperties`' schema, or the one
    /// `patternProperties` schema when no other key is allowed; any JSON when values may differ.
    pub(super) fn extra_values(&mut self, view: &View<'a>, hint: &str) -> Ty {
        let patterns: Vec<NodeRef> = match view.get("patternProperties") {
            Some((Value::Object(patterns), at)) => patterns
                .keys()
                .map(|pattern| Self::child(&at, &[pattern]))
                .collect(),
            _ => Vec::new(),
        };
        match (view.get("additionalProperties"), patterns.as_slice()) {
            (Some((Value::Object(_), at)), []) => unboxed(self.ty(&at, hint)),
            (Some((Value::Bool(false), _)), [only]) => unboxed(self.ty(only, hint)),
            _ => Ty::Json,
        }
    }

    /// The `patternProperties` patterns of an object (the node and its `allOf` members) closed
    /// by `closed_by`, which every undeclared key must match. Empty where that could refuse a
    /// key the schema allows: a `$ref` beside keywords (the declared properties are read from
    /// one layer), keywords that may evaluate a key under `unevaluatedProperties`, or a pattern
    /// the Rust regex crate cannot compile.
    pub(super) fn key_patterns(
        &mut self,
        members: &[NodeRef],
        closed_by: &str,
    ) -> Vec<RustPattern> {
        let views: Vec<View<'a>> = members
            .iter()
            .map(|member| View::resolve(self.store, member))
            .collect();
        let only_keys_of_patterns = views.iter().all(|view| {
            view.layers.len() <= 1
                && (closed_by == "additionalProperties"
                    || !EVALUATING.iter().any(|k| view.has(k))
                        && view
                            .get("additionalProperties")
                            .is_none_or(|(v, _)| v == &Value::Bool(false)))
        });
        if !only_keys_of_patterns {
            return Vec::new();
        }
        // A pattern the Rust regex crate cannot compile leaves the keys to the schema check.
        views
            .iter()
            .filter_map(|view| match view.get("patternProperties") {
                Some((Value::Object(patterns), _)) => Some(patterns.keys()),
                _ => None,
            })
            .flatten()
            .map(|pattern| RustPattern::translate(pattern).ok())
            .collect::<Option<Vec<_>>>()
            .unwrap_or_default()
    }

    /// What decoding checks of `propertyNames` at `node`: the lengths, pattern and allowed values
    /// every key must have (through a `$ref`). `None` when it has none of these.
    pub(super) fn property_name_checks(&mut self, node: &NodeRef) -> Option<Box<Checks>> {
        let (_, at) = View::resolve(self.store, node).get("propertyNames")?;
        let target = self.store.follow(&at).unwrap_or(at);
        let Some(Value::Object(object)) = self.store.document(target.doc).get(&target.pointer)
        else {
            return None;
        };
        let mut checks = match self.checked(&target, object, Ty::String) {
            Ty::Checked(_, checks) => *checks,
            _ => Checks::default(),
        };
        checks.one_of_values = match (object.get("enum"), object.get("const")) {
            (Some(Value::Array(values)), _) => values.iter().map(Value::to_string).collect(),
            (None, Some(value)) => vec![value.to_string()],
            _ => Vec::new(),
        };
        (!checks.is_empty()).then(|| Box::new(checks))
    }

    /// The node and its `allOf` members, depth first, through `$ref`.
    pub(super) fn collect_members(&self, node: &NodeRef, into: &mut Vec<NodeRef>, depth: usize) {
        if depth > 32 || into.contains(node) {
            return;
        }
        into.push(node.clone());
        let view = View::resolve(self.store, node);
        for (value, at) in view.get_all("allOf") {
            if let Value::Array(members) = value {
                for i in 0..members.len() {
                    let member = Self::child(&at, &[&i.to_string()]);
                    let member = self.store.follow(&member).unwrap_or(member);
                    self.collect_members(&member, into, depth + 1);
                }
            }
        }
    }
}
