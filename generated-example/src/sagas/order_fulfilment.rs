//! The `order_fulfilment` saga's rules: what its file (`schema/sagas/order_fulfilment.json`) cannot declare.
//!
//! This file is yours: `eventsmith service new` wrote it once and never overwrites it. A step
//! that names `rules` calls the method of that name with the step's decision: the event, the
//! saga's state after `record` (change it at will; it must stay valid under the file's
//! schema), commands to `send` besides the declared ones, and the state to go to (`then`). An
//! `Err` is retried, then dead-lettered. When a step names a new method, the compiler names it
//! here.

use crate::generated::sagas::{OrderFulfilmentRules, OrderFulfilmentState};

/// What `order_fulfilment` decides beyond its file: the service runs
/// `OrderFulfilmentSaga<Rules>`.
#[derive(Debug, Default)]
pub struct Rules;

impl OrderFulfilmentRules for Rules {
    /// Called by `reserving/on/order.placed` after the declared `record`. Default: the step as
    /// declared.
    fn plan_reservations(
        &self,
        decision: &mut ::eventsmith::saga::Decision<'_, OrderFulfilmentState>,
    ) -> Result<(), String> {
        let _ = decision;
        Ok(())
    }
}
