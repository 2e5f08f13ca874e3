//! The given/when/then kit for sagas (`eventsmith::testing::saga`) on the example's
//! `order_fulfilment`, as generated from schema/sagas/order_fulfilment.json.

mod generated {
    include!("../../generated-example/src/generated/mod.rs");
}

#[path = "../../generated-example/src/sagas/order_fulfilment.rs"]
mod order_fulfilment;

use eventsmith::saga::{Command, Decision, Status};
use eventsmith::serde_json::json;
use eventsmith::testing::saga::SagaTest;
use generated::sagas::{OrderFulfilmentRules, OrderFulfilmentState};

/// The saga with the example's rules (which decide nothing beyond the file).
type OrderFulfilmentSaga = generated::sagas::OrderFulfilmentSaga<order_fulfilment::Rules>;

const ORDER: &str = "0190f5d3-1b2c-7d4e-8f5a-6b7c8d9e0f12";
const TESTER: &str = "0190f5d2-7c1a-7e3b-9a4f-00000000beef";

fn placed() -> eventsmith::serde_json::Value {
    json!({
        "customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
        "lines": [
            {"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5},
            {"sku": "PEN-BLUE", "quantity": 1, "unit_price": 3.99}
        ],
        "currency": "EUR",
        "total_amount": 28.99
    })
}

#[test]
fn an_unpaid_order_releases_its_stock_and_is_cancelled_when_the_payment_times_out() {
    let mut saga = SagaTest::<OrderFulfilmentSaga>::new(ORDER);
    saga.given_event("order.placed", placed())
        .then_sends(&[
            ("stock.reserve_stock", "BOOK-1984"),
            ("stock.reserve_stock", "PEN-BLUE"),
        ])
        .then_payload(0, json!({"order_id": ORDER, "quantity": 2}));
    saga.when_accepted("reserve")
        .then_state("awaiting_payment")
        .then_sends(&[]);
    let state: OrderFulfilmentState = saga.state();
    assert_eq!(state.lines.len(), 2);
    saga.when_timeout()
        .then_sends(&[
            ("stock.release_stock", "PEN-BLUE"),
            ("stock.release_stock", "BOOK-1984"),
            ("order.cancel_order", ORDER),
        ])
        .then_payload(2, json!({"reason": "payment timeout"}))
        .then_state("payment_timed_out")
        .then_status(Status::Running);
    saga.when_all_accepted().then_status(Status::Compensated);
}

#[test]
fn a_line_out_of_stock_cancels_the_order_and_releases_the_other() {
    let mut saga = SagaTest::<OrderFulfilmentSaga>::new(ORDER);
    saga.given_event("order.placed", placed());
    let [first, second] = [0, 1].map(|i| saga.sent()[i].key.clone());
    assert_ne!(first, second);
    saga.when_accepted("reserve");
    saga.then_state("awaiting_payment");
    let mut short = SagaTest::<OrderFulfilmentSaga>::new(ORDER);
    short.given_event(
        "order.placed",
        json!({
            "customer_id": "0190f5d2-7c1a-7e3b-9a4f-2b6c8d0e1f23",
            "lines": [{"sku": "BOOK-1984", "quantity": 2, "unit_price": 12.5}],
            "currency": "EUR",
            "total_amount": 25.0
        }),
    );
    short
        .when_rejected("reserve", "only 1 unit(s) available")
        .then_sends(&[("order.cancel_order", ORDER)])
        .then_payload(0, json!({"reason": "out of stock"}))
        .then_state("out_of_stock");
    short.when_all_accepted().then_status(Status::Compensated);
}

#[test]
fn a_paid_order_completes_the_saga_and_keeps_its_stock() {
    let mut saga = SagaTest::<OrderFulfilmentSaga>::new(ORDER);
    saga.given_event("order.placed", placed());
    saga.when_event("order.paid", json!({"amount": 28.99, "method": "card"}))
        .then_sends(&[])
        .then_state("reserving");
    saga.when_accepted("reserve")
        .then_state("paid")
        .then_status(Status::Completed)
        .then_sends(&[]);
    assert!(saga.instance().timer.is_none());
}

#[test]
#[should_panic(expected = "the commands sent differ")]
fn a_wrong_expectation_fails_with_what_differs() {
    let mut saga = SagaTest::<OrderFulfilmentSaga>::new(ORDER);
    saga.given_event("order.placed", placed())
        .then_sends(&[("stock.reserve_stock", "BOOK-1984")]);
}

/// Rules that decide beyond the file: a gift wrap reserved for every order of two lines or
/// more, and an order placed by a tester sent straight to `paid`.
#[derive(Debug, Default)]
struct Gifts;

impl OrderFulfilmentRules for Gifts {
    fn plan_reservations(
        &self,
        decision: &mut Decision<'_, OrderFulfilmentState>,
    ) -> Result<(), String> {
        if decision.state.lines.len() >= 2 {
            decision.send.push(Command {
                aggregate: "stock".into(),
                command: "reserve_stock".into(),
                to: "GIFT-WRAP".into(),
                payload: json!({"order_id": decision.id, "quantity": 1}),
            });
        }
        if decision.state.customer_id.to_string() == TESTER {
            decision.then = Some("paid".into());
        }
        Ok(())
    }
}

#[test]
fn a_step_s_rules_send_more_commands_under_their_own_keys() {
    let mut saga = SagaTest::<generated::sagas::OrderFulfilmentSaga<Gifts>>::new(ORDER);
    saga.given_event("order.placed", placed()).then_sends(&[
        ("stock.reserve_stock", "BOOK-1984"),
        ("stock.reserve_stock", "PEN-BLUE"),
        ("stock.reserve_stock", "GIFT-WRAP"),
    ]);
    assert!(
        saga.sent()[2].key.ends_with(":rules.plan_reservations.0"),
        "{:?}",
        saga.sent()[2]
    );
    saga.then_payload(2, json!({"order_id": ORDER, "quantity": 1}));
    saga.when_all_accepted().then_state("awaiting_payment");
}

#[test]
fn a_step_s_rules_may_choose_the_next_state() {
    let mut saga = SagaTest::<generated::sagas::OrderFulfilmentSaga<Gifts>>::new(ORDER);
    let mut order = placed();
    order["customer_id"] = json!(TESTER);
    saga.given_event("order.placed", order).then_state("paid");
    saga.when_all_accepted().then_status(Status::Completed);
}
