use super::*;
use serde_json::json;
use std::time::Duration;

/// The example domain's saga, as `eventsmith` compiles it.
fn definition() -> Definition {
    let reserve = json!({
        "step": "reserve", "command": "stock.reserve_stock", "for_each": "$event.lines", "to": "$item.sku",
        "payload": {"order_id": "$saga.id", "quantity": "$item.quantity"},
        "compensate": {"command": "stock.release_stock", "payload": {"order_id": "$saga.id", "quantity": "$item.quantity"}}
    });
    let cancel = |step: &str, reason: &str| json!({"step": step, "command": "order.cancel_order", "to": "$saga.id", "payload": {"reason": reason}});
    serde_json::from_value(json!({
        "name": "order_fulfilment",
        "starts": ["order.placed"],
        "correlation": {"order.placed": "$stream", "order.paid": "$stream", "order.cancelled": "$stream"},
        "initial": "reserving",
        "timeouts": {"payment": 1000},
        "retry": {"attempts": 2, "interval_ms": 10, "backoff_rate": 2.0, "max_interval_ms": 100},
        "states": {
            "reserving": {
                "on": {
                    "order.placed": {"record": {"lines": "$event.lines"}, "send": [reserve]},
                    "order.cancelled": {"compensate": true, "then": "cancelled"}
                },
                "accepted": {"then": "awaiting_payment"},
                "rejected": {"compensate": true, "send": [cancel("cancel_out_of_stock", "out of stock")], "then": "out_of_stock"},
                "defer": ["order.paid"]
            },
            "awaiting_payment": {
                "on": {"order.paid": {"then": "paid"}, "order.cancelled": {"compensate": true, "then": "cancelled"}},
                "timeout": {"after": "payment", "compensate": true, "send": [cancel("cancel_unpaid", "payment timeout")], "then": "timed_out"}
            },
            "paid": {"end": "completed"},
            "cancelled": {"end": "compensated"},
            "out_of_stock": {"end": "compensated"},
            "timed_out": {"end": "compensated"}
        }
    }))
    .unwrap()
}

fn event(event_type: &str, data: Value) -> Input {
    Input::Event(EventInput {
        id: "e".into(),
        event_type: event_type.into(),
        stream: "order-o1".into(),
        data,
    })
}

fn placed() -> Input {
    event(
        "order.placed",
        json!({"lines": [{"sku": "A", "quantity": 2}, {"sku": "B", "quantity": 1}]}),
    )
}

fn accept(key: &str) -> Input {
    Input::Outcome {
        key: key.into(),
        outcome: Outcome::Accepted,
    }
}

fn started() -> (Definition, Instance, Effects) {
    let definition = definition();
    let mut instance = Instance::new(&definition, "o1");
    let effects = instance.handle(&definition, placed(), 0).unwrap();
    (definition, instance, effects)
}

#[test]
fn a_placed_order_reserves_every_line_under_its_own_key() {
    let (_, instance, effects) = started();
    let sent: Vec<(&str, &str, &Value)> = effects
        .sent
        .iter()
        .map(|c| (c.key.as_str(), c.to.as_str(), &c.payload))
        .collect();
    assert_eq!(
        sent,
        [
            (
                "saga:order_fulfilment:o1:0:reserve.0",
                "A",
                &json!({"order_id": "o1", "quantity": 2})
            ),
            (
                "saga:order_fulfilment:o1:0:reserve.1",
                "B",
                &json!({"order_id": "o1", "quantity": 1})
            ),
        ]
    );
    assert_eq!(instance.state, "reserving");
    assert_eq!(instance.data["lines"][1]["sku"], "B");
    assert_eq!(instance.status, Status::Running);
}

#[test]
fn handling_the_same_inputs_again_sends_the_same_commands() {
    let (_, first, effects) = started();
    let (_, again, replayed) = started();
    assert_eq!(first, again);
    assert_eq!(effects, replayed);
}

#[test]
fn once_every_line_is_reserved_the_payment_timeout_is_armed_and_paid_completes() {
    let (definition, mut instance, _) = started();
    instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            10,
        )
        .unwrap();
    assert_eq!(instance.state, "reserving");
    let effects = instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.1"),
            20,
        )
        .unwrap();
    assert_eq!(instance.state, "awaiting_payment");
    assert_eq!(effects.armed.len(), 1);
    assert_eq!(effects.armed[0].due, 1020);
    let effects = instance
        .handle(&definition, event("order.paid", json!({})), 30)
        .unwrap();
    assert_eq!(effects.cancelled, [instance_timer_key(&effects)]);
    assert_eq!(
        (instance.state.as_str(), instance.status),
        ("paid", Status::Completed)
    );
    assert_eq!(instance.done.len(), 2, "the reservations are kept");
}

fn instance_timer_key(effects: &Effects) -> String {
    effects.cancelled.first().cloned().unwrap_or_default()
}

#[test]
fn a_payment_before_the_reservations_waits_for_them() {
    let (definition, mut instance, _) = started();
    instance
        .handle(&definition, event("order.paid", json!({})), 5)
        .unwrap();
    assert_eq!(instance.deferred.len(), 1);
    instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            10,
        )
        .unwrap();
    let effects = instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.1"),
            20,
        )
        .unwrap();
    assert_eq!(instance.status, Status::Completed);
    assert_eq!(effects.armed.len(), 1);
    assert_eq!(effects.cancelled, [effects.armed[0].key.clone()]);
}

#[test]
fn a_rejected_line_releases_the_reserved_ones_and_cancels_the_order() {
    let (definition, mut instance, _) = started();
    instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            10,
        )
        .unwrap();
    let rejected = Input::Outcome {
        key: "saga:order_fulfilment:o1:0:reserve.1".into(),
        outcome: Outcome::Rejected("only 0 unit(s) available".into()),
    };
    let effects = instance.handle(&definition, rejected, 20).unwrap();
    let sent: Vec<(&str, &str)> = effects
        .sent
        .iter()
        .map(|c| (c.command.as_str(), c.to.as_str()))
        .collect();
    assert_eq!(sent, [("release_stock", "A"), ("cancel_order", "o1")]);
    assert_eq!(effects.sent[1].payload, json!({"reason": "out of stock"}));
    assert_eq!(
        (instance.state.as_str(), instance.status),
        ("out_of_stock", Status::Running)
    );
    for command in effects.sent {
        instance
            .handle(&definition, accept(&command.key), 30)
            .unwrap();
    }
    assert_eq!(instance.status, Status::Compensated);
}

#[test]
fn a_reservation_accepted_after_compensation_began_is_released_at_once() {
    let (definition, mut instance, _) = started();
    instance
        .handle(
            &definition,
            event("order.cancelled", json!({"reason": "changed my mind"})),
            5,
        )
        .unwrap();
    assert_eq!(instance.state, "cancelled");
    let effects = instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            10,
        )
        .unwrap();
    assert_eq!(effects.sent.len(), 1);
    assert_eq!(
        (
            effects.sent[0].command.as_str(),
            effects.sent[0].to.as_str()
        ),
        ("release_stock", "A")
    );
    let rejected = Input::Outcome {
        key: "saga:order_fulfilment:o1:0:reserve.1".into(),
        outcome: Outcome::Rejected("none".into()),
    };
    instance.handle(&definition, rejected, 11).unwrap();
    assert_eq!(instance.status, Status::Running, "the release is pending");
    instance
        .handle(&definition, accept(&effects.sent[0].key), 12)
        .unwrap();
    assert_eq!(instance.status, Status::Compensated);
}

#[test]
fn a_timeout_fires_once_and_only_while_armed() {
    let (definition, mut instance, _) = started();
    instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            10,
        )
        .unwrap();
    let effects = instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.1"),
            20,
        )
        .unwrap();
    let key = effects.armed[0].key.clone();
    let fired = instance
        .handle(&definition, Input::Timeout { key: key.clone() }, 1020)
        .unwrap();
    assert_eq!(fired.fired, std::slice::from_ref(&key));
    let commands: Vec<&str> = fired.sent.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(commands, ["release_stock", "release_stock", "cancel_order"]);
    assert_eq!(fired.sent[2].payload, json!({"reason": "payment timeout"}));
    let again = instance
        .handle(&definition, Input::Timeout { key: key.clone() }, 1030)
        .unwrap();
    assert_eq!(again.fired, [key], "a stale row goes");
    assert!(again.sent.is_empty());
    assert_eq!(instance.state, "timed_out");
}

#[test]
fn a_command_failing_past_its_retries_fails_the_instance_until_retried() {
    let (definition, mut instance, _) = started();
    let failed = Input::Outcome {
        key: "saga:order_fulfilment:o1:0:reserve.0".into(),
        outcome: Outcome::Failed("store unavailable".into()),
    };
    instance.handle(&definition, failed, 10).unwrap();
    assert_eq!(instance.status, Status::Failed);
    assert!(
        instance
            .error
            .as_deref()
            .unwrap()
            .contains("store unavailable")
    );
    let effects = instance.handle(&definition, Input::Retry, 20).unwrap();
    assert_eq!(instance.status, Status::Running);
    assert_eq!(effects.sent.len(), 1);
    assert_ne!(effects.sent[0].key, "saga:order_fulfilment:o1:0:reserve.0");
}

#[test]
fn retries_back_off_up_to_their_limit() {
    let retry = Retry {
        attempts: 5,
        interval_ms: 100,
        backoff_rate: 2.0,
        max_interval_ms: 300,
    };
    let waits: Vec<u128> = (1..=4).map(|n| retry.wait(n).as_millis()).collect();
    assert_eq!(waits, [100, 200, 300, 300]);
}

#[test]
fn a_rejected_compensation_fails_the_instance() {
    let (definition, mut instance, _) = started();
    let effects = instance
        .handle(
            &definition,
            event("order.cancelled", json!({"reason": "no"})),
            5,
        )
        .unwrap();
    assert!(effects.sent.is_empty());
    let accepted = instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            6,
        )
        .unwrap();
    let release = accepted.sent[0].key.clone();
    let refused = Input::Outcome {
        key: release,
        outcome: Outcome::Rejected("the store says no".into()),
    };
    instance.handle(&definition, refused, 7).unwrap();
    assert_eq!(instance.status, Status::Failed);
    assert!(instance.error.as_deref().unwrap().contains("compensation"));
    assert_eq!(instance.failed.len(), 1, "kept for a retry");
}

#[test]
fn a_timeout_due_while_failed_fires_on_the_retry() {
    let (definition, mut instance, _) = started();
    instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            10,
        )
        .unwrap();
    let armed = instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.1"),
            20,
        )
        .unwrap();
    let key = armed.armed[0].key.clone();
    instance.status = Status::Failed;
    instance.failed = vec![Sent {
        command: Outgoing {
            key: "k".into(),
            step: "reserve".into(),
            aggregate: "stock".into(),
            command: "reserve_stock".into(),
            to: "A".into(),
            payload: json!({}),
            retry: definition.retry,
            cause: None,
        },
        state: "awaiting_payment".into(),
        compensation: None,
        undo_on_accept: false,
    }];
    let kept = instance
        .handle(&definition, Input::Timeout { key: key.clone() }, 2000)
        .unwrap();
    assert_eq!(kept.fired, [key], "out of the timeouts table");
    assert!(kept.sent.is_empty());
    let retried = instance.handle(&definition, Input::Retry, 3000).unwrap();
    let commands: Vec<&str> = retried.sent.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(
        commands,
        [
            "reserve_stock",
            "release_stock",
            "release_stock",
            "cancel_order"
        ]
    );
    assert_eq!(instance.state, "timed_out");
}

#[test]
fn an_instance_in_a_state_the_saga_no_longer_has_is_an_error_not_a_panic() {
    let (definition, mut instance, _) = started();
    instance.state = "gone".into();
    let error = instance
        .handle(&definition, event("order.paid", json!({})), 5)
        .unwrap_err();
    assert!(error.0.contains("no longer has"), "{error}");
}

#[test]
fn events_that_reach_a_failed_instance_are_taken_in_after_the_retry() {
    let (definition, mut instance, _) = started();
    for n in 0..2 {
        let failed = Input::Outcome {
            key: format!("saga:order_fulfilment:o1:0:reserve.{n}"),
            outcome: Outcome::Failed("store unavailable".into()),
        };
        instance.handle(&definition, failed, 10).unwrap();
    }
    assert_eq!(instance.failed.len(), 2, "both kept");
    instance
        .handle(&definition, event("order.paid", json!({})), 20)
        .unwrap();
    let retried = instance.handle(&definition, Input::Retry, 30).unwrap();
    assert_eq!(retried.sent.len(), 2, "both sent again");
    for command in retried.sent {
        instance
            .handle(&definition, accept(&command.key), 40)
            .unwrap();
    }
    assert_eq!(
        (instance.state.as_str(), instance.status),
        ("paid", Status::Completed),
        "the payment that came in meanwhile counts: {:#?}",
        instance.history
    );
}

#[test]
fn a_timer_armed_and_cancelled_by_one_input_is_not_left_armed() {
    let (definition, mut instance, _) = started();
    instance
        .handle(&definition, event("order.paid", json!({})), 5)
        .unwrap();
    instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.0"),
            10,
        )
        .unwrap();
    let effects = instance
        .handle(
            &definition,
            accept("saga:order_fulfilment:o1:0:reserve.1"),
            20,
        )
        .unwrap();
    assert_eq!(effects.armed.len(), 1);
    assert_eq!(effects.cancelled, [effects.armed[0].key.clone()]);
    assert!(instance.timer.is_none());
}

#[test]
fn every_duration_of_the_file_can_be_overridden() {
    let mut definition = definition();
    definition
        .override_timeout("payment", Duration::from_secs(2))
        .unwrap();
    assert_eq!(definition.timeouts["payment"], 2000);
    definition
        .override_timeout("retry.interval", Duration::from_millis(5))
        .unwrap();
    assert_eq!(definition.retry.interval_ms, 5);
    definition
        .override_timeout("reserve.retry.max_interval", Duration::from_millis(50))
        .unwrap();
    let reserve = &definition.states["reserving"].on["order.placed"].send[0];
    assert_eq!(
        reserve.retry.map(|r| (r.interval_ms, r.max_interval_ms)),
        Some((5, 50))
    );
    let unknown = definition
        .override_timeout("nap", Duration::from_secs(1))
        .unwrap_err();
    assert!(
        unknown.contains("`payment`") && unknown.contains("retry.interval"),
        "{unknown}"
    );
    assert!(
        definition
            .override_timeout("nobody.retry.interval", Duration::from_secs(1))
            .is_err()
    );
}

#[test]
fn what_comes_in_after_a_second_failure_waits_for_the_next_retry() {
    let (definition, mut instance, _) = started();
    let failed = Input::Outcome {
        key: "saga:order_fulfilment:o1:0:reserve.0".into(),
        outcome: Outcome::Failed("store unavailable".into()),
    };
    instance.handle(&definition, failed, 10).unwrap();
    // While failed: the other line is refused, then the order is paid.
    let rejected = Input::Outcome {
        key: "saga:order_fulfilment:o1:0:reserve.1".into(),
        outcome: Outcome::Rejected("none left".into()),
    };
    instance.handle(&definition, rejected, 20).unwrap();
    instance
        .handle(&definition, event("order.paid", json!({})), 30)
        .unwrap();
    assert_eq!(instance.kept.len(), 2);
    let retried = instance.handle(&definition, Input::Retry, 40).unwrap();
    // The kept rejection compensates and cancels: out of stock, the payment ignored.
    let commands: Vec<&str> = retried.sent.iter().map(|c| c.command.as_str()).collect();
    assert_eq!(commands, ["reserve_stock", "cancel_order"]);
    assert_eq!(instance.state, "out_of_stock");
    assert!(instance.kept.is_empty());
}
