//! References: every document indexed, referenced files loaded, every `$ref` resolved, and
//! what cannot stand: a reference that leads nowhere, a `$ref` cycle with no schema in it, and
//! an `$id` declared twice.

use super::Loader;
use crate::diagnostic::{Diagnostic, Rule};
use crate::schema::store::{DocId, NodeRef, RefError};
use crate::text::pointer;
use crate::text::similar::closest;
use url::Url;

impl Loader<'_> {
    /// Indexes every document (loading referenced files outside the project as needed), then
    /// resolves every `$ref`.
    pub(super) fn resolve_refs(&mut self) {
        let mut queue: Vec<DocId> = self.store.ids().collect();
        let mut found = Vec::new();
        while let Some(id) = queue.pop() {
            for (holder, text, target) in self.store.index(id) {
                if let Ok(url) = &target {
                    if let Some(new) = self.load_referenced(url) {
                        queue.push(new);
                    }
                }
                // Under an `http(s)` `$id`, a relative reference may also mean a file beside this
                // one (a common layout): keep that file at hand.
                let beside = self.beside(&holder, &text, &target);
                if let Some(new) = beside.as_ref().and_then(|url| self.load_referenced(url)) {
                    queue.push(new);
                }
                found.push((holder, text, target, beside));
            }
        }
        let mut unreadable = std::collections::HashSet::new();
        for (holder, text, target, beside) in found {
            if let (Ok(url), Some(beside)) = (&target, &beside) {
                if matches!(self.store.lookup(url), Err(RefError::Remote(_)))
                    && self.store.lookup(beside).is_ok()
                {
                    // From now on the `$id`-based URI names the file beside, for validators too.
                    self.store.alias(url, beside);
                }
            }
            let resolved = target.and_then(|url| {
                let mut resource = url.clone();
                resource.set_fragment(None);
                if self.broken.contains(resource.as_str()) {
                    let path = url.to_file_path().unwrap_or_default();
                    return Err(RefError::Unreadable(
                        path,
                        "it could not be read or parsed (see its own error)".into(),
                    ));
                }
                self.store.lookup(&url)
            });
            if let Err(err) = &resolved {
                // A file that does not load has its own error; the references to it are told
                // once per file, not once per `$ref`.
                let first = match err {
                    RefError::Unreadable(path, _) => unreadable.insert(path.clone()),
                    _ => true,
                };
                if first {
                    let diagnostic = self.ref_diagnostic(&holder, &text, err);
                    self.diagnostics.push(diagnostic);
                }
                self.invalid.insert(holder.doc);
            }
            self.store.record_ref(holder, text, resolved);
        }
        self.check_identity();
    }

    /// For a relative reference resolved against a non-file `$id`, the same reference resolved
    /// against the file's own location.
    fn beside(&self, holder: &NodeRef, text: &str, target: &Result<Url, RefError>) -> Option<Url> {
        let url = target.as_ref().ok()?;
        if url.scheme() == "file" || Url::parse(text).is_ok() {
            return None;
        }
        self.store.uri(holder.doc).join(text).ok()
    }

    /// Loads the file a `file:` URI names when no document holds it yet.
    fn load_referenced(&mut self, url: &Url) -> Option<DocId> {
        if url.scheme() != "file" {
            return None;
        }
        let mut resource = url.clone();
        resource.set_fragment(None);
        if self.store.has_resource(resource.as_str()) || self.broken.contains(resource.as_str()) {
            return None;
        }
        let path = resource.to_file_path().ok()?;
        if self.fs.read(&path).is_err() {
            // Reported as a dangling reference by the caller, not as an I/O failure.
            return None;
        }
        self.read_document(&path)
    }

    fn ref_diagnostic(&self, holder: &NodeRef, text: &str, err: &RefError) -> Diagnostic {
        let document = self.store.document(holder.doc);
        let at = crate::text::pointer::push(&holder.pointer, "$ref");
        let (code, message, label, help) = match err {
            RefError::InvalidUri(detail) => (
                Rule::DanglingRef,
                format!("`$ref` is not a valid URI reference: {detail}"),
                "invalid reference".to_owned(),
                "write a relative path (`../types/money.json#/$defs/Amount`) or a fragment (`#/$defs/Name`)".to_owned(),
            ),
            RefError::FileNotFound(path) => (
                Rule::DanglingRef,
                format!("`$ref` points to a file that does not exist: {}", self.display(path).display()),
                "no such file".to_owned(),
                "relative references resolve against this file's directory (or its `$id`); check the path".to_owned(),
            ),
            RefError::Unreadable(path, why) => (
                Rule::UnreadableRef,
                format!("`$ref` points to {}, but {why}", self.display(path).display()),
                "unreadable target".to_owned(),
                "fix the referenced file first".to_owned(),
            ),
            RefError::Remote(uri) => (
                Rule::DanglingRef,
                format!("`$ref` points to `{uri}`, which is not part of the project"),
                "not a project file".to_owned(),
                "eventsmith never fetches schemas over the network: copy the schema into schema/types/ and reference it by relative path, or declare this `$id` in a project file".to_owned(),
            ),
            RefError::PointerNotFound { pointer, missing } => {
                let suggestion = self.suggest_sibling(holder, text, pointer, missing);
                (
                    Rule::DanglingRef,
                    format!("`$ref` target `{pointer}` does not exist: there is no `{missing}`"),
                    format!("`{missing}` not found"),
                    suggestion.unwrap_or_else(|| "point at an existing definition, e.g. `#/$defs/<Name>`".to_owned()),
                )
            }
            RefError::AnchorNotFound(anchor) => (
                Rule::DanglingRef,
                format!("`$ref` names the anchor `{anchor}`, which no `$anchor` declares"),
                "unknown anchor".to_owned(),
                "declare `\"$anchor\": \"<name>\"` in the target schema or use a JSON pointer fragment".to_owned(),
            ),
        };
        document.diagnostic_at(
            Diagnostic::new(code, message)
                .with_label(label)
                .with_help(help),
            &at,
        )
    }

    /// "did you mean `X`?" for a missing pointer token, from the keys beside it.
    fn suggest_sibling(
        &self,
        holder: &NodeRef,
        text: &str,
        pointer: &str,
        missing: &str,
    ) -> Option<String> {
        let target_doc = match text.split('#').next() {
            Some("") | None => Some(holder.doc),
            Some(_) => self
                .store
                .uri(holder.doc)
                .join(text)
                .ok()
                .and_then(|u| u.to_file_path().ok())
                .and_then(|p| self.store.id_of(&p)),
        }?;
        let tokens = crate::text::pointer::tokens(pointer)?;
        let position = tokens.iter().position(|t| t == missing)?;
        let parent: String = tokens[..position]
            .iter()
            .fold(String::new(), |acc, t| crate::text::pointer::push(&acc, t));
        let siblings = self.store.document(target_doc).get(&parent)?.as_object()?;
        closest(missing, siblings.keys().map(String::as_str))
            .map(|name| format!("did you mean `{name}`?"))
    }

    /// Reports `$ref` cycles and `$id`s declared twice; the schemas involved are invalid.
    pub(super) fn check_identity(&mut self) {
        for cycle in self.store.ref_cycles() {
            let first = &cycle[0];
            let document = self.store.document(first.doc);
            let path: Vec<String> = cycle
                .iter()
                .chain(std::iter::once(first))
                .map(|node| self.node_name(node))
                .collect();
            let message = if cycle.len() == 1 {
                format!(
                    "`{}` refers to itself: its `$ref` leads back to it without a schema between",
                    path[0]
                )
            } else {
                format!(
                    "these `$ref`s lead back to where they start without a schema between: {}",
                    path.join(" → ")
                )
            };
            let diagnostic = document.diagnostic_at(
                Diagnostic::new(Rule::RefCycle, message)
                    .with_label("this reference never reaches a schema")
                    .with_help("point one of the `$ref`s at a schema that is not itself only a reference; a recursive type refers to itself from inside a property or an item"),
                &pointer::push(&first.pointer, "$ref"),
            );
            self.diagnostics.push(diagnostic);
            for node in &cycle {
                self.invalid.insert(node.doc);
            }
        }
        for (uri, first, again) in self.store.duplicate_ids().to_vec() {
            let keyword = self
                .store
                .draft(again.doc)
                .map_or("$id", |draft| draft.id_keyword());
            let first_file = self
                .store
                .document(first.doc)
                .display()
                .display()
                .to_string();
            let document = self.store.document(again.doc);
            let diagnostic = document.diagnostic_at(
                Diagnostic::new(
                    Rule::DuplicateId,
                    format!("`{uri}` is declared as `{keyword}` here and in {first_file} (at `{}`)", if first.pointer.is_empty() { "/" } else { &first.pointer }),
                )
                .with_label("declared a second time")
                .with_help(format!("a `$ref` to `{uri}` can only mean one schema: give one of them another `{keyword}`")),
                &pointer::push(&again.pointer, keyword),
            );
            self.diagnostics.push(diagnostic);
            self.invalid.insert(again.doc);
        }
    }

    /// A node as `file#pointer`, for messages.
    fn node_name(&self, node: &NodeRef) -> String {
        let file = self
            .store
            .document(node.doc)
            .display()
            .display()
            .to_string();
        format!("{file}#{}", node.pointer)
    }
}
