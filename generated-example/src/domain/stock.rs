//! The `stock` aggregate's business rules, in the example domain (README.md#the-example-domain).
//!
//! This file is yours: `eventsmith service new` wrote it once, with default rules, and never
//! overwrites it. Each `decide_` method takes the state (`None` before the aggregate's first
//! event) and a command, and returns the events it causes or a `Rejection` (HTTP 409); each
//! `apply_` method folds an event into the state. When the schemas gain a command or an event,
//! the compiler names the method to add to `StockRules` here.

use crate::generated::stock::commands::{ReceiveStock, ReleaseStock, ReserveStock};
use crate::generated::stock::v1::{StockReceived, StockReleased, StockReserved};
use crate::generated::stock::{Stock, StockEvent, StockRules};
use eventsmith::Rejection;

/// Units on hand and not reserved.
pub fn available(state: Option<&Stock>) -> u64 {
    state.map_or(0, |stock| stock.on_hand.saturating_sub(stock.reserved))
}

/// The `stock` aggregate's rules: the service runs `StockAggregate<Rules>`. Units are received
/// at any time; an order reserves only what is available; releasing gives back at most what the
/// order holds, and nothing (no event) when it holds nothing, so a release can be sent again.
pub struct Rules;

impl StockRules for Rules {
    fn decide_receive_stock(
        _: Option<&Stock>,
        command: &ReceiveStock,
    ) -> Result<Vec<StockEvent>, Rejection> {
        Ok(vec![StockEvent::Received(StockReceived {
            quantity: command.quantity,
        })])
    }

    fn decide_reserve_stock(
        state: Option<&Stock>,
        command: &ReserveStock,
    ) -> Result<Vec<StockEvent>, Rejection> {
        let available = available(state);
        if command.quantity > available {
            return Err(Rejection::new(format!(
                "only {available} unit(s) available, {} asked for",
                command.quantity
            )));
        }
        Ok(vec![StockEvent::Reserved(StockReserved {
            order_id: command.order_id.clone(),
            quantity: command.quantity,
        })])
    }

    fn decide_release_stock(
        state: Option<&Stock>,
        command: &ReleaseStock,
    ) -> Result<Vec<StockEvent>, Rejection> {
        let held = state
            .and_then(|stock| stock.reservations.get(command.order_id.as_str()))
            .copied()
            .unwrap_or(0);
        if held == 0 {
            return Ok(Vec::new());
        }
        Ok(vec![StockEvent::Released(StockReleased {
            order_id: command.order_id.clone(),
            quantity: command.quantity.min(held),
        })])
    }

    fn apply_received(state: &mut Option<Stock>, event: &StockReceived) {
        let stock = state.get_or_insert_with(empty);
        stock.on_hand = stock.on_hand.saturating_add(event.quantity);
    }

    fn apply_reserved(state: &mut Option<Stock>, event: &StockReserved) {
        let stock = state.get_or_insert_with(empty);
        stock.reserved = stock.reserved.saturating_add(event.quantity);
        *stock
            .reservations
            .entry(event.order_id.as_str().to_owned())
            .or_insert(0) += event.quantity;
    }

    fn apply_released(state: &mut Option<Stock>, event: &StockReleased) {
        let stock = state.get_or_insert_with(empty);
        let key = event.order_id.as_str();
        let held = stock.reservations.get(key).copied().unwrap_or(0);
        let released = event.quantity.min(held);
        stock.reserved = stock.reserved.saturating_sub(released);
        if held > released {
            stock.reservations.insert(key.to_owned(), held - released);
        } else {
            stock.reservations.shift_remove(key);
        }
    }
}

fn empty() -> Stock {
    Stock {
        on_hand: 0,
        reserved: 0,
        reservations: Default::default(),
    }
}
