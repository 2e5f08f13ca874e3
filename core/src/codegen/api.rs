//! What generated code offers the code written against it: per aggregate its rules trait with
//! every method and the types they take, per projection its handler trait. The service generator
//! writes the user-owned files from it, so their names always match the generated module tree.

use super::types::{Item, Ty, TypeSpace};

/// A Rust path from the generated module's root: module names, then the item's name.
pub type RustPath = Vec<String>;

/// The generated API of a project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Api {
    /// Aggregates with rules (those with an aggregate file), in name order.
    pub aggregates: Vec<AggregateApi>,
    /// Projections with a handler, in name order.
    pub projections: Vec<ProjectionApi>,
}

/// An aggregate's rules trait and what it works on.
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateApi {
    /// The aggregate's name (as in URLs).
    pub name: String,
    /// Its module at the root.
    pub module: String,
    /// `<Aggregate>Rules`.
    pub rules: RustPath,
    /// `<Aggregate>Aggregate` (generic over the rules).
    pub aggregate: RustPath,
    /// `<Aggregate>Event`.
    pub event_enum: RustPath,
    /// The state type.
    pub state: RustPath,
    /// The state's top-level properties.
    pub state_fields: Vec<String>,
    /// `x-eventsmith.snapshot.every`.
    pub snapshot_every: Option<u32>,
    /// One `decide_` per command.
    pub decides: Vec<Decide>,
    /// One `apply_` per event.
    pub applies: Vec<Apply>,
}

/// A `decide_<command>` method.
#[derive(Debug, Clone, PartialEq)]
pub struct Decide {
    /// The method.
    pub method: String,
    /// The command's name.
    pub command: String,
    /// The command's type.
    pub command_type: RustPath,
    /// The command's top-level properties.
    pub command_fields: Vec<String>,
    /// Those it requires.
    pub command_required: Vec<String>,
    /// The events it declares it emits, in declaration order.
    pub emits: Vec<EventApi>,
}

/// An `apply_<event>` method.
#[derive(Debug, Clone, PartialEq)]
pub struct Apply {
    /// The method.
    pub method: String,
    /// The event.
    pub event: EventApi,
}

/// An event at its latest version.
#[derive(Debug, Clone, PartialEq)]
pub struct EventApi {
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// Its latest version's type.
    pub ty: RustPath,
    /// Its variant in the aggregate's event enum.
    pub variant: String,
    /// Its top-level properties.
    pub fields: Vec<String>,
    /// The stream category of its aggregate.
    pub category: String,
}

/// A projection's handler trait.
#[derive(Debug, Clone, PartialEq)]
pub struct ProjectionApi {
    /// The projection's name.
    pub name: String,
    /// `<Name>Handler`.
    pub handler: RustPath,
    /// `<Name>Projection` (generic over the handler).
    pub projection: RustPath,
    /// The row type.
    pub row: RustPath,
    /// The key property.
    pub key: String,
    /// The row's top-level properties.
    pub row_fields: Vec<String>,
    /// One `on_<aggregate>_<event>` per subscribed event.
    pub handles: Vec<Apply>,
}

/// The JSON names of a struct type's declared properties (none for other types).
pub fn fields_of(space: &TypeSpace<'_>, ty: &Ty) -> Vec<String> {
    match ty {
        Ty::Checked(inner, _) | Ty::Boxed(inner) => fields_of(space, inner),
        Ty::Named(id) => match &space.defs[*id].item {
            Item::Struct { fields, .. } => fields.iter().map(|f| f.json.clone()).collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The JSON names of a struct type's required properties.
pub fn required_of(space: &TypeSpace<'_>, ty: &Ty) -> Vec<String> {
    match ty {
        Ty::Checked(inner, _) | Ty::Boxed(inner) => required_of(space, inner),
        Ty::Named(id) => match &space.defs[*id].item {
            Item::Struct { fields, .. } => fields
                .iter()
                .filter(|f| f.required)
                .map(|f| f.json.clone())
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The path of `name` in module `module` of `space`.
pub fn path_in(space: &TypeSpace<'_>, module: usize, name: &str) -> RustPath {
    let mut path = space.modules[module].clone();
    path.push(name.to_owned());
    path
}
