//! The example domain (README.md#the-example-domain) written against the generated code
//! (`domain/`): the order rules checked with the given/when/then kit and run by the repository
//! from JSON commands decoded through `OrderCommand`; the `order_summary` read model run by the
//! projection runner over the events the repository appended.

mod domain;
mod generated {
    include!("../../generated-example/src/generated/mod.rs");
}
use domain::projections;

use domain::order::Rules;
use domain::{paid, pay, place, placed};
use eventsmith::projection::ProjectionRunner;
use eventsmith::read_model::Table;
use eventsmith::repository::{Execute, Repository, RepositoryError};
use eventsmith::serde_json::Number;
use eventsmith::{CommandError, CommandSet};
use generated::order::commands::{AddLine, CancelOrder, ShipOrder};
use generated::order::{
    OrderAggregate, OrderCancelled, OrderCommand, OrderEvent, OrderLineAdded, OrderShipped,
    OrderStatus, given,
};
use generated::projections::{OrderSummary, OrderSummaryProjection, OrderSummaryStatus};
use projections::order_summary::Handler as Summaries;

#[test]
fn placing_sums_the_lines_in_cents() {
    let order = given::<Rules>(Vec::<OrderEvent>::new())
        .when(place())
        .then([placed()]);
    let order = order.unwrap();
    assert_eq!(
        (order.total_amount.to_string(), order.line_count),
        ("28.99".into(), 2)
    );
    given::<Rules>([placed()])
        .when(place())
        .then_rejected("already been placed");
}

#[test]
fn totals_an_amount_cannot_hold_are_refused() {
    let huge = AddLine {
        sku: "GOLD".into(),
        quantity: u64::MAX,
        unit_price: eventsmith::serde_json::Number::from_f64(1e9).unwrap(),
    };
    given::<Rules>([placed()])
        .when(huge)
        .then_rejected("total would exceed");
    let mut order = place();
    order.lines[0].quantity = u64::MAX;
    given::<Rules>(Vec::<OrderEvent>::new())
        .when(order)
        .then_rejected("total would exceed");
}

#[test]
fn payment_must_match_the_total_and_happen_once() {
    given::<Rules>([placed()])
        .when(pay(28.98))
        .then_rejected("does not match");
    given::<Rules>([placed()]).when(pay(28.99)).then([paid()]);
    given::<Rules>([OrderEvent::from(placed()), paid().into()])
        .when(pay(28.99))
        .then_rejected("already paid");
    let cancelled = OrderCancelled {
        reason: "changed my mind".into(),
    };
    given::<Rules>([OrderEvent::from(placed()), cancelled.into()])
        .when(pay(28.99))
        .then_rejected("cancelled");
}

#[test]
fn lines_added_raise_the_total_only_while_placed() {
    let added = OrderLineAdded {
        sku: "INK".into(),
        quantity: 3,
        unit_price: Number::from_f64(0.1).unwrap(),
    };
    let add = AddLine {
        sku: added.sku.clone(),
        quantity: added.quantity,
        unit_price: added.unit_price.clone(),
    };
    let order = given::<Rules>([placed()]).when(add.clone()).then([added]);
    assert_eq!(order.unwrap().total_amount.to_string(), "29.29");
    given::<Rules>([OrderEvent::from(placed()), paid().into()])
        .when(add)
        .then_rejected("only be added while");
}

#[test]
fn shipping_needs_payment_and_cancelling_forbids_shipping() {
    let ship = ShipOrder {
        carrier: "DHL".into(),
        tracking_number: "JJD0001".into(),
    };
    given::<Rules>([placed()])
        .when(ship.clone())
        .then_rejected("not paid");
    let shipped = OrderShipped {
        carrier: "DHL".into(),
        tracking_number: "JJD0001".into(),
    };
    given::<Rules>([OrderEvent::from(placed()), paid().into()])
        .when(ship)
        .then([shipped.clone()]);
    given::<Rules>([OrderEvent::from(placed()), paid().into(), shipped.into()])
        .when(CancelOrder {
            reason: "late".into(),
        })
        .then_rejected("already shipped");
}

#[test]
fn commands_decode_by_name_with_every_violation() {
    let body = br#"{"customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23", "lines": [], "currency": "eur"}"#;
    match OrderCommand::decode("place_order", body) {
        Err(CommandError::Invalid { violations, .. }) => {
            let pointers: Vec<&str> = violations.iter().map(|v| v.pointer.as_str()).collect();
            assert_eq!(pointers, ["/lines", "/currency"], "{violations:?}");
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(
        OrderCommand::decode("refund_order", b"{}"),
        Err(CommandError::Unknown(name)) if name == "refund_order"
    ));
    assert!(matches!(
        OrderCommand::decode("pay_order", b"{"),
        Err(CommandError::Malformed(_))
    ));
    assert_eq!(
        OrderCommand::NAMES,
        [
            "add_line",
            "cancel_order",
            "pay_order",
            "place_order",
            "ship_order"
        ]
    );
}

#[tokio::test]
async fn the_repository_runs_the_rules_on_a_durable_store() {
    let dir = tempfile::tempdir().unwrap();
    let store = eventsmith::store::SqliteStore::open(dir.path().join("events.db"), "test").unwrap();
    let orders = Repository::<_, OrderAggregate<Rules>>::new(store).cache(16);
    let command = |name: &str, body: &str| OrderCommand::decode(name, body.as_bytes()).unwrap();
    let place = r#"{"customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23", "lines": [{"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5}, {"sku": "PEN-BLUE", "quantity": 1, "unit_price": 3.99}], "currency": "EUR"}"#;
    orders
        .execute("o-1", &command("place_order", place), &Execute::default())
        .await
        .unwrap();
    let wrong = orders
        .execute(
            "o-1",
            &command("pay_order", r#"{"amount": 20, "method": "card"}"#),
            &Execute::default(),
        )
        .await;
    assert!(
        matches!(wrong, Err(RepositoryError::Rejected(ref r)) if r.message.contains("does not match"))
    );
    let paid = orders
        .execute(
            "o-1",
            &command("pay_order", r#"{"amount": 28.99, "method": "card"}"#),
            &Execute {
                expected_version: Some(1),
                ..Execute::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(paid.aggregate.version, 2);
    assert_eq!(
        orders.load("o-1").await.unwrap().state.unwrap().status,
        OrderStatus::Paid
    );
}

#[tokio::test]
async fn order_summary_follows_the_orders() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        eventsmith::store::SqliteStore::open(dir.path().join("events.db"), "test").unwrap(),
    );
    let orders = Repository::<_, OrderAggregate<Rules>>::new(std::sync::Arc::clone(&store));
    let id = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12";
    for command in [
        OrderCommand::from(place()),
        AddLine {
            sku: "INK".into(),
            quantity: 1,
            unit_price: Number::from_f64(1.01).unwrap(),
        }
        .into(),
        pay(30.0).into(),
    ] {
        orders
            .execute(id, &command, &Execute::default())
            .await
            .unwrap();
    }
    let mut runner = ProjectionRunner::open(
        std::sync::Arc::clone(&store),
        OrderSummaryProjection::<Summaries>::default(),
        dir.path().join("read.db"),
    )
    .unwrap();
    let status = runner.run_until_caught_up().await.unwrap();
    assert_eq!((status.position, status.lag), (3, 0));
    assert!(runner.dead_letters().unwrap().is_empty());
    let row = runner
        .read(|rows| Table::<OrderSummary>::new(rows).get(id))
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.total_amount.as_f64(), row.line_count),
        (OrderSummaryStatus::Paid, Some(30.0), 3)
    );
    let paid = runner
        .read(|rows| Table::<OrderSummary>::new(rows).list(&[("status", "paid")], 10))
        .unwrap();
    assert_eq!(paid, std::slice::from_ref(&row));
    // A rebuild gives the same row.
    runner.rebuild().await.unwrap();
    assert_eq!(
        runner
            .read(|rows| Table::<OrderSummary>::new(rows).get(id))
            .unwrap(),
        Some(row)
    );
}

#[test]
fn customers_register_once_and_change_their_email() {
    use generated::customer::commands::{ChangeEmail, RegisterCustomer};
    use generated::customer::{CustomerEmailChanged, CustomerRegistered, given};
    let email = |text: &str| text.parse::<eventsmith::format::Email>().unwrap();
    let registered = CustomerRegistered {
        email: email("ada@example.com"),
        name: "Ada".into(),
    };
    given::<domain::customer::Rules>(Vec::<CustomerRegistered>::new())
        .when(RegisterCustomer {
            email: email("ada@example.com"),
            name: "Ada".into(),
        })
        .then([registered.clone()]);
    given::<domain::customer::Rules>([registered.clone()])
        .when(RegisterCustomer {
            email: email("ada@example.com"),
            name: "Ada".into(),
        })
        .then_rejected("already registered");
    given::<domain::customer::Rules>(Vec::<CustomerRegistered>::new())
        .when(ChangeEmail {
            email: email("x@example.com"),
        })
        .then_rejected("not registered");
    given::<domain::customer::Rules>([registered.clone()])
        .when(ChangeEmail {
            email: email("ada@example.com"),
        })
        .then(Vec::<CustomerEmailChanged>::new());
    given::<domain::customer::Rules>([registered])
        .when(ChangeEmail {
            email: email("ada@lovelace.org"),
        })
        .then([CustomerEmailChanged {
            email: email("ada@lovelace.org"),
        }]);
}

#[tokio::test]
async fn customer_orders_and_daily_revenue_follow_payments() {
    use generated::projections::{
        CustomerOrders, CustomerOrdersProjection, DailyRevenue, DailyRevenueProjection,
    };
    use projections::customer_orders::Handler as Orders;
    use projections::daily_revenue::Handler as Days;
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(
        eventsmith::store::SqliteStore::open(dir.path().join("events.db"), "test").unwrap(),
    );
    let orders = Repository::<_, OrderAggregate<Rules>>::new(std::sync::Arc::clone(&store));
    for id in ["o-1", "o-2", "o-3"] {
        orders
            .execute(id, &OrderCommand::from(place()), &Execute::default())
            .await
            .unwrap();
    }
    for id in ["o-1", "o-3"] {
        orders
            .execute(id, &OrderCommand::from(pay(28.99)), &Execute::default())
            .await
            .unwrap();
    }
    let mut customers = ProjectionRunner::open(
        std::sync::Arc::clone(&store),
        CustomerOrdersProjection::<Orders>::default(),
        dir.path().join("customer_orders.db"),
    )
    .unwrap();
    customers.run_until_caught_up().await.unwrap();
    assert!(customers.dead_letters().unwrap().is_empty());
    let customer = place().customer_id;
    let row = customers
        .read(|rows| Table::<CustomerOrders>::new(rows).get(customer.as_str()))
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.order_count, row.total_spent.as_f64()),
        (3, Some(57.98))
    );
    customers.rebuild().await.unwrap();
    assert_eq!(
        customers
            .read(|rows| Table::<CustomerOrders>::new(rows).get(customer.as_str()))
            .unwrap(),
        Some(row)
    );
    let mut days = ProjectionRunner::open(
        std::sync::Arc::clone(&store),
        DailyRevenueProjection::<Days>::default(),
        dir.path().join("daily_revenue.db"),
    )
    .unwrap();
    days.run_until_caught_up().await.unwrap();
    let today = days
        .read(|rows| Table::<DailyRevenue>::new(rows).list(&[], 10))
        .unwrap();
    let paid: u64 = today.iter().map(|d| d.orders_paid).sum();
    assert_eq!(paid, 2, "{today:?}");
}
