//! The example's projection logic (generated-example/src/projections/).

#[path = "../../../generated-example/src/projections/customer_orders.rs"]
pub mod customer_orders;
#[path = "../../../generated-example/src/projections/daily_revenue.rs"]
pub mod daily_revenue;
#[path = "../../../generated-example/src/projections/order_summary.rs"]
pub mod order_summary;
