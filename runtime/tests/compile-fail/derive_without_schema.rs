#[derive(serde::Serialize, serde::Deserialize, eventsmith::Event)]
struct OrderPaid {
    amount: f64,
}

#[derive(serde::Serialize, serde::Deserialize, eventsmith::Event)]
#[event(schema = "../../../../schema/events/order/refunded.v1.json")]
struct OrderRefunded {
    amount: f64,
}

fn main() {}
