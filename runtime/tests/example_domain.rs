//! The example domain (PRODUCT.md) written against the generated code: the order rules against
//! `OrderRules`, checked with the given/when/then kit and run by the repository from JSON commands
//! decoded through `OrderCommand`; the `order_summary` read model against `OrderSummaryHandler`,
//! run by the projection runner over the events the repository appended.

mod events {
    include!("../../tests/codegen/example/mod.rs");
}

use events::order::commands::{
    AddLine, CancelOrder, PayOrder, PayOrderMethod, PlaceOrder, ShipOrder,
};
use events::order::v1::OrderPaidMethod;
use events::order::{
    Order, OrderAggregate, OrderCancelled, OrderCommand, OrderEvent, OrderLineAdded, OrderPaid,
    OrderPlaced, OrderRules, OrderShipped, OrderStatus, given,
};
use events::projections::{
    OrderSummary, OrderSummaryHandler, OrderSummaryProjection, OrderSummaryStatus,
};
use events::types::OrderLine;
use eventsmith::projection::ProjectionRunner;
use eventsmith::read_model::Table;
use eventsmith::repository::{Execute, Repository, RepositoryError};
use eventsmith::serde_json::Number;
use eventsmith::store::Envelope;
use eventsmith::{CommandError, CommandSet, Rejection};

/// Amounts have at most two decimals (`multipleOf: 0.01`): rules compare them in cents.
fn cents(amount: &Number) -> i64 {
    (amount.as_f64().unwrap_or_default() * 100.0).round() as i64
}

fn amount(cents: i64) -> Number {
    Number::from_f64(cents as f64 / 100.0).unwrap_or_else(|| 0.into())
}

fn line_cents(quantity: u64, unit_price: &Number) -> i64 {
    quantity as i64 * cents(unit_price)
}

struct Rules;

impl OrderRules for Rules {
    fn decide_place_order(
        state: Option<&Order>,
        command: &PlaceOrder,
    ) -> Result<Vec<OrderEvent>, Rejection> {
        if state.is_some() {
            return Err(Rejection::new("the order has already been placed"));
        }
        let total = command
            .lines
            .iter()
            .map(|l| line_cents(l.quantity, &l.unit_price))
            .sum();
        Ok(vec![
            OrderPlaced {
                customer_id: command.customer_id.clone(),
                lines: command.lines.clone(),
                currency: command.currency.clone(),
                total_amount: amount(total),
            }
            .into(),
        ])
    }

    fn decide_add_line(
        state: Option<&Order>,
        command: &AddLine,
    ) -> Result<Vec<OrderEvent>, Rejection> {
        match state.map(|o| &o.status) {
            Some(OrderStatus::Placed) => Ok(vec![
                OrderLineAdded {
                    sku: command.sku.clone(),
                    quantity: command.quantity,
                    unit_price: command.unit_price.clone(),
                }
                .into(),
            ]),
            None => Err(Rejection::new("the order has not been placed")),
            Some(_) => Err(Rejection::new(
                "lines can only be added while the order is placed",
            )),
        }
    }

    fn decide_pay_order(
        state: Option<&Order>,
        command: &PayOrder,
    ) -> Result<Vec<OrderEvent>, Rejection> {
        let order = state.ok_or_else(|| Rejection::new("the order has not been placed"))?;
        match order.status {
            OrderStatus::Placed => {}
            OrderStatus::Cancelled => return Err(Rejection::new("the order is cancelled")),
            OrderStatus::Paid | OrderStatus::Shipped => {
                return Err(Rejection::new("the order is already paid"));
            }
        }
        if cents(&command.amount) != cents(&order.total_amount) {
            return Err(Rejection::new(format!(
                "the amount {} does not match the order's total {}",
                command.amount, order.total_amount
            )));
        }
        let method = match command.method {
            PayOrderMethod::Card => OrderPaidMethod::Card,
            PayOrderMethod::Invoice => OrderPaidMethod::Invoice,
            PayOrderMethod::Cash => OrderPaidMethod::Cash,
        };
        Ok(vec![
            OrderPaid {
                amount: command.amount.clone(),
                method,
            }
            .into(),
        ])
    }

    fn decide_ship_order(
        state: Option<&Order>,
        command: &ShipOrder,
    ) -> Result<Vec<OrderEvent>, Rejection> {
        match state.map(|o| &o.status) {
            Some(OrderStatus::Paid) => Ok(vec![
                OrderShipped {
                    carrier: command.carrier.clone(),
                    tracking_number: command.tracking_number.clone(),
                }
                .into(),
            ]),
            Some(OrderStatus::Cancelled) => Err(Rejection::new("the order is cancelled")),
            Some(OrderStatus::Shipped) => Err(Rejection::new("the order is already shipped")),
            _ => Err(Rejection::new("the order is not paid")),
        }
    }

    fn decide_cancel_order(
        state: Option<&Order>,
        command: &CancelOrder,
    ) -> Result<Vec<OrderEvent>, Rejection> {
        match state.map(|o| &o.status) {
            None => Err(Rejection::new("the order has not been placed")),
            Some(OrderStatus::Shipped) => Err(Rejection::new("the order is already shipped")),
            Some(OrderStatus::Cancelled) => Err(Rejection::new("the order is already cancelled")),
            Some(_) => Ok(vec![
                OrderCancelled {
                    reason: command.reason.clone(),
                }
                .into(),
            ]),
        }
    }

    fn apply_placed(state: &mut Option<Order>, event: &OrderPlaced) {
        *state = Some(Order {
            status: OrderStatus::Placed,
            customer_id: event.customer_id.clone(),
            currency: event.currency.clone(),
            total_amount: event.total_amount.clone(),
            line_count: event.lines.len() as u64,
            additional_properties: Default::default(),
        });
    }

    fn apply_line_added(state: &mut Option<Order>, event: &OrderLineAdded) {
        if let Some(order) = state {
            let total = cents(&order.total_amount) + line_cents(event.quantity, &event.unit_price);
            order.total_amount = amount(total);
            order.line_count += 1;
        }
    }

    fn apply_paid(state: &mut Option<Order>, _: &OrderPaid) {
        if let Some(order) = state {
            order.status = OrderStatus::Paid;
        }
    }

    fn apply_shipped(state: &mut Option<Order>, _: &OrderShipped) {
        if let Some(order) = state {
            order.status = OrderStatus::Shipped;
        }
    }

    fn apply_cancelled(state: &mut Option<Order>, _: &OrderCancelled) {
        if let Some(order) = state {
            order.status = OrderStatus::Cancelled;
        }
    }
}

fn line(sku: &str, quantity: u64, unit_price: f64) -> OrderLine {
    OrderLine {
        sku: sku.into(),
        quantity,
        unit_price: Number::from_f64(unit_price).unwrap(),
    }
}

fn place() -> PlaceOrder {
    PlaceOrder {
        customer_id: uuid::Uuid::from_u128(1).into(),
        lines: vec![line("BOOK-1984", 2, 12.5), line("PEN-BLUE", 1, 3.99)],
        currency: "EUR".into(),
    }
}

fn placed() -> OrderPlaced {
    let command = place();
    OrderPlaced {
        customer_id: command.customer_id,
        lines: command.lines,
        currency: command.currency,
        total_amount: amount(2899),
    }
}

fn pay(total: f64) -> PayOrder {
    PayOrder {
        amount: Number::from_f64(total).unwrap(),
        method: PayOrderMethod::Card,
    }
}

fn paid() -> OrderPaid {
    OrderPaid {
        amount: Number::from_f64(28.99).unwrap(),
        method: OrderPaidMethod::Card,
    }
}

#[test]
fn placing_sums_the_lines_in_cents() {
    let order = given::<Rules>(Vec::<OrderEvent>::new())
        .when(place())
        .then([placed()]);
    let order = order.state.unwrap();
    assert_eq!(
        (order.total_amount.to_string(), order.line_count),
        ("28.99".into(), 2)
    );
    given::<Rules>([placed()])
        .when(place())
        .then_rejected("already been placed");
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
    assert_eq!(order.state.unwrap().total_amount.to_string(), "29.29");
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
        orders
            .load("o-1")
            .await
            .unwrap()
            .state
            .state
            .unwrap()
            .status,
        OrderStatus::Paid
    );
}

/// The `order_summary` read model: one row per order, created when it is placed.
struct Summaries;

impl Summaries {
    /// The row of the event's order, changed by `change` and stamped with the event's time.
    fn update(
        rows: &Table<'_, OrderSummary>,
        envelope: &Envelope,
        change: impl FnOnce(&mut OrderSummary),
    ) -> Result<(), String> {
        let id = order_id(envelope)?;
        let mut row = rows
            .get(id.as_str())?
            .ok_or_else(|| format!("no summary of order {id}"))?;
        change(&mut row);
        row.updated_at = time_of(envelope)?;
        Ok(rows.upsert(&row)?)
    }
}

fn order_id(envelope: &Envelope) -> Result<eventsmith::format::Uuid, String> {
    let id = envelope
        .stream
        .strip_prefix("order-")
        .unwrap_or(&envelope.stream);
    id.parse().map_err(|e| format!("{e}"))
}

fn time_of(envelope: &Envelope) -> Result<eventsmith::format::DateTime, String> {
    envelope.time.try_into().map_err(|e| format!("{e}"))
}

impl OrderSummaryHandler for Summaries {
    fn on_order_placed(
        rows: &Table<'_, OrderSummary>,
        event: &OrderPlaced,
        envelope: &Envelope,
    ) -> Result<(), String> {
        Ok(rows.upsert(&OrderSummary {
            order_id: order_id(envelope)?,
            customer_id: event.customer_id.clone(),
            status: OrderSummaryStatus::Placed,
            total_amount: event.total_amount.clone(),
            currency: event.currency.clone(),
            line_count: event.lines.len() as u64,
            updated_at: time_of(envelope)?,
        })?)
    }

    fn on_order_line_added(
        rows: &Table<'_, OrderSummary>,
        event: &OrderLineAdded,
        envelope: &Envelope,
    ) -> Result<(), String> {
        Self::update(rows, envelope, |row| {
            row.line_count += 1;
            row.total_amount =
                amount(cents(&row.total_amount) + line_cents(event.quantity, &event.unit_price));
        })
    }

    fn on_order_paid(
        rows: &Table<'_, OrderSummary>,
        _: &OrderPaid,
        envelope: &Envelope,
    ) -> Result<(), String> {
        Self::update(rows, envelope, |row| row.status = OrderSummaryStatus::Paid)
    }

    fn on_order_shipped(
        rows: &Table<'_, OrderSummary>,
        _: &OrderShipped,
        envelope: &Envelope,
    ) -> Result<(), String> {
        Self::update(rows, envelope, |row| {
            row.status = OrderSummaryStatus::Shipped
        })
    }

    fn on_order_cancelled(
        rows: &Table<'_, OrderSummary>,
        _: &OrderCancelled,
        envelope: &Envelope,
    ) -> Result<(), String> {
        Self::update(rows, envelope, |row| {
            row.status = OrderSummaryStatus::Cancelled
        })
    }
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
    let row = Table::<OrderSummary>::new(runner.db())
        .get(id)
        .unwrap()
        .unwrap();
    assert_eq!(
        (row.status, row.total_amount.as_f64(), row.line_count),
        (OrderSummaryStatus::Paid, Some(30.0), 3)
    );
    let paid = Table::<OrderSummary>::new(runner.db())
        .list(&[("status", "paid")], 10)
        .unwrap();
    assert_eq!(paid, std::slice::from_ref(&row));
    // A rebuild gives the same row.
    runner.rebuild().await.unwrap();
    assert_eq!(
        Table::<OrderSummary>::new(runner.db()).get(id).unwrap(),
        Some(row)
    );
}
