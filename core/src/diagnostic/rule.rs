//! The rule table: every diagnostic eventsmith reports, with its stable id, its severity, a
//! one-line summary and the page of the docs that explains it. Diagnostics are built from a
//! [`Rule`], and the SARIF renderer describes each rule from here, so nothing spells an id twice.
//! (Schema changes found by `diff` and `check` have their own table, `compat::ChangeKind`.)

use super::Severity;

macro_rules! rules {
    ($( $variant:ident = $id:literal, $severity:ident, $doc:literal, $summary:literal; )*) => {
        /// A rule: one kind of finding.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum Rule { $($variant,)* }

        impl Rule {
            /// Every rule, in documentation order.
            pub const ALL: &'static [Rule] = &[$(Rule::$variant,)*];

            /// The stable kebab-case id shown in reports (`error[dangling-ref]`).
            pub fn id(self) -> &'static str {
                match self { $(Rule::$variant => $id,)* }
            }

            /// How serious its findings are.
            pub fn severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$severity,)* }
            }

            /// What it finds, in a few words.
            pub fn summary(self) -> &'static str {
                match self { $(Rule::$variant => $summary,)* }
            }

            /// The docs page that explains it, relative to `docs/`, with the rule's anchor.
            pub fn doc(self) -> String {
                match self { $(Rule::$variant => format!("{}#{}", $doc, $id),)* }
            }

            /// The rule with this id.
            pub fn from_id(id: &str) -> Option<Rule> {
                match id { $($id => Some(Rule::$variant),)* _ => None }
            }
        }
    };
}

rules! {
    // Files and JSON.
    JsonSyntax = "json-syntax", Error, "schema-format.md", "the file is not valid JSON";
    JsonTooDeep = "json-too-deep", Error, "schema-format.md", "JSON nesting deeper than the limit";
    Encoding = "encoding", Error, "schema-format.md", "the file is not UTF-8";
    DuplicateKey = "duplicate-key", Error, "schema-format.md", "an object repeats a key";
    SchemaRoot = "schema-root", Error, "schema-format.md", "a schema file must hold an object";
    UnsupportedDraft = "unsupported-draft", Error, "schema-format.md", "`$schema` names a draft eventsmith does not read";
    MetaSchema = "meta-schema", Error, "schema-format.md", "the schema is invalid under its draft's meta-schema";
    DraftKeyword = "draft-keyword", Error, "schema-format.md", "a keyword of another draft, which this file's validators ignore";
    UnknownKeyword = "unknown-keyword", Warning, "schema-format.md", "an unknown keyword close to a known one (a likely typo)";
    DuplicateId = "duplicate-id", Error, "schema-format.md", "two schemas declare the same `$id`";
    PlaceholderDescription = "placeholder-description", Warning, "schema-format.md", "a description `eventsmith new` left to fill in";
    Annotation = "annotation", Error, "schema-format.md", "`x-eventsmith` does not match eventsmith's annotation schema";
    Config = "config", Error, "schema-format.md", "eventsmith.toml is invalid";
    // The layout.
    FileName = "file-name", Error, "schema-format.md", "a file's name or place does not fit the layout";
    Layout = "layout", Warning, "schema-format.md", "a directory outside the layout";
    VersionSequence = "version-sequence", Error, "schema-format.md", "event versions must start at 1 without gaps";
    NameCollision = "name-collision", Error, "schema-format.md", "names collide after case conversion";
    UndefinedAggregate = "undefined-aggregate", Error, "schema-format.md", "an aggregate is used but not defined";
    // References and examples.
    DanglingRef = "dangling-ref", Error, "schema-format.md", "a `$ref` does not resolve";
    UnreadableRef = "unreadable-ref", Error, "schema-format.md", "a `$ref` points to a file that cannot be read";
    RefCycle = "ref-cycle", Error, "schema-format.md", "`$ref`s that lead back to themselves without a schema between";
    InvalidExample = "invalid-example", Error, "schema-format.md", "an example does not validate against its schema";
    ExampleCheck = "example-check", Warning, "schema-format.md", "examples could not be checked";
    // Rules across files.
    UnknownEmittedEvent = "unknown-emitted-event", Error, "schema-format.md", "a command emits an undefined event";
    EmitsOtherAggregate = "emits-other-aggregate", Error, "schema-format.md", "a command emits another aggregate's event";
    UnknownSubscribedEvent = "unknown-subscribed-event", Error, "schema-format.md", "a projection subscribes to an undefined event";
    ProjectionKey = "projection-key", Error, "schema-format.md", "a projection key is not a row property";
    StreamCollision = "stream-collision", Error, "schema-format.md", "two aggregates share a stream category";
    StreamOverlap = "stream-overlap", Warning, "schema-format.md", "one stream category is another's plus a dash";
    UpcastOnFirstVersion = "upcast-on-first-version", Error, "schema-format.md", "version 1 declares an upcast";
    SagaEvent = "saga-event", Error, "schema-format.md", "a saga reads an undefined event, or one without a correlation";
    SagaCorrelation = "saga-correlation", Error, "schema-format.md", "a correlation property is missing from a version of its event, or changes type";
    SagaCommand = "saga-command", Error, "schema-format.md", "a saga sends an undefined command";
    SagaPayload = "saga-payload", Error, "schema-format.md", "a command payload a saga builds does not match the command's schema";
    SagaExpression = "saga-expression", Error, "schema-format.md", "a saga template reads a field that does not exist, or is malformed";
    SagaDuration = "saga-duration", Error, "schema-format.md", "a saga duration does not parse, or a timeout names no duration";
    SagaState = "saga-state", Error, "schema-format.md", "a saga names an unknown state, has an unreachable one, or an end state that acts";
    SagaDeadEnd = "saga-dead-end", Error, "schema-format.md", "a saga state from which no path leads to an end";
    WindowEvent = "window-event", Error, "schema-format.md", "a window reads an undefined event";
    WindowField = "window-field", Error, "schema-format.md", "a window's key, aggregate field or time is missing from a version of an event it reads, or has a type that does not fit";
    WindowAggregate = "window-aggregate", Error, "schema-format.md", "a window aggregate lacks a field it needs, or its property in the schema is missing, extra, or of a type that does not fit";
    WindowDuration = "window-duration", Error, "schema-format.md", "a window duration does not parse, is zero, is finer than a millisecond, or a hop is longer than its window";
    Io = "io", Error, "schema-format.md", "a file or directory could not be read";
    // `check` against a base.
    EventDeleted = "event-deleted", Error, "compatibility.md", "a released event type was deleted or renamed";
    VersionDeleted = "version-deleted", Error, "compatibility.md", "a released event version was deleted or renamed";
    UpcastRequired = "upcast-required", Error, "compatibility.md", "a new version that breaks the previous one declares no upcast";
    UnsoundUpcast = "unsound-upcast", Error, "compatibility.md", "upcast rules that do not bridge two versions";
    BaseNotCompared = "base-not-compared", Warning, "compatibility.md", "a released file does not load at the base and was not compared";
    CommandDeleted = "command-deleted", Error, "compatibility.md", "a released command was deleted or renamed";
    AggregateDeleted = "aggregate-deleted", Error, "compatibility.md", "a released aggregate was deleted or renamed";
    ProjectionDeleted = "projection-deleted", Warning, "compatibility.md", "a released projection was deleted or renamed";
    SnapshotsDiscarded = "snapshots-discarded", Warning, "compatibility.md", "an aggregate's state schema changed: snapshots taken before are set aside";
    ProjectionReplay = "projection-replay", Warning, "compatibility.md", "a projection's rows change shape: its read model is replayed";
    CorrelationBroken = "correlation-broken", Error, "compatibility.md", "a new event version drops or retypes the property a saga finds its instances by";
    WindowFieldBroken = "window-field-broken", Error, "compatibility.md", "a new event version drops or retypes a field a window reads";
    Check = "check", Note, "compatibility.md", "what the compatibility check compared";
    // Generating code.
    UpcastNotGenerated = "upcast-not-generated", Error, "codegen.md", "upcast rules that cannot be generated for the payloads they apply to";
    NameGivesWay = "name-gives-way", Warning, "codegen.md", "an event's title would take a name the generated code uses, so its type, re-export or variant takes another";
    SchemaNotEnforced = "schema-not-enforced", Warning, "codegen.md", "an event schema the validator cannot compile is checked on decode only as far as its type goes";
    // Writing files.
    OwnedFile = "owned-file", Error, "schema-format.md", "a file eventsmith did not write is where it would write one";
    WriteFailed = "write-failed", Error, "schema-format.md", "a file could not be written";
    // The catalog.
    CatalogTemplate = "catalog-template", Error, "catalog.md", "a catalog template failed";
    CatalogAsyncapi = "catalog-asyncapi", Error, "catalog.md", "the AsyncAPI document could not be written";
    CatalogFrontMatter = "catalog-front-matter", Error, "catalog.md", "an EventCatalog page's front matter could not be written";
    // The service.
    ServiceTemplate = "service-template", Error, "service.md", "a service template failed";
    ServiceNoEvents = "service-no-events", Warning, "service.md", "an aggregate without events is left out of the service";
    ServiceNoHandler = "service-no-handler", Warning, "service.md", "a projection the service cannot run is left out";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_round_trip_and_have_a_summary() {
        let mut seen = std::collections::HashSet::new();
        for rule in Rule::ALL {
            assert!(seen.insert(rule.id()), "{}", rule.id());
            assert_eq!(Rule::from_id(rule.id()), Some(*rule));
            assert_ne!(rule.summary(), rule.id());
            assert!(rule.doc().ends_with(&format!("#{}", rule.id())));
        }
    }
}
