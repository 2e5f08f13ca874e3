//! Arrays: items under open, closed and tuple content models (both drafts' forms), counts,
//! `uniqueItems` and `contains`.

use super::{Allowance, Differ, Side, rest_allowance};
use crate::compat::kind::ChangeKind as K;
use crate::schema::store::NodeRef;
use crate::schema::view::View;
use serde_json::Value;

impl<'a> Differ<'a> {
    pub(super) fn arrays(&mut self, old: &View<'a>, new: &View<'a>) {
        use K::*;
        let (a_prefix, a_rest) = self.tuple(old, true);
        let (b_prefix, b_rest) = self.tuple(new, false);
        for index in 0..a_prefix.len().max(b_prefix.len()) {
            let detail = format!("position {index}");
            match (a_prefix.get(index), b_prefix.get(index)) {
                (Some(x), Some(y)) => self.compare(x, y),
                (None, Some(y)) => match rest_allowance(&a_rest) {
                    Allowance::Forbidden => self.push(
                        ItemAddedToClosedContentModel,
                        a_rest.at.clone(),
                        y.at.clone(),
                        detail,
                    ),
                    other => self.lone_member(
                        other,
                        y,
                        Side::New,
                        (a_rest.at.clone(), y.at.clone()),
                        [
                            ItemWithEmptySchemaAddedToOpenContentModel,
                            ItemAddedToOpenContentModel,
                            ItemAddedToPartiallyOpenContentModel,
                        ],
                        detail,
                    ),
                },
                (Some(x), None) => match rest_allowance(&b_rest) {
                    Allowance::Forbidden => self.push(
                        ItemRemovedFromClosedContentModel,
                        x.at.clone(),
                        b_rest.at.clone(),
                        detail,
                    ),
                    other => self.lone_member(
                        other,
                        x,
                        Side::Old,
                        (x.at.clone(), b_rest.at.clone()),
                        [
                            ItemWithEmptySchemaRemovedFromOpenContentModel,
                            ItemRemovedFromOpenContentModel,
                            ItemRemovedFromPartiallyOpenContentModel,
                        ],
                        detail,
                    ),
                },
                (None, None) => {}
            }
        }
        match (a_rest.boolean == Some(false), b_rest.boolean == Some(false)) {
            (true, true) => {}
            (true, false) => self.push(
                AdditionalItemsAllowed,
                a_rest.at.clone(),
                b_rest.at.clone(),
                "",
            ),
            (false, true) => self.push(
                AdditionalItemsForbidden,
                a_rest.at.clone(),
                b_rest.at.clone(),
                "",
            ),
            (false, false) => self.compare(&a_rest, &b_rest),
        }
        self.bound(
            old,
            new,
            "minItems",
            [
                MinItemsAdded,
                MinItemsRemoved,
                MinItemsIncreased,
                MinItemsDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "maxItems",
            [
                MaxItemsAdded,
                MaxItemsRemoved,
                MaxItemsIncreased,
                MaxItemsDecreased,
            ],
        );
        let unique = |view: &View<'a>| {
            view.get("uniqueItems")
                .is_some_and(|(v, _)| v == &Value::Bool(true))
        };
        match (unique(old), unique(new)) {
            (false, true) => self.push(
                UniqueItemsAdded,
                old.location("uniqueItems"),
                new.location("uniqueItems"),
                "",
            ),
            (true, false) => self.push(
                UniqueItemsRemoved,
                old.location("uniqueItems"),
                new.location("uniqueItems"),
                "",
            ),
            _ => {}
        }
        self.optional_schema(old, new, "contains", ContainsAdded, ContainsRemoved);
        if old.has("contains") && new.has("contains") {
            self.bound(
                old,
                new,
                "minContains",
                [
                    MinContainsAdded,
                    MinContainsRemoved,
                    MinContainsIncreased,
                    MinContainsDecreased,
                ],
            );
            self.bound(
                old,
                new,
                "maxContains",
                [
                    MaxContainsAdded,
                    MaxContainsRemoved,
                    MaxContainsIncreased,
                    MaxContainsDecreased,
                ],
            );
        }
    }

    /// Positional item schemas and the schema for the rest (`true` when absent).
    pub(super) fn tuple(&self, view: &View<'a>, side_old: bool) -> (Vec<View<'a>>, View<'a>) {
        let positional = |at: &NodeRef, count: usize| -> Vec<View<'a>> {
            (0..count)
                .map(|i| {
                    self.resolve(
                        side_old,
                        &NodeRef {
                            doc: at.doc,
                            pointer: format!("{}/{i}", at.pointer),
                        },
                    )
                })
                .collect()
        };
        let rest = |keywords: &[&str]| {
            keywords
                .iter()
                .find_map(|k| view.get(k).map(|(_, at)| self.resolve(side_old, &at)))
                .unwrap_or_else(|| View::absent(&view.at))
        };
        if let Some((Value::Array(items), at)) = view.get("prefixItems") {
            return (
                positional(&at, items.len()),
                rest(&["items", "unevaluatedItems"]),
            );
        }
        if let Some((Value::Array(items), at)) = view.get("items") {
            return (
                positional(&at, items.len()),
                rest(&["additionalItems", "unevaluatedItems"]),
            );
        }
        (Vec::new(), rest(&["items", "unevaluatedItems"]))
    }
}
