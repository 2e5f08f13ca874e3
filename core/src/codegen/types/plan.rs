//! Planning a type from a schema node: what kind of schema it is, `$ref`s to named types,
//! literals, arrays and the constraint checks that go with a type.

use super::{
    Checks, Format, Item, Map, NodeRef, RustPattern, Ty, TypeDef, TypeSpace, Value, View, docs,
    pointer, type_name,
};

impl<'a> TypeSpace<'a> {
    pub(super) fn object(&self, node: &NodeRef) -> Option<&'a Map<String, Value>> {
        self.store.value(node).and_then(Value::as_object)
    }

    pub(super) fn child(node: &NodeRef, tokens: &[&str]) -> NodeRef {
        let mut pointer = node.pointer.clone();
        for token in tokens {
            pointer = pointer::push(&pointer, token);
        }
        NodeRef {
            doc: node.doc,
            pointer,
        }
    }

    /// A node that is only its `$ref` (up to draft-07 the siblings of `$ref` are ignored).
    pub(super) fn is_pure_ref(&self, node: &NodeRef, object: &Map<String, Value>) -> bool {
        object.contains_key("$ref")
            && (self.ref_overrides_siblings(node)
                || object.keys().all(|k| !TYPE_KEYWORDS.contains(&k.as_str())))
    }

    /// Whether `$ref` replaces its siblings in the draft of `node`'s document.
    fn ref_overrides_siblings(&self, node: &NodeRef) -> bool {
        self.store
            .draft(node.doc)
            .is_some_and(crate::schema::draft::Draft::ref_overrides_siblings)
    }

    pub(super) fn is_object_like(&self, node: &NodeRef) -> bool {
        let Some(object) = self.object(node) else {
            return false;
        };
        if object.contains_key("$ref") && self.is_pure_ref(node, object) {
            return false;
        }
        match self.kind(object) {
            Kind::Object => true,
            Kind::AllOf => self.all_of_objects(node),
            _ => false,
        }
    }

    pub(super) fn kind(&self, object: &Map<String, Value>) -> Kind {
        let types = types_of(object);
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        if object.contains_key("const") {
            return Kind::Const;
        }
        if object.contains_key("enum") {
            return Kind::Enum;
        }
        if non_null.len() > 1 {
            return Kind::Json;
        }
        if let Some(choice) = ["oneOf", "anyOf"]
            .into_iter()
            .find(|k| object.contains_key(*k))
            && non_null.first().is_none_or(|t| *t == "object")
            && !object.contains_key("properties")
        {
            return Kind::Choice(choice);
        }
        if object.contains_key("allOf") && non_null.first().is_none_or(|t| *t == "object") {
            return Kind::AllOf;
        }
        match non_null.first().copied() {
            Some("object") if object.contains_key("properties") => Kind::Object,
            // A closed object without properties is an empty struct, not a map.
            Some("object")
                if object.get("additionalProperties") == Some(&Value::Bool(false))
                    && !has_pattern_properties(object) =>
            {
                Kind::Object
            }
            Some("object") => Kind::Map,
            Some("string") => Kind::String,
            Some("integer") => Kind::Integer,
            Some("number") => Kind::Number,
            Some("boolean") => Kind::Boolean,
            Some("array") => Kind::Array,
            // Without `type`, object and array keywords hold only for objects and arrays: any
            // other value is valid, so the Rust type is a JSON value (the schema checks it).
            Some(_) | None => Kind::Json,
        }
    }

    pub(super) fn ty(&mut self, node: &NodeRef, hint: &str) -> Ty {
        let Some(object) = self.object(node) else {
            return Ty::Json;
        };
        // A reference names a shared type: the target's, with the siblings' constraints.
        if object.contains_key("$ref") {
            let target = match self.store.ref_target(node) {
                Some(Ok(target)) => target.clone(),
                _ => return Ty::Json,
            };
            if self.is_pure_ref(node, object) {
                let name = pointer::tokens(&target.pointer)
                    .and_then(|t| t.last().cloned())
                    .filter(|t| !t.is_empty())
                    .unwrap_or_else(|| hint.to_owned());
                let ty = self.ty(&target, &name);
                return if self.ref_overrides_siblings(node) {
                    ty
                } else {
                    let ty = self.checked(node, object, ty);
                    self.schema_checked(node, ty)
                };
            }
        }
        let nullable = types_of(object).contains(&"null")
            || object
                .get("enum")
                .and_then(Value::as_array)
                .is_some_and(|values| values.contains(&Value::Null));
        let ty = match self.kind(object) {
            Kind::AllOf if !self.all_of_objects(node) => self.all_of_value(node, object, hint),
            Kind::Object | Kind::AllOf => self.named(node, hint, None),
            Kind::Choice(keyword) => self.choice(node, object, keyword, hint),
            Kind::Map => {
                let view = View::resolve(self.store, node);
                Ty::Map(Box::new(self.extra_values(&view, &format!("{hint}Value"))))
            }
            Kind::Enum | Kind::Const => self.literals(node, object, hint),
            Kind::String => match object
                .get("format")
                .and_then(Value::as_str)
                .and_then(Format::from_name)
            {
                Some(format) => Ty::Format(format),
                None => Ty::String,
            },
            Kind::Integer => integer(object),
            Kind::Number => Ty::Number,
            Kind::Boolean => Ty::Bool,
            Kind::Array => self.array(node, object, hint),
            Kind::Json => Ty::Json,
        };
        let ty = match self.checked(node, object, ty) {
            ty @ Ty::Nullable(_) => ty,
            ty if nullable => Ty::Nullable(Box::new(ty)),
            ty => ty,
        };
        self.schema_checked(node, ty)
    }

    /// `ty` checked against the schema at `node` where its type leaves a keyword of the node
    /// unenforced (see `coverage`): the value is encoded again and checked against that
    /// subschema alone. Not around a nullable type, where `null` would skip the check: such a
    /// node is left to the check of the whole payload.
    fn schema_checked(&mut self, node: &NodeRef, ty: Ty) -> Ty {
        if !self.subschema_checks || matches!(ty, Ty::Nullable(_)) {
            return ty;
        }
        let check = match self.schema_checks.get(node) {
            Some(check) => check.clone(),
            None => {
                let check = self.subschema_check(node);
                self.schema_checks.insert(node.clone(), check.clone());
                check
            }
        };
        let Some(check) = check else {
            return ty;
        };
        self.checked_subschemas.insert(node.clone());
        let checks = Checks {
            schema: Some(check),
            ..Checks::default()
        };
        Ty::Checked(Box::new(ty), Box::new(checks))
    }

    /// Whether an `allOf` merges objects (a struct), rather than wrapping one value.
    pub(super) fn all_of_objects(&self, node: &NodeRef) -> bool {
        let mut members = Vec::new();
        self.collect_members(node, &mut members, 0);
        members.iter().any(|member| {
            let view = View::resolve(self.store, member);
            view.has("properties")
                || view.get("type").is_some_and(|(t, _)| {
                    t == "object"
                        || t.as_array()
                            .is_some_and(|a| a.iter().any(|t| t == "object"))
                })
        })
    }

    /// An `allOf` that is not about objects: the type of its one member (a draft-07 way to give
    /// a `$ref` a description), with the node's own constraints; a JSON value for several.
    pub(super) fn all_of_value(
        &mut self,
        node: &NodeRef,
        object: &Map<String, Value>,
        hint: &str,
    ) -> Ty {
        match object.get("allOf") {
            Some(Value::Array(members)) if members.len() == 1 => {
                self.ty(&Self::child(node, &["allOf", "0"]), hint)
            }
            _ => Ty::Json,
        }
    }

    /// `enum` and `const`: a Rust enum when every value is a string, otherwise the values' JSON
    /// type with the allowed values checked.
    pub(super) fn literals(
        &mut self,
        node: &NodeRef,
        object: &Map<String, Value>,
        hint: &str,
    ) -> Ty {
        let values: Vec<&Value> = match (object.get("const"), object.get("enum")) {
            (Some(value), _) => vec![value],
            (None, Some(Value::Array(values))) => values.iter().filter(|v| !v.is_null()).collect(),
            _ => Vec::new(),
        };
        if values.is_empty() {
            // `enum: [null]` (the nullable wrapper adds the `Option`) or an empty enum.
            return Ty::Json;
        }
        if values.iter().all(|v| v.is_string()) {
            return self.named(node, hint, None);
        }
        // Numbers stay `serde_json::Number`, whose spelling survives a round trip: `1.0` is a
        // valid value of `const: 1`.
        let base = if values.iter().all(|v| v.is_boolean()) {
            Ty::Bool
        } else if values.iter().all(|v| v.is_number()) {
            Ty::Number
        } else {
            Ty::Json
        };
        let checks = Checks {
            one_of_values: values.iter().map(|v| v.to_string()).collect(),
            ..Checks::default()
        };
        Ty::Checked(Box::new(base), Box::new(checks))
    }

    pub(super) fn array(&mut self, node: &NodeRef, object: &Map<String, Value>, hint: &str) -> Ty {
        // A closed tuple whose every position is required maps to a Rust tuple; anything looser
        // (a shorter array is valid) stays a vector.
        let (positions, rest) = match (object.get("prefixItems"), object.get("items")) {
            (Some(Value::Array(items)), rest) => (Some(("prefixItems", items)), rest),
            (None, Some(Value::Array(items))) => {
                (Some(("items", items)), object.get("additionalItems"))
            }
            _ => (None, None),
        };
        if let Some((keyword, items)) = positions {
            let closed = rest == Some(&Value::Bool(false));
            let min = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
            if closed && min as usize >= items.len() && !items.is_empty() {
                let tys = (0..items.len())
                    .map(|i| {
                        let at = Self::child(node, &[keyword, &i.to_string()]);
                        self.ty(&at, &format!("{hint}{i}"))
                    })
                    .collect();
                return Ty::Tuple(tys);
            }
            return Ty::Vec(Box::new(Ty::Json));
        }
        match object.get("items") {
            Some(Value::Object(_)) | Some(Value::Bool(true)) => {
                let at = Self::child(node, &["items"]);
                Ty::Vec(Box::new(unboxed(self.ty(&at, &format!("{hint}Item")))))
            }
            _ => Ty::Vec(Box::new(Ty::Json)),
        }
    }

    /// The constraints at `node` wrapped around `ty`.
    pub(super) fn checked(&mut self, node: &NodeRef, object: &Map<String, Value>, ty: Ty) -> Ty {
        let mut checks = Checks::default();
        let number = |k: &str| object.get(k).and_then(Value::as_f64);
        let count = |k: &str| object.get(k).and_then(Value::as_u64);
        let kind = ty.unchecked().clone();
        let base = match &kind {
            Ty::Nullable(inner) => inner.unchecked().clone(),
            other => other.clone(),
        };
        match base {
            Ty::String | Ty::Format(_) => {
                checks.min_length = count("minLength");
                checks.max_length = count("maxLength");
                // A pattern the Rust regex crate cannot compile (look-around, backreferences) is
                // left to the schema check (see `coverage`).
                checks.pattern = object
                    .get("pattern")
                    .and_then(Value::as_str)
                    .and_then(|pattern| RustPattern::translate(pattern).ok());
            }
            Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 | Ty::Number => {
                let draft4_exclusive = |k: &str| object.get(k) == Some(&Value::Bool(true));
                // Both bounds given: the stricter holds.
                checks.minimum = match (number("minimum"), number("exclusiveMinimum")) {
                    (Some(inclusive), Some(exclusive)) if inclusive > exclusive => {
                        Some((inclusive, false))
                    }
                    (_, Some(bound)) => Some((bound, true)),
                    (Some(bound), None) => Some((bound, draft4_exclusive("exclusiveMinimum"))),
                    (None, None) => None,
                };
                checks.maximum = match (number("maximum"), number("exclusiveMaximum")) {
                    (Some(inclusive), Some(exclusive)) if inclusive < exclusive => {
                        Some((inclusive, false))
                    }
                    (_, Some(bound)) => Some((bound, true)),
                    (Some(bound), None) => Some((bound, draft4_exclusive("exclusiveMaximum"))),
                    (None, None) => None,
                };
                checks.multiple_of = number("multipleOf").filter(|f| *f > 0.0);
            }
            Ty::Vec(_) | Ty::Tuple(_) => {
                checks.min_items = count("minItems");
                checks.max_items = count("maxItems");
                checks.unique_items = object.get("uniqueItems") == Some(&Value::Bool(true))
                    && matches!(base, Ty::Vec(_));
                if let Ty::Tuple(items) = &base {
                    // A Rust tuple already has exactly its length.
                    if checks.min_items.is_some_and(|m| m as usize <= items.len()) {
                        checks.min_items = None;
                    }
                    checks.max_items = checks.max_items.filter(|m| (*m as usize) < items.len());
                }
            }
            Ty::Map(_) => {
                checks.min_properties = count("minProperties");
                checks.max_properties = count("maxProperties");
                let closed_by = ["additionalProperties", "unevaluatedProperties"]
                    .into_iter()
                    .find(|k| object.get(*k) == Some(&Value::Bool(false)));
                if let Some(closed_by) = closed_by {
                    checks.key_patterns = self.key_patterns(std::slice::from_ref(node), closed_by);
                }
                checks.property_names = self.property_name_checks(node);
            }
            _ => {}
        }
        if checks.is_empty() {
            return ty;
        }
        match ty {
            // Constraints apply to the value when there is one.
            Ty::Nullable(inner) => Ty::Nullable(Box::new(Ty::Checked(inner, Box::new(checks)))),
            ty => Ty::Checked(Box::new(ty), Box::new(checks)),
        }
    }

    /// The named type of a node: planned once, shared afterwards, boxed where it contains itself.
    /// `without` leaves out a property (a tagged enum's discriminator).
    pub(super) fn named(&mut self, node: &NodeRef, hint: &str, without: Option<String>) -> Ty {
        self.named_as(node, hint, without, None)
    }

    pub(super) fn named_as(
        &mut self,
        node: &NodeRef,
        hint: &str,
        without: Option<String>,
        claimed: Option<String>,
    ) -> Ty {
        let key = (node.clone(), without.clone());
        if let Some(&id) = self.by_node.get(&key) {
            return if self.building.contains(&id) {
                Ty::Boxed(Box::new(Ty::Named(id)))
            } else {
                Ty::Named(id)
            };
        }
        let view = View::resolve(self.store, node);
        let title = view
            .get("title")
            .and_then(|(v, _)| v.as_str().map(str::to_owned))
            .filter(|_| without.is_none());
        let module = self.module_of(node.doc);
        let name = claimed.unwrap_or_else(|| {
            self.scopes[module].claim(type_name(title.as_deref().unwrap_or(hint), "Type"))
        });
        // A title that only repeats the type's name says nothing more.
        let title = title.filter(|t| type_name(t, "") != name);
        let doc = docs(
            title.as_deref(),
            view.get("description").and_then(|(v, _)| v.as_str()),
        );
        let deprecated = (view.get("deprecated").map(|(v, _)| v) == Some(&Value::Bool(true)))
            .then(|| "deprecated in its schema".to_owned());
        let id = self.defs.len();
        self.defs.push(TypeDef {
            name,
            module,
            doc,
            deprecated,
            item: Item::Enum {
                variants: Vec::new(),
            },
        });
        self.by_node.insert(key, id);
        self.building.push(id);
        let item = self.item(node, &view, without.as_deref());
        self.building.pop();
        self.defs[id].item = item;
        Ty::Named(id)
    }
}

/// A collection's item type needs no box of its own: the collection is the indirection.
pub(super) fn unboxed(ty: Ty) -> Ty {
    match ty {
        Ty::Boxed(inner) => *inner,
        // A subschema check around it leaves the Rust type as it is.
        Ty::Checked(inner, checks) => Ty::Checked(Box::new(unboxed(*inner)), checks),
        other => other,
    }
}

/// Keywords that give a `$ref`'s siblings a shape of their own (then the node is not a plain
/// reference).
pub(super) const TYPE_KEYWORDS: &[&str] = &[
    "properties",
    "items",
    "prefixItems",
    "allOf",
    "oneOf",
    "anyOf",
    "enum",
    "const",
];

#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Kind {
    Object,
    AllOf,
    Choice(&'static str),
    Map,
    Enum,
    Const,
    String,
    Integer,
    Number,
    Boolean,
    Array,
    Json,
}

/// Whether keys matching `patternProperties` patterns are allowed beside the declared ones.
pub(super) fn has_pattern_properties(object: &Map<String, Value>) -> bool {
    object
        .get("patternProperties")
        .and_then(Value::as_object)
        .is_some_and(|patterns| !patterns.is_empty())
}

pub(super) fn types_of(object: &Map<String, Value>) -> Vec<&str> {
    match object.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(list)) => list.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A variant name for an untitled alternative, from its shape.
pub(super) fn shape_name(ty: &Ty, defs: &[TypeDef]) -> String {
    match ty {
        Ty::Bool => "Bool".into(),
        Ty::I32 | Ty::I64 | Ty::U32 | Ty::U64 => "Integer".into(),
        Ty::Number => "Number".into(),
        Ty::String => "String".into(),
        Ty::Format(format) => format.type_name().into(),
        Ty::Json => "Value".into(),
        Ty::Vec(_) => "Array".into(),
        Ty::Map(_) => "Map".into(),
        Ty::Tuple(_) => "Tuple".into(),
        Ty::Nullable(inner) | Ty::Boxed(inner) | Ty::Checked(inner, _) => shape_name(inner, defs),
        Ty::Named(id) => defs[*id].name.clone(),
    }
}

/// The integer type that holds every value the bounds allow.
pub(super) fn integer(object: &Map<String, Value>) -> Ty {
    let bound = |a: &str, b: &str| {
        object
            .get(a)
            .and_then(Value::as_f64)
            .or_else(|| object.get(b).and_then(Value::as_f64))
    };
    let min = bound("minimum", "exclusiveMinimum");
    let max = bound("maximum", "exclusiveMaximum");
    match (min, max) {
        (Some(lo), Some(hi)) if lo >= 0.0 && hi <= f64::from(u32::MAX) => Ty::U32,
        (Some(lo), _) if lo >= 0.0 => Ty::U64,
        (Some(lo), Some(hi)) if lo >= f64::from(i32::MIN) && hi <= f64::from(i32::MAX) => Ty::I32,
        _ => Ty::I64,
    }
}
