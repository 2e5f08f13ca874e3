//! The `daily_revenue` projection's logic: per day, the orders paid and their revenue.
//!
//! This file is yours: `eventsmith service new` wrote it once, with default logic, and never
//! overwrites it.

use crate::domain::order::{amount, cents};
use crate::generated::order::OrderPaid;
use crate::generated::projections::{DailyRevenue, DailyRevenueHandler};
use eventsmith::projection::HandlerError;
use eventsmith::read_model::Table;
use eventsmith::store::Envelope;

/// How `daily_revenue` takes events into account: the service runs
/// `DailyRevenueProjection<Handler>`.
pub struct Handler;

impl DailyRevenueHandler for Handler {
    fn on_order_paid(
        rows: &Table<'_, DailyRevenue>,
        event: &OrderPaid,
        envelope: &Envelope,
    ) -> Result<(), HandlerError> {
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
        row.revenue = amount(cents(&row.revenue).saturating_add(cents(&event.amount)));
        Ok(rows.upsert(&row)?)
    }
}
