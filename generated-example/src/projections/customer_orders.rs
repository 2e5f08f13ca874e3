//! The `customer_orders` projection's logic: per customer, how many orders and how much paid.
//!
//! This file is yours: `eventsmith service new` wrote it once, with default logic, and never
//! overwrites it.

use crate::domain::order::{amount, cents};
use crate::generated::order::{OrderPaid, OrderPlaced};
use crate::generated::projections::{CustomerOrders, CustomerOrdersHandler};
use crate::projections::order_summary::time_of;
use eventsmith::format::Uuid;
use eventsmith::projection::HandlerError;
use eventsmith::read_model::{Lookup, Table};
use eventsmith::store::Envelope;

/// How `customer_orders` takes events into account: the service runs
/// `CustomerOrdersProjection<Handler>`.
pub struct Handler;

/// Which customer placed each order, by order id: `order.paid` does not say, so
/// `customer_orders` keeps this lookup beside its rows (rewritten identically on a replay).
fn customers<'t>(rows: &Table<'t, CustomerOrders>) -> Lookup<'t, Uuid> {
    rows.lookup("customer_of_order")
}

impl CustomerOrdersHandler for Handler {
    fn on_order_placed(
        rows: &Table<'_, CustomerOrders>,
        event: &OrderPlaced,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        customers(rows).put(envelope.aggregate_id(), &event.customer_id)?;
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
    ) -> Result<(), HandlerError> {
        let Some(customer) = customers(rows).get(envelope.aggregate_id())? else {
            return Err(format!("no placed order for {}", envelope.stream).into());
        };
        let mut row = rows
            .get(customer.as_str())?
            .ok_or_else(|| format!("no orders of customer {customer}"))?;
        row.total_spent = amount(cents(&row.total_spent).saturating_add(cents(&event.amount)));
        Ok(rows.upsert(&row)?)
    }
}
