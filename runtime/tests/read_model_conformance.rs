//! One conformance suite for every read-model `Backend`: typed rows (get, list with filters on
//! each column kind, upsert, delete), tables that follow their row schema, lookups and the
//! checkpoint in the transaction, compare-and-set checkpoints, and dead letters. `conformance!`
//! instantiates it per backend: SQLite in a fresh temporary file per test, and PostgreSQL in a
//! fresh schema per test (of the database at `EVENTSMITH_TEST_POSTGRES`, by default
//! `postgres://root@127.0.0.1:5432/test`; the tests fail, naming it, when it cannot be reached).
//!
//! PostgreSQL alone also has: two read models writing one schema (the checkpoint's
//! compare-and-set between them), leases (one runner per projection across processes), and the
//! projection runner over a `PostgresStore` and a `PostgresReadModel` in one schema.

#[path = "support/postgres.rs"]
mod pg;

use eventsmith::projection::{
    DeadLetter, Ended, HandlerError, Projection, ProjectionRunner, Status,
};
use eventsmith::read_model::postgres::PostgresReadModel;
use eventsmith::read_model::sqlite::SqliteReadModel;
use eventsmith::read_model::{
    Backend, BackendTransaction, Column, ColumnKind, Lookup, Row, Setup, Table, TableSpec,
    Transaction,
};
use eventsmith::store::{
    Envelope, EventStore, ExpectedVersion, Metadata, NewEvent, PostgresOptions, PostgresStore,
};
use pg::Schema;
use std::time::{Duration, Instant};

const fn column(name: &'static str, kind: ColumnKind, required: bool) -> Column {
    Column {
        name,
        kind,
        required,
    }
}

fn spec<R: Row>() -> TableSpec {
    TableSpec::of::<R>()
}

/// A row with a column of every kind.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Item {
    id: String,
    name: String,
    count: i64,
    price: f64,
    active: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

impl Row for Item {
    const TABLE: &'static str = "items";
    const KEY: &'static str = "id";
    const COLUMNS: &'static [Column] = &[
        column("id", ColumnKind::Text, true),
        column("name", ColumnKind::Text, true),
        column("count", ColumnKind::Integer, true),
        column("price", ColumnKind::Real, true),
        column("active", ColumnKind::Boolean, true),
        column("tags", ColumnKind::Json, false),
        column("note", ColumnKind::Text, false),
    ];
}

fn item(id: &str, name: &str, count: i64, price: f64, active: bool, tags: &[&str]) -> Item {
    Item {
        id: id.into(),
        name: name.into(),
        count,
        price,
        active,
        tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        note: None,
    }
}

/// The items table as an earlier version of its schema saw it: without `tags` and `note`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct ItemV1 {
    id: String,
    name: String,
    count: i64,
    price: f64,
    active: bool,
}

impl Row for ItemV1 {
    const TABLE: &'static str = "items";
    const KEY: &'static str = "id";
    const COLUMNS: &'static [Column] = &[
        Item::COLUMNS[0],
        Item::COLUMNS[1],
        Item::COLUMNS[2],
        Item::COLUMNS[3],
        Item::COLUMNS[4],
    ];
}

/// A later version where `count` became text: not a change rows can follow.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct ItemRetyped {
    id: String,
    count: String,
}

impl Row for ItemRetyped {
    const TABLE: &'static str = "items";
    const KEY: &'static str = "id";
    const COLUMNS: &'static [Column] = &[
        column("id", ColumnKind::Text, true),
        column("count", ColumnKind::Text, true),
    ];
}

/// Only the key of an items row: the other required columns are missing.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Partial {
    id: String,
}

impl Row for Partial {
    const TABLE: &'static str = "items";
    const KEY: &'static str = "id";
    const COLUMNS: &'static [Column] = Item::COLUMNS;
}

/// Only the key of an items row, whatever its other columns: to count rows of any version.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Key {
    id: String,
}

impl Row for Key {
    const TABLE: &'static str = "items";
    const KEY: &'static str = "id";
    const COLUMNS: &'static [Column] = &[column("id", ColumnKind::Text, true)];
}

/// A row keyed by a number.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Numbered {
    number: i64,
    label: String,
}

impl Row for Numbered {
    const TABLE: &'static str = "numbered";
    const KEY: &'static str = "number";
    const COLUMNS: &'static [Column] = &[
        column("number", ColumnKind::Integer, true),
        column("label", ColumnKind::Text, true),
    ];
}

fn rows_keyed_by_a_number_are_read_listed_and_deleted<B: Backend>(mut model: B) {
    let transaction = model.begin("numbers").unwrap();
    transaction.ensure(&spec::<Numbered>()).unwrap();
    let table = Table::<Numbered>::new(&transaction);
    for number in [10, 9, -3] {
        table
            .upsert(&Numbered {
                number,
                label: format!("n{number}"),
            })
            .unwrap();
    }
    assert_eq!(
        table.get("9").unwrap().map(|row| row.label),
        Some("n9".to_owned())
    );
    assert_eq!(
        table.get("nine").unwrap(),
        None,
        "no number: no row, no error"
    );
    let listed: Vec<i64> = table
        .list(&[], 10)
        .unwrap()
        .into_iter()
        .map(|row| row.number)
        .collect();
    assert_eq!(listed, [-3, 9, 10], "in numeric order");
    assert!(table.delete("10").unwrap());
    assert!(!table.delete("ten").unwrap());
    transaction.commit().unwrap();
}

/// The ids of `items`, in order.
fn ids(items: &[Item]) -> Vec<&str> {
    items.iter().map(|i| i.id.as_str()).collect()
}

/// The ids of the items rows `filters` select, at most 100.
fn listed(table: &Table<'_, Item>, filters: &[(&str, &str)]) -> Vec<String> {
    let found = table
        .list(filters, 100)
        .unwrap_or_else(|e| panic!("listing {filters:?}: {e}"));
    found.into_iter().map(|i| i.id).collect()
}

fn rows_are_written_read_listed_upserted_and_deleted<B: Backend>(mut model: B) {
    let db = model.begin("items").unwrap();
    db.ensure(&spec::<Item>()).unwrap();
    let table = Table::<Item>::new(&db);
    // Written out of key order.
    let mut c = item("c", "widget", 2, 2.5, true, &["red", "blue"]);
    c.note = Some("fragile".into());
    let rows = [
        c.clone(),
        item("a", "widget", 2, 9.75, false, &["red"]),
        item("d", "gadget", 7, 2.5, true, &[]),
        item("b", "gadget", 9_007_199_254_740_993, -1.0, true, &["blue"]),
    ];
    for row in &rows {
        table.upsert(row).unwrap();
    }
    db.commit().unwrap();

    let db = model.begin("items").unwrap();
    let table = Table::<Item>::new(&db);
    // Read back as written, optional columns included (and absent when absent).
    assert_eq!(table.get("c").unwrap(), Some(c.clone()));
    assert_eq!(table.get("b").unwrap(), Some(rows[3].clone()));
    assert_eq!(table.get("d").unwrap().unwrap().tags, Vec::<String>::new());
    assert_eq!(table.get("zz").unwrap(), None);
    // Every row in key order; a limit keeps the first ones.
    assert_eq!(ids(&table.list(&[], 100).unwrap()), ["a", "b", "c", "d"]);
    assert_eq!(ids(&table.list(&[], 2).unwrap()), ["a", "b"]);
    assert_eq!(
        ids(&table.list(&[("name", "widget")], 1).unwrap()),
        ["a"],
        "a filter and a limit"
    );
    // Text.
    assert_eq!(listed(&table, &[("name", "gadget")]), ["b", "d"]);
    assert_eq!(listed(&table, &[("note", "fragile")]), ["c"]);
    assert_eq!(listed(&table, &[("name", "Widget")]), Vec::<String>::new());
    assert_eq!(
        listed(&table, &[("name", "widget ")]),
        Vec::<String>::new(),
        "a text filter is the whole text"
    );
    // Integer.
    assert_eq!(listed(&table, &[("count", "2")]), ["a", "c"]);
    assert_eq!(listed(&table, &[("count", "2.0")]), ["a", "c"]);
    assert_eq!(listed(&table, &[("count", "9007199254740993")]), ["b"]);
    assert_eq!(listed(&table, &[("count", "2.5")]), Vec::<String>::new());
    assert_eq!(listed(&table, &[("count", "twelve")]), Vec::<String>::new());
    // Real.
    assert_eq!(listed(&table, &[("price", "2.5")]), ["c", "d"]);
    assert_eq!(listed(&table, &[("price", "-1")]), ["b"]);
    assert_eq!(listed(&table, &[("price", "twelve")]), Vec::<String>::new());
    // Boolean.
    assert_eq!(listed(&table, &[("active", "true")]), ["b", "c", "d"]);
    assert_eq!(listed(&table, &[("active", "false")]), ["a"]);
    assert_eq!(
        listed(&table, &[("active", "twelve")]),
        Vec::<String>::new()
    );
    // JSON, as the row's JSON text.
    assert_eq!(listed(&table, &[("tags", r#"["red"]"#)]), ["a"]);
    assert_eq!(listed(&table, &[("tags", r#"["red","blue"]"#)]), ["c"]);
    assert_eq!(listed(&table, &[("tags", "twelve")]), Vec::<String>::new());
    // Every filter must hold.
    assert_eq!(
        listed(&table, &[("name", "widget"), ("active", "true")]),
        ["c"]
    );
    assert_eq!(
        listed(&table, &[("name", "gadget"), ("count", "twelve")]),
        Vec::<String>::new()
    );
    // A column the row does not have is an error, not an empty list.
    assert!(table.list(&[("colour", "red")], 10).is_err());

    // An upsert replaces the whole row: a column it leaves out is gone.
    let replaced = item("c", "sprocket", 3, 0.5, false, &[]);
    table.upsert(&replaced).unwrap();
    assert_eq!(table.get("c").unwrap(), Some(replaced));
    assert_eq!(listed(&table, &[("note", "fragile")]), Vec::<String>::new());
    assert_eq!(listed(&table, &[("name", "widget")]), ["a"]);
    assert_eq!(table.list(&[], 100).unwrap().len(), 4);
    // Deleted once.
    assert!(table.delete("a").unwrap());
    assert!(!table.delete("a").unwrap());
    assert_eq!(table.get("a").unwrap(), None);
    // Keys in byte order, as SQLite's: upper case before lower case.
    table
        .upsert(&item("Z", "gizmo", 0, 0.0, false, &[]))
        .unwrap();
    db.commit().unwrap();
    let after = model
        .read("items", |_, rows| Table::<Item>::new(rows).list(&[], 100))
        .unwrap()
        .unwrap();
    assert_eq!(ids(&after), ["Z", "b", "c", "d"]);
    assert_eq!(after[2].name, "sprocket");

    // A row missing a required property is refused before it reaches the database…
    let db = model.begin("items").unwrap();
    let error = Table::<Partial>::new(&db)
        .upsert(&Partial { id: "e".into() })
        .unwrap_err();
    assert!(error.to_string().contains("`name` is missing"), "{error}");
    // …and by the database when it gets there anyway: the column is NOT NULL.
    let mut bare = serde_json::Map::new();
    bare.insert("id".into(), "e".into());
    let error = db.upsert(&spec::<Item>(), &bare).unwrap_err();
    assert!(!error.is_transient(), "{error}");
    drop(db);
    let found = model
        .read("items", |_, rows| Table::<Item>::new(rows).get("e"))
        .unwrap()
        .unwrap();
    assert_eq!(found, None);
}

fn tables_follow_their_row_schema<B: Backend>(mut model: B) {
    let count = |model: &B| {
        model
            .read("items", |_, rows| Table::<Key>::new(rows).list(&[], 100))
            .unwrap()
            .unwrap()
            .len()
    };
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<ItemV1>()).unwrap(), Setup::Created);
    assert_eq!(db.ensure(&spec::<ItemV1>()).unwrap(), Setup::Unchanged);
    let old = ItemV1 {
        id: "a".into(),
        name: "widget".into(),
        count: 2,
        price: 2.5,
        active: true,
    };
    Table::<ItemV1>::new(&db).upsert(&old).unwrap();
    db.commit().unwrap();

    // The same spec in another transaction, as the runner's next start sees it.
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<ItemV1>()).unwrap(), Setup::Unchanged);
    db.commit().unwrap();

    // Added optional columns: the rows stay, without them.
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<Item>()).unwrap(), Setup::Migrated);
    let table = Table::<Item>::new(&db);
    assert_eq!(
        table.get("a").unwrap(),
        Some(item("a", "widget", 2, 2.5, true, &[]))
    );
    let mut newer = item("b", "gadget", 1, 1.0, false, &["red"]);
    newer.note = Some("new".into());
    table.upsert(&newer).unwrap();
    assert_eq!(listed(&table, &[("tags", r#"["red"]"#)]), ["b"]);
    db.commit().unwrap();
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<Item>()).unwrap(), Setup::Unchanged);
    assert_eq!(Table::<Item>::new(&db).get("b").unwrap(), Some(newer));
    db.commit().unwrap();
    assert_eq!(count(&model), 2);

    // Any other change: recreated, empty, with the new columns.
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<ItemRetyped>()).unwrap(), Setup::Recreated);
    let table = Table::<ItemRetyped>::new(&db);
    assert_eq!(table.list(&[], 100).unwrap(), []);
    let retyped = ItemRetyped {
        id: "a".into(),
        count: "two".into(),
    };
    table.upsert(&retyped).unwrap();
    assert_eq!(table.get("a").unwrap(), Some(retyped));
    db.commit().unwrap();
    assert_eq!(count(&model), 1);
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<ItemRetyped>()).unwrap(), Setup::Unchanged);
    // Going back (a removed column) is not in place either.
    assert_eq!(db.ensure(&spec::<ItemV1>()).unwrap(), Setup::Recreated);
    db.commit().unwrap();
    assert_eq!(count(&model), 0);

    // A recreated table that is rolled back leaves the table as it was.
    let db = model.begin("items").unwrap();
    Table::<ItemV1>::new(&db).upsert(&old).unwrap();
    db.commit().unwrap();
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<ItemRetyped>()).unwrap(), Setup::Recreated);
    drop(db);
    let db = model.begin("items").unwrap();
    assert_eq!(db.ensure(&spec::<ItemV1>()).unwrap(), Setup::Unchanged);
    assert_eq!(Table::<ItemV1>::new(&db).get("a").unwrap(), Some(old));
    db.commit().unwrap();
}

/// The value under `key` in lookup `customer_of_order` of `projection`, and the checkpoint.
fn looked_up<B: Backend>(model: &B, projection: &str, key: &str) -> (Option<String>, u64) {
    model
        .read(projection, |position, db| {
            let value = Lookup::<String>::new(db, "customer_of_order")
                .get(key)
                .unwrap();
            (value, position)
        })
        .unwrap()
}

fn lookups_and_checkpoint_change_with_their_transaction<B: Backend>(mut model: B) {
    let db = model.begin("orders").unwrap();
    db.ensure(&spec::<Item>()).unwrap();
    let customers = Lookup::<String>::new(&db, "customer_of_order");
    assert_eq!(customers.get("o-1").unwrap(), None);
    customers.put("o-1", &"c-1".to_owned()).unwrap();
    customers.put("o-2", &"c-2".to_owned()).unwrap();
    customers.put("o-1", &"c-9".to_owned()).unwrap();
    assert_eq!(customers.get("o-1").unwrap().as_deref(), Some("c-9"));
    assert!(customers.delete("o-2").unwrap());
    assert!(!customers.delete("o-2").unwrap());
    assert_eq!(customers.get("o-2").unwrap(), None);
    // Another lookup of the projection is apart.
    assert_eq!(
        Lookup::<String>::new(&db, "other").get("o-1").unwrap(),
        None
    );
    // Values are JSON, whatever their shape.
    let shapes = Lookup::<serde_json::Value>::new(&db, "shapes");
    let value = serde_json::json!({"n": 1, "list": [true, null, "x"], "s": "ünï\"còdé"});
    shapes.put("k", &value).unwrap();
    assert_eq!(shapes.get("k").unwrap(), Some(value));
    Table::<Item>::new(&db)
        .upsert(&item("a", "widget", 1, 1.0, true, &[]))
        .unwrap();
    db.checkpoint(0, 3).unwrap();
    db.commit().unwrap();
    assert_eq!(looked_up(&model, "orders", "o-1"), (Some("c-9".into()), 3));

    // Another projection's lookups and checkpoint are apart.
    assert_eq!(looked_up(&model, "invoices", "o-1"), (None, 0));
    let other = model.begin("invoices").unwrap();
    Lookup::<String>::new(&other, "customer_of_order")
        .put("o-1", &"c-other".to_owned())
        .unwrap();
    other.checkpoint(0, 1).unwrap();
    other.commit().unwrap();

    // A transaction dropped uncommitted takes its rows, lookups and checkpoint with it.
    let db = model.begin("orders").unwrap();
    let customers = Lookup::<String>::new(&db, "customer_of_order");
    customers.put("o-3", &"c-3".to_owned()).unwrap();
    assert!(customers.delete("o-1").unwrap());
    Table::<Item>::new(&db)
        .upsert(&item("b", "gadget", 1, 1.0, true, &[]))
        .unwrap();
    db.checkpoint(3, 9).unwrap();
    drop(db);
    assert_eq!(looked_up(&model, "orders", "o-3"), (None, 3));
    assert_eq!(looked_up(&model, "orders", "o-1"), (Some("c-9".into()), 3));
    let rows = model
        .read("orders", |_, db| Table::<Item>::new(db).list(&[], 100))
        .unwrap()
        .unwrap();
    assert_eq!(ids(&rows), ["a"]);

    // Starting over forgets the projection's lookups and checkpoint (not its rows: the runner
    // clears its tables itself), and only its own.
    let db = model.begin("orders").unwrap();
    db.start_over().unwrap();
    db.commit().unwrap();
    assert_eq!(looked_up(&model, "orders", "o-1"), (None, 0));
    assert_eq!(
        model
            .read("orders", |_, db| Lookup::<serde_json::Value>::new(
                db, "shapes"
            )
            .get("k")
            .unwrap())
            .unwrap(),
        None
    );
    assert_eq!(
        looked_up(&model, "invoices", "o-1"),
        (Some("c-other".into()), 1)
    );
    // Cleared, the table is empty.
    let db = model.begin("orders").unwrap();
    db.clear(&spec::<Item>()).unwrap();
    db.commit().unwrap();
    let rows = model
        .read("orders", |_, db| Table::<Item>::new(db).list(&[], 100))
        .unwrap()
        .unwrap();
    assert_eq!(rows, []);
}

/// Moves `projection`'s checkpoint from `from` to `to` in a transaction of its own; whether it
/// moved (when it did not, the transaction is rolled back).
fn moved<B: Backend>(model: &mut B, projection: &'static str, from: u64, to: u64) -> bool {
    let db = model.begin(projection).unwrap();
    match db.checkpoint(from, to) {
        Ok(()) => {
            db.commit().unwrap();
            true
        }
        Err(error) => {
            assert!(!error.transient, "{error}");
            assert!(error.to_string().contains(projection), "{error}");
            false
        }
    }
}

fn position<B: Backend>(model: &B, projection: &str) -> u64 {
    model.read(projection, |position, _| position).unwrap()
}

/// The checkpoint moves only from where it is (one writer that read a stale position).
fn the_checkpoint_moves_only_from_where_it_is<B: Backend>(mut model: B) {
    assert_eq!(position(&model, "p"), 0);
    assert!(moved(&mut model, "p", 0, 5));
    assert!(!moved(&mut model, "p", 0, 7));
    assert!(!moved(&mut model, "p", 4, 7));
    assert_eq!(position(&model, "p"), 5);
    assert!(moved(&mut model, "p", 5, 7));
    assert_eq!(position(&model, "p"), 7);
    // After starting over, it moves from 0 again.
    let db = model.begin("p").unwrap();
    db.start_over().unwrap();
    db.commit().unwrap();
    assert_eq!(position(&model, "p"), 0);
    assert!(!moved(&mut model, "p", 7, 8));
    assert!(moved(&mut model, "p", 0, 2));
    assert_eq!(position(&model, "p"), 2);
    // Each projection has its own.
    assert!(moved(&mut model, "q", 0, 1));
    assert_eq!((position(&model, "p"), position(&model, "q")), (2, 1));
}

/// Two writers of one read model (two processes): a runner that read 0 before the other moved
/// the checkpoint cannot move it, so it does not apply those events again. Not instantiated for
/// SQLite: `SqliteReadModel::open` takes the file's lock, so a second writer cannot open it
/// (`sqlite_has_one_writer_per_file` below; the crate's unit test
/// `a_checkpoint_moves_only_from_where_the_runner_read_it` covers the compare-and-set of two
/// SQLite connections without the lock).
fn a_second_writer_cannot_move_the_checkpoint_the_first_moved<B: Backend + 'static>(
    mut first: B,
    mut second: B,
) {
    // Both read 0.
    assert_eq!((position(&first, "p"), position(&second, "p")), (0, 0));
    assert!(moved(&mut first, "p", 0, 5));
    assert!(!moved(&mut second, "p", 0, 7));
    assert_eq!(position(&second, "p"), 5);
    assert!(moved(&mut second, "p", 5, 7));
    // Now the first is behind.
    assert!(!moved(&mut first, "p", 5, 9));
    assert_eq!(position(&first, "p"), 7);
    // Racing: the second's compare-and-set waits for the first's transaction, then finds the
    // checkpoint moved.
    let db = first.begin("p").unwrap();
    db.checkpoint(7, 8).unwrap();
    let racer = std::thread::spawn(move || {
        let lost = !moved(&mut second, "p", 7, 9);
        (second, lost)
    });
    // Whether the second is already waiting or not, it must lose.
    std::thread::sleep(Duration::from_millis(200));
    db.commit().unwrap();
    let (mut second, lost) = racer.join().unwrap();
    assert!(lost, "both moved the checkpoint from 7");
    assert_eq!(position(&second, "p"), 8);
    assert!(moved(&mut second, "p", 8, 9));
    // Rows the losing transaction wrote are not committed.
    let db = first.begin("p").unwrap();
    db.ensure(&spec::<ItemV1>()).unwrap();
    db.commit().unwrap();
    let db = first.begin("p").unwrap();
    Table::<ItemV1>::new(&db)
        .upsert(&ItemV1 {
            id: "a".into(),
            name: "twice".into(),
            count: 1,
            price: 1.0,
            active: true,
        })
        .unwrap();
    assert!(db.checkpoint(5, 9).is_err());
    drop(db);
    let rows = second
        .read("p", |_, db| Table::<ItemV1>::new(db).list(&[], 10))
        .unwrap()
        .unwrap();
    assert_eq!(rows, []);
}

fn envelope(position: u64, stream: &str) -> Envelope {
    Envelope {
        id: eventsmith::uuid::Uuid::now_v7(),
        source: "conformance".into(),
        event_type: "order.placed".into(),
        version: 2,
        stream: stream.into(),
        stream_version: 1,
        position,
        time: eventsmith::time::OffsetDateTime::now_utc(),
        data_schema: None,
        data: br#"{"n":1}"#.to_vec(),
        metadata: Metadata::default(),
    }
}

fn dead_letters_are_recorded_retried_skipped_and_closed<B: Backend>(mut model: B) {
    assert_eq!(model.dead_letters("orders").unwrap(), []);
    let db = model.begin("orders").unwrap();
    db.dead_letter(&envelope(3, "order-1"), "totals of 666 are refused", 3)
        .unwrap();
    db.dead_letter(&envelope(5, "order-1"), "parked behind", 0)
        .unwrap();
    db.dead_letter(&envelope(8, "order-2"), "ünïcödé error", 2)
        .unwrap();
    db.commit().unwrap();
    // One of another projection: apart.
    let db = model.begin("invoices").unwrap();
    db.dead_letter(&envelope(4, "order-9"), "other", 1).unwrap();
    db.commit().unwrap();
    // Rolled back: not recorded.
    let db = model.begin("orders").unwrap();
    db.dead_letter(&envelope(9, "order-3"), "rolled back", 1)
        .unwrap();
    drop(db);

    let letters = model.dead_letters("orders").unwrap();
    let expected = |id: i64, position: u64, stream: &str, error: &str, attempts: u32| DeadLetter {
        id,
        position,
        stream: stream.into(),
        event_type: "order.placed".into(),
        version: 2,
        error: error.into(),
        attempts,
    };
    assert_eq!(letters.len(), 3, "{letters:?}");
    let [first, second, third] = [letters[0].id, letters[1].id, letters[2].id];
    assert!(
        first < second && second < third,
        "oldest first: {letters:?}"
    );
    assert_eq!(
        letters,
        [
            expected(first, 3, "order-1", "totals of 666 are refused", 3),
            expected(second, 5, "order-1", "parked behind", 0),
            expected(third, 8, "order-2", "ünïcödé error", 2),
        ]
    );
    let others = model.dead_letters("invoices").unwrap();
    assert_eq!(others.len(), 1);
    assert_eq!(others[0].stream, "order-9");

    // Failed again: one more attempt, the new error.
    model
        .failed_again("orders", first, "still refused")
        .unwrap();
    assert_eq!(
        model.dead_letters("orders").unwrap()[0],
        expected(first, 3, "order-1", "still refused", 4)
    );
    // Another projection's id is not this one's.
    model.failed_again("invoices", first, "wrong").unwrap();
    assert_eq!(
        model.dead_letters("orders").unwrap()[0].error,
        "still refused"
    );
    assert!(!model.skip_dead_letter("invoices", first).unwrap());

    // Skipped once.
    assert!(model.skip_dead_letter("orders", first).unwrap());
    assert!(!model.skip_dead_letter("orders", first).unwrap());
    assert!(!model.skip_dead_letter("orders", 999_999).unwrap());
    let open: Vec<i64> = model
        .dead_letters("orders")
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(open, [second, third]);

    // Closed (it went through) with its transaction; a rolled-back close leaves it open.
    let db = model.begin("orders").unwrap();
    db.close_dead_letter(second).unwrap();
    drop(db);
    assert_eq!(model.dead_letters("orders").unwrap().len(), 2);
    let db = model.begin("orders").unwrap();
    db.close_dead_letter(second).unwrap();
    db.commit().unwrap();
    let open: Vec<i64> = model
        .dead_letters("orders")
        .unwrap()
        .iter()
        .map(|l| l.id)
        .collect();
    assert_eq!(open, [third]);

    // Starting over drops the open ones, of this projection only.
    let db = model.begin("orders").unwrap();
    db.start_over().unwrap();
    db.commit().unwrap();
    assert_eq!(model.dead_letters("orders").unwrap(), []);
    assert_eq!(model.dead_letters("invoices").unwrap().len(), 1);
    // New ones get new ids.
    let db = model.begin("orders").unwrap();
    db.dead_letter(&envelope(10, "order-4"), "again", 1)
        .unwrap();
    db.commit().unwrap();
    let letters = model.dead_letters("orders").unwrap();
    assert_eq!(letters.len(), 1);
    assert!(letters[0].id > third, "{letters:?}");
}

/// A SQLite read model in a fresh temporary directory, removed with the guard.
struct Sqlite {
    dir: tempfile::TempDir,
}

impl Sqlite {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn open(&self) -> SqliteReadModel {
        SqliteReadModel::open(self.dir.path().join("read.db")).unwrap()
    }
}

/// PostgreSQL read models in a fresh schema, dropped with the guard (after the models, which
/// the tests drop first).
struct Postgres {
    schema: Schema,
}

impl Postgres {
    fn new() -> Self {
        Self {
            schema: Schema::fresh("read_model"),
        }
    }

    fn open(&self) -> PostgresReadModel {
        PostgresReadModel::open(&self.schema.url, &self.schema.name)
            .unwrap_or_else(|e| pg::unreachable(&self.schema.url, e))
    }
}

macro_rules! conformance {
    ($backend:ident, $fixture:ident) => {
        mod $backend {
            use super::*;

            #[test]
            fn rows_are_written_read_listed_upserted_and_deleted() {
                let db = $fixture::new();
                super::rows_are_written_read_listed_upserted_and_deleted(db.open());
            }
            #[test]
            fn tables_follow_their_row_schema() {
                let db = $fixture::new();
                super::tables_follow_their_row_schema(db.open());
            }
            #[test]
            fn lookups_and_checkpoint_change_with_their_transaction() {
                let db = $fixture::new();
                super::lookups_and_checkpoint_change_with_their_transaction(db.open());
            }
            #[test]
            fn the_checkpoint_moves_only_from_where_it_is() {
                let db = $fixture::new();
                super::the_checkpoint_moves_only_from_where_it_is(db.open());
            }
            #[test]
            fn rows_keyed_by_a_number_are_read_listed_and_deleted() {
                let db = $fixture::new();
                super::rows_keyed_by_a_number_are_read_listed_and_deleted(db.open());
            }
            #[test]
            fn dead_letters_are_recorded_retried_skipped_and_closed() {
                let db = $fixture::new();
                super::dead_letters_are_recorded_retried_skipped_and_closed(db.open());
            }
        }
    };
}

conformance!(sqlite, Sqlite);
conformance!(postgres, Postgres);

#[test]
fn sqlite_has_one_writer_per_file() {
    let db = Sqlite::new();
    let first = db.open();
    let Err(refused) = SqliteReadModel::open(db.dir.path().join("read.db")) else {
        panic!("two read models wrote one file");
    };
    assert!(refused.to_string().contains("read.db.lock"), "{refused}");
    drop(first);
    drop(db.open());
}

#[test]
fn postgres_a_second_writer_cannot_move_the_checkpoint_the_first_moved() {
    let db = Postgres::new();
    a_second_writer_cannot_move_the_checkpoint_the_first_moved(db.open(), db.open());
}

/// Polls `condition` every 50 ms for up to `patience`; whether it came true.
fn eventually(patience: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let started = Instant::now();
    loop {
        if condition() {
            return true;
        }
        if started.elapsed() > patience {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// One runner per projection across processes: the lease goes to one model at a time, is seen
/// wanted by its holder while another waits, passes on release, and goes with a dropped model's
/// connection.
#[test]
fn postgres_leases_go_to_one_model_at_a_time() {
    let db = Postgres::new();
    let (mut first, mut second) = (db.open(), db.open());
    assert!(first.claim("p").unwrap());
    assert!(first.claim("p").unwrap(), "claiming again what it holds");
    assert!(!second.claim("p").unwrap());
    // Another projection's lease is another.
    assert!(second.claim("q").unwrap());
    assert!(!first.claim("q").unwrap());
    // The same projection in another schema is another.
    let elsewhere = Postgres::new();
    let mut third = elsewhere.open();
    assert!(third.claim("p").unwrap());
    assert!(!first.lease_wanted("p").unwrap());
    // The holder waits for nothing.
    assert!(first.wait_for_lease("p", Duration::from_millis(1)).unwrap());

    // While the second waits, the first sees the lease wanted; on release, the second has it.
    let waiter = std::thread::spawn(move || {
        let got = second.wait_for_lease("p", Duration::from_secs(5));
        (second, got)
    });
    assert!(
        eventually(Duration::from_secs(5), || first.lease_wanted("p").unwrap()),
        "the holder never saw the waiter"
    );
    assert!(!first.lease_wanted("q").unwrap());
    first.release("p").unwrap();
    let (second, got) = waiter.join().unwrap();
    assert!(got.unwrap(), "the waiter did not get the released lease");
    assert!(!first.lease_wanted("p").unwrap());
    assert!(!first.claim("p").unwrap());

    // A short patience gives up while another holds it.
    let started = Instant::now();
    assert!(
        !first
            .wait_for_lease("p", Duration::from_millis(300))
            .unwrap()
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
    // Giving up waiting leaves nothing behind: the holder sees no waiter, and the model works.
    assert!(!second.lease_wanted("p").unwrap());
    assert_eq!(position(&first, "p"), 0);

    // A model dropped with its leases frees them.
    drop(second);
    assert!(
        eventually(Duration::from_secs(5), || first.claim("p").unwrap()),
        "the dropped model's lease was not freed"
    );
    assert!(first.claim("q").unwrap());
    // Released, it can be claimed by another again, and releasing twice does no harm.
    first.release("p").unwrap();
    first.release("p").unwrap();
    let mut fourth = db.open();
    assert!(fourth.claim("p").unwrap());
    // A model that claimed a lease keeps writing its projection.
    assert!(moved(&mut fourth, "p", 0, 1));
    drop(third);
}

/// Any event of type `counter.counted`, `{"by": n}`.
#[derive(Debug)]
struct Counted {
    by: i64,
}

impl eventsmith::EventSet for Counted {
    fn decode(
        event_type: &str,
        version: u32,
        payload: &[u8],
    ) -> Result<Self, eventsmith::DecodeError> {
        if event_type != "counter.counted" {
            return Err(eventsmith::DecodeError::UnknownEventType(
                event_type.to_owned(),
            ));
        }
        let value: serde_json::Value = serde_json::from_slice(payload).map_err(|source| {
            eventsmith::DecodeError::InvalidPayload {
                event_type: event_type.to_owned(),
                version,
                source,
            }
        })?;
        Ok(Counted {
            by: value["by"].as_i64().unwrap_or(0),
        })
    }
    fn encode(&self) -> Result<Vec<u8>, eventsmith::EncodeError> {
        Ok(format!(r#"{{"by":{}}}"#, self.by).into_bytes())
    }
    fn event_type(&self) -> &'static str {
        "counter.counted"
    }
    fn version(&self) -> u32 {
        1
    }
}

fn counted(by: i64) -> NewEvent {
    NewEvent {
        event_type: "counter.counted".into(),
        version: 1,
        data: format!(r#"{{"by":{by}}}"#).into_bytes(),
        metadata: Metadata::default(),
    }
}

/// A counter's total and how many events made it.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
struct Count {
    counter: String,
    total: i64,
    events: i64,
}

impl Row for Count {
    const TABLE: &'static str = "counts";
    const KEY: &'static str = "counter";
    const COLUMNS: &'static [Column] = &[
        column("counter", ColumnKind::Text, true),
        column("total", ColumnKind::Integer, true),
        column("events", ColumnKind::Integer, true),
    ];
}

/// Counters, by stream.
struct Counts;

impl Projection for Counts {
    type Event = Counted;
    const NAME: &'static str = "counts";
    const TABLES: &'static [TableSpec] = &[TableSpec::of::<Count>()];

    fn handle(
        &self,
        transaction: &dyn Transaction,
        event: &Counted,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        let rows = Table::<Count>::new(transaction);
        let mut count = rows.get(&envelope.stream)?.unwrap_or(Count {
            counter: envelope.stream.clone(),
            total: 0,
            events: 0,
        });
        count.total += event.by;
        count.events += 1;
        rows.upsert(&count)?;
        Ok(())
    }
}

fn counts<S: EventStore, B: Backend>(
    runner: &ProjectionRunner<S, Counts, B>,
) -> Vec<(String, i64, i64)> {
    runner
        .read(|rows| Table::<Count>::new(rows).list(&[], 100))
        .unwrap()
        .into_iter()
        .map(|c| (c.counter, c.total, c.events))
        .collect()
}

/// The runner over a `PostgresStore` and a `PostgresReadModel` in one schema: the events and the
/// read model side by side; a second runner (a second service instance) takes over where the
/// first left off, and yields its lease when another process waits for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_runner_over_a_postgres_store_in_one_schema() {
    let db = Postgres::new();
    let (url, name) = (db.schema.url.clone(), db.schema.name.clone());
    let store = PostgresStore::connect(
        &url,
        "conformance",
        PostgresOptions::default().schema(&name),
    )
    .await
    .unwrap_or_else(|e| pg::unreachable(&url, e));
    store
        .append(
            "counter-a",
            ExpectedVersion::NoStream,
            vec![counted(2), counted(3)],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "counter-b",
            ExpectedVersion::NoStream,
            vec![counted(10)],
            None,
        )
        .await
        .unwrap();
    let mut first = ProjectionRunner::new(store.clone(), Counts, db.open()).unwrap();
    let status = first.run_until_caught_up().await.unwrap();
    assert_eq!(
        status,
        Status {
            position: 3,
            head: 3,
            lag: 0
        }
    );
    assert_eq!(
        counts(&first),
        [
            ("counter-a".to_owned(), 5, 2),
            ("counter-b".to_owned(), 10, 1)
        ]
    );
    // The read model's tables are in the store's schema, beside its events.
    let (client, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| pg::unreachable(&url, e));
    tokio::spawn(connection);
    let tables: Vec<String> = client
        .query(
            "SELECT table_name::text FROM information_schema.tables WHERE table_schema = $1
             ORDER BY table_name",
            &[&name],
        )
        .await
        .unwrap()
        .iter()
        .map(|row| row.get(0))
        .collect();
    for table in ["counts", "eventsmith_checkpoints", "eventsmith_events"] {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} not in {tables:?}"
        );
    }
    let total: i64 = client
        .query_one(
            &format!("SELECT SUM(total)::int8 FROM \"{name}\".counts"),
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(total, 15);

    // A second instance: the same projection on a second model in the same schema, which
    // claims the lease and goes on from the first's checkpoint.
    store
        .append(
            "counter-a",
            ExpectedVersion::Exact(2),
            vec![counted(1)],
            None,
        )
        .await
        .unwrap();
    store
        .append(
            "counter-c",
            ExpectedVersion::NoStream,
            vec![counted(7)],
            None,
        )
        .await
        .unwrap();
    // The first took the lease when it was made: the second waits for it.
    let mut second = ProjectionRunner::new(store.clone(), Counts, db.open()).unwrap();
    assert!(!second.claim().unwrap(), "two instances held one lease");
    first.release_lease().unwrap();
    assert!(second.claim().unwrap());
    assert!(!first.claim().unwrap(), "two instances held one lease");
    assert_eq!(second.position().unwrap(), 3);
    let status = second.run_until_caught_up().await.unwrap();
    assert_eq!((status.position, status.lag), (5, 0));
    assert_eq!(
        counts(&first),
        [
            ("counter-a".to_owned(), 6, 3),
            ("counter-b".to_owned(), 10, 1),
            ("counter-c".to_owned(), 7, 1)
        ]
    );

    // A third process (an operator's `replay`) waits for the lease: the running second yields
    // it between batches, and the third gets it once the second releases it.
    let (waiting, waits) = std::sync::mpsc::channel();
    let third = db.open();
    let waiter = std::thread::spawn(move || {
        let mut third = third;
        waiting.send(()).unwrap();
        let got = third.wait_for_lease(Counts::NAME, Duration::from_secs(30));
        (third, got)
    });
    waits.recv().unwrap();
    let started = Instant::now();
    let ended = tokio::time::timeout(
        Duration::from_secs(10),
        second.run_leased(std::future::pending()),
    )
    .await
    .expect("the runner did not yield its lease to a waiting process")
    .unwrap();
    assert_eq!(ended, Ended::Yielded);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "yielded after {:?}",
        started.elapsed()
    );
    second.release_lease().unwrap();
    let (third, got) = waiter.join().unwrap();
    assert!(got.unwrap(), "the waiting process did not get the lease");
    assert!(!second.claim().unwrap());
    drop(third);
    // Freed with the third's connection, the lease comes back.
    let mut claimed = false;
    for _ in 0..100 {
        if second.claim().unwrap() {
            claimed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        claimed,
        "the lease was not freed with the third's connection"
    );

    // Stopped when asked, it says so; and it took in what came meanwhile.
    store
        .append(
            "counter-b",
            ExpectedVersion::Exact(1),
            vec![counted(5)],
            None,
        )
        .await
        .unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let ended = {
        let run = second.run_leased(async {
            let _ = stopped.await;
        });
        let stopper = async {
            // Until the runner has taken the new event in.
            let deadline = Instant::now() + Duration::from_secs(10);
            while position_of(&url, &name).await < 6 && Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            let _ = stop.send(());
        };
        let (ended, ()) = tokio::join!(run, stopper);
        ended.unwrap()
    };
    assert_eq!(ended, Ended::Stopped);
    assert_eq!(second.position().unwrap(), 6);
    assert_eq!(
        counts(&second)[1],
        ("counter-b".to_owned(), 15, 2),
        "{:?}",
        counts(&second)
    );
    drop((first, second, store));
}

/// The `counts` checkpoint in schema `name`, read on a connection of its own.
async fn position_of(url: &str, name: &str) -> i64 {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .unwrap_or_else(|e| pg::unreachable(url, e));
    tokio::spawn(connection);
    client
        .query_opt(
            &format!(
                "SELECT position FROM \"{name}\".eventsmith_checkpoints WHERE projection = 'counts'"
            ),
            &[],
        )
        .await
        .unwrap()
        .map_or(0, |row| row.get(0))
}
