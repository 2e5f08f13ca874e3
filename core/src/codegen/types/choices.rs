//! Enums from `oneOf`/`anyOf`: tagged by a discriminating `const` property where there is one,
//! untagged otherwise.

use super::{
    Item, Map, NodeRef, Scope, Ty, TypeSpace, Value, Variant, View, shape_name, type_name,
};

impl<'a> TypeSpace<'a> {
    /// `oneOf`/`anyOf`: `Option` of the other for a pair with `null`, a tagged enum when every
    /// alternative is an object with a required string `const` property of one name, otherwise
    /// an untagged enum.
    pub(super) fn choice(
        &mut self,
        node: &NodeRef,
        object: &Map<String, Value>,
        keyword: &str,
        hint: &str,
    ) -> Ty {
        let Some(Value::Array(alternatives)) = object.get(keyword) else {
            return Ty::Json;
        };
        let nodes: Vec<NodeRef> = (0..alternatives.len())
            .map(|i| Self::child(node, &[keyword, &i.to_string()]))
            .collect();
        let is_null = |space: &Self, at: &NodeRef| {
            let view = View::resolve(space.store, at);
            view.get("type").is_some_and(|(t, _)| t == "null")
        };
        let non_null: Vec<&NodeRef> = nodes.iter().filter(|n| !is_null(self, n)).collect();
        if non_null.len() == 1 && nodes.len() == 2 {
            let inner = self.ty(non_null[0], hint);
            return match inner {
                Ty::Nullable(_) => inner,
                inner => Ty::Nullable(Box::new(inner)),
            };
        }
        let ty = self.named(node, hint, None);
        if nodes.len() != non_null.len() {
            Ty::Nullable(Box::new(ty))
        } else {
            ty
        }
    }

    /// The item of a `oneOf`/`anyOf` node.
    pub(super) fn choice_item(&mut self, node: &NodeRef, parent: &str) -> Item {
        let object = self.object(node).cloned().unwrap_or_default();
        let keyword = if object.contains_key("oneOf") {
            "oneOf"
        } else {
            "anyOf"
        };
        let count = object
            .get(keyword)
            .and_then(Value::as_array)
            .map_or(0, Vec::len);
        let nodes: Vec<NodeRef> = (0..count)
            .map(|i| Self::child(node, &[keyword, &i.to_string()]))
            .filter(|at| {
                let view = View::resolve(self.store, at);
                !view.get("type").is_some_and(|(t, _)| t == "null")
            })
            .collect();
        let mut scope = Scope::new();
        if let Some(tag) = self.discriminator(&nodes) {
            let mut variants = Vec::new();
            for at in &nodes {
                let view = View::resolve(self.store, at);
                let value = tag_value(&view, &tag).unwrap_or_default();
                let target = self.store.follow(at).unwrap_or_else(|| at.clone());
                let name = format!("{parent}{}", type_name(&value, "Variant"));
                let ty = self.named(&target, &name, Some(tag.clone()));
                variants.push(Variant {
                    rust: scope.claim(type_name(&value, "Variant")),
                    tag: Some(value),
                    ty,
                    doc: None,
                });
            }
            return Item::Tagged { tag, variants };
        }
        let mut variants = Vec::new();
        for (i, at) in nodes.iter().enumerate() {
            let view = View::resolve(self.store, at);
            let title = view.get("title").and_then(|(v, _)| v.as_str());
            let ty = self.ty(at, &format!("{parent}{}", i + 1));
            let name = match (title, &ty) {
                (Some(title), _) => type_name(title, "Variant"),
                (None, Ty::Named(id)) => self.defs[*id].name.clone(),
                (None, ty) => shape_name(ty, &self.defs),
            };
            let doc = view
                .get("description")
                .and_then(|(v, _)| v.as_str())
                .map(str::to_owned);
            variants.push(Variant {
                rust: scope.claim(name),
                tag: None,
                ty,
                doc,
            });
        }
        Item::Untagged { variants }
    }

    /// The property every alternative requires with a distinct string `const`.
    pub(super) fn discriminator(&self, nodes: &[NodeRef]) -> Option<String> {
        let first = View::resolve(self.store, nodes.first()?);
        let (properties, _) = first.get("properties")?;
        let mut seen = Vec::new();
        'candidates: for candidate in properties.as_object()?.keys() {
            seen.clear();
            for at in nodes {
                let view = View::resolve(self.store, at);
                let required = view
                    .get("required")
                    .and_then(|(r, _)| r.as_array())
                    .is_some_and(|r| r.iter().any(|n| n == candidate.as_str()));
                match tag_value(&view, candidate) {
                    Some(value) if required && !seen.contains(&value) => seen.push(value),
                    _ => continue 'candidates,
                }
            }
            return Some(candidate.clone());
        }
        None
    }
}

/// The string a discriminating property is fixed to in an alternative.
pub(super) fn tag_value(view: &View<'_>, property: &str) -> Option<String> {
    let (properties, _) = view.get("properties")?;
    let schema = properties.get(property)?;
    match (schema.get("const"), schema.get("enum")) {
        (Some(Value::String(value)), _) => Some(value.clone()),
        (None, Some(Value::Array(values))) if values.len() == 1 => {
            values[0].as_str().map(str::to_owned)
        }
        _ => None,
    }
}
