//! The `order` aggregate's business rules, in the example domain (README.md#the-example-domain).
//!
//! This file is yours: `eventsmith service new` wrote it once, with default rules, and never
//! overwrites it. Each `decide_` method takes the state (`None` before the aggregate's first
//! event) and a command, and returns the events it causes or a `Rejection` (HTTP 409); each
//! `apply_` method folds an event into the state. When the schemas gain a command or an event,
//! the compiler names the method to add to `OrderRules` here.

use crate::generated::order::commands::{
    AddLine, CancelOrder, PayOrder, PayOrderMethod, PlaceOrder, ShipOrder,
};
use crate::generated::order::v1::OrderPaidMethod;
use crate::generated::order::{
    Order, OrderCancelled, OrderEvent, OrderLineAdded, OrderPaid, OrderPlaced, OrderRules,
    OrderShipped, OrderStatus,
};
use eventsmith::Rejection;
use eventsmith::serde_json::Number;

/// Amounts have at most two decimals (`multipleOf: 0.01`): rules compare them in cents.
pub fn cents(amount: &Number) -> i64 {
    (amount.as_f64().unwrap_or_default() * 100.0).round() as i64
}

/// An amount of `cents`.
pub fn amount(cents: i64) -> Number {
    Number::from_f64(cents as f64 / 100.0).unwrap_or_else(|| 0.into())
}

/// What a line costs, in cents (saturating: rules refuse totals above [`LARGEST_TOTAL`] first).
pub fn line_cents(quantity: u64, unit_price: &Number) -> i64 {
    i64::try_from(quantity)
        .unwrap_or(i64::MAX)
        .saturating_mul(cents(unit_price))
}

/// The largest total an order may have, in cents: amounts are JSON numbers, exact as integers of
/// cents up to 2^53.
pub const LARGEST_TOTAL: i64 = 1 << 53;

/// `total` cents, or a rejection when an order may not cost that much.
fn within_limits(total: i64) -> Result<i64, Rejection> {
    if (0..=LARGEST_TOTAL).contains(&total) {
        Ok(total)
    } else {
        Err(Rejection::new(format!(
            "the order's total would exceed {}",
            amount(LARGEST_TOTAL)
        )))
    }
}

/// The `order` aggregate's rules: the service runs `OrderAggregate<Rules>`. Lines are added only
/// while the order is placed; it is paid once, with the exact total; shipped only once paid; and
/// cannot be cancelled once shipped.
pub struct Rules;

impl OrderRules for Rules {
    fn decide_place_order(
        state: Option<&Order>,
        command: &PlaceOrder,
    ) -> Result<Vec<OrderEvent>, Rejection> {
        if state.is_some() {
            return Err(Rejection::new("the order has already been placed"));
        }
        let total = within_limits(
            command
                .lines
                .iter()
                .map(|l| line_cents(l.quantity, &l.unit_price))
                .fold(0i64, i64::saturating_add),
        )?;
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
        match state {
            Some(order) if order.status == OrderStatus::Placed => {
                within_limits(
                    cents(&order.total_amount)
                        .saturating_add(line_cents(command.quantity, &command.unit_price)),
                )?;
                Ok(vec![
                    OrderLineAdded {
                        sku: command.sku.clone(),
                        quantity: command.quantity,
                        unit_price: command.unit_price.clone(),
                    }
                    .into(),
                ])
            }
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
            let total = cents(&order.total_amount)
                .saturating_add(line_cents(event.quantity, &event.unit_price));
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
