//! The `stock_levels` projection's logic, in the example domain: one row per product with units
//! on hand, reserved and available.
//!
//! This file is yours: `eventsmith service new` wrote it once, with default logic, and never
//! overwrites it. Each `on_` method takes one event into account in `rows` (the `stock_levels`
//! table), inside the runner's transaction with its checkpoint; an `Err` is retried, then
//! dead-lettered (a transient one, such as a busy database, is retried until it passes). When the
//! projection subscribes to a new event, the compiler names the method to add to `StockLevelsHandler`
//! here.

use crate::generated::projections::{StockLevels, StockLevelsHandler};
use crate::generated::stock::v1::{StockReceived, StockReleased, StockReserved};
use eventsmith::projection::HandlerError;
use eventsmith::read_model::Table;
use eventsmith::store::Envelope;

/// How `stock_levels` takes events into account: the service runs
/// `StockLevelsProjection<Handler>`.
pub struct Handler;

impl Handler {
    /// Changes the row of the event's product (a new one starts at zero), keeping `available`
    /// the units on hand and not reserved.
    fn update(
        rows: &Table<'_, StockLevels>,
        envelope: &Envelope,
        change: impl FnOnce(&mut StockLevels),
    ) -> Result<(), HandlerError> {
        let sku = envelope.id_in("stock");
        let mut row = rows.get(sku)?.unwrap_or(StockLevels {
            sku: sku.to_owned(),
            on_hand: 0,
            reserved: 0,
            available: 0,
        });
        change(&mut row);
        row.available = row.on_hand.saturating_sub(row.reserved);
        Ok(rows.upsert(&row)?)
    }
}

impl StockLevelsHandler for Handler {
    fn on_stock_received(
        rows: &Table<'_, StockLevels>,
        event: &StockReceived,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        Self::update(rows, envelope, |row| {
            row.on_hand = row.on_hand.saturating_add(event.quantity)
        })
    }

    fn on_stock_reserved(
        rows: &Table<'_, StockLevels>,
        event: &StockReserved,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        Self::update(rows, envelope, |row| {
            row.reserved = row.reserved.saturating_add(event.quantity)
        })
    }

    fn on_stock_released(
        rows: &Table<'_, StockLevels>,
        event: &StockReleased,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
        Self::update(rows, envelope, |row| {
            row.reserved = row.reserved.saturating_sub(event.quantity)
        })
    }
}
