//! Typed rows in the SQLite read-model backend: create, upsert, get, list, delete; a row schema
//! that adds an optional property migrates in place; any other change recreates the table, and
//! the projection runner then replays every event. Lookups live in the same transaction and go
//! when the read model starts over.

use eventsmith::read_model::sqlite::SqliteReadModel;
use eventsmith::read_model::{
    Backend, BackendTransaction, Column, ColumnKind, Lookup, Row, Setup, Table, TableSpec,
};

fn memory() -> SqliteReadModel {
    SqliteReadModel::open_in_memory().unwrap()
}

fn spec<R: Row>() -> TableSpec {
    TableSpec::of::<R>()
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Summary {
    order_id: String,
    status: String,
    total: serde_json::Number,
    lines: u64,
    paid: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
}

const fn column(name: &'static str, kind: ColumnKind, required: bool) -> Column {
    Column {
        name,
        kind,
        required,
    }
}

const BASE: [Column; 5] = [
    column("order_id", ColumnKind::Text, true),
    column("status", ColumnKind::Text, true),
    column("total", ColumnKind::Real, true),
    column("lines", ColumnKind::Integer, true),
    column("paid", ColumnKind::Boolean, true),
];

impl Row for Summary {
    const TABLE: &'static str = "order_summary";
    const KEY: &'static str = "order_id";
    const COLUMNS: &'static [Column] = &[
        BASE[0],
        BASE[1],
        BASE[2],
        BASE[3],
        BASE[4],
        column("note", ColumnKind::Text, false),
        column("tags", ColumnKind::Json, false),
    ];
}

/// The same table as an earlier version of the schema saw it: without `note` and `tags`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SummaryV1 {
    order_id: String,
    status: String,
    total: serde_json::Number,
    lines: u64,
    paid: bool,
}

impl Row for SummaryV1 {
    const TABLE: &'static str = "order_summary";
    const KEY: &'static str = "order_id";
    const COLUMNS: &'static [Column] = &BASE;
}

/// A later version where `lines` became text: not a change rows can follow.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct SummaryRetyped {
    order_id: String,
    lines: String,
}

impl Row for SummaryRetyped {
    const TABLE: &'static str = "order_summary";
    const KEY: &'static str = "order_id";
    const COLUMNS: &'static [Column] = &[
        column("order_id", ColumnKind::Text, true),
        column("lines", ColumnKind::Text, true),
    ];
}

fn summary(id: &str, status: &str, paid: bool) -> Summary {
    Summary {
        order_id: id.into(),
        status: status.into(),
        total: serde_json::Number::from_f64(28.99).unwrap(),
        lines: 2,
        paid,
        note: None,
        tags: vec!["gift".into()],
    }
}

#[test]
fn rows_are_written_read_listed_and_deleted() {
    let mut model = memory();
    let db = model.begin("order_summary").unwrap();
    assert_eq!(db.ensure(&spec::<Summary>()).unwrap(), Setup::Created);
    assert_eq!(db.ensure(&spec::<Summary>()).unwrap(), Setup::Unchanged);
    let table = Table::<Summary>::new(&db);
    table.upsert(&summary("o-1", "placed", false)).unwrap();
    table.upsert(&summary("o-2", "placed", false)).unwrap();
    let mut paid = summary("o-1", "paid", true);
    paid.note = Some("thanks".into());
    table.upsert(&paid).unwrap();
    assert_eq!(table.get("o-1").unwrap(), Some(paid.clone()));
    assert_eq!(table.get("o-3").unwrap(), None);
    assert_eq!(
        table.list(&[("status", "paid")], 10).unwrap(),
        [paid.clone()]
    );
    assert_eq!(table.list(&[("paid", "false")], 10).unwrap().len(), 1);
    assert_eq!(table.list(&[("lines", "2")], 10).unwrap().len(), 2);
    assert_eq!(table.list(&[], 1).unwrap().len(), 1);
    assert!(table.list(&[("colour", "red")], 10).is_err());
    assert!(table.delete("o-2").unwrap());
    assert!(!table.delete("o-2").unwrap());
    db.clear(&spec::<Summary>()).unwrap();
    assert_eq!(table.list(&[], 10).unwrap(), []);
}

#[test]
fn added_optional_properties_migrate_in_place() {
    let mut model = memory();
    let db = model.begin("order_summary").unwrap();
    db.ensure(&spec::<SummaryV1>()).unwrap();
    let old = SummaryV1 {
        order_id: "o-1".into(),
        status: "placed".into(),
        total: 5.into(),
        lines: 1,
        paid: false,
    };
    Table::<SummaryV1>::new(&db).upsert(&old).unwrap();
    assert_eq!(db.ensure(&spec::<Summary>()).unwrap(), Setup::Migrated);
    let kept = Table::<Summary>::new(&db).get("o-1").unwrap().unwrap();
    assert_eq!(
        (kept.status.as_str(), kept.note, kept.tags.len()),
        ("placed", None, 0)
    );
    assert_eq!(db.ensure(&spec::<Summary>()).unwrap(), Setup::Unchanged);
}

#[test]
fn other_changes_recreate_the_table() {
    let mut model = memory();
    let db = model.begin("order_summary").unwrap();
    db.ensure(&spec::<Summary>()).unwrap();
    Table::<Summary>::new(&db)
        .upsert(&summary("o-1", "placed", false))
        .unwrap();
    assert_eq!(
        db.ensure(&spec::<SummaryRetyped>()).unwrap(),
        Setup::Recreated
    );
    assert_eq!(Table::<SummaryRetyped>::new(&db).list(&[], 10).unwrap(), []);
    // Going back (a removed column) is not in-place either.
    assert_eq!(db.ensure(&spec::<SummaryV1>()).unwrap(), Setup::Recreated);
}

#[test]
fn a_new_key_recreates_the_table() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct ByStatus {
        order_id: String,
    }
    impl Row for ByStatus {
        const TABLE: &'static str = "order_summary";
        const KEY: &'static str = "status";
        const COLUMNS: &'static [Column] = &BASE;
    }
    let mut model = memory();
    let db = model.begin("order_summary").unwrap();
    db.ensure(&spec::<SummaryV1>()).unwrap();
    assert_eq!(db.ensure(&spec::<ByStatus>()).unwrap(), Setup::Recreated);
}

#[test]
fn a_row_without_a_required_property_is_refused() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct Partial {
        order_id: String,
    }
    impl Row for Partial {
        const TABLE: &'static str = "order_summary";
        const KEY: &'static str = "order_id";
        const COLUMNS: &'static [Column] = &BASE;
    }
    let mut model = memory();
    let db = model.begin("order_summary").unwrap();
    db.ensure(&spec::<Partial>()).unwrap();
    let error = Table::<Partial>::new(&db)
        .upsert(&Partial {
            order_id: "o-1".into(),
        })
        .unwrap_err();
    assert!(error.to_string().contains("`status` is missing"), "{error}");
}

/// Any event, decoded as nothing.
struct Anything;

impl eventsmith::EventSet for Anything {
    fn decode(_: &str, _: u32, _: &[u8]) -> Result<Self, eventsmith::DecodeError> {
        Ok(Anything)
    }
    fn encode(&self) -> Result<Vec<u8>, eventsmith::EncodeError> {
        Ok(b"{}".to_vec())
    }
    fn event_type(&self) -> &'static str {
        "any.thing"
    }
    fn version(&self) -> u32 {
        1
    }
}

/// A projection whose table holds rows `R` and which stores nothing.
struct Tabled<R>(std::marker::PhantomData<fn() -> R>);

impl<R: Row> eventsmith::projection::Projection for Tabled<R> {
    type Event = Anything;
    const NAME: &'static str = "order_summary";
    const TABLES: &'static [TableSpec] = &[TableSpec::of::<R>()];
    fn handle(
        &self,
        _: &dyn eventsmith::read_model::Transaction,
        _: &Anything,
        _: &eventsmith::store::Envelope,
    ) -> Result<(), eventsmith::projection::HandlerError> {
        Ok(())
    }
}

#[tokio::test]
async fn a_recreated_table_is_replayed_from_the_start() {
    use eventsmith::projection::ProjectionRunner;
    use eventsmith::store::{EventStore, ExpectedVersion, InMemoryStore, NewEvent};
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(InMemoryStore::new("test"));
    let event = NewEvent {
        event_type: "any.thing".into(),
        version: 1,
        data: b"{}".to_vec(),
        metadata: Default::default(),
    };
    store
        .append(
            "s-1",
            ExpectedVersion::Any,
            vec![event.clone(), event],
            None,
        )
        .await
        .unwrap();
    let open = |migrated: bool| {
        let store = std::sync::Arc::clone(&store);
        let db = dir.path().join("read.db");
        if migrated {
            ProjectionRunner::open(store, Tabled::<Summary>(Default::default()), db)
                .map(|r| r.status().unwrap().position)
        } else {
            ProjectionRunner::open(store, Tabled::<SummaryRetyped>(Default::default()), db)
                .map(|r| r.status().unwrap().position)
        }
    };
    let mut runner = ProjectionRunner::open(
        std::sync::Arc::clone(&store),
        Tabled::<SummaryV1>(Default::default()),
        dir.path().join("read.db"),
    )
    .unwrap();
    runner.run_until_caught_up().await.unwrap();
    drop(runner);
    // Added optional columns keep the checkpoint; a retyped column starts over.
    assert_eq!(open(true).unwrap(), 2);
    assert_eq!(open(false).unwrap(), 0);
}

#[test]
fn lookups_change_with_their_transaction_and_go_when_the_projection_starts_over() {
    let mut model = memory();
    let db = model.begin("customer_orders").unwrap();
    let customers = Lookup::<String>::new(&db, "customer_of_order");
    assert_eq!(customers.get("o-1").unwrap(), None);
    customers.put("o-1", &"c-1".to_owned()).unwrap();
    customers.put("o-2", &"c-2".to_owned()).unwrap();
    customers.put("o-1", &"c-9".to_owned()).unwrap();
    assert_eq!(customers.get("o-1").unwrap().as_deref(), Some("c-9"));
    assert!(customers.delete("o-2").unwrap());
    assert!(!customers.delete("o-2").unwrap());
    // Another lookup, and another projection's, are apart.
    assert_eq!(
        Lookup::<String>::new(&db, "other").get("o-1").unwrap(),
        None
    );
    db.commit().unwrap();
    let other = model.begin("other_projection").unwrap();
    assert_eq!(
        Lookup::<String>::new(&other, "customer_of_order")
            .get("o-1")
            .unwrap(),
        None
    );
    drop(other);
    // A transaction rolled back takes its changes with it.
    let db = model.begin("customer_orders").unwrap();
    Lookup::<String>::new(&db, "customer_of_order")
        .put("o-3", &"c-3".to_owned())
        .unwrap();
    drop(db);
    let read = |model: &SqliteReadModel, key: &str| {
        model
            .read("customer_orders", |_, db| {
                Lookup::<String>::new(db, "customer_of_order").get(key)
            })
            .unwrap()
            .unwrap()
    };
    assert_eq!(read(&model, "o-3"), None);
    assert_eq!(read(&model, "o-1").as_deref(), Some("c-9"));
    // Starting over (a rebuild, a recreated table) empties them.
    let db = model.begin("customer_orders").unwrap();
    db.start_over().unwrap();
    db.commit().unwrap();
    assert_eq!(read(&model, "o-1"), None);
}
