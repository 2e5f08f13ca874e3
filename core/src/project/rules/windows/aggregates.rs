//! `window-aggregate`: each aggregate reads a field when its kind needs one, has a property of
//! its name and a fitting type in the file's schema, and a name that makes a Rust field; each
//! property of the schema is an aggregate.

use super::fields::{Shape, describe, shape_of};
use super::{Checker, at};
use crate::diagnostic::{Diagnostic, Rule};
use crate::project::names::{field_name, is_keyword};
use crate::project::window::{Aggregate, AggregateKind};
use crate::schema::store::NodeRef;
use crate::text::pointer;
use crate::text::similar::closest;
use heck::ToSnakeCase;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What an aggregate's value may be: described, a declaration that fits, and the test.
struct Expected {
    what: String,
    declare: String,
    fits: Box<dyn Fn(&Shape) -> bool>,
}

/// The property type an aggregate of `kind` computes, given the types of its field when known.
fn expected(kind: AggregateKind, field: Option<&BTreeSet<String>>) -> Expected {
    let only = |wanted: &'static str| -> Box<dyn Fn(&Shape) -> bool> {
        Box::new(move |shape: &Shape| shape.single() == Some(wanted))
    };
    let integer_field = field.is_some_and(|types| types.iter().all(|t| t == "integer"));
    match kind {
        AggregateKind::Count | AggregateKind::Distinct => Expected {
            what: "an integer".to_owned(),
            declare: r#""type": "integer", "minimum": 0"#.to_owned(),
            fits: only("integer"),
        },
        AggregateKind::Average => Expected {
            what: "a number".to_owned(),
            declare: r#""type": "number""#.to_owned(),
            fits: only("number"),
        },
        AggregateKind::Sum if integer_field => Expected {
            what: "an integer or a number".to_owned(),
            declare: r#""type": "integer""#.to_owned(),
            fits: Box::new(|shape: &Shape| {
                matches!(shape.single(), Some("integer") | Some("number"))
            }),
        },
        AggregateKind::Sum => Expected {
            what: "a number".to_owned(),
            declare: r#""type": "number""#.to_owned(),
            fits: only("number"),
        },
        AggregateKind::Min | AggregateKind::Max => match field {
            // The field's type: an integer fits a number.
            Some(types) => {
                let wanted = types.clone();
                let declared = if wanted.contains("number") {
                    "number"
                } else {
                    wanted.first().map(String::as_str).unwrap_or("number")
                };
                Expected {
                    what: describe(Some(types)),
                    declare: format!(r#""type": "{declared}""#),
                    fits: Box::new(move |shape: &Shape| {
                        shape.types.as_ref().is_some_and(|have| {
                            wanted.iter().all(|t| {
                                have.contains(t) || (t == "integer" && have.contains("number"))
                            })
                        })
                    }),
                }
            }
            None => Expected {
                what: "a number or a string".to_owned(),
                declare: r#""type": "number""#.to_owned(),
                fits: Box::new(|shape: &Shape| shape.within(&["integer", "number", "string"])),
            },
        },
        AggregateKind::Custom => Expected {
            what: "an integer, number, string, boolean or array".to_owned(),
            declare: r#""type": "number""#.to_owned(),
            fits: Box::new(|shape: &Shape| {
                shape.single().is_some_and(|t| {
                    ["integer", "number", "string", "boolean", "array"].contains(&t)
                })
            }),
        },
    }
}

impl Checker<'_> {
    /// `field_types`: per aggregate whose field fits, the types it takes in the events read.
    /// `sometimes_absent`: the aggregates whose field some event may lack.
    pub(super) fn check_aggregates(
        &mut self,
        field_types: &BTreeMap<String, BTreeSet<String>>,
        sometimes_absent: &BTreeSet<String>,
    ) {
        let aggregates = self.window.annotations.aggregates.clone();
        let mut rust_names: BTreeMap<String, &str> = BTreeMap::new();
        for (name, aggregate) in &aggregates {
            self.check_field_given(name, aggregate);
            self.check_name(name, aggregate.kind, &mut rust_names);
        }
        // A root whose `$ref` does not resolve is reported as such.
        let Some(root) = self
            .project
            .store
            .follow(&self.project.root_of(self.window.schema))
        else {
            return;
        };
        let schema = self.project.value(&root);
        let properties: Vec<String> = schema
            .and_then(|schema| schema.get("properties"))
            .and_then(Value::as_object)
            .map(|properties| properties.keys().cloned().collect())
            .unwrap_or_default();
        let required: BTreeSet<String> = schema
            .and_then(|schema| schema.get("required"))
            .and_then(Value::as_array)
            .map(|names| {
                names
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let property = |name: &str| NodeRef {
            doc: root.doc,
            pointer: pointer::push(&pointer::push(&root.pointer, "properties"), name),
        };
        for (name, aggregate) in &aggregates {
            let field = field_types.get(name);
            if properties.contains(name) {
                let node = property(name);
                if self.check_property_type(name, aggregate, field, &node)
                    && required.contains(name)
                    && sometimes_absent.contains(name)
                {
                    self.check_null_allowed(name, aggregate, &node);
                }
            } else {
                self.report_no_property(name, aggregate, field, &properties);
            }
        }
        for name in properties.iter().filter(|p| !aggregates.contains_key(*p)) {
            let unmatched = aggregates.keys().filter(|a| !properties.contains(a));
            let near = closest(name, unmatched.map(String::as_str))
                .map(|near| format!("did you mean aggregate `{near}`? "))
                .unwrap_or_default();
            let node = property(name);
            let document = self.project.store.document(node.doc);
            self.diagnostics.push(document.diagnostic_at_key(
                Diagnostic::new(
                    Rule::WindowAggregate,
                    format!(
                        "property `{name}` is no aggregate of window `{}`",
                        self.window.name
                    ),
                )
                .with_label("not in `aggregates`")
                .with_help(format!(
                    "{near}each property of a window's schema holds the value of the aggregate of its name: add \"{name}\": {{\"kind\": \"count\"}} (or another kind) to `x-eventsmith.aggregates`, or remove the property"
                )),
                &node.pointer,
            ));
        }
    }

    /// Count and custom read no field; the other kinds read one.
    fn check_field_given(&mut self, name: &str, aggregate: &Aggregate) {
        match (&aggregate.field, aggregate.kind) {
            (None, kind_of) if kind_of.needs_field() => self.push_at_key(
                Diagnostic::new(
                    Rule::WindowAggregate,
                    format!("aggregate `{name}` is {} of no field", a_kind(kind_of)),
                )
                .with_label("no `field`")
                .with_help(format!(
                    "add \"field\": \"<property>\", the property of every event read whose {}",
                    of_field(kind_of)
                )),
                &at(&["aggregates", name]),
            ),
            (Some(field), AggregateKind::Count) => self.push(
                Diagnostic::new(
                    Rule::WindowAggregate,
                    format!("aggregate `{name}` is a `count`, which reads no field, but names `{field}`"),
                )
                .with_label("a count counts events")
                .with_help(format!(
                    "remove `field`; to count the distinct values of `{field}`, make it \"kind\": \"distinct\""
                )),
                &at(&["aggregates", name, "field"]),
            ),
            _ => {}
        }
    }

    /// An aggregate names a field of the generated window type (and a custom one the method
    /// of the rules that computes it): its name must make a Rust name of its own.
    fn check_name<'n>(
        &mut self,
        name: &'n str,
        kind: AggregateKind,
        rust_names: &mut BTreeMap<String, &'n str>,
    ) {
        let place = at(&["aggregates", name]);
        if is_keyword(name) || is_keyword(&name.to_snake_case()) {
            self.push_at_key(
                Diagnostic::new(
                    Rule::WindowAggregate,
                    format!("aggregate name `{name}` is a Rust keyword"),
                )
                .with_label("not a Rust name")
                .with_help(format!(
                    "name it otherwise, e.g. `{name}_{}`, in `aggregates` and `properties`: it names a field of the generated window type",
                    kind.name()
                )),
                &place,
            );
        }
        let rust = field_name(name);
        match rust_names.get(&rust) {
            Some(first) => self.push_at_key(
                Diagnostic::new(
                    Rule::WindowAggregate,
                    format!(
                        "aggregates `{first}` and `{name}` collide: both become the Rust field `{rust}`"
                    ),
                )
                .with_label(format!("`{name}` clashes with `{first}`"))
                .with_help("rename one of them, in `aggregates` and `properties`"),
                &place,
            ),
            None => {
                rust_names.insert(rust, name);
            }
        }
    }

    /// An average, min or max has no value while no event of its window had the field: a
    /// required property must then allow `null`.
    fn check_null_allowed(&mut self, name: &str, aggregate: &Aggregate, node: &NodeRef) {
        let kind = aggregate.kind;
        if !matches!(
            kind,
            AggregateKind::Average | AggregateKind::Min | AggregateKind::Max
        ) {
            return;
        }
        let shape = shape_of(self.project, node);
        if shape
            .types
            .as_ref()
            .is_some_and(|types| types.contains("null"))
        {
            return;
        }
        let field = aggregate.field.as_deref().unwrap_or_default();
        let declared = shape.single().unwrap_or("number");
        let document = self.project.store.document(node.doc);
        self.diagnostics.push(
            document.diagnostic_at(
                Diagnostic::new(
                    Rule::WindowAggregate,
                    format!(
                        "aggregate `{name}` ({}) is `null` in a window whose events all lack `{field}`, but property `{name}` is required and not nullable",
                        a_kind(kind)
                    ),
                )
                .with_label("may be null")
                .with_help(format!(
                    "`{field}` may be absent from the latest version of an event read: remove `{name}` from the schema's `required`, or declare it as {{\"type\": [\"{declared}\", \"null\"]}}; or make `{field}` required in the latest version of every event read"
                )),
                &node.pointer,
            ),
        );
    }

    /// Returns whether the property's type fits the aggregate.
    fn check_property_type(
        &mut self,
        name: &str,
        aggregate: &Aggregate,
        field: Option<&BTreeSet<String>>,
        node: &NodeRef,
    ) -> bool {
        let shape = shape_of(self.project, node);
        let expected = expected(aggregate.kind, field);
        // `null` is allowed beside the type: a window whose events lacked the field has none.
        let mut bare = shape.clone();
        if let Some(types) = &mut bare.types
            && types.len() > 1
        {
            types.remove("null");
        }
        if (expected.fits)(&bare) {
            return true;
        }
        let of = match (&aggregate.field, field) {
            (Some(path), Some(types)) => format!(" of `{path}`, {}", describe(Some(types))),
            _ => String::new(),
        };
        let document = self.project.store.document(node.doc);
        self.diagnostics.push(
            document.diagnostic_at(
                Diagnostic::new(
                    Rule::WindowAggregate,
                    format!(
                        "property `{name}` is {}, but aggregate `{name}` ({}{of}) is {}",
                        shape.describe(),
                        a_kind(aggregate.kind),
                        expected.what
                    ),
                )
                .with_label(format!("not {}", expected.what))
                .with_help(format!(
                    "declare the property as {{{}}}, the type of the aggregate's value",
                    expected.declare
                )),
                &node.pointer,
            ),
        );
        false
    }

    fn report_no_property(
        &mut self,
        name: &str,
        aggregate: &Aggregate,
        field: Option<&BTreeSet<String>>,
        properties: &[String],
    ) {
        let aggregates = &self.window.annotations.aggregates;
        let unmatched = properties.iter().filter(|p| !aggregates.contains_key(*p));
        let help = match closest(name, unmatched.map(String::as_str)) {
            Some(near) => format!(
                "did you mean property `{near}`? An aggregate and its property share their name"
            ),
            None => format!(
                "add \"{name}\": {{{}}} to the schema's `properties`: it types the aggregate's value",
                expected(aggregate.kind, field).declare
            ),
        };
        self.push_at_key(
            Diagnostic::new(
                Rule::WindowAggregate,
                format!("aggregate `{name}` has no property in the window's schema"),
            )
            .with_label(format!("no property `{name}`"))
            .with_help(help),
            &at(&["aggregates", name]),
        );
    }
}

/// What the field of an aggregate of `kind` gives it, for help texts.
fn of_field(kind: AggregateKind) -> &'static str {
    match kind {
        AggregateKind::Sum => "values it adds up",
        AggregateKind::Average => "values it averages",
        AggregateKind::Min => "smallest value it keeps",
        AggregateKind::Max => "largest value it keeps",
        AggregateKind::Distinct => "distinct values it counts",
        AggregateKind::Count | AggregateKind::Custom => "values it reads",
    }
}

/// `a `sum``, `an `average``.
fn a_kind(kind: AggregateKind) -> String {
    let name = kind.name();
    let article = if name.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    };
    format!("{article} `{name}`")
}
