//! The example domain (README.md#the-example-domain) as generated-example/ has it: its
//! hand-written order and customer rules and its three read models, shared by the runtime's tests
//! and benchmarks, with a few values. Those files name `crate::generated`, so a crate using this
//! module declares, at its root:
//!
//! ```ignore
//! mod generated {
//!     include!("../../generated-example/src/generated/mod.rs");
//! }
//! mod domain;
//! use domain::projections;
//! ```
#![allow(dead_code)]

#[path = "../../../generated-example/src/domain/customer.rs"]
pub mod customer;
#[path = "../../../generated-example/src/domain/order.rs"]
pub mod order;

/// The example's projection logic, as `crate::projections` (the crate root imports it).
pub mod projections;

pub use order::amount;

use crate::generated::order::commands::{PayOrder, PayOrderMethod, PlaceOrder};
use crate::generated::order::v1::OrderPaidMethod;
use crate::generated::order::{OrderPaid, OrderPlaced};
use crate::generated::types::OrderLine;
use eventsmith::serde_json::Number;

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
