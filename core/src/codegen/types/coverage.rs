//! Whether the Rust type planned for a schema enforces every keyword of it. Where it does not (a
//! `oneOf` that must match exactly one alternative, `not`, conditionals, a subschema without a
//! `type`, ...), generated decoding also checks the payload against the bundled schema with the
//! runtime's validator. Conservative: a keyword this walk does not know to be expressed by the
//! type, or checked by generated code, sends the payload to the validator.

use super::plan::{TYPE_KEYWORDS, types_of};
use super::{NodeRef, SchemaCheck, TypeSpace, Value, View};
use crate::schema::draft::Draft;
use crate::schema::keywords::is_keyword;
use crate::schema::pattern::RustPattern;
use crate::text::pointer;
use std::collections::HashSet;

/// A keyword the planned type does not enforce, and where.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unenforced {
    /// The subschema holding it.
    pub at: NodeRef,
    /// The keyword (`false` for a `false` schema).
    pub keyword: String,
}

/// Keywords that assert nothing about an instance.
const ANNOTATIONS: &[&str] = &[
    "$schema",
    "$id",
    "id",
    "$anchor",
    "$dynamicAnchor",
    "$recursiveAnchor",
    "$comment",
    "$defs",
    "definitions",
    "$vocabulary",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "contentMediaType",
    "contentEncoding",
    "contentSchema",
    // Formats assert only where eventsmith maps them to a validated type (`Format`), which is
    // the type's own check; JSON Schema makes the others annotations.
    "format",
];

/// The keywords each JSON type's planned Rust type enforces (besides `type` itself).
fn enforced_for(json_type: &str) -> &'static [&'static str] {
    match json_type {
        "object" => &[
            "properties",
            "required",
            "additionalProperties",
            "minProperties",
            "maxProperties",
        ],
        "array" => &[
            "items",
            "prefixItems",
            "additionalItems",
            "minItems",
            "maxItems",
            "uniqueItems",
        ],
        "string" => &["minLength", "maxLength", "pattern"],
        "integer" | "number" => &[
            "minimum",
            "maximum",
            "exclusiveMinimum",
            "exclusiveMaximum",
            "multipleOf",
        ],
        _ => &[],
    }
}

/// How far a walk looks below the node it starts at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Depth {
    /// Stop at the first unenforced keyword anywhere below.
    First,
    /// Only the node itself: not its properties, items, values, tuple positions or `$ref`
    /// target, which the planner types (and checks) on their own. A `oneOf`/`anyOf` is one
    /// node with its alternatives.
    Local,
    /// Every subschema below that holds an unenforced keyword.
    All,
}

/// The state of one walk.
struct Walk {
    depth: Depth,
    seen: HashSet<NodeRef>,
    all: Vec<Unenforced>,
    /// The `oneOf`/`anyOf` nodes whose alternatives are being walked, outermost first.
    choices: Vec<NodeRef>,
}

impl Walk {
    fn new(depth: Depth) -> Self {
        Self {
            depth,
            seen: HashSet::new(),
            all: Vec::new(),
            choices: Vec::new(),
        }
    }
}

impl TypeSpace<'_> {
    /// The first keyword at `node` or below (through `$ref`s) that decoding into the planned
    /// type does not enforce; `None` when the type enforces the whole schema.
    pub fn unenforced(&self, node: &NodeRef) -> Option<Unenforced> {
        self.unenforced_at(node, &mut Walk::new(Depth::First))
    }

    /// The check of `node`'s value against its subschema, where its planned type leaves a
    /// keyword of the node itself unenforced and the validator compiles the subschema.
    pub(super) fn subschema_check(&self, node: &NodeRef) -> Option<SchemaCheck> {
        let why = self.unenforced_at(node, &mut Walk::new(Depth::Local))?;
        let text = crate::schema::bundle::subschema_text(self.store, node)?;
        crate::schema::bundle::compiles(&text).ok()?;
        Some(SchemaCheck {
            text,
            pointer: keyword_pointer(&why),
            keyword: why.keyword,
        })
    }

    /// Every subschema at `node` or below holding a keyword its planned type does not enforce,
    /// each with the first such keyword.
    pub(super) fn unenforced_everywhere(&self, node: &NodeRef) -> Vec<Unenforced> {
        let mut walk = Walk::new(Depth::All);
        if let Some(found) = self.unenforced_at(node, &mut walk) {
            walk.all.push(found);
        }
        walk.all
    }

    /// Walks into a subschema the planner types on its own.
    fn descend(&self, child: &NodeRef, walk: &mut Walk) -> Option<Unenforced> {
        match walk.depth {
            Depth::First => self.unenforced_at(child, walk),
            Depth::Local => None,
            Depth::All => {
                if let Some(found) = self.unenforced_at(child, walk) {
                    walk.all.push(found);
                }
                None
            }
        }
    }

    fn unenforced_at(&self, node: &NodeRef, walk: &mut Walk) -> Option<Unenforced> {
        if !walk.seen.insert(node.clone()) {
            return None;
        }
        let found = |keyword: &str| unenforced(node, keyword);
        let object = match self.store.value(node) {
            Some(Value::Object(object)) => object,
            Some(Value::Bool(false)) => return found("false"),
            // `true`, or a broken reference (which `validate` reports).
            _ => return None,
        };
        let draft = self.store.draft(node.doc).unwrap_or(Draft::Draft7);
        let asserts = |key: &str| !ANNOTATIONS.contains(&key) && is_keyword(key, draft);
        if object.contains_key("$ref") {
            let overrides = draft.ref_overrides_siblings();
            if !overrides && object.keys().any(|k| k != "$ref" && asserts(k)) {
                return found("$ref");
            }
            let target = self.store.ref_target(node)?.clone().ok()?;
            return self.descend(&target, walk);
        }
        let types = types_of(object);
        let non_null: Vec<&str> = types.iter().copied().filter(|t| *t != "null").collect();
        if object
            .get("type")
            .is_some_and(|t| !t.is_string() && !t.is_array())
            || non_null.len() > 1
            || (types.len() > non_null.len() && non_null.is_empty())
        {
            // A list of types (a JSON value) or `"null"` alone (`Option<Value>`).
            return found("type");
        }
        let json_type = non_null.first().copied();
        // `enum`/`const`: a Rust enum of the strings, or the values' type with a check by value.
        if let Some(values) = literals(object) {
            let fits = |value: &Value| match json_type {
                None => true,
                Some(t) => {
                    crate::schema::json_type(value) == t || (t == "number" && value.is_number())
                }
            };
            if let Some(key) = object
                .keys()
                .find(|k| !["type", "enum", "const"].contains(&k.as_str()) && asserts(k))
            {
                return found(key);
            }
            // The planned type is nullable when `type` or the values allow `null`: both must.
            let null_value = values.iter().any(|v| v.is_null());
            let null_type = types.contains(&"null");
            let nulls_agree = json_type.is_none() || null_value == null_type;
            let non_null: Vec<&&Value> = values.iter().filter(|v| !v.is_null()).collect();
            // `const` beside `enum`: the type reads `const` alone.
            let both = object.contains_key("const") && object.contains_key("enum");
            return if nulls_agree
                && !both
                && !non_null.is_empty()
                && non_null.iter().all(|v| fits(v))
            {
                None
            } else {
                found("enum")
            };
        }
        if let Some(keyword) = ["oneOf", "anyOf"]
            .into_iter()
            .find(|k| object.contains_key(*k))
        {
            return self.choice_unenforced(node, object, keyword, &types, walk);
        }
        let Some(json_type) = json_type else {
            // Without `type` any JSON value is valid unless a keyword says otherwise, while the
            // planned type is a JSON value: every assertion goes to the validator.
            return object.keys().find(|k| asserts(k)).and_then(|k| found(k));
        };
        let enforced = enforced_for(json_type);
        if let Some(key) = object
            .keys()
            .find(|k| *k != "type" && !enforced.contains(&k.as_str()) && asserts(k))
        {
            return found(key);
        }
        match json_type {
            "object" => self.object_unenforced(node, object, walk),
            "array" => {
                if let Some(tuple) = self.tuple_unenforced(node, object, walk) {
                    return tuple;
                }
                let items = object.get("items");
                match items {
                    None | Some(Value::Bool(true)) => {}
                    Some(Value::Object(_)) => {
                        if object.get("uniqueItems") == Some(&Value::Bool(true))
                            && !unique_by_rust_equality(items)
                        {
                            return found("uniqueItems");
                        }
                        let at = TypeSpace::child(node, &["items"]);
                        return self.descend(&at, walk);
                    }
                    // A tuple or `items: false`.
                    Some(_) => return found("items"),
                }
                (object.get("uniqueItems") == Some(&Value::Bool(true)))
                    .then(|| found("uniqueItems"))
                    .flatten()
            }
            "string" => match object.get("pattern").and_then(Value::as_str) {
                Some(pattern) if RustPattern::translate(pattern).is_err() => found("pattern"),
                _ => None,
            },
            _ => None,
        }
    }

    /// A tuple (`prefixItems`, or `items` as a list before 2020-12): `Some` with the verdict
    /// when the array is one. Enforced when it is closed and every position required (a Rust
    /// tuple) and every position is.
    fn tuple_unenforced(
        &self,
        node: &NodeRef,
        object: &serde_json::Map<String, Value>,
        walk: &mut Walk,
    ) -> Option<Option<Unenforced>> {
        let (keyword, positions, rest) = match (object.get("prefixItems"), object.get("items")) {
            (Some(Value::Array(positions)), rest) => ("prefixItems", positions, rest),
            (None, Some(Value::Array(positions))) => {
                ("items", positions, object.get("additionalItems"))
            }
            // No positions: not a tuple (and `additionalItems` is ignored).
            _ => return None,
        };
        let min = object.get("minItems").and_then(Value::as_u64).unwrap_or(0);
        let closed = rest == Some(&Value::Bool(false));
        if !closed
            || positions.is_empty()
            || (min as usize) < positions.len()
            || object.get("uniqueItems") == Some(&Value::Bool(true))
        {
            return Some(unenforced(node, keyword));
        }
        Some((0..positions.len()).find_map(|i| {
            let at = TypeSpace::child(node, &[keyword, &i.to_string()]);
            self.descend(&at, walk)
        }))
    }

    fn object_unenforced(
        &self,
        node: &NodeRef,
        object: &serde_json::Map<String, Value>,
        walk: &mut Walk,
    ) -> Option<Unenforced> {
        let found = |keyword: &str| unenforced(node, keyword);
        let properties = object.get("properties").and_then(Value::as_object);
        let closed = object.get("additionalProperties") == Some(&Value::Bool(false));
        // A struct (declared properties, or closed) checks no property counts; a map checks no
        // required keys.
        let is_struct = properties.is_some() || closed;
        if is_struct
            && let Some(key) = ["minProperties", "maxProperties"]
                .into_iter()
                .find(|k| object.contains_key(*k))
        {
            return found(key);
        }
        if let Some(Value::Array(required)) = object.get("required")
            && required.iter().any(|name| {
                !name
                    .as_str()
                    .is_some_and(|n| properties.is_some_and(|p| p.contains_key(n)))
            })
        {
            return found("required");
        }
        for name in properties.into_iter().flat_map(|p| p.keys()) {
            let at = TypeSpace::child(node, &["properties", name]);
            if let Some(inner) = self.descend(&at, walk) {
                return Some(inner);
            }
        }
        if let Some(Value::Object(_)) = object.get("additionalProperties") {
            let at = TypeSpace::child(node, &["additionalProperties"]);
            return self.descend(&at, walk);
        }
        None
    }

    /// A `oneOf`/`anyOf`: enforced when it is a nullable pair, a tagged enum (whose tags make
    /// "exactly one" hold), or an `anyOf` (the first alternative that decodes and meets its
    /// constraints), and every alternative is.
    fn choice_unenforced(
        &self,
        node: &NodeRef,
        object: &serde_json::Map<String, Value>,
        keyword: &str,
        types: &[&str],
        walk: &mut Walk,
    ) -> Option<Unenforced> {
        let json_type = types.iter().copied().find(|t| *t != "null");
        let found = |keyword: &str| unenforced(node, keyword);
        let siblings_assert = object.keys().any(|k| {
            k != keyword
                && k != "type"
                && !ANNOTATIONS.contains(&k.as_str())
                && (TYPE_KEYWORDS.contains(&k.as_str())
                    || is_keyword(k, self.store.draft(node.doc).unwrap_or(Draft::Draft7)))
        });
        if siblings_assert || json_type.is_some_and(|t| t != "object") {
            return found(keyword);
        }
        let Some(Value::Array(alternatives)) = object.get(keyword) else {
            return found(keyword);
        };
        let nodes: Vec<NodeRef> = (0..alternatives.len())
            .map(|i| TypeSpace::child(node, &[keyword, &i.to_string()]))
            .collect();
        let is_null = |at: &NodeRef| {
            View::resolve(self.store, at)
                .get("type")
                .is_some_and(|(t, _)| t == "null")
        };
        let others: Vec<NodeRef> = nodes.iter().filter(|n| !is_null(n)).cloned().collect();
        let nulls = nodes.len() - others.len();
        // The planned enum is nullable when `type` or an alternative allows `null`: both must
        // (with a `type`); `oneOf` matches `null` once at most.
        if (!types.is_empty() && types.contains(&"null") != (nulls > 0))
            || (keyword == "oneOf" && nulls > 1)
        {
            return found(keyword);
        }
        // An alternative of a JSON type the node's `type` excludes.
        let excluded = json_type.is_some_and(|t| {
            others.iter().any(|at| {
                View::resolve(self.store, at)
                    .get("type")
                    .is_none_or(|(alternative, _)| alternative != t)
            })
        });
        if excluded {
            return found(keyword);
        }
        let exactly_one_by_tags = self.discriminator(&others).is_some();
        if keyword == "oneOf" && !exactly_one_by_tags && others.len() > 1 && !self.disjoint(&others)
        {
            return found(keyword);
        }
        if keyword == "oneOf" && others.len() < nodes.len() {
            // `null` must not also match the other alternative.
            let nullable_other = others.iter().any(|at| {
                View::resolve(self.store, at)
                    .get("type")
                    .is_none_or(|(t, _)| {
                        t.as_array().is_some_and(|a| a.iter().any(|t| t == "null"))
                    })
            });
            if nullable_other {
                return found(keyword);
            }
        }
        // The alternatives are checked with the choice, as one subschema: what one of them
        // leaves unenforced makes the whole choice go to the schema check.
        // A walk of its own, whatever this one has seen elsewhere (a subschema checked at
        // another place is not checked inside the choice): it stops only at the choices it is
        // inside, so recursion through alternatives ends.
        let mut choices = walk.choices.clone();
        choices.push(node.clone());
        let mut inner_walk = Walk {
            depth: Depth::First,
            seen: choices.iter().cloned().collect(),
            all: Vec::new(),
            choices,
        };
        let inner = others
            .iter()
            .find_map(|at| self.unenforced_at(at, &mut inner_walk));
        inner.map(|_| Unenforced {
            at: node.clone(),
            keyword: keyword.to_owned(),
        })
    }
}

impl TypeSpace<'_> {
    /// Whether no value can match two of `alternatives`: each has one JSON type of its own
    /// (`integer` and `number` overlap).
    fn disjoint(&self, alternatives: &[NodeRef]) -> bool {
        let mut kinds = Vec::new();
        for at in alternatives {
            let view = View::resolve(self.store, at);
            let kind = match view.get("type") {
                Some((Value::String(t), _)) if t == "integer" => "number",
                Some((Value::String(t), _)) => t.as_str(),
                _ => return false,
            };
            if kinds.contains(&kind) {
                return false;
            }
            kinds.push(kind);
        }
        true
    }
}

fn unenforced(node: &NodeRef, keyword: &str) -> Option<Unenforced> {
    Some(Unenforced {
        at: node.clone(),
        keyword: keyword.to_owned(),
    })
}

/// The values of `enum` (or the one of `const`).
fn literals(object: &serde_json::Map<String, Value>) -> Option<Vec<&Value>> {
    match (object.get("const"), object.get("enum")) {
        (Some(value), _) => Some(vec![value]),
        (None, Some(Value::Array(values))) => Some(values.iter().collect()),
        _ => None,
    }
}

/// Whether the Rust items of an array compare as JSON Schema does: strings, integers and
/// booleans (a `serde_json::Number` tells `1` from `1.0`, which `uniqueItems` counts equal).
fn unique_by_rust_equality(items: Option<&Value>) -> bool {
    // Literals of numbers are `serde_json::Number`.
    let literal = |items: &Value| items.get("enum").is_some() || items.get("const").is_some();
    items.is_some_and(|items| {
        !literal(items)
            && items
                .get("type")
                .and_then(Value::as_str)
                .is_some_and(|t| ["string", "integer", "boolean"].contains(&t))
    })
}

/// The pointer of an unenforced keyword, for messages.
pub fn keyword_pointer(unenforced: &Unenforced) -> String {
    if unenforced.keyword == "false" {
        unenforced.at.pointer.clone()
    } else {
        pointer::push(&unenforced.at.pointer, &unenforced.keyword)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::fs::MemoryFs;
    use crate::project::loader::load_file;
    use serde_json::json;
    use std::path::Path;

    /// Plans the type of `schema` (with subschema checks) and runs `then` on the space.
    fn planned(schema: Value, then: impl FnOnce(&mut TypeSpace<'_>, &NodeRef)) {
        let mut fs = MemoryFs::new();
        fs.insert("/p/event.json", serde_json::to_vec(&schema).unwrap());
        let loaded = load_file(&fs, Path::new("/p/event.json"), None, Draft::Draft202012);
        let root = NodeRef {
            doc: loaded.doc.unwrap(),
            pointer: String::new(),
        };
        let mut space = TypeSpace::new(&loaded.store);
        space.check_subschemas();
        space.add_root(&root, "Event");
        then(&mut space, &root);
    }

    fn validator(text: &str) -> jsonschema::Validator {
        jsonschema::validator_for(&serde_json::from_str(text).unwrap()).unwrap()
    }

    #[test]
    fn keywords_below_the_root_are_checked_on_their_own_subschemas() {
        let schema = json!({
            "type": "object",
            "properties": {
                "count": {"type": "integer", "not": {"const": 0}},
                "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
                "plain": {"type": "string", "maxLength": 3}
            },
            "$defs": {
                "Line": {
                    "type": "object",
                    "properties": {"sku": {"$ref": "#/$defs/Sku"}, "next": {"$ref": "#/$defs/Line"}},
                    "minProperties": 1
                },
                "Sku": {"type": "string", "not": {"enum": ["XXX"]}}
            }
        });
        planned(schema, |space, root| {
            assert!(space.unenforced(root).is_some());
            assert!(space.checks_subschemas_of(root));
            let at = |pointer: &str| NodeRef {
                doc: root.doc,
                pointer: pointer.to_owned(),
            };
            let checked: Vec<&str> = space
                .checked_subschemas
                .iter()
                .map(|n| n.pointer.as_str())
                .collect();
            for pointer in ["/properties/count", "/$defs/Line", "/$defs/Sku"] {
                assert!(checked.contains(&pointer), "{pointer} in {checked:?}");
            }
            assert!(!checked.contains(&"/properties/plain"));
            // A subschema stands alone: its references, a cycle among them, are copies inside.
            let line = space.subschema_check(&at("/$defs/Line")).unwrap();
            let line = validator(&line.text);
            assert!(line.is_valid(&json!({"sku": "A", "next": {"sku": "B"}})));
            assert!(!line.is_valid(&json!({"sku": "A", "next": {"sku": "XXX"}})));
            assert!(!line.is_valid(&json!({"next": {}})));
            let count = space.subschema_check(&at("/properties/count")).unwrap();
            assert_eq!(count.keyword, "not");
            assert_eq!(count.pointer, "/properties/count/not");
            assert!(!validator(&count.text).is_valid(&json!(0)));
        });
    }

    #[test]
    fn a_keyword_of_the_root_leaves_the_payload_to_the_whole_schema() {
        let schema = json!({
            "type": "object",
            "properties": {"a": {"type": "integer"}, "b": {"type": "integer"}},
            "dependentRequired": {"a": ["b"]}
        });
        planned(schema, |space, root| {
            assert_eq!(space.unenforced(root).unwrap().keyword, "dependentRequired");
            assert!(!space.checks_subschemas_of(root));
        });
    }

    #[test]
    fn a_nullable_value_is_left_to_the_whole_schema() {
        // `null` would skip a check inside `Option`, so the payload is checked whole.
        let schema = json!({
            "type": "object",
            "properties": {"a": {"type": ["string", "null"], "not": {"const": "x"}}}
        });
        planned(schema, |space, root| {
            assert!(space.unenforced(root).is_some());
            assert!(!space.checks_subschemas_of(root));
        });
    }
}
