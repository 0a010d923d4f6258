//! The SDL text of the dialect for the current schema (`GET /schema.graphql`).

use crate::schema::{Cardinality, Schema};
use std::fmt::Write;

/// Render the SDL.
pub fn render(schema: &Schema) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "scalar BigInt\nscalar GenericScalar\n");
    let _ = writeln!(
        s,
        "type InfrahubInfo {{\n  version: String!\n  deployment_id: String\n}}\n"
    );
    let _ = writeln!(
        s,
        "type RelationshipProperty {{\n  is_protected: Boolean\n  updated_at: String\n}}\n"
    );
    for (ty, extra) in [
        ("TextAttribute", ""),
        ("NumberAttribute", ""),
        ("BooleanAttribute", ""),
        ("CheckboxAttribute", ""),
        ("JSONAttribute", ""),
        ("ListAttribute", ""),
        ("AnyAttribute", ""),
        ("MacAddress", ""),
        (
            "Dropdown",
            "  label: String\n  color: String\n  description: String\n",
        ),
        (
            "IPHost",
            "  ip: String\n  hostmask: String\n  netmask: String\n  prefixlen: Int\n  version: Int\n  with_hostmask: String\n  with_netmask: String\n",
        ),
        (
            "IPNetwork",
            "  broadcast_address: String\n  hostmask: String\n  netmask: String\n  prefixlen: Int\n  num_addresses: Int\n  version: Int\n  with_hostmask: String\n  with_netmask: String\n",
        ),
        ("IPAddress", "  version: Int\n"),
    ] {
        let scalar = match ty {
            "NumberAttribute" => "BigInt",
            "BooleanAttribute" | "CheckboxAttribute" => "Boolean",
            "JSONAttribute" | "ListAttribute" | "AnyAttribute" => "GenericScalar",
            _ => "String",
        };
        let _ = writeln!(
            s,
            "type {ty} {{\n  id: String\n  value: {scalar}\n  is_default: Boolean\n  is_from_profile: Boolean\n  is_protected: Boolean\n{extra}}}\n"
        );
    }
    let mut query = String::from("type Query {\n  InfrahubInfo: InfrahubInfo!\n");
    let mut mutation = String::from(
        "type Mutation {\n  RelationshipAdd(data: RelationshipNodesInput!): OkResult\n  RelationshipRemove(data: RelationshipNodesInput!): OkResult\n  InfrahubIPPrefixPoolGetResource(data: IPPrefixPoolGetResourceInput!): PoolGetResourceResult\n  InfrahubIPAddressPoolGetResource(data: IPAddressPoolGetResourceInput!): PoolGetResourceResult\n",
    );
    s.push_str("type PoolAllocatedNode {\n  id: String!\n  kind: String!\n  identifier: String\n  display_label: String!\n  branch: String!\n}\n\ntype PoolGetResourceResult {\n  ok: Boolean\n  node: PoolAllocatedNode\n}\n\ninput IPPrefixPoolGetResourceInput {\n  id: String\n  hfid: [String]\n  identifier: String\n  prefix_length: Int\n  member_type: String\n  prefix_type: String\n  data: GenericScalar\n}\n\ninput IPAddressPoolGetResourceInput {\n  id: String\n  hfid: [String]\n  identifier: String\n  prefix_length: Int\n  address_type: String\n  data: GenericScalar\n}\n\n");
    for k in schema.kinds() {
        let keyword = if k.is_generic { "interface" } else { "type" };
        let implements = if k.inherit_from.is_empty() {
            String::new()
        } else {
            format!(" implements {}", k.inherit_from.join(" & "))
        };
        let _ = writeln!(
            s,
            "{keyword} {}{implements} {{\n  id: String!\n  hfid: [String!]\n  display_label: String",
            k.kind
        );
        for a in &k.attributes {
            let _ = writeln!(s, "  {}: {}", a.name, a.kind.graphql_type());
        }
        for r in &k.relationships {
            match r.cardinality {
                Cardinality::One => {
                    let _ = writeln!(s, "  {}: NestedEdged{}", r.name, r.peer);
                }
                Cardinality::Many => {
                    let _ = writeln!(
                        s,
                        "  {}(offset: Int, limit: Int, ids: [ID]): NestedPaginated{}",
                        r.name, r.peer
                    );
                }
            }
        }
        let _ = writeln!(s, "}}\n");
        let _ = writeln!(
            s,
            "type Paginated{0} {{\n  count: Int!\n  edges: [Edged{0}!]!\n}}\n\ntype Edged{0} {{\n  node: {0}\n}}\n",
            k.kind
        );
        let _ = writeln!(
            s,
            "type NestedPaginated{0} {{\n  count: Int!\n  edges: [NestedEdged{0}!]!\n}}\n\ntype NestedEdged{0} {{\n  node: {0}\n  properties: RelationshipProperty\n}}\n",
            k.kind
        );
        let mut args = vec![
            "offset: Int".to_string(),
            "limit: Int".into(),
            "ids: [ID]".into(),
            "partial_match: Boolean".into(),
            "any__value: String".into(),
        ];
        if k.human_friendly_id.is_some() {
            args.push("hfid: [String]".into());
        }
        for a in &k.attributes {
            args.push(format!("{}__value: {}", a.name, a.kind.scalar()));
            args.push(format!("{}__values: [{}]", a.name, a.kind.scalar()));
            args.push(format!("{}__isnull: Boolean", a.name));
        }
        for r in &k.relationships {
            args.push(format!("{}__ids: [ID]", r.name));
        }
        let _ = writeln!(
            query,
            "  {}({}): Paginated{}!",
            k.kind,
            args.join(", "),
            k.kind
        );
        if !k.is_generic {
            for op in ["Create", "Update", "Upsert"] {
                let _ = writeln!(
                    mutation,
                    "  {0}{op}(data: {0}{op}Input!): {0}Mutation",
                    k.kind
                );
            }
            let _ = writeln!(
                mutation,
                "  {0}Delete(data: DeleteInput!): OkResult",
                k.kind
            );
            let _ = writeln!(
                s,
                "type {0}Mutation {{\n  ok: Boolean\n  object: {0}\n}}\n",
                k.kind
            );
        }
    }
    query.push_str("}\n");
    mutation.push_str("}\n");
    s.push_str("type OkResult {\n  ok: Boolean\n}\n\n");
    s.push_str(&query);
    s.push('\n');
    s.push_str(&mutation);
    s
}
