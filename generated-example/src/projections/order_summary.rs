//! The `order_summary` projection's logic: one row per order, created when it is placed.
//!
//! This file is yours: `eventsmith service new` wrote it once, with default logic, and never
//! overwrites it. Each `on_` method takes one event into account in `rows`, inside the runner's
//! transaction with its checkpoint; an `Err` is retried, then dead-lettered (a transient one,
//! such as a busy database, is retried until it passes).

use crate::domain::order::{amount, cents, line_cents};
use crate::generated::order::{
    OrderCancelled, OrderLineAdded, OrderPaid, OrderPlaced, OrderShipped,
};
use crate::generated::projections::{OrderSummary, OrderSummaryHandler, OrderSummaryStatus};
use eventsmith::projection::HandlerError;
use eventsmith::read_model::Table;
use eventsmith::store::Envelope;

/// How `order_summary` takes events into account: the service runs
/// `OrderSummaryProjection<Handler>`.
pub struct Handler;

impl Handler {
    /// The row of the event's order, changed by `change` and stamped with the event's time.
    fn update(
        rows: &Table<'_, OrderSummary>,
        envelope: &Envelope,
        change: impl FnOnce(&mut OrderSummary),
    ) -> Result<(), HandlerError> {
        let id = order_id(envelope)?;
        let mut row = rows
            .get(id.as_str())?
            .ok_or_else(|| format!("no summary of order {id}"))?;
        change(&mut row);
        row.updated_at = time_of(envelope)?;
        Ok(rows.upsert(&row)?)
    }
}

/// The order of an event: the id of its `order-<id>` stream.
pub fn order_id(envelope: &Envelope) -> Result<eventsmith::format::Uuid, String> {
    envelope.aggregate_id().parse().map_err(|e| format!("{e}"))
}

/// When an event happened, as a row stores it.
pub fn time_of(envelope: &Envelope) -> Result<eventsmith::format::DateTime, String> {
    envelope.time.try_into().map_err(|e| format!("{e}"))
}

impl OrderSummaryHandler for Handler {
    fn on_order_placed(
        rows: &Table<'_, OrderSummary>,
        event: &OrderPlaced,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
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
    ) -> Result<(), HandlerError> {
        Self::update(rows, envelope, |row| {
            row.line_count += 1;
            row.total_amount = amount(
                cents(&row.total_amount)
                    .saturating_add(line_cents(event.quantity, &event.unit_price)),
            );
        })
    }

    fn on_order_paid(
        rows: &Table<'_, OrderSummary>,
        _: &OrderPaid,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        Self::update(rows, envelope, |row| row.status = OrderSummaryStatus::Paid)
    }

    fn on_order_shipped(
        rows: &Table<'_, OrderSummary>,
        _: &OrderShipped,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        Self::update(rows, envelope, |row| {
            row.status = OrderSummaryStatus::Shipped
        })
    }

    fn on_order_cancelled(
        rows: &Table<'_, OrderSummary>,
        _: &OrderCancelled,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        Self::update(rows, envelope, |row| {
            row.status = OrderSummaryStatus::Cancelled
        })
    }
}
