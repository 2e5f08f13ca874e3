//! A schema as the diff sees it: the object at a node with its `$ref` chain followed, read as
//! layers (the referring object first, then each target), each keyword with its source location.

use crate::schema::draft::Draft;
use crate::schema::store::{NodeRef, Store};
use serde_json::{Map, Value};

/// At most this many `$ref` hops are followed from one node (a pure `$ref` loop stops here).
const MAX_HOPS: usize = 64;

/// One object of the chain.
#[derive(Debug, Clone)]
pub(crate) struct Layer<'a> {
    pub node: NodeRef,
    pub object: &'a Map<String, Value>,
}

/// A numeric limit by meaning, whatever the draft wrote: `minimum: 5`, `exclusiveMinimum: 5`
/// (draft-06 on) or `minimum: 5, exclusiveMinimum: true` (draft-04).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Limit {
    pub value: f64,
    pub exclusive: bool,
    /// Where the number is written.
    pub at: NodeRef,
}

/// A resolved schema.
#[derive(Debug, Clone)]
pub(crate) struct View<'a> {
    /// Where the schema is (the node that was asked for).
    pub at: NodeRef,
    /// `Some(b)` for a boolean schema (and for an absent keyword, `true`).
    pub boolean: Option<bool>,
    pub layers: Vec<Layer<'a>>,
    /// The members of its `allOf` are among the layers (a conjunction, as layers are), so
    /// `allOf` itself is no longer a keyword of the view.
    pub all_of_merged: bool,
    /// Its `anyOf`/`oneOf` of plain types or values is read as a `type` list or an `enum`
    /// (set when the other side of a comparison has no such combinator to match it with).
    pub alternatives_flattened: bool,
}

impl<'a> View<'a> {
    /// The schema at `node`, following `$ref`.
    pub fn resolve(store: &'a Store, node: &NodeRef) -> View<'a> {
        let mut layers = Vec::new();
        let mut current = node.clone();
        let mut boolean = None;
        for _ in 0..MAX_HOPS {
            match store.value(&current) {
                Some(Value::Bool(b)) => {
                    if layers.is_empty() {
                        boolean = Some(*b);
                    } else if !*b {
                        // `$ref` to `false` with siblings: nothing validates.
                        boolean = Some(false);
                    }
                    break;
                }
                Some(Value::Object(object)) => {
                    let ref_only = store
                        .draft(current.doc)
                        .is_some_and(Draft::ref_overrides_siblings);
                    // `$dynamicRef` and 2019-09's `$recursiveRef` resolve as a `$ref` would
                    // (without the dynamic scope).
                    let target = ["$ref", "$dynamicRef", "$recursiveRef"]
                        .iter()
                        .any(|k| object.contains_key(*k))
                        .then(|| store.ref_target(&current))
                        .flatten()
                        .and_then(|t| t.as_ref().ok())
                        .cloned();
                    // Up to draft-07, keywords beside `$ref` are ignored.
                    if !(ref_only && target.is_some()) {
                        layers.push(Layer {
                            node: current.clone(),
                            object,
                        });
                    }
                    match target {
                        Some(next) => current = next,
                        None => break,
                    }
                }
                _ => break,
            }
        }
        // `{"not": {}}` rejects everything, like `false`.
        let rejects_all = layers.iter().any(|layer| match layer.object.get("not") {
            Some(Value::Bool(true)) => true,
            Some(Value::Object(inner)) => inner.is_empty(),
            _ => false,
        });
        View {
            at: node.clone(),
            boolean: if rejects_all { Some(false) } else { boolean },
            layers,
            all_of_merged: false,
            alternatives_flattened: false,
        }
    }

    /// The empty schema (`true`) standing in for an absent keyword, located at `at`.
    pub fn absent(at: &NodeRef) -> View<'a> {
        View {
            at: at.clone(),
            boolean: Some(true),
            layers: Vec::new(),
            all_of_merged: false,
            alternatives_flattened: false,
        }
    }

    /// The first layer's value of a keyword, with its node.
    pub fn get(&self, keyword: &str) -> Option<(&'a Value, NodeRef)> {
        if self.hides(keyword) {
            return None;
        }
        self.layers.iter().find_map(|layer| {
            layer.object.get(keyword).map(|value| {
                (
                    value,
                    NodeRef {
                        doc: layer.node.doc,
                        pointer: crate::text::pointer::push(&layer.node.pointer, keyword),
                    },
                )
            })
        })
    }

    /// Every layer's value of a keyword, referring object first (a `$ref` with siblings is the
    /// conjunction of both).
    pub fn get_all(&self, keyword: &str) -> Vec<(&'a Value, NodeRef)> {
        if self.hides(keyword) {
            return Vec::new();
        }
        self.layers
            .iter()
            .filter_map(|layer| {
                layer.object.get(keyword).map(|value| {
                    let at = NodeRef {
                        doc: layer.node.doc,
                        pointer: crate::text::pointer::push(&layer.node.pointer, keyword),
                    };
                    (value, at)
                })
            })
            .collect()
    }

    /// The strictest numeric bound among the layers (`lower` picks the largest), and where.
    pub fn bound(&self, keyword: &str, lower: bool) -> Option<(f64, NodeRef)> {
        self.get_all(keyword)
            .into_iter()
            .filter_map(|(value, at)| value.as_f64().map(|v| (v, at)))
            .reduce(|best, next| {
                let stricter = if lower {
                    next.0 > best.0
                } else {
                    next.0 < best.0
                };
                if stricter { next } else { best }
            })
    }

    /// The strictest lower (`lower`) or upper limit among the layers, inclusive or exclusive,
    /// read by meaning in every draft's form.
    pub fn limit(&self, lower: bool) -> Option<Limit> {
        let (inclusive, exclusive) = if lower {
            ("minimum", "exclusiveMinimum")
        } else {
            ("maximum", "exclusiveMaximum")
        };
        let mut limits = Vec::new();
        for layer in &self.layers {
            let at = |keyword: &str| NodeRef {
                doc: layer.node.doc,
                pointer: crate::text::pointer::push(&layer.node.pointer, keyword),
            };
            let number = |keyword: &str| layer.object.get(keyword).and_then(Value::as_f64);
            let flag = layer.object.get(exclusive) == Some(&Value::Bool(true));
            // Draft-04's boolean form (also read in later drafts, where a meta-schema error says
            // it is not theirs).
            if let Some(value) = number(inclusive) {
                limits.push(Limit {
                    value,
                    exclusive: flag,
                    at: at(inclusive),
                });
            }
            if let Some(value) = number(exclusive) {
                limits.push(Limit {
                    value,
                    exclusive: true,
                    at: at(exclusive),
                });
            }
        }
        limits.into_iter().reduce(|best, next| {
            let stricter = if lower {
                next.value > best.value || (next.value == best.value && next.exclusive)
            } else {
                next.value < best.value || (next.value == best.value && next.exclusive)
            };
            if stricter { next } else { best }
        })
    }

    /// Whether the schema only accepts integers (`type` is `integer`, alone or in a list).
    pub fn integers_only(&self) -> bool {
        self.get_all("type").iter().any(|(value, _)| match value {
            Value::String(name) => name == "integer",
            Value::Array(names) => !names.is_empty() && names.iter().all(|name| name == "integer"),
            _ => false,
        })
    }

    /// Whether a keyword is present.
    pub fn has(&self, keyword: &str) -> bool {
        !self.hides(keyword) && self.layers.iter().any(|l| l.object.contains_key(keyword))
    }

    /// Whether `keyword` is merged away (an `allOf` whose members are layers).
    fn hides(&self, keyword: &str) -> bool {
        self.all_of_merged && keyword == "allOf"
    }

    /// The location of a keyword, or of the schema when it is absent.
    pub fn location(&self, keyword: &str) -> NodeRef {
        self.get(keyword)
            .map_or_else(|| self.at.clone(), |(_, at)| at)
    }

    /// Whether it accepts everything: `true`, or an object with no assertion keywords.
    pub fn is_empty(&self) -> bool {
        match self.boolean {
            Some(b) => b,
            None => !self.layers.iter().any(|l| {
                l.object
                    .keys()
                    .any(|k| ASSERTIONS.contains(&k.as_str()) && !self.hides(k))
            }),
        }
    }
}

/// Keywords that constrain what validates (everything else is an annotation or unknown).
pub(crate) const ASSERTIONS: &[&str] = &[
    "type",
    "enum",
    "const",
    "multipleOf",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "format",
    "items",
    "prefixItems",
    "additionalItems",
    "unevaluatedItems",
    "contains",
    "maxItems",
    "minItems",
    "uniqueItems",
    "maxContains",
    "minContains",
    "properties",
    "patternProperties",
    "additionalProperties",
    "unevaluatedProperties",
    "propertyNames",
    "required",
    "dependentRequired",
    "dependentSchemas",
    "dependencies",
    "maxProperties",
    "minProperties",
    "allOf",
    "anyOf",
    "oneOf",
    "not",
    "if",
    "then",
    "else",
];
