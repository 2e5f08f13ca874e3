//! Constraint checks that generated types run after serde has decoded a payload: the schema
//! keywords serde cannot express (`pattern`, lengths, ranges, `multipleOf`, item counts,
//! `uniqueItems`, non-string `const`). Every violation is collected, each with its JSON pointer.
//! [`violations`] lists them; the checker generated code drives is in `__private`.

use crate::__private::Checker;

/// One broken constraint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Where, as a JSON pointer into the payload.
    pub pointer: String,
    /// What is wrong.
    pub message: String,
}

impl std::fmt::Display for Violation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "/"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// A value whose schema has constraints beyond its serde shape: what generated types implement.
/// [`violations`] lists what a value breaks.
pub trait Validate {
    /// Records every violation in `value` and below (called by generated code).
    #[doc(hidden)]
    fn validate(&self, checker: &mut Checker);
}

// Types whose every value is valid (their constraints, if any, are checked where they are used).
macro_rules! always_valid {
    ($($t:ty),*) => {$(
        impl Validate for $t {
            fn validate(&self, _checker: &mut Checker) {}
        }
    )*};
}
always_valid!(
    bool,
    i32,
    i64,
    u32,
    u64,
    String,
    serde_json::Number,
    serde_json::Value,
    crate::format::DateTime,
    crate::format::Date,
    crate::format::Time,
    crate::format::Uuid,
    crate::format::Email,
    crate::format::Uri,
    crate::format::UriReference,
    crate::format::Ipv4,
    crate::format::Ipv6,
    crate::format::Hostname
);

impl<T: Validate> Validate for Box<T> {
    fn validate(&self, checker: &mut Checker) {
        (**self).validate(checker);
    }
}

impl<T: Validate> Validate for Option<T> {
    fn validate(&self, checker: &mut Checker) {
        if let Some(value) = self {
            value.validate(checker);
        }
    }
}

impl<T: Validate> Validate for Vec<T> {
    fn validate(&self, checker: &mut Checker) {
        for (index, item) in self.iter().enumerate() {
            checker.at_index(index, |checker| item.validate(checker));
        }
    }
}

impl<T: Validate> Validate for std::collections::BTreeMap<String, T> {
    fn validate(&self, checker: &mut Checker) {
        for (key, item) in self {
            checker.at_key(key, |checker| item.validate(checker));
        }
    }
}

/// All violations of a value.
pub fn violations<T: Validate + ?Sized>(value: &T) -> Vec<Violation> {
    let mut checker = Checker::default();
    value.validate(&mut checker);
    checker.into_violations()
}
