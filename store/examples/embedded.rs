//! The store used in-process, as the host's default transport does: open, load a schema,
//! upsert, query, and read the change events.
//!
//! `cargo run -p infragen-store --example embedded`

use infragen_store::{GraphqlRequest, Store};

fn main() -> anyhow::Result<()> {
    let store = Store::in_memory()?;
    store.load_schema(&[(
        "example.yml".to_string(),
        r#"
version: "1.0"
nodes:
  - name: Device
    namespace: Example
    human_friendly_id: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: asn, kind: Number, optional: true}
"#
        .to_string(),
    )])?;
    for _ in 0..2 {
        // The second upsert finds the node by its HFID and changes nothing.
        let r = store.execute_blocking(
            "main",
            &GraphqlRequest::new(r#"mutation { ExampleDeviceUpsert(data: {name: {value: "leaf1"}, asn: {value: 65001}}) { ok object { id } } }"#),
        );
        println!("{r}");
    }
    let r = store.execute_blocking(
        "main",
        &GraphqlRequest::new("{ ExampleDevice { count edges { node { hfid asn { value } } } } }"),
    );
    println!("{r}");
    for event in store.events_since(0)? {
        println!(
            "event {} {:?} {} {}",
            event.seq, event.action, event.kind, event.id
        );
    }
    Ok(())
}
