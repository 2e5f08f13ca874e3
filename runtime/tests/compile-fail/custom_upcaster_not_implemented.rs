mod events {
    eventsmith::generate!("@WORKSPACE@/tests/codegen/fixtures/custom-upcaster");
}

fn main() {}
