//! The typed model of a schema project: events with their versions, commands, aggregates,
//! projections and shared types, each pointing at its schema document in the [`Store`].

use crate::project::annotations::{
    AggregateAnnotations, CommandAnnotations, EventAnnotations, ProjectionAnnotations, UpcastRule,
};
use crate::project::config::Config;
use crate::project::saga::SagaAnnotations;
use crate::project::window::WindowAnnotations;
use crate::schema::store::{DocId, NodeRef, Store};
use heck::ToUpperCamelCase;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// A loaded schema project.
#[derive(Debug)]
pub struct Project {
    /// The directory of `eventsmith.toml`.
    pub root: PathBuf,
    /// The settings.
    pub config: Config,
    /// Aggregates by name.
    pub aggregates: BTreeMap<String, Aggregate>,
    /// Events by type (`<aggregate>.<name>`).
    pub events: BTreeMap<String, Event>,
    /// Commands by `<aggregate>.<name>`.
    pub commands: BTreeMap<String, Command>,
    /// Projections by name.
    pub projections: BTreeMap<String, Projection>,
    /// Sagas by name.
    pub sagas: BTreeMap<String, Saga>,
    /// Windowed aggregations by name.
    pub windows: BTreeMap<String, Window>,
    /// Shared type files, in path order.
    pub types: Vec<DocId>,
    /// Every document read, with `$ref` resolution.
    pub store: Store,
}

/// An event type and all its versions.
#[derive(Debug, Clone)]
pub struct Event {
    /// The aggregate it belongs to.
    pub aggregate: String,
    /// Its name within the aggregate.
    pub name: String,
    /// Versions 1..=N in order.
    pub versions: Vec<EventVersion>,
}

impl Event {
    /// `<aggregate>.<name>`.
    pub fn event_type(&self) -> String {
        format!("{}.{}", self.aggregate, self.name)
    }

    /// The Rust type name: the latest version's `title`, else `<aggregate>_<name>`, in UpperCamelCase.
    pub fn rust_name(&self, store: &Store) -> String {
        self.version_rust_name(self.latest(), store)
    }

    /// One version's Rust type name, from its own `title`.
    pub fn version_rust_name(&self, version: &EventVersion, store: &Store) -> String {
        let title = store
            .document(version.schema)
            .get("/title")
            .and_then(Value::as_str);
        rust_type_name(title, &format!("{}_{}", self.aggregate, self.name))
    }

    /// The traits generated code declares in this version's module for hand-written code: the
    /// custom upcaster `<Name>FromV<N>` and, with `convert` rules, `Conversions`. They are
    /// claimed in the module before any event's type name.
    pub fn version_traits(&self, version: &EventVersion, store: &Store) -> Vec<String> {
        let upcast = version.annotations.upcast.clone().unwrap_or_default();
        let mut traits = Vec::new();
        if upcast
            .rules
            .iter()
            .any(|rule| matches!(rule, UpcastRule::Convert { .. }))
        {
            traits.push("Conversions".to_owned());
        }
        if upcast.custom && version.version > 1 {
            let name = self.version_rust_name(version, store);
            traits.push(format!("{name}FromV{}", version.version - 1));
        }
        traits
    }

    /// The newest version.
    pub fn latest(&self) -> &EventVersion {
        self.versions
            .last()
            .expect("an event has at least one version")
    }
}

/// One version of an event.
#[derive(Debug, Clone)]
pub struct EventVersion {
    /// N, from 1.
    pub version: u32,
    /// Its schema document.
    pub schema: DocId,
    /// Its `x-eventsmith` annotations.
    pub annotations: EventAnnotations,
}

/// A command.
#[derive(Debug, Clone)]
pub struct Command {
    /// The aggregate it targets.
    pub aggregate: String,
    /// Its name.
    pub name: String,
    /// Its payload schema document.
    pub schema: DocId,
    /// Its `x-eventsmith` annotations.
    pub annotations: CommandAnnotations,
}

/// An aggregate.
#[derive(Debug, Clone)]
pub struct Aggregate {
    /// Its name.
    pub name: String,
    /// Its state schema document.
    pub schema: DocId,
    /// Its `x-eventsmith` annotations.
    pub annotations: AggregateAnnotations,
}

impl Aggregate {
    /// The stream category: streams are `<category>-<id>`.
    pub fn stream_category(&self) -> &str {
        self.annotations.stream.as_deref().unwrap_or(&self.name)
    }
}

/// A projection (read model).
#[derive(Debug, Clone)]
pub struct Projection {
    /// Its name.
    pub name: String,
    /// Its row schema document.
    pub schema: DocId,
    /// Its `x-eventsmith` annotations.
    pub annotations: ProjectionAnnotations,
}

/// A saga (process manager): its state schema and its steps.
#[derive(Debug, Clone)]
pub struct Saga {
    /// Its name.
    pub name: String,
    /// Its state schema document.
    pub schema: DocId,
    /// Its `x-eventsmith` annotations.
    pub annotations: SagaAnnotations,
}

/// A windowed aggregation: the schema of its aggregates and how it computes them.
#[derive(Debug, Clone)]
pub struct Window {
    /// Its name.
    pub name: String,
    /// The schema of its aggregates object.
    pub schema: DocId,
    /// Its `x-eventsmith` annotations.
    pub annotations: WindowAnnotations,
}

impl Project {
    /// The schema directory.
    pub fn schema_dir(&self) -> PathBuf {
        self.root.join(&self.config.schema.dir)
    }

    /// The root node of a document.
    pub fn root_of(&self, doc: DocId) -> NodeRef {
        NodeRef {
            doc,
            pointer: String::new(),
        }
    }

    /// The value at a node.
    pub fn value(&self, node: &NodeRef) -> Option<&Value> {
        self.store.value(node)
    }

    /// The path a document was read from.
    pub fn path_of(&self, doc: DocId) -> &Path {
        self.store.document(doc).path()
    }

    /// Events of one aggregate, in name order.
    pub fn events_of<'a>(&'a self, aggregate: &'a str) -> impl Iterator<Item = &'a Event> {
        self.events
            .values()
            .filter(move |e| e.aggregate == aggregate)
    }

    /// Commands of one aggregate, in name order.
    pub fn commands_of<'a>(&'a self, aggregate: &'a str) -> impl Iterator<Item = &'a Command> {
        self.commands
            .values()
            .filter(move |c| c.aggregate == aggregate)
    }
}

/// A Rust type name from a schema `title`, or from `fallback` when there is none usable.
pub fn rust_type_name(title: Option<&str>, fallback: &str) -> String {
    let from_title = title.map(|t| t.to_upper_camel_case()).filter(|t| {
        t.starts_with(|c: char| c.is_ascii_alphabetic())
            && t.chars().all(|c| c.is_ascii_alphanumeric())
            && !crate::project::names::is_keyword(t)
    });
    from_title.unwrap_or_else(|| crate::project::names::type_name(fallback, "Event"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_from_titles_or_names() {
        assert_eq!(
            rust_type_name(Some("Order placed"), "order_placed"),
            "OrderPlaced"
        );
        assert_eq!(rust_type_name(None, "order_item-added"), "OrderItemAdded");
        assert_eq!(rust_type_name(Some("Größe"), "order_size"), "OrderSize");
        assert_eq!(rust_type_name(Some("Self"), "order_self"), "OrderSelf");
    }
}
