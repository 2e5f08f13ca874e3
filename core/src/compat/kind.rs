//! The vocabulary of schema changes. Each kind has a stable id, a verdict for backward and forward
//! compatibility (Confluent Schema Registry's meanings), a summary and, for breaking kinds, why.
//! A few kinds are judged per occurrence (marked `computed`); their table verdicts are defaults.

macro_rules! kinds {
    ($( $variant:ident = $id:literal, $backward:literal, $forward:literal, $summary:literal; )*) => {
        /// A kind of schema change.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[allow(missing_docs)]
        pub enum ChangeKind { $($variant,)* }

        impl ChangeKind {
            /// Every kind, in documentation order.
            pub const ALL: &'static [ChangeKind] = &[$(ChangeKind::$variant,)*];

            /// The stable kebab-case id used in reports and corpora.
            pub fn id(self) -> &'static str {
                match self { $(ChangeKind::$variant => $id,)* }
            }

            /// Whether documents valid under the old schema stay valid (new readers read old data).
            pub fn backward(self) -> bool {
                match self { $(ChangeKind::$variant => $backward,)* }
            }

            /// Whether documents valid under the new schema are valid under the old one.
            pub fn forward(self) -> bool {
                match self { $(ChangeKind::$variant => $forward,)* }
            }

            /// What the change is, in a few words.
            pub fn summary(self) -> &'static str {
                match self { $(ChangeKind::$variant => $summary,)* }
            }

            /// The kind with this id.
            pub fn from_id(id: &str) -> Option<ChangeKind> {
                match id { $($id => Some(ChangeKind::$variant),)* _ => None }
            }
        }

        impl crate::diagnostic::ChangeCode for ChangeKind {
            fn code(&self) -> &'static str {
                self.id()
            }
        }
    };
}

kinds! {
    // Annotations: never change what validates.
    IdChanged = "id-changed", true, true, "`$id` changed";
    TitleChanged = "title-changed", true, true, "`title` changed";
    DescriptionChanged = "description-changed", true, true, "`description` changed";
    DefaultChanged = "default-changed", true, true, "`default` changed";
    ExamplesChanged = "examples-changed", true, true, "`examples` changed";
    DeprecatedChanged = "deprecated-changed", true, true, "`deprecated` changed";
    ReadOnlyChanged = "read-only-changed", true, true, "`readOnly` changed";
    WriteOnlyChanged = "write-only-changed", true, true, "`writeOnly` changed";
    ContentAdded = "content-added", false, true, "`contentEncoding`, `contentMediaType` or `contentSchema` added";
    ContentRemoved = "content-removed", true, false, "`contentEncoding`, `contentMediaType` or `contentSchema` removed";
    ContentChanged = "content-changed", false, false, "`contentEncoding`, `contentMediaType` or `contentSchema` changed";
    // Whole schemas.
    SchemaBecameFalse = "schema-became-false", false, true, "the schema now rejects everything";
    SchemaWasFalse = "schema-was-false", true, false, "the schema rejected everything and now accepts documents";
    // Types.
    TypeAdded = "type-added", false, true, "a `type` restriction was added";
    TypeRemoved = "type-removed", true, false, "the `type` restriction was removed";
    TypeExtended = "type-extended", true, false, "more types are allowed (incl. integer to number)";
    TypeNarrowed = "type-narrowed", false, true, "fewer types are allowed (incl. number to integer)";
    TypeChanged = "type-changed", false, false, "the type changed";
    // Strings.
    MaxLengthAdded = "max-length-added", false, true, "`maxLength` added";
    MaxLengthRemoved = "max-length-removed", true, false, "`maxLength` removed";
    MaxLengthIncreased = "max-length-increased", true, false, "`maxLength` increased";
    MaxLengthDecreased = "max-length-decreased", false, true, "`maxLength` decreased";
    MinLengthAdded = "min-length-added", false, true, "`minLength` added";
    MinLengthRemoved = "min-length-removed", true, false, "`minLength` removed";
    MinLengthIncreased = "min-length-increased", false, true, "`minLength` increased";
    MinLengthDecreased = "min-length-decreased", true, false, "`minLength` decreased";
    PatternAdded = "pattern-added", false, true, "`pattern` added";
    PatternRemoved = "pattern-removed", true, false, "`pattern` removed";
    PatternChanged = "pattern-changed", false, false, "`pattern` changed";
    FormatAdded = "format-added", false, true, "`format` added";
    FormatRemoved = "format-removed", true, false, "`format` removed";
    FormatChanged = "format-changed", false, false, "`format` changed";
    // Numbers.
    MinimumAdded = "minimum-added", false, true, "`minimum` added";
    MinimumRemoved = "minimum-removed", true, false, "`minimum` removed";
    MinimumIncreased = "minimum-increased", false, true, "`minimum` increased";
    MinimumDecreased = "minimum-decreased", true, false, "`minimum` decreased";
    MaximumAdded = "maximum-added", false, true, "`maximum` added";
    MaximumRemoved = "maximum-removed", true, false, "`maximum` removed";
    MaximumIncreased = "maximum-increased", true, false, "`maximum` increased";
    MaximumDecreased = "maximum-decreased", false, true, "`maximum` decreased";
    ExclusiveMinimumAdded = "exclusive-minimum-added", false, true, "`exclusiveMinimum` added";
    ExclusiveMinimumRemoved = "exclusive-minimum-removed", true, false, "`exclusiveMinimum` removed";
    ExclusiveMinimumIncreased = "exclusive-minimum-increased", false, true, "`exclusiveMinimum` increased";
    ExclusiveMinimumDecreased = "exclusive-minimum-decreased", true, false, "`exclusiveMinimum` decreased";
    ExclusiveMaximumAdded = "exclusive-maximum-added", false, true, "`exclusiveMaximum` added";
    ExclusiveMaximumRemoved = "exclusive-maximum-removed", true, false, "`exclusiveMaximum` removed";
    ExclusiveMaximumIncreased = "exclusive-maximum-increased", true, false, "`exclusiveMaximum` increased";
    ExclusiveMaximumDecreased = "exclusive-maximum-decreased", false, true, "`exclusiveMaximum` decreased";
    MultipleOfAdded = "multiple-of-added", false, true, "`multipleOf` added";
    MultipleOfRemoved = "multiple-of-removed", true, false, "`multipleOf` removed";
    MultipleOfReduced = "multiple-of-reduced", true, false, "`multipleOf` became a divisor of the old one";
    MultipleOfExpanded = "multiple-of-expanded", false, true, "`multipleOf` became a multiple of the old one";
    MultipleOfChanged = "multiple-of-changed", false, false, "`multipleOf` changed to an unrelated number";
    // Object properties under the content model of the other side.
    PropertyAddedToOpenContentModel = "property-added-to-open-content-model", false, true, "a property was added where any value was allowed";
    PropertyWithEmptySchemaAddedToOpenContentModel = "property-with-empty-schema-added-to-open-content-model", true, true, "a property accepting anything was added to an open model";
    PropertyWithFalseAddedToClosedContentModel = "property-with-false-added-to-closed-content-model", true, true, "a forbidden (`false`) property was added to a closed model";
    OptionalPropertyAddedToClosedContentModel = "optional-property-added-to-closed-content-model", true, false, "an optional property was added to a closed model";
    RequiredPropertyAddedToClosedContentModel = "required-property-added-to-closed-content-model", false, false, "a required property was added to a closed model";
    RequiredPropertyWithDefaultAddedToClosedContentModel = "required-property-with-default-added-to-closed-content-model", true, false, "a required property with a default was added to a closed model";
    PropertyAddedToPartiallyOpenContentModel = "property-added-to-partially-open-content-model", true, true, "a property was added where `patternProperties`/`additionalProperties` applied (computed)";
    PropertyRemovedFromOpenContentModel = "property-removed-from-open-content-model", true, false, "a property was removed from an open model";
    PropertyWithEmptySchemaRemovedFromOpenContentModel = "property-with-empty-schema-removed-from-open-content-model", true, true, "a property accepting anything was removed from an open model";
    PropertyRemovedFromClosedContentModel = "property-removed-from-closed-content-model", false, true, "a property was removed from a closed model";
    PropertyWithFalseRemovedFromClosedContentModel = "property-with-false-removed-from-closed-content-model", true, true, "a forbidden (`false`) property was removed from a closed model";
    PropertyRemovedFromPartiallyOpenContentModel = "property-removed-from-partially-open-content-model", true, true, "a property was removed; `patternProperties`/`additionalProperties` now apply (computed)";
    RequiredAdded = "required-added", false, true, "a property became required";
    RequiredWithDefaultAdded = "required-with-default-added", true, true, "a property with a default became required";
    RequiredRemoved = "required-removed", true, false, "a property is no longer required";
    AdditionalPropertiesAllowed = "additional-properties-allowed", true, false, "undeclared properties are now allowed";
    AdditionalPropertiesForbidden = "additional-properties-forbidden", false, true, "undeclared properties are now rejected";
    PatternPropertyAdded = "pattern-property-added", false, true, "a `patternProperties` entry was added (computed)";
    PatternPropertyRemoved = "pattern-property-removed", true, false, "a `patternProperties` entry was removed (computed)";
    PropertyNamesAdded = "property-names-added", false, true, "`propertyNames` added";
    PropertyNamesRemoved = "property-names-removed", true, false, "`propertyNames` removed";
    MinPropertiesAdded = "min-properties-added", false, true, "`minProperties` added";
    MinPropertiesRemoved = "min-properties-removed", true, false, "`minProperties` removed";
    MinPropertiesIncreased = "min-properties-increased", false, true, "`minProperties` increased";
    MinPropertiesDecreased = "min-properties-decreased", true, false, "`minProperties` decreased";
    MaxPropertiesAdded = "max-properties-added", false, true, "`maxProperties` added";
    MaxPropertiesRemoved = "max-properties-removed", true, false, "`maxProperties` removed";
    MaxPropertiesIncreased = "max-properties-increased", true, false, "`maxProperties` increased";
    MaxPropertiesDecreased = "max-properties-decreased", false, true, "`maxProperties` decreased";
    DependentRequiredAdded = "dependent-required-added", false, true, "a `dependentRequired` entry was added";
    DependentRequiredRemoved = "dependent-required-removed", true, false, "a `dependentRequired` entry was removed";
    DependentRequiredExtended = "dependent-required-extended", false, true, "a `dependentRequired` entry requires more properties";
    DependentRequiredNarrowed = "dependent-required-narrowed", true, false, "a `dependentRequired` entry requires fewer properties";
    DependentRequiredChanged = "dependent-required-changed", false, false, "a `dependentRequired` entry requires other properties";
    DependentSchemaAdded = "dependent-schema-added", false, true, "a `dependentSchemas` entry was added";
    DependentSchemaRemoved = "dependent-schema-removed", true, false, "a `dependentSchemas` entry was removed";
    // Arrays.
    MinItemsAdded = "min-items-added", false, true, "`minItems` added";
    MinItemsRemoved = "min-items-removed", true, false, "`minItems` removed";
    MinItemsIncreased = "min-items-increased", false, true, "`minItems` increased";
    MinItemsDecreased = "min-items-decreased", true, false, "`minItems` decreased";
    MaxItemsAdded = "max-items-added", false, true, "`maxItems` added";
    MaxItemsRemoved = "max-items-removed", true, false, "`maxItems` removed";
    MaxItemsIncreased = "max-items-increased", true, false, "`maxItems` increased";
    MaxItemsDecreased = "max-items-decreased", false, true, "`maxItems` decreased";
    UniqueItemsAdded = "unique-items-added", false, true, "`uniqueItems` now required";
    UniqueItemsRemoved = "unique-items-removed", true, false, "`uniqueItems` no longer required";
    ContainsAdded = "contains-added", false, true, "`contains` added";
    ContainsRemoved = "contains-removed", true, false, "`contains` removed";
    MinContainsAdded = "min-contains-added", false, true, "`minContains` added";
    MinContainsRemoved = "min-contains-removed", true, false, "`minContains` removed";
    MinContainsIncreased = "min-contains-increased", false, true, "`minContains` increased";
    MinContainsDecreased = "min-contains-decreased", true, false, "`minContains` decreased";
    MaxContainsAdded = "max-contains-added", false, true, "`maxContains` added";
    MaxContainsRemoved = "max-contains-removed", true, false, "`maxContains` removed";
    MaxContainsIncreased = "max-contains-increased", true, false, "`maxContains` increased";
    MaxContainsDecreased = "max-contains-decreased", false, true, "`maxContains` decreased";
    ItemAddedToOpenContentModel = "item-added-to-open-content-model", false, true, "a tuple position was constrained where any item was allowed";
    ItemWithEmptySchemaAddedToOpenContentModel = "item-with-empty-schema-added-to-open-content-model", true, true, "a tuple position accepting anything was added to an open tuple";
    ItemAddedToClosedContentModel = "item-added-to-closed-content-model", true, false, "a tuple position was added to a closed tuple";
    ItemAddedToPartiallyOpenContentModel = "item-added-to-partially-open-content-model", true, true, "a tuple position was added where the rest-items schema applied (computed)";
    ItemRemovedFromOpenContentModel = "item-removed-from-open-content-model", true, false, "a tuple position was removed from an open tuple";
    ItemWithEmptySchemaRemovedFromOpenContentModel = "item-with-empty-schema-removed-from-open-content-model", true, true, "a tuple position accepting anything was removed from an open tuple";
    ItemRemovedFromClosedContentModel = "item-removed-from-closed-content-model", false, true, "a tuple position was removed from a closed tuple";
    ItemRemovedFromPartiallyOpenContentModel = "item-removed-from-partially-open-content-model", true, true, "a tuple position was removed; the rest-items schema now applies (computed)";
    AdditionalItemsAllowed = "additional-items-allowed", true, false, "items past the tuple are now allowed";
    AdditionalItemsForbidden = "additional-items-forbidden", false, true, "items past the tuple are now rejected";
    // Values.
    EnumAdded = "enum-added", false, true, "`enum` added";
    EnumRemoved = "enum-removed", true, false, "`enum` removed";
    EnumExtended = "enum-extended", true, false, "`enum` gained values";
    EnumNarrowed = "enum-narrowed", false, true, "`enum` lost values";
    EnumChanged = "enum-changed", false, false, "`enum` gained and lost values";
    ConstAdded = "const-added", false, true, "`const` added";
    ConstRemoved = "const-removed", true, false, "`const` removed";
    ConstChanged = "const-changed", false, false, "`const` changed";
    // Combinators.
    AlternativeAdded = "alternative-added", true, false, "an `anyOf`/`oneOf` alternative was added";
    AlternativeRemoved = "alternative-removed", false, true, "an `anyOf`/`oneOf` alternative was removed";
    ConjunctAdded = "conjunct-added", false, true, "an `allOf` subschema was added";
    ConjunctRemoved = "conjunct-removed", true, false, "an `allOf` subschema was removed";
    CombinatorAdded = "combinator-added", false, true, "an `anyOf`/`oneOf`/`allOf` restriction was added (computed)";
    CombinatorRemoved = "combinator-removed", true, false, "an `anyOf`/`oneOf`/`allOf` restriction was removed (computed)";
    CombinedTypeExtended = "combined-type-extended", true, false, "`oneOf`/`allOf` became `anyOf`";
    CombinedTypeNarrowed = "combined-type-narrowed", false, true, "`anyOf` became `oneOf`/`allOf`";
    CombinedTypeChanged = "combined-type-changed", false, false, "`oneOf` and `allOf` swapped";
    NotAdded = "not-added", false, true, "a `not` restriction was added";
    NotRemoved = "not-removed", true, false, "the `not` restriction was removed";
    ConditionAdded = "condition-added", false, true, "`if`/`then`/`else` added (computed)";
    ConditionRemoved = "condition-removed", true, false, "`if`/`then`/`else` removed (computed)";
    ConditionChanged = "condition-changed", false, false, "the `if` condition changed (computed)";
    ThenAdded = "then-added", false, true, "`then` added (computed)";
    ThenRemoved = "then-removed", true, false, "`then` removed (computed)";
    ElseAdded = "else-added", false, true, "`else` added (computed)";
    ElseRemoved = "else-removed", true, false, "`else` removed (computed)";
}

impl ChangeKind {
    /// Kinds whose verdict is computed per occurrence from the schemas involved.
    pub fn is_computed(self) -> bool {
        matches!(
            self,
            ChangeKind::PropertyAddedToPartiallyOpenContentModel
                | ChangeKind::PropertyRemovedFromPartiallyOpenContentModel
                | ChangeKind::ItemAddedToPartiallyOpenContentModel
                | ChangeKind::ItemRemovedFromPartiallyOpenContentModel
                | ChangeKind::PatternPropertyAdded
                | ChangeKind::PatternPropertyRemoved
                | ChangeKind::CombinatorAdded
                | ChangeKind::CombinatorRemoved
                | ChangeKind::ConditionAdded
                | ChangeKind::ConditionRemoved
                | ChangeKind::ConditionChanged
                | ChangeKind::ThenAdded
                | ChangeKind::ThenRemoved
                | ChangeKind::ElseAdded
                | ChangeKind::ElseRemoved
        )
    }

    /// Kinds where Confluent's documented verdict is looser than the subset relation: a reader
    /// fills in the default, so old data without the property still reads.
    pub fn is_confluent_exception(self) -> bool {
        matches!(
            self,
            ChangeKind::RequiredWithDefaultAdded
                | ChangeKind::RequiredPropertyWithDefaultAddedToClosedContentModel
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for kind in ChangeKind::ALL {
            assert!(seen.insert(kind.id()), "{}", kind.id());
            assert_eq!(ChangeKind::from_id(kind.id()), Some(*kind));
        }
        assert!(ChangeKind::ALL.len() >= 100, "{}", ChangeKind::ALL.len());
    }
}
