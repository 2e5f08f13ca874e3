mod events {
    eventsmith::generate!("@WORKSPACE@/tests/fixtures/invalid/three-broken-files");
}

fn main() {}
