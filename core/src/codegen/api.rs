//! What generated code offers the code written against it: per aggregate its rules trait with
//! every method and the types they take, per projection its handler trait. The service generator
//! writes the user-owned files from it, so their names always match the generated module tree.

use super::plan::{Aggregates, PlannedEvent, aggregate_enum_name};
use super::types::{Item, Ty, TypeSpace};
use super::{deciders, projections};
use crate::project::model::Project;
use std::collections::BTreeMap;

/// A Rust path from the generated module's root: module names, then the item's name.
pub type RustPath = Vec<String>;

/// The generated API of a project.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Api {
    /// Aggregates with rules (those with an aggregate file), in name order.
    pub aggregates: Vec<AggregateApi>,
    /// Projections with a handler, in name order.
    pub projections: Vec<ProjectionApi>,
    /// The `Conversions` traits of version modules whose upcast rules `convert` fields, in
    /// aggregate then version order.
    pub conversions: Vec<ConversionsApi>,
    /// Sagas, in name order.
    pub sagas: Vec<SagaApi>,
    /// Windows, in name order.
    pub windows: Vec<WindowApi>,
}

/// A window the service runs.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowApi {
    /// The window's name.
    pub name: String,
    /// `<Name>Window`.
    pub window: RustPath,
    /// `<Name>Row`.
    pub row: RustPath,
    /// `<Name>Rules`, the trait its user-owned rules implement, when it has custom aggregates.
    pub rules: Option<RustPath>,
    /// Its custom aggregates.
    pub custom: Vec<String>,
}

/// A saga the service runs.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaApi {
    /// The saga's name.
    pub name: String,
    /// `<Name>Saga`.
    pub saga: RustPath,
    /// Its state type.
    pub state: RustPath,
    /// `<Name>Rules`, the trait its user-owned rules implement.
    pub rules: RustPath,
    /// The rules methods, each with the steps (`<state>/<place>`) that call it.
    pub methods: Vec<(String, Vec<String>)>,
}

/// The `Conversions` trait of one version module: the named conversions its `convert` upcast
/// rules call, which hand-written code implements for the generated `Upcasters`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionsApi {
    /// The version module (`order::v2`).
    pub module: RustPath,
    /// `<module>::Conversions`.
    pub conversions: RustPath,
    /// The generated `Upcasters` at the root.
    pub upcasters: RustPath,
    /// One method per `using` name, in the order the rules first use them.
    pub methods: Vec<ConversionApi>,
}

/// One named conversion: `fn <name>(value: <input>) -> Result<<output>, UpcastError>`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionApi {
    /// The method: the rules' `using`, with a `_` after a Rust keyword (`type_`).
    pub name: String,
    /// The previous version's type of the field (an optional field passes its `Option`).
    pub input: TypeApi,
    /// The next version's type of the field.
    pub output: TypeApi,
    /// The `convert` rules that call it.
    pub uses: Vec<ConversionUse>,
}

/// A `convert` rule calling a named conversion.
#[derive(Debug, Clone, PartialEq)]
pub struct ConversionUse {
    /// `<aggregate>.<name>`.
    pub event_type: String,
    /// The version upcast from.
    pub from: u32,
    /// The version upcast to.
    pub to: u32,
    /// The converted field, as a JSON pointer.
    pub field: String,
}

/// A Rust type of the generated API, for the code written against it.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeApi {
    /// `bool`
    Bool,
    /// `i32`
    I32,
    /// `i64`
    I64,
    /// `u32`
    U32,
    /// `u64`
    U64,
    /// `serde_json::Number`
    Number,
    /// `String`
    String,
    /// A validated string of `eventsmith::format`: its type name (`DateTime`).
    Format(&'static str),
    /// `serde_json::Value`
    Json,
    /// `Vec<T>`
    Vec(Box<TypeApi>),
    /// `IndexMap<String, T>`
    Map(Box<TypeApi>),
    /// A tuple.
    Tuple(Vec<TypeApi>),
    /// `Option<T>`
    Option(Box<TypeApi>),
    /// `Box<T>`
    Boxed(Box<TypeApi>),
    /// A generated type.
    Named {
        /// Its path.
        path: RustPath,
        /// Its shape.
        kind: NamedKind,
    },
}

/// The shape of a generated type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NamedKind {
    /// A struct.
    Struct,
    /// An enum of string values.
    StringEnum,
    /// A tagged or untagged union.
    Union,
}

impl TypeApi {
    /// Whether it is one of the integer types.
    pub fn is_integer(&self) -> bool {
        matches!(self, Self::I32 | Self::I64 | Self::U32 | Self::U64)
    }
}

/// The API form of `ty`.
pub fn type_api(space: &TypeSpace<'_>, ty: &Ty) -> TypeApi {
    let inner = |ty: &Ty| Box::new(type_api(space, ty));
    match ty {
        Ty::Bool => TypeApi::Bool,
        Ty::I32 => TypeApi::I32,
        Ty::I64 => TypeApi::I64,
        Ty::U32 => TypeApi::U32,
        Ty::U64 => TypeApi::U64,
        Ty::Number => TypeApi::Number,
        Ty::String => TypeApi::String,
        Ty::Format(format) => TypeApi::Format(format.type_name()),
        Ty::Json => TypeApi::Json,
        Ty::Vec(item) => TypeApi::Vec(inner(item)),
        Ty::Map(value) => TypeApi::Map(inner(value)),
        Ty::Tuple(items) => TypeApi::Tuple(items.iter().map(|i| type_api(space, i)).collect()),
        Ty::Nullable(value) => TypeApi::Option(inner(value)),
        Ty::Boxed(value) => TypeApi::Boxed(inner(value)),
        Ty::Checked(value, _) => type_api(space, value),
        Ty::Named(id) => {
            let def = &space.defs[*id];
            TypeApi::Named {
                path: path_in(space, def.module, &def.name),
                kind: match def.item {
                    Item::Struct { .. } => NamedKind::Struct,
                    Item::Enum { .. } => NamedKind::StringEnum,
                    Item::Tagged { .. } | Item::Untagged { .. } => NamedKind::Union,
                },
            }
        }
    }
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

/// What the generated code offers hand-written code, named exactly as generated.
pub(crate) fn api_of(
    project: &Project,
    space: &TypeSpace<'_>,
    aggregates: &Aggregates<'_>,
    models: &BTreeMap<&str, deciders::PlannedModel<'_>>,
    projection_plan: Option<&(usize, Vec<projections::PlannedProjection<'_>>)>,
) -> Api {
    let category = |aggregate: &str| {
        project
            .aggregates
            .get(aggregate)
            .map_or(aggregate, |a| a.stream_category())
            .to_owned()
    };
    let event_api = |p: &PlannedEvent<'_>| {
        let latest = p.versions.last().expect("an event has a version");
        EventApi {
            event_type: p.event.event_type(),
            ty: path_in(space, latest.module, &latest.name),
            variant: p.variant.clone(),
            fields: fields_of(space, &latest.ty),
            category: category(&p.event.aggregate),
        }
    };
    let mut api = Api::default();
    for (aggregate, (module_name, planned)) in aggregates {
        let model = &models[aggregate];
        let Some((file, state_name, state_ty)) = &model.state else {
            continue;
        };
        let (decides, applies) = deciders::method_names(
            model,
            planned
                .iter()
                .map(|p| deciders::apply_method(&p.event.name)),
        );
        let in_module = |name: &str| vec![module_name.clone(), name.to_owned()];
        api.aggregates.push(AggregateApi {
            name: (*aggregate).to_owned(),
            module: module_name.clone(),
            rules: in_module(&model.names[1]),
            aggregate: in_module(&model.names[2]),
            event_enum: in_module(&aggregate_enum_name(aggregate).to_string()),
            state: in_module(state_name),
            state_fields: fields_of(space, state_ty),
            snapshot_every: file.annotations.snapshot.as_ref().map(|s| s.every),
            decides: model
                .commands
                .iter()
                .zip(decides)
                .map(|(c, method)| Decide {
                    method,
                    command: c.command.name.clone(),
                    command_type: path_in(space, model.commands_module, &c.name),
                    command_fields: fields_of(space, &c.ty),
                    command_required: required_of(space, &c.ty),
                    emits: c
                        .command
                        .annotations
                        .emits
                        .iter()
                        .filter_map(|event_type| {
                            planned
                                .iter()
                                .find(|p| &p.event.event_type() == event_type)
                                .map(event_api)
                        })
                        .collect(),
                })
                .collect(),
            applies: planned
                .iter()
                .zip(applies)
                .map(|(p, method)| Apply {
                    method,
                    event: event_api(p),
                })
                .collect(),
        });
    }
    if let Some((module, planned)) = projection_plan {
        let find = |event_type: &str| {
            aggregates
                .values()
                .flat_map(|(_, planned)| planned)
                .find(|p| p.event.event_type() == event_type)
        };
        for p in planned
            .iter()
            .filter(|p| projections::has_handler(p, space, *module))
        {
            api.projections.push(ProjectionApi {
                name: p.projection.name.clone(),
                handler: path_in(space, *module, &p.handler),
                projection: path_in(space, *module, &p.runner),
                row: path_in(space, *module, &p.row),
                key: p.projection.annotations.key.clone(),
                row_fields: fields_of(space, &p.ty),
                handles: projections::handler_methods(p, &|t| find(t).is_some())
                    .into_iter()
                    .filter_map(|(event_type, method)| {
                        Some(Apply {
                            method,
                            event: event_api(find(&event_type)?),
                        })
                    })
                    .collect(),
            });
        }
    }
    api
}
