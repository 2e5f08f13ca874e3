//! The `customer_orders` projection's logic: per customer, how many orders and how much paid.
//!
//! This file is yours: `eventsmith service new` wrote it once, with default logic, and never
//! overwrites it.

use crate::domain::order::{amount, cents};
use crate::generated::order::{OrderPaid, OrderPlaced};
use crate::generated::projections::{CustomerOrders, CustomerOrdersHandler};
use crate::projections::order_summary::time_of;
use eventsmith::read_model::Table;
use eventsmith::rusqlite;
use eventsmith::store::Envelope;

/// How `customer_orders` takes events into account: the service runs
/// `CustomerOrdersProjection<Handler>`.
pub struct Handler;

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

impl CustomerOrdersHandler for Handler {
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
        row.total_spent = amount(cents(&row.total_spent).saturating_add(cents(&event.amount)));
        Ok(rows.upsert(&row)?)
    }
}
