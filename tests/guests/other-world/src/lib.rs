//! A well-formed component of another world (`acme:widget@0.1.0`), so the
//! host's tests can check that loading it as a generator fails with a
//! message naming the expected contract.

wit_bindgen::generate!({ world: "widget", path: "wit" });

struct Widget;

impl Guest for Widget {
    fn hello() -> String {
        "hello from acme:widget".to_string()
    }
}

export!(Widget);
