//! The example domain's hand-written parts (PRODUCT.md), shared by the tests that run it: the
//! order rules against the generated `OrderRules`, the `order_summary` read model against the
//! generated `OrderSummaryHandler`, and a few values.
#![allow(dead_code)]

pub mod events {
    include!("../../../tests/codegen/example/mod.rs");
}

use events::customer::commands::{ChangeEmail, RegisterCustomer};
use events::customer::{
    Customer, CustomerEmailChanged, CustomerEvent, CustomerRegistered, CustomerRules,
};
use events::order::commands::{
    AddLine, CancelOrder, PayOrder, PayOrderMethod, PlaceOrder, ShipOrder,
};
use events::order::v1::OrderPaidMethod;
use events::order::{
    Order, OrderCancelled, OrderEvent, OrderLineAdded, OrderPaid, OrderPlaced, OrderRules,
    OrderShipped, OrderStatus,
};
use events::projections::{
    CustomerOrders, CustomerOrdersHandler, DailyRevenue, DailyRevenueHandler, OrderSummary,
    OrderSummaryHandler, OrderSummaryStatus,
};
use events::types::OrderLine;
use eventsmith::Rejection;
use eventsmith::read_model::Table;
use eventsmith::serde_json::Number;
use eventsmith::store::Envelope;

/// Amounts have at most two decimals (`multipleOf: 0.01`): rules compare them in cents.
pub fn cents(amount: &Number) -> i64 {
    (amount.as_f64().unwrap_or_default() * 100.0).round() as i64
}

pub fn amount(cents: i64) -> Number {
    Number::from_f64(cents as f64 / 100.0).unwrap_or_else(|| 0.into())
}

pub fn line_cents(quantity: u64, unit_price: &Number) -> i64 {
    quantity as i64 * cents(unit_price)
}

/// The order rules.
pub struct Rules;

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

pub fn line(sku: &str, quantity: u64, unit_price: f64) -> OrderLine {
    OrderLine {
        sku: sku.into(),
        quantity,
        unit_price: Number::from_f64(unit_price).unwrap(),
    }
}

pub fn place() -> PlaceOrder {
    PlaceOrder {
        customer_id: uuid::Uuid::from_u128(1).into(),
        lines: vec![line("BOOK-1984", 2, 12.5), line("PEN-BLUE", 1, 3.99)],
        currency: "EUR".into(),
    }
}

pub fn placed() -> OrderPlaced {
    let command = place();
    OrderPlaced {
        customer_id: command.customer_id,
        lines: command.lines,
        currency: command.currency,
        total_amount: amount(2899),
    }
}

pub fn pay(total: f64) -> PayOrder {
    PayOrder {
        amount: Number::from_f64(total).unwrap(),
        method: PayOrderMethod::Card,
    }
}

pub fn paid() -> OrderPaid {
    OrderPaid {
        amount: Number::from_f64(28.99).unwrap(),
        method: OrderPaidMethod::Card,
    }
}
/// The `order_summary` read model: one row per order, created when it is placed.
pub struct Summaries;

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

impl CustomerRules for Rules {
    fn decide_register_customer(
        state: Option<&Customer>,
        command: &RegisterCustomer,
    ) -> Result<Vec<CustomerEvent>, Rejection> {
        if state.is_some_and(|c| c.registered) {
            return Err(Rejection::new("the customer is already registered"));
        }
        Ok(vec![
            CustomerRegistered {
                email: command.email.clone(),
                name: command.name.clone(),
            }
            .into(),
        ])
    }

    fn decide_change_email(
        state: Option<&Customer>,
        command: &ChangeEmail,
    ) -> Result<Vec<CustomerEvent>, Rejection> {
        match state {
            Some(customer) if customer.registered => {
                if customer.email.as_ref() == Some(&command.email) {
                    return Ok(Vec::new());
                }
                Ok(vec![
                    CustomerEmailChanged {
                        email: command.email.clone(),
                    }
                    .into(),
                ])
            }
            _ => Err(Rejection::new("the customer is not registered")),
        }
    }

    fn apply_registered(state: &mut Option<Customer>, event: &CustomerRegistered) {
        *state = Some(Customer {
            email: Some(event.email.clone()),
            name: Some(event.name.clone()),
            registered: true,
            additional_properties: Default::default(),
        });
    }

    fn apply_email_changed(state: &mut Option<Customer>, event: &CustomerEmailChanged) {
        if let Some(customer) = state {
            customer.email = Some(event.email.clone());
        }
    }
}

/// The `customer_orders` and `daily_revenue` read models.
pub struct Revenue;

/// Which customer placed each order: `order.paid` does not say, so `customer_orders` keeps its
/// own lookup beside its rows (rewritten identically on a replay).
fn customer_of(
    rows: &Table<'_, CustomerOrders>,
    envelope: &Envelope,
) -> Result<Option<String>, String> {
    rows.db()
        .query_row(
            "SELECT customer_id FROM customer_orders_by_order WHERE stream = ?1",
            [&envelope.stream],
            |r| r.get(0),
        )
        .map(Some)
        .or_else(|e| match e {
            rusqlite::Error::QueryReturnedNoRows => Ok(None),
            other => Err(other.to_string()),
        })
}

impl CustomerOrdersHandler for Revenue {
    fn on_order_placed(
        rows: &Table<'_, CustomerOrders>,
        event: &OrderPlaced,
        envelope: &Envelope,
    ) -> Result<(), String> {
        rows.db()
            .execute_batch(
                "CREATE TABLE IF NOT EXISTS customer_orders_by_order (stream TEXT PRIMARY KEY, customer_id TEXT NOT NULL)",
            )
            .map_err(|e| e.to_string())?;
        rows.db()
            .execute(
                "INSERT OR REPLACE INTO customer_orders_by_order (stream, customer_id) VALUES (?1, ?2)",
                [&envelope.stream, event.customer_id.as_str()],
            )
            .map_err(|e| e.to_string())?;
        let mut row = rows
            .get(event.customer_id.as_str())?
            .unwrap_or(CustomerOrders {
                customer_id: event.customer_id.clone(),
                order_count: 0,
                total_spent: 0.into(),
                last_order_at: time_of(envelope)?,
            });
        row.order_count += 1;
        row.last_order_at = time_of(envelope)?;
        Ok(rows.upsert(&row)?)
    }

    fn on_order_paid(
        rows: &Table<'_, CustomerOrders>,
        event: &OrderPaid,
        envelope: &Envelope,
    ) -> Result<(), String> {
        let Some(customer) = customer_of(rows, envelope)? else {
            return Err(format!("no placed order for {}", envelope.stream));
        };
        let mut row = rows
            .get(&customer)?
            .ok_or_else(|| format!("no orders of customer {customer}"))?;
        row.total_spent = amount(cents(&row.total_spent) + cents(&event.amount));
        Ok(rows.upsert(&row)?)
    }
}

impl DailyRevenueHandler for Revenue {
    fn on_order_paid(
        rows: &Table<'_, DailyRevenue>,
        event: &OrderPaid,
        envelope: &Envelope,
    ) -> Result<(), String> {
        let day: eventsmith::format::Date = envelope
            .time
            .date()
            .to_string()
            .parse()
            .map_err(|e| format!("{e}"))?;
        let mut row = rows.get(day.as_str())?.unwrap_or(DailyRevenue {
            day,
            orders_paid: 0,
            revenue: 0.into(),
        });
        row.orders_paid += 1;
        row.revenue = amount(cents(&row.revenue) + cents(&event.amount));
        Ok(rows.upsert(&row)?)
    }
}
