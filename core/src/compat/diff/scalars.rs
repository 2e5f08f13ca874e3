//! Keywords of single values: annotations, `type`, `enum` and `const`, string and number bounds.

use super::{Differ, covers, is_whole, json_eq, same, show_values};
use crate::compat::kind::ChangeKind as K;
use crate::schema::store::NodeRef;
use crate::schema::view::{Limit, View};
use serde_json::Value;
use std::collections::BTreeSet;

impl<'a> Differ<'a> {
    pub(super) fn annotations(&mut self, old: &View<'a>, new: &View<'a>) {
        const ANNOTATIONS: &[(&str, K)] = &[
            ("$id", K::IdChanged),
            ("title", K::TitleChanged),
            ("description", K::DescriptionChanged),
            ("default", K::DefaultChanged),
            ("examples", K::ExamplesChanged),
            ("deprecated", K::DeprecatedChanged),
            ("readOnly", K::ReadOnlyChanged),
            ("writeOnly", K::WriteOnlyChanged),
        ];
        for (keyword, kind) in ANNOTATIONS {
            let a = old.get(keyword).map(|(v, _)| v);
            let b = new.get(keyword).map(|(v, _)| v);
            if !same(a, b) {
                self.push(*kind, old.location(keyword), new.location(keyword), "");
            }
        }
        // Content keywords are annotations to a validator, but a registry (and a consumer that
        // decodes the string) reads them as a contract: judged as constraints.
        for keyword in ["contentEncoding", "contentMediaType", "contentSchema"] {
            let a = old.get(keyword).map(|(v, _)| v);
            let b = new.get(keyword).map(|(v, _)| v);
            let kind = match (a, b) {
                (None, Some(_)) => K::ContentAdded,
                (Some(_), None) => K::ContentRemoved,
                _ if !same(a, b) => K::ContentChanged,
                _ => continue,
            };
            let show = |v: Option<&Value>| v.map_or("none".to_owned(), Value::to_string);
            let detail = format!("`{keyword}` {} → {}", show(a), show(b));
            self.push(kind, old.location(keyword), new.location(keyword), detail);
        }
    }

    pub(super) fn types(
        &mut self,
        old: &View<'a>,
        new: &View<'a>,
        a: &Option<BTreeSet<String>>,
        b: &Option<BTreeSet<String>>,
    ) {
        let (lo, ln) = (old.location("type"), new.location("type"));
        let show = |t: &Option<BTreeSet<String>>| match t {
            None => "any".to_owned(),
            Some(set) => set.iter().cloned().collect::<Vec<_>>().join("|"),
        };
        let detail = format!("type {} → {}", show(a), show(b));
        match (a, b) {
            (None, None) => {}
            (None, Some(_)) => self.push(K::TypeAdded, lo, ln, detail),
            (Some(_), None) => self.push(K::TypeRemoved, lo, ln, detail),
            (Some(o), Some(n)) => match (covers(n, o), covers(o, n)) {
                (true, true) => {}
                (true, false) => self.push(K::TypeExtended, lo, ln, detail),
                (false, true) => self.push(K::TypeNarrowed, lo, ln, detail),
                (false, false) => self.push(K::TypeChanged, lo, ln, detail),
            },
        }
    }

    pub(super) fn values(&mut self, old: &View<'a>, new: &View<'a>) {
        let read = |view: &View<'a>| -> Option<(Vec<Value>, bool, NodeRef)> {
            if let Some((value, at)) = view.get("const") {
                return Some((vec![value.clone()], true, at));
            }
            match view.get("enum") {
                Some((Value::Array(values), at)) => Some((values.clone(), false, at)),
                // `anyOf` of `const`s is an `enum` of them.
                _ => match super::logic::flattened(view) {
                    Some(super::logic::Alternatives::Values(values)) => {
                        Some((values, false, view.location("anyOf")))
                    }
                    _ => None,
                },
            }
        };
        match (read(old), read(new)) {
            (None, None) => {}
            (None, Some((_, is_const, at))) => {
                let kind = if is_const {
                    K::ConstAdded
                } else {
                    K::EnumAdded
                };
                self.push(kind, old.at.clone(), at, "")
            }
            (Some((_, is_const, at)), None) => {
                let kind = if is_const {
                    K::ConstRemoved
                } else {
                    K::EnumRemoved
                };
                self.push(kind, at, new.at.clone(), "")
            }
            (Some((a, a_const, la)), Some((b, b_const, lb))) => {
                let a_in_b = a.iter().all(|x| b.iter().any(|y| json_eq(x, y)));
                let b_in_a = b.iter().all(|y| a.iter().any(|x| json_eq(x, y)));
                let detail = format!("{} → {}", show_values(&a), show_values(&b));
                match (a_in_b, b_in_a) {
                    (true, true) => {}
                    _ if a_const && b_const => self.push(K::ConstChanged, la, lb, detail),
                    (true, false) => self.push(K::EnumExtended, la, lb, detail),
                    (false, true) => self.push(K::EnumNarrowed, la, lb, detail),
                    (false, false) => self.push(K::EnumChanged, la, lb, detail),
                }
            }
        }
    }

    /// A numeric keyword: added, removed, increased or decreased.
    pub(super) fn bound(&mut self, old: &View<'a>, new: &View<'a>, keyword: &str, kinds: [K; 4]) {
        let lower = keyword.starts_with("min") || keyword == "exclusiveMinimum";
        let (a, lo) = match old.bound(keyword, lower) {
            Some((v, at)) => (Some(v), at),
            None => (None, old.at.clone()),
        };
        let (b, ln) = match new.bound(keyword, lower) {
            Some((v, at)) => (Some(v), at),
            None => (None, new.at.clone()),
        };
        let [added, removed, increased, decreased] = kinds;
        let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
        let detail = format!("`{keyword}` {} → {}", show(a), show(b));
        // An absent lower bound is its default: writing the default out changes nothing, and
        // `minContains: 0` is looser than the absent 1.
        let default = match keyword {
            "minLength" | "minItems" | "minProperties" => Some(0.0),
            "minContains" => Some(1.0),
            _ => None,
        };
        match (a, b, default) {
            (None, Some(y), Some(d)) if y == d => {}
            (Some(x), None, Some(d)) if x == d => {}
            (None, Some(y), Some(d)) if y < d => self.push(decreased, lo, ln, detail),
            (Some(x), None, Some(d)) if x < d => self.push(increased, lo, ln, detail),
            (None, Some(_), _) => self.push(added, lo, ln, detail),
            (Some(_), None, _) => self.push(removed, lo, ln, detail),
            (Some(x), Some(y), _) if y > x => self.push(increased, lo, ln, detail),
            (Some(x), Some(y), _) if y < x => self.push(decreased, lo, ln, detail),
            _ => {}
        }
    }

    pub(super) fn strings(&mut self, old: &View<'a>, new: &View<'a>) {
        use K::*;
        self.bound(
            old,
            new,
            "maxLength",
            [
                MaxLengthAdded,
                MaxLengthRemoved,
                MaxLengthIncreased,
                MaxLengthDecreased,
            ],
        );
        self.bound(
            old,
            new,
            "minLength",
            [
                MinLengthAdded,
                MinLengthRemoved,
                MinLengthIncreased,
                MinLengthDecreased,
            ],
        );
        self.text(
            old,
            new,
            "pattern",
            [PatternAdded, PatternRemoved, PatternChanged],
        );
        self.text(
            old,
            new,
            "format",
            [FormatAdded, FormatRemoved, FormatChanged],
        );
    }

    pub(super) fn text(
        &mut self,
        old: &View<'a>,
        new: &View<'a>,
        keyword: &str,
        [added, removed, changed]: [K; 3],
    ) {
        let a = old.get(keyword).map(|(v, _)| v);
        let b = new.get(keyword).map(|(v, _)| v);
        let (lo, ln) = (old.location(keyword), new.location(keyword));
        let show = |v: Option<&Value>| v.map_or("none".to_owned(), |v| v.to_string());
        let detail = format!("`{keyword}` {} → {}", show(a), show(b));
        match (a, b) {
            (None, Some(_)) => self.push(added, lo, ln, detail),
            (Some(_), None) => self.push(removed, lo, ln, detail),
            (Some(x), Some(y)) if x != y => self.push(changed, lo, ln, detail),
            _ => {}
        }
    }

    /// A lower (`lower`) or upper numeric limit, compared by meaning: `minimum` and
    /// `exclusiveMinimum` (numbers from draft-06, draft-04's boolean flag) are one limit, so a
    /// move between the two keywords is judged by the values it accepts, and over integers
    /// `exclusiveMinimum: 0` is `minimum: 1`. A tighter limit is reported with the kind of the
    /// new keyword (added when the keyword changed), a looser one with the old keyword's.
    fn limits(&mut self, old: &View<'a>, new: &View<'a>, lower: bool) {
        use K::*;
        // [added, removed, tightened, loosened] for the inclusive and the exclusive keyword.
        let (inclusive, exclusive) = if lower {
            (
                [
                    MinimumAdded,
                    MinimumRemoved,
                    MinimumIncreased,
                    MinimumDecreased,
                ],
                [
                    ExclusiveMinimumAdded,
                    ExclusiveMinimumRemoved,
                    ExclusiveMinimumIncreased,
                    ExclusiveMinimumDecreased,
                ],
            )
        } else {
            (
                [
                    MaximumAdded,
                    MaximumRemoved,
                    MaximumDecreased,
                    MaximumIncreased,
                ],
                [
                    ExclusiveMaximumAdded,
                    ExclusiveMaximumRemoved,
                    ExclusiveMaximumDecreased,
                    ExclusiveMaximumIncreased,
                ],
            )
        };
        let kinds = |exclusive_limit: bool| {
            if exclusive_limit {
                exclusive
            } else {
                inclusive
            }
        };
        let name = |limit: &Limit| match (lower, limit.exclusive) {
            (true, false) => "minimum",
            (true, true) => "exclusiveMinimum",
            (false, false) => "maximum",
            (false, true) => "exclusiveMaximum",
        };
        let show = |limit: Option<&Limit>| {
            limit.map_or("none".to_owned(), |l| format!("`{}` {}", name(l), l.value))
        };
        let integers = old.integers_only() && new.integers_only();
        // How strict a limit is: larger is stricter. Over integers every limit is inclusive.
        let strictness = |limit: &Limit| -> (f64, bool) {
            let (value, exclusive) = if integers {
                let value = match (lower, limit.exclusive) {
                    (true, true) => limit.value.floor() + 1.0,
                    (true, false) => limit.value.ceil(),
                    (false, true) => limit.value.ceil() - 1.0,
                    (false, false) => limit.value.floor(),
                };
                (value, false)
            } else {
                (limit.value, limit.exclusive)
            };
            (if lower { value } else { -value }, exclusive)
        };
        let (a, b) = (old.limit(lower), new.limit(lower));
        let detail = format!("{} → {}", show(a.as_ref()), show(b.as_ref()));
        let lo = a.as_ref().map_or_else(|| old.at.clone(), |l| l.at.clone());
        let ln = b.as_ref().map_or_else(|| new.at.clone(), |l| l.at.clone());
        match (&a, &b) {
            (None, None) => {}
            (None, Some(b)) => self.push(kinds(b.exclusive)[0], lo, ln, detail),
            (Some(a), None) => self.push(kinds(a.exclusive)[1], lo, ln, detail),
            (Some(a), Some(b)) => {
                let (sa, sb) = (strictness(a), strictness(b));
                let tighter = sb.0 > sa.0 || (sb.0 == sa.0 && sb.1 && !sa.1);
                let looser = sb.0 < sa.0 || (sb.0 == sa.0 && sa.1 && !sb.1);
                let same_keyword = a.exclusive == b.exclusive;
                if tighter {
                    let kind = if same_keyword {
                        kinds(b.exclusive)[2]
                    } else {
                        kinds(b.exclusive)[0]
                    };
                    self.push(kind, lo, ln, detail);
                } else if looser {
                    let kind = if same_keyword {
                        kinds(b.exclusive)[3]
                    } else {
                        kinds(a.exclusive)[1]
                    };
                    self.push(kind, lo, ln, detail);
                }
            }
        }
    }

    pub(super) fn numbers(&mut self, old: &View<'a>, new: &View<'a>) {
        use K::*;
        self.limits(old, new, true);
        self.limits(old, new, false);
        let a = old
            .get("multipleOf")
            .and_then(|(v, _)| v.as_f64())
            .filter(|v| *v > 0.0);
        let b = new
            .get("multipleOf")
            .and_then(|(v, _)| v.as_f64())
            .filter(|v| *v > 0.0);
        let (lo, ln) = (old.location("multipleOf"), new.location("multipleOf"));
        let show = |v: Option<f64>| v.map_or("none".to_owned(), |v| v.to_string());
        let detail = format!("`multipleOf` {} → {}", show(a), show(b));
        match (a, b) {
            (None, Some(_)) => self.push(MultipleOfAdded, lo, ln, detail),
            (Some(_), None) => self.push(MultipleOfRemoved, lo, ln, detail),
            (Some(x), Some(y)) if x != y => {
                let kind = if is_whole(x / y) {
                    MultipleOfReduced
                } else if is_whole(y / x) {
                    MultipleOfExpanded
                } else {
                    MultipleOfChanged
                };
                self.push(kind, lo, ln, detail)
            }
            _ => {}
        }
    }
}
