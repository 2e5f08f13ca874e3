//! What a backend does to a table whose row schema it recorded earlier: every backend records a
//! table's columns (as JSON) beside it and compares them with the row type's when it opens it.

use super::{Column, TableSpec};

/// Resolved dead letters kept per projection (the latest resolved), for whoever looks into what
/// happened; older ones are deleted as new ones are resolved.
pub(crate) const RESOLVED_KEPT: i64 = 1_000;

/// `name` as an SQL identifier (SQLite and PostgreSQL quote alike).
pub(crate) fn quoted(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// One column as recorded: name, kind, required, key.
type Recorded = (String, String, bool, bool);

fn spec(columns: &[Column], key: &str) -> Vec<Recorded> {
    columns
        .iter()
        .map(|c| {
            (
                c.name.to_owned(),
                c.kind.name().to_owned(),
                c.required,
                c.name == key,
            )
        })
        .collect()
}

/// The columns of `table` as a backend records them: `[[name, kind, required, key], …]`.
pub(crate) fn recorded(table: &TableSpec) -> String {
    serde_json::to_string(&spec(table.columns, table.key)).unwrap_or_default()
}

/// What to do to a table, given its recorded columns.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Nothing recorded: (drop what may be there and) create it.
    Create,
    /// As recorded.
    Unchanged,
    /// Add these optional columns, then record the new columns.
    Add(Vec<&'static Column>),
    /// The rows cannot follow: drop and create it.
    Recreate,
}

/// What to do to `table` whose columns were recorded as `before` (`None`: never).
pub(crate) fn plan(before: Option<&str>, table: &TableSpec) -> Plan {
    let Some(before) = before else {
        return Plan::Create;
    };
    if before == recorded(table) {
        return Plan::Unchanged;
    }
    // A record this version cannot read counts as a change rows cannot follow.
    let old: Vec<Recorded> = serde_json::from_str(before).unwrap_or_default();
    let new = spec(table.columns, table.key);
    // Compatible: every old column is still there, unchanged (key included), and the new ones
    // are optional.
    let kept = !old.is_empty() && old.iter().all(|column| new.contains(column));
    let added: Vec<&'static Column> = table
        .columns
        .iter()
        .filter(|c| !old.iter().any(|o| o.0 == c.name))
        .collect();
    if kept && added.iter().all(|c| !c.required && c.name != table.key) {
        Plan::Add(added)
    } else {
        Plan::Recreate
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read_model::ColumnKind;

    const ID: Column = Column {
        name: "id",
        kind: ColumnKind::Text,
        required: true,
    };
    const NOTE: Column = Column {
        name: "note",
        kind: ColumnKind::Text,
        required: false,
    };
    const COUNT: Column = Column {
        name: "count",
        kind: ColumnKind::Integer,
        required: true,
    };

    fn table(columns: &'static [Column]) -> TableSpec {
        TableSpec {
            name: "t",
            key: "id",
            columns,
        }
    }

    #[test]
    fn only_new_optional_columns_keep_the_rows() {
        let before = recorded(&table(&[ID]));
        assert_eq!(plan(None, &table(&[ID])), Plan::Create);
        assert_eq!(plan(Some(&before), &table(&[ID])), Plan::Unchanged);
        assert_eq!(
            plan(Some(&before), &table(&[ID, NOTE])),
            Plan::Add(vec![&NOTE])
        );
        assert_eq!(plan(Some(&before), &table(&[ID, COUNT])), Plan::Recreate);
        assert_eq!(
            plan(Some(&recorded(&table(&[ID, NOTE]))), &table(&[ID])),
            Plan::Recreate
        );
        assert_eq!(plan(Some("not json"), &table(&[ID])), Plan::Recreate);
    }
}
