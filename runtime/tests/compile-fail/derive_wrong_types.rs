#[derive(serde::Serialize, serde::Deserialize, eventsmith::Event)]
#[event(schema = "../../../../schema/events/order/paid.v1.json")]
struct OrderPaid {
    amount: String,
    #[serde(rename = "method")]
    how: Vec<String>,
}

fn main() {}
