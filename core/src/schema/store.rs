//! Every JSON document a project reads (its own files and the files they reference), with the URI
//! index that resolves `$ref` the way JSON Schema does: against the base URI set by the file's
//! location and any `$id`, to a resource, then by JSON pointer or anchor within it.

use crate::schema::draft::Draft;
use crate::schema::walk;
use crate::text::document::Document;
use crate::text::pointer;
use percent_encoding::percent_decode_str;
use serde_json::Value;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use url::Url;

/// Index of a document in the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DocId(pub(crate) usize);

/// A node of a document: the document and a JSON pointer into it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NodeRef {
    /// The document.
    pub doc: DocId,
    /// JSON pointer from its root.
    pub pointer: String,
}

/// Why a `$ref` does not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefError {
    /// Not a URI reference.
    InvalidUri(String),
    /// A file that does not exist.
    FileNotFound(PathBuf),
    /// A file that exists but cannot be read or parsed.
    Unreadable(PathBuf, String),
    /// A non-file URI that no loaded document declares as its `$id`.
    Remote(String),
    /// The fragment's JSON pointer leads nowhere; the first missing token is named.
    PointerNotFound {
        /// The full pointer.
        pointer: String,
        /// The first token that is missing.
        missing: String,
    },
    /// A plain-name fragment no `$anchor` declares.
    AnchorNotFound(String),
}

#[derive(Debug)]
pub(crate) struct Entry {
    pub document: Document,
    pub draft: Option<Draft>,
    pub uri: Url,
}

/// The documents, by id, path and URI.
#[derive(Debug, Default)]
pub struct Store {
    entries: Vec<Entry>,
    /// Resource URIs (no fragment) → where the resource is.
    resources: HashMap<String, NodeRef>,
    /// `uri#anchor` → where it is.
    anchors: HashMap<String, NodeRef>,
    /// Resolved `$ref`s: the node holding `$ref` → (the reference, its target).
    refs: HashMap<NodeRef, (String, Result<NodeRef, RefError>)>,
    /// A resource URI declared twice: (the URI, the first schema, the later one).
    duplicate_ids: Vec<(String, NodeRef, NodeRef)>,
}

impl Store {
    /// Adds a parsed document; `draft` is `None` when its `$schema` is unsupported.
    pub(crate) fn insert(&mut self, document: Document, draft: Option<Draft>) -> DocId {
        let id = DocId(self.entries.len());
        let uri = file_uri(document.path());
        self.resources.entry(uri.to_string()).or_insert(NodeRef {
            doc: id,
            pointer: String::new(),
        });
        self.entries.push(Entry {
            document,
            draft,
            uri,
        });
        id
    }

    /// The id of the document read from `path`.
    pub fn id_of(&self, path: &Path) -> Option<DocId> {
        self.resources
            .get(file_uri(path).as_str())
            .filter(|node| node.pointer.is_empty())
            .map(|node| node.doc)
    }

    /// Whether a resource with this URI (no fragment) is known.
    pub(crate) fn has_resource(&self, uri: &str) -> bool {
        self.resources.contains_key(uri)
    }

    /// A document.
    pub fn document(&self, id: DocId) -> &Document {
        &self.entries[id.0].document
    }

    /// Its draft, `None` when unsupported.
    pub fn draft(&self, id: DocId) -> Option<Draft> {
        self.entries[id.0].draft
    }

    /// Its URI (`file://...`).
    pub fn uri(&self, id: DocId) -> &Url {
        &self.entries[id.0].uri
    }

    /// Every document id.
    pub fn ids(&self) -> impl Iterator<Item = DocId> + use<> {
        (0..self.entries.len()).map(DocId)
    }

    /// The value at a node.
    pub fn value(&self, node: &NodeRef) -> Option<&Value> {
        self.document(node.doc).get(&node.pointer)
    }

    /// The target of the `$ref` held by the subschema at `node`, if it holds one.
    pub fn ref_target(&self, node: &NodeRef) -> Option<&Result<NodeRef, RefError>> {
        self.refs.get(node).map(|(_, target)| target)
    }

    /// Follows `$ref` chains from `node` to a subschema that is not a bare reference.
    /// Cycles stop where they close; `None` when a reference in the chain is broken.
    pub fn follow(&self, node: &NodeRef) -> Option<NodeRef> {
        let mut current = node.clone();
        let mut seen = vec![];
        while let Some(target) = self.ref_target(&current) {
            if seen.contains(&current) {
                break;
            }
            seen.push(current.clone());
            current = target.clone().ok()?;
        }
        Some(current)
    }

    /// Registers `$id` resources and anchors of a document, and returns its `$ref`s as
    /// (holder, reference text, absolute target URI or error).
    pub(crate) fn index(&mut self, id: DocId) -> Vec<(NodeRef, String, Result<Url, RefError>)> {
        let Some(draft) = self.draft(id) else {
            return Vec::new();
        };
        let entry = &self.entries[id.0];
        let subschemas = walk::subschemas(entry.document.value(), draft);
        let mut bases: Vec<Url> = Vec::with_capacity(subschemas.len());
        let mut found = Vec::new();
        for sub in &subschemas {
            let parent_base = sub.parent.map_or(&entry.uri, |p| &bases[p]).clone();
            let node = NodeRef {
                doc: id,
                pointer: sub.pointer.clone(),
            };
            let mut base = parent_base.clone();
            if let Some(object) = sub.value.as_object() {
                if let Some(Value::String(id_text)) = object.get(draft.id_keyword()) {
                    match id_text.strip_prefix('#') {
                        // A plain-name `$id` (drafts 04 to 07): an anchor, not a new base.
                        Some(anchor) if !anchor.is_empty() && !anchor.starts_with('/') => {
                            self.anchors.insert(
                                format!("{}#{anchor}", without_fragment(&base)),
                                node.clone(),
                            );
                        }
                        _ => {
                            if let Ok(resolved) = base.join(id_text) {
                                base = resolved;
                                base.set_fragment(None);
                                let first = self
                                    .resources
                                    .entry(base.to_string())
                                    .or_insert_with(|| node.clone());
                                if *first != node {
                                    let first = first.clone();
                                    self.duplicate_ids.push((
                                        base.to_string(),
                                        first,
                                        node.clone(),
                                    ));
                                }
                            }
                        }
                    }
                }
                for keyword in ["$anchor", "$dynamicAnchor"] {
                    if let Some(Value::String(anchor)) = object.get(keyword) {
                        self.anchors.insert(
                            format!("{}#{anchor}", without_fragment(&base)),
                            node.clone(),
                        );
                    }
                }
                for keyword in ["$ref", "$dynamicRef", "$recursiveRef"] {
                    if let Some(Value::String(reference)) = object.get(keyword) {
                        let target = base
                            .join(reference)
                            .map_err(|err| RefError::InvalidUri(format!("{reference}: {err}")));
                        found.push((node.clone(), reference.clone(), target));
                    }
                }
            }
            bases.push(base);
        }
        found
    }

    /// Every resource URI two schemas declare: (the URI, the schema that declared it first,
    /// the one that declared it again).
    pub(crate) fn duplicate_ids(&self) -> &[(String, NodeRef, NodeRef)] {
        &self.duplicate_ids
    }

    /// Every cycle of references that leads back to where it started without consuming any of
    /// the instance: through `$ref`s and the keywords that apply to the same value (`allOf`,
    /// `anyOf`, `oneOf`, `not`, `if`/`then`/`else`, `dependentSchemas`), as in
    /// `{"$ref": "#/$defs/Loop"}` or `{"allOf": [{"$ref": "#/$defs/Loop"}]}` at `/$defs/Loop`.
    /// Nothing validates through one, and a walk that follows it never ends; a reference from
    /// inside `properties` or `items` is recursion, not a cycle. Each cycle once, as the
    /// `$ref` holders along it.
    pub(crate) fn ref_cycles(&self) -> Vec<Vec<NodeRef>> {
        // Same-value subschemas of a node (a cycle needs a `$ref` edge: these only go deeper).
        let in_place = |node: &NodeRef| -> Vec<NodeRef> {
            let Some(Value::Object(object)) = self.value(node) else {
                return Vec::new();
            };
            let mut children = Vec::new();
            for (keyword, value) in object {
                let at = pointer::push(&node.pointer, keyword);
                match (keyword.as_str(), value) {
                    ("allOf" | "anyOf" | "oneOf", Value::Array(members)) => {
                        children.extend((0..members.len()).map(|i| format!("{at}/{i}")))
                    }
                    ("not" | "if" | "then" | "else", _) => children.push(at),
                    ("dependentSchemas", Value::Object(map)) => {
                        children.extend(map.keys().map(|k| pointer::push(&at, k)))
                    }
                    _ => {}
                }
            }
            children
                .into_iter()
                .map(|pointer| NodeRef {
                    doc: node.doc,
                    pointer,
                })
                .collect()
        };
        let next = |node: &NodeRef| -> Vec<NodeRef> {
            let mut out = in_place(node);
            if let Some(Ok(target)) = self.ref_target(node) {
                out.push(target.clone());
            }
            out
        };
        let mut holders: Vec<&NodeRef> = self.refs.keys().collect();
        holders.sort();
        // Iterative depth-first search: 1 = on the current path, 2 = done.
        let mut state: HashMap<NodeRef, u8> = HashMap::new();
        let mut cycles = Vec::new();
        for start in holders {
            if state.contains_key(start) {
                continue;
            }
            let mut path: Vec<(NodeRef, Vec<NodeRef>)> = vec![(start.clone(), next(start))];
            state.insert(start.clone(), 1);
            while let Some((_, pending)) = path.last_mut() {
                let Some(child) = pending.pop() else {
                    let (done, _) = path.pop().expect("a node");
                    state.insert(done, 2);
                    continue;
                };
                match state.get(&child) {
                    Some(1) => {
                        let at = path
                            .iter()
                            .position(|(node, _)| *node == child)
                            .unwrap_or(0);
                        let cycle: Vec<NodeRef> = path[at..]
                            .iter()
                            .map(|(node, _)| node.clone())
                            .filter(|node| self.refs.contains_key(node))
                            .collect();
                        if !cycle.is_empty() {
                            cycles.push(cycle);
                        }
                    }
                    Some(_) => {}
                    None => {
                        state.insert(child.clone(), 1);
                        let children = next(&child);
                        path.push((child, children));
                    }
                }
            }
        }
        cycles
    }

    /// Looks up an absolute URI: the document (which must be loaded) and the node in it.
    pub(crate) fn lookup(&self, target: &Url) -> Result<NodeRef, RefError> {
        let resource_uri = without_fragment(target);
        let resource = self.resources.get(&resource_uri).cloned().ok_or_else(|| {
            match target.to_file_path() {
                Ok(path) if target.scheme() == "file" => RefError::FileNotFound(path),
                _ => RefError::Remote(resource_uri.clone()),
            }
        })?;
        let fragment = target.fragment().unwrap_or_default();
        let fragment = percent_decode_str(fragment).decode_utf8_lossy();
        if fragment.is_empty() {
            return Ok(resource);
        }
        if !fragment.starts_with('/') {
            return self
                .anchors
                .get(&format!("{resource_uri}#{fragment}"))
                .cloned()
                .ok_or_else(|| RefError::AnchorNotFound(fragment.into_owned()));
        }
        let document = self.document(resource.doc);
        let full = format!("{}{}", resource.pointer, fragment);
        if document.get(&full).is_some() {
            return Ok(NodeRef {
                doc: resource.doc,
                pointer: full,
            });
        }
        let mut at = resource.pointer.clone();
        for token in pointer::tokens(&fragment).unwrap_or_default() {
            at = pointer::push(&at, &token);
            if document.get(&at).is_none() {
                return Err(RefError::PointerNotFound {
                    pointer: fragment.into_owned(),
                    missing: token,
                });
            }
        }
        Err(RefError::PointerNotFound {
            pointer: fragment.into_owned(),
            missing: String::new(),
        })
    }

    /// Makes the resource of `uri` the one of `target` (both without their fragments).
    pub(crate) fn alias(&mut self, uri: &Url, target: &Url) {
        if let Some(node) = self.resources.get(&without_fragment(target)).cloned() {
            self.resources.entry(without_fragment(uri)).or_insert(node);
        }
    }

    pub(crate) fn record_ref(
        &mut self,
        holder: NodeRef,
        text: String,
        target: Result<NodeRef, RefError>,
    ) {
        self.refs.insert(holder, (text, target));
    }

    /// Documents whose references all resolve, directly and through the documents they reach,
    /// to documents of a supported draft: the ones a validator can be built from.
    pub fn fully_resolvable(&self) -> HashSet<DocId> {
        let mut broken: HashSet<DocId> =
            self.ids().filter(|&id| self.draft(id).is_none()).collect();
        broken.extend(
            self.refs
                .iter()
                .filter(|(_, (_, target))| target.is_err())
                .map(|(holder, _)| holder.doc),
        );
        loop {
            let before = broken.len();
            for (holder, (_, target)) in &self.refs {
                if let Ok(target) = target {
                    if broken.contains(&target.doc) {
                        broken.insert(holder.doc);
                    }
                }
            }
            if broken.len() == before {
                break;
            }
        }
        self.ids().filter(|id| !broken.contains(id)).collect()
    }

    /// Every resource (a document by its file URI, or a schema by its `$id`) of the given
    /// documents, as (URI, value) pairs for a validator.
    pub(crate) fn resources_of<'a>(
        &'a self,
        docs: &'a HashSet<DocId>,
    ) -> impl Iterator<Item = (String, &'a Value)> + 'a {
        self.resources.iter().filter_map(move |(uri, node)| {
            docs.contains(&node.doc)
                .then(|| self.value(node).map(|value| (uri.clone(), value)))
                .flatten()
        })
    }
}

/// The `file://` URI of a path (made absolute against the current directory if needed).
pub fn file_uri(path: &Path) -> Url {
    let absolute = if path.is_absolute() {
        path.to_owned()
    } else {
        std::env::current_dir().unwrap_or_default().join(path)
    };
    // Only relative paths are refused, and `absolute` is not one.
    Url::from_file_path(&absolute).unwrap_or_else(|()| Url::parse("file:///").expect("a valid URI"))
}

fn without_fragment(url: &Url) -> String {
    let mut url = url.clone();
    url.set_fragment(None);
    url.to_string()
}
