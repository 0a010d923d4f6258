//! The built-in core schema: the kinds every Infrahub has and generators rely on (groups,
//! generator definitions and instances, trigger rules and actions, resource pools, IPAM).
//!
//! The IPAM relationships `parent`, `children`, `ip_addresses` and `ip_prefix` are read-only:
//! the store computes them from containment (`crate::ipam`), they are never stored.
//!
//! Written in the same file format users load, and read by the same loader.

/// File name under which the core schema is reported in errors.
pub const CORE_FILE: &str = "<core>/core.yml";

/// The core schema text.
pub const CORE_SCHEMA: &str = r#"
version: "1.0"
generics:
  - name: Node
    namespace: Core
    description: Base of every node that is not a group.
    relationships:
      - {name: member_of_groups, peer: CoreGroup, kind: Group, cardinality: many, identifier: group_member, branch: aware}
      - {name: subscriber_of_groups, peer: CoreGroup, kind: Group, cardinality: many, identifier: group_subscriber, read_only: true, branch: aware}
  - name: Group
    namespace: Core
    hierarchical: true
    default_filter: name__value
    order_by: [name__value]
    display_labels: [name__value]
    uniqueness_constraints: [[name__value]]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: label, kind: Text, optional: true}
      - {name: description, kind: Text, optional: true}
      - {name: group_type, kind: Text, enum: [default, internal], default_value: default, optional: false}
    relationships:
      - {name: members, peer: CoreNode, kind: Generic, cardinality: many, identifier: group_member}
      - {name: subscribers, peer: CoreNode, kind: Generic, cardinality: many, identifier: group_subscriber}
  - name: GenericAccount
    namespace: Core
    description: Who sends requests. On infragen an API token is its own account (`AccountProfile`).
    branch: agnostic
    default_filter: name__value
    display_labels: [label__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: label, kind: Text, optional: true}
      - {name: description, kind: Text, optional: true}
      - {name: account_type, kind: Text, enum: [User, Script, Bot, Git], default_value: User, optional: false}
      - name: status
        kind: Dropdown
        default_value: active
        optional: false
        choices:
          - {name: active, label: Active}
          - {name: inactive, label: Inactive}
  - name: BasePermission
    namespace: Core
    branch: agnostic
    attributes:
      - {name: description, kind: Text, optional: true}
      - {name: identifier, kind: Text, optional: true, read_only: true}
    relationships:
      - {name: roles, peer: CoreAccountRole, cardinality: many, identifier: role__permission}
  - name: TaskTarget
    namespace: Core
  - name: ArtifactTarget
    namespace: Core
    relationships:
      - {name: artifacts, peer: CoreArtifact, kind: Generic, cardinality: many, identifier: artifact__node, on_delete: cascade}
  # Transforms and artifacts: recorded (by the API or object files) so that what a
  # repository's queries ask of them answers; infragen renders neither.
  - name: Transformation
    namespace: Core
    default_filter: name__value
    order_by: [name__value]
    human_friendly_id: [name__value]
    display_labels: [label__value]
    uniqueness_constraints: [[name__value]]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: label, kind: Text, optional: true}
      - {name: description, kind: Text, optional: true}
      - {name: timeout, kind: Number, default_value: 60}
      - {name: dependencies, kind: List, optional: true}
      - {name: dependencies_complete, kind: Boolean, optional: true}
    relationships:
      - {name: query, peer: CoreGraphQLQuery, cardinality: one, optional: false, identifier: graphql_query__transformation}
      - {name: repository, peer: CoreGenericRepository, cardinality: one, optional: false, identifier: repository__transformation}
      - {name: tags, peer: BuiltinTag, cardinality: many, identifier: builtintag__coretransformation}
  - name: GenericRepository
    namespace: Core
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
      - {name: location, kind: Text, optional: true}
      - name: internal_status
        kind: Dropdown
        default_value: inactive
        optional: true
        choices:
          - {name: staging, label: Staging}
          - {name: active, label: Active}
          - {name: inactive, label: Inactive}
      - name: operational_status
        kind: Dropdown
        default_value: unknown
        optional: true
        choices:
          - {name: unknown, label: Unknown}
          - {name: online, label: Online}
          - {name: error-cred, label: Credential Error}
          - {name: error-connection, label: Connectivity Error}
          - {name: error, label: Error}
      - name: sync_status
        kind: Dropdown
        default_value: unknown
        optional: true
        choices:
          - {name: unknown, label: Unknown}
          - {name: error-import, label: Import Error}
          - {name: in-sync, label: In Sync}
          - {name: syncing, label: Syncing}
  - name: Action
    namespace: Core
    branch: agnostic
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
    relationships:
      - {name: triggers, peer: CoreTriggerRule, cardinality: many, identifier: action__trigger_rule}
  - name: TriggerRule
    namespace: Core
    branch: agnostic
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
      - {name: active, kind: Boolean, default_value: true, optional: false}
      - name: branch_scope
        kind: Dropdown
        default_value: default_branch
        optional: false
        choices:
          - {name: all_branches, label: All branches}
          - {name: default_branch, label: Default branch}
          - {name: other_branches, label: Other branches}
    relationships:
      - {name: action, peer: CoreAction, cardinality: one, optional: false, identifier: action__trigger_rule}
  - name: NodeTriggerMatch
    namespace: Core
    branch: agnostic
    relationships:
      - {name: trigger, peer: CoreNodeTriggerRule, kind: Parent, cardinality: one, optional: false, identifier: node_trigger_rule__match}
  - name: ResourcePool
    namespace: Core
    branch: agnostic
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
  - name: IPNamespace
    namespace: Builtin
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
  - name: IPPrefix
    namespace: Builtin
    default_filter: prefix__value
    display_labels: [prefix__value]
    order_by: [prefix__value]
    attributes:
      - {name: prefix, kind: IPNetwork}
      - {name: description, kind: Text, optional: true}
      - {name: member_type, kind: Dropdown, default_value: prefix, optional: false, choices: [{name: prefix, label: Prefix}, {name: address, label: Address}]}
      - {name: is_pool, kind: Boolean, default_value: false, optional: false}
    relationships:
      - {name: ip_namespace, peer: BuiltinIPNamespace, cardinality: one, kind: Generic, identifier: ip_namespace__ip_prefix}
      - {name: parent, peer: BuiltinIPPrefix, cardinality: one, read_only: true, identifier: ip_prefix__parent}
      - {name: children, peer: BuiltinIPPrefix, cardinality: many, read_only: true, identifier: ip_prefix__children}
      - {name: ip_addresses, peer: BuiltinIPAddress, cardinality: many, read_only: true, identifier: ip_prefix__ip_address}
  - name: IPAddress
    namespace: Builtin
    default_filter: address__value
    display_labels: [address__value]
    order_by: [address__value]
    attributes:
      - {name: address, kind: IPHost}
      - {name: description, kind: Text, optional: true}
    relationships:
      - {name: ip_namespace, peer: BuiltinIPNamespace, cardinality: one, kind: Generic, identifier: ip_namespace__ip_address}
      - {name: ip_prefix, peer: BuiltinIPPrefix, cardinality: one, read_only: true, identifier: ip_address__ip_prefix}
  - name: ObjectTemplate
    namespace: Core
    description: Base of the Template<Kind> kinds generated for nodes with generate_template.
    default_filter: template_name__value
    human_friendly_id: [template_name__value]
    display_labels: [template_name__value]
    attributes:
      - {name: template_name, kind: Text, unique: true}
  - name: Profile
    namespace: Core
    description: Base of the Profile<Kind> kinds generated for nodes.
    default_filter: profile_name__value
    human_friendly_id: [profile_name__value]
    display_labels: [profile_name__value]
    attributes:
      - {name: profile_name, kind: Text, unique: true}
      - {name: profile_priority, kind: Number, default_value: 1000, optional: true}
  - name: Menu
    namespace: Core
    description: An entry of the web interface's menu (`infrahubctl menu load`).
    hierarchical: true
    human_friendly_id: [namespace__value, name__value]
    display_label: label__value
    generate_profile: false
    attributes:
      - {name: namespace, kind: Text, regex: "^[A-Z][a-z0-9]+$"}
      - {name: name, kind: Text}
      - {name: label, kind: Text, optional: true}
      - {name: kind, kind: Text, optional: true}
      - {name: path, kind: Text, optional: true}
      - {name: description, kind: Text, optional: true}
      - {name: icon, kind: Text, optional: true}
      - {name: protected, kind: Boolean, default_value: false, read_only: true, optional: true}
      - {name: order_weight, kind: Number, default_value: 2000, optional: true}
      - {name: required_permissions, kind: List, optional: true}
      - {name: section, kind: Text, enum: [object, internal], default_value: object, optional: true}
nodes:
  - name: MenuItem
    namespace: Core
    inherit_from: [CoreMenu]
    generate_profile: false
  - name: StandardGroup
    namespace: Core
    label: Standard Group
    inherit_from: [CoreGroup]
  - name: Account
    namespace: Core
    branch: agnostic
    inherit_from: [CoreGenericAccount]
  - name: AccountGroup
    namespace: Core
    branch: agnostic
    inherit_from: [CoreGroup]
    relationships:
      - {name: roles, peer: CoreAccountRole, cardinality: many, identifier: role__accountgroup}
  - name: AccountRole
    namespace: Core
    branch: agnostic
    default_filter: name__value
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
    relationships:
      - {name: groups, peer: CoreAccountGroup, cardinality: many, identifier: role__accountgroup}
      - {name: permissions, peer: CoreBasePermission, cardinality: many, identifier: role__permission}
  # Permissions are recorded, as an Infrahub repository's object files declare them, and not
  # enforced: a token's scope decides what it may do (`infragen token create --scope`).
  # `decision`: 1 deny, 2 allow on the default branch, 4 on other branches, 6 everywhere.
  - name: ObjectPermission
    namespace: Core
    description: A permission that grants rights to perform actions on objects
    branch: agnostic
    inherit_from: [CoreBasePermission]
    order_by: [namespace__value, name__value, action__value, decision__value]
    human_friendly_id: [namespace__value, name__value, action__value, decision__value]
    uniqueness_constraints: [[namespace__value, name__value, action__value, decision__value]]
    attributes:
      - {name: namespace, kind: Text}
      - {name: name, kind: Text}
      - {name: action, kind: Text, enum: [any, create, update, delete, view], default_value: any}
      - {name: decision, kind: Number, enum: [1, 2, 4, 6], default_value: 6}
  - name: GlobalPermission
    namespace: Core
    description: A permission that grants global rights to perform actions in Infrahub
    branch: agnostic
    inherit_from: [CoreBasePermission]
    order_by: [action__value, decision__value]
    human_friendly_id: [action__value, decision__value]
    attributes:
      - name: action
        kind: Dropdown
        choices:
          - {name: edit_default_branch}
          - {name: super_admin}
          - {name: merge_branch}
          - {name: rebase_branch}
          - {name: merge_proposed_change}
          - {name: review_proposed_change}
          - {name: manage_schema}
          - {name: manage_accounts}
          - {name: manage_permissions}
          - {name: manage_repositories}
          - {name: manage_global_preferences}
          - {name: override_context}
      - {name: decision, kind: Number, enum: [1, 2, 4, 6], default_value: 6}
  - name: GeneratorGroup
    namespace: Core
    label: Generator Group (local)
    branch: local
    inherit_from: [CoreGroup]
  - name: GeneratorAwareGroup
    namespace: Core
    label: Generator Group (aware)
    inherit_from: [CoreGroup]
  - name: GraphQLQueryGroup
    namespace: Core
    branch: local
    inherit_from: [CoreGroup]
    attributes:
      - {name: parameters, kind: JSON, optional: true}
    relationships:
      - {name: query, peer: CoreGraphQLQuery, cardinality: one, optional: false, identifier: graphql_query__group}
  - name: TransformJinja2
    namespace: Core
    description: A file rendered from a Jinja2 template
    inherit_from: [CoreTransformation]
    generate_profile: false
    attributes:
      - {name: template_path, kind: Text}
  - name: TransformPython
    namespace: Core
    description: A transform function written in Python
    inherit_from: [CoreTransformation]
    generate_profile: false
    attributes:
      - {name: file_path, kind: Text}
      - {name: class_name, kind: Text}
      - {name: convert_query_response, kind: Boolean, optional: true, default_value: false}
  - name: CheckDefinition
    namespace: Core
    label: Check Definition
    description: A check written in Python, as a repository declares it (recorded by the import; infragen runs no Python)
    generate_profile: false
    default_filter: name__value
    order_by: [name__value]
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
      - {name: file_path, kind: Text}
      - {name: class_name, kind: Text}
      - {name: timeout, kind: Number, default_value: 10}
      - {name: rebase, kind: Boolean, default_value: false}
      - {name: parameters, kind: JSON, optional: true}
    relationships:
      - {name: repository, peer: CoreGenericRepository, cardinality: one, optional: false, identifier: check_definition__repository}
      - {name: query, peer: CoreGraphQLQuery, cardinality: one, optional: true, identifier: check_definition__graphql_query}
      - {name: targets, peer: CoreGroup, cardinality: one, optional: true, identifier: check_definition___group}
      - {name: tags, peer: BuiltinTag, cardinality: many, identifier: builtintag__corecheckdefinition}
  - name: ArtifactDefinition
    namespace: Core
    description: Defines how artifacts are generated from a transformation for a group of targets
    inherit_from: [CoreTaskTarget]
    generate_profile: false
    default_filter: name__value
    order_by: [name__value]
    display_labels: [name__value]
    uniqueness_constraints: [[name__value]]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: artifact_name, kind: Text}
      - {name: description, kind: Text, optional: true}
      - {name: parameters, kind: JSON}
      - {name: content_type, kind: Text, enum: [application/json, application/yaml, application/xml, application/hcl, text/plain, text/markdown, text/csv, image/svg+xml]}
      - {name: fingerprint, kind: Text, optional: true}
    relationships:
      - {name: targets, peer: CoreGroup, cardinality: one, optional: false, identifier: artifact_definition___group}
      - {name: transformation, peer: CoreTransformation, cardinality: one, optional: false, identifier: artifact_definition___transformation}
  - name: Artifact
    namespace: Core
    description: A file generated by a transformation, associated with a specific object
    inherit_from: [CoreTaskTarget]
    branch: local
    generate_profile: false
    default_filter: name__value
    order_by: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text}
      - {name: status, kind: Text, enum: [Error, Pending, Processing, Ready]}
      - {name: content_type, kind: Text, enum: [application/json, application/yaml, application/xml, application/hcl, text/plain, text/markdown, text/csv, image/svg+xml]}
      - {name: checksum, kind: Text, optional: true}
      - {name: storage_id, kind: Text, optional: true}
      - {name: parameters, kind: JSON, optional: true}
    relationships:
      - {name: object, peer: CoreArtifactTarget, cardinality: one, optional: false, identifier: artifact__node}
      - {name: definition, peer: CoreArtifactDefinition, cardinality: one, optional: false, identifier: artifact__artifact_definition}
  - name: GraphQLQuery
    namespace: Core
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
      - {name: query, kind: TextArea}
      # Infrahub fills these from its analysis of the query; here they are there to be
      # asked for, and empty.
      - {name: fingerprint, kind: Text, optional: true}
      - {name: variables, kind: JSON, optional: true, read_only: true}
      - {name: operations, kind: List, optional: true, read_only: true}
      - {name: models, kind: List, optional: true, read_only: true}
      - {name: depth, kind: Number, optional: true, read_only: true}
      - {name: height, kind: Number, optional: true, read_only: true}
    relationships:
      - {name: repository, peer: CoreGenericRepository, cardinality: one, identifier: graphql_query__repository}
  - name: Repository
    namespace: Core
    inherit_from: [CoreGenericRepository, CoreTaskTarget]
    attributes:
      - {name: default_branch, kind: Text, default_value: main, optional: true}
      - {name: commit, kind: Text, optional: true}
  - name: ReadOnlyRepository
    namespace: Core
    inherit_from: [CoreGenericRepository, CoreTaskTarget]
    default_filter: name__value
    display_labels: [name__value]
    attributes:
      - {name: ref, kind: Text, default_value: main, optional: true}
      - {name: commit, kind: Text, optional: true}
  - name: GeneratorDefinition
    namespace: Core
    inherit_from: [CoreTaskTarget]
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    uniqueness_constraints: [[name__value]]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
      - {name: parameters, kind: JSON}
      - {name: file_path, kind: Text}
      - {name: class_name, kind: Text}
      - {name: convert_query_response, kind: Boolean, default_value: false, optional: true}
      - {name: execute_in_proposed_change, kind: Boolean, default_value: true, optional: true}
      - {name: execute_after_merge, kind: Boolean, default_value: true, optional: true}
      - {name: fingerprint, kind: Text, optional: true}
      - {name: dependencies, kind: List, optional: true}
      - {name: dependencies_complete, kind: Boolean, optional: true}
    relationships:
      - {name: query, peer: CoreGraphQLQuery, cardinality: one, optional: false, identifier: generator_definition__graphql_query}
      - {name: repository, peer: CoreGenericRepository, cardinality: one, identifier: generator_definition__repository}
      - {name: targets, peer: CoreGroup, cardinality: one, optional: false, identifier: generator_definition___group}
      - {name: instances, peer: CoreGeneratorInstance, cardinality: many, kind: Component, on_delete: cascade, identifier: generator__definition}
  - name: GeneratorInstance
    namespace: Core
    branch: local
    default_filter: name__value
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text}
      - {name: status, kind: Text, enum: [Error, Pending, Processing, Ready]}
    relationships:
      - {name: object, peer: CoreNode, cardinality: one, optional: false, identifier: generator__node}
      - {name: definition, peer: CoreGeneratorDefinition, cardinality: one, kind: Parent, optional: false, identifier: generator__definition}
  - name: GeneratorAction
    namespace: Core
    branch: agnostic
    inherit_from: [CoreAction]
    relationships:
      - {name: generator, peer: CoreGeneratorDefinition, cardinality: one, optional: false, identifier: generator_action__definition}
  - name: GroupAction
    namespace: Core
    branch: agnostic
    inherit_from: [CoreAction]
    attributes:
      - {name: member_action, kind: Dropdown, default_value: add_member, optional: false, choices: [{name: add_member, label: Add member}, {name: remove_member, label: Remove member}]}
    relationships:
      - {name: group, peer: CoreGroup, cardinality: one, optional: false, identifier: group_action__group}
  - name: NodeTriggerRule
    namespace: Core
    branch: agnostic
    inherit_from: [CoreTriggerRule]
    attributes:
      - {name: node_kind, kind: Text}
      - {name: mutation_action, kind: Text, enum: [created, updated]}
    relationships:
      - {name: matches, peer: CoreNodeTriggerMatch, cardinality: many, kind: Component, identifier: node_trigger_rule__match}
  - name: NodeTriggerAttributeMatch
    namespace: Core
    branch: agnostic
    inherit_from: [CoreNodeTriggerMatch]
    human_friendly_id: [trigger__name__value, attribute_name__value]
    uniqueness_constraints: [[trigger, attribute_name__value]]
    display_labels: [attribute_name__value]
    attributes:
      - {name: attribute_name, kind: Text}
      - {name: value, kind: Text, optional: true}
      - {name: value_previous, kind: Text, optional: true}
      - name: value_match
        kind: Dropdown
        default_value: value
        optional: false
        choices: [{name: value, label: Value}, {name: value_previous, label: Previous value}, {name: value_full, label: Full value}, {name: any, label: Any}]
  - name: NodeTriggerRelationshipMatch
    namespace: Core
    branch: agnostic
    inherit_from: [CoreNodeTriggerMatch]
    display_labels: [relationship_name__value]
    attributes:
      - {name: relationship_name, kind: Text}
      - {name: modification_type, kind: Dropdown, default_value: added, optional: false, choices: [{name: added, label: Added}, {name: removed, label: Removed}, {name: updated, label: Updated}]}
      - {name: peer, kind: Text, optional: true}
  - name: GroupTriggerRule
    namespace: Core
    branch: agnostic
    inherit_from: [CoreTriggerRule]
    attributes:
      - {name: member_update, kind: Dropdown, default_value: added, optional: false, choices: [{name: added, label: Added}, {name: removed, label: Removed}]}
    relationships:
      - {name: group, peer: CoreGroup, cardinality: one, optional: false, identifier: group_trigger__group}
  - name: Tag
    namespace: Builtin
    default_filter: name__value
    human_friendly_id: [name__value]
    display_labels: [name__value]
    attributes:
      - {name: name, kind: Text, unique: true}
      - {name: description, kind: Text, optional: true}
  - name: Namespace
    namespace: Ipam
    inherit_from: [BuiltinIPNamespace]
  - name: IPPrefixPool
    namespace: Core
    branch: agnostic
    inherit_from: [CoreResourcePool]
    attributes:
      - {name: default_prefix_length, kind: Number, optional: true}
      - {name: default_member_type, kind: Text, enum: [prefix, address], default_value: prefix, optional: false}
      - {name: default_prefix_type, kind: Text, optional: true}
    relationships:
      - {name: resources, peer: BuiltinIPPrefix, cardinality: many, identifier: prefixpool__resource}
      - {name: ip_namespace, peer: BuiltinIPNamespace, cardinality: one, optional: false, identifier: prefixpool__ipnamespace}
  - name: IPAddressPool
    namespace: Core
    branch: agnostic
    inherit_from: [CoreResourcePool]
    attributes:
      - {name: default_address_type, kind: Text}
      - {name: default_prefix_length, kind: Number, optional: true}
    relationships:
      - {name: resources, peer: BuiltinIPPrefix, cardinality: many, identifier: ipaddresspool__resource}
      - {name: ip_namespace, peer: BuiltinIPNamespace, cardinality: one, optional: false, identifier: ipaddresspool__ipnamespace}
  - name: NumberPool
    namespace: Core
    branch: agnostic
    inherit_from: [CoreResourcePool]
    attributes:
      - {name: node, kind: Text}
      - {name: node_attribute, kind: Text}
      - {name: start_range, kind: Number}
      - {name: end_range, kind: Number}
      - {name: pool_type, kind: Text, enum: [user, schema], default_value: user, optional: false, read_only: true}
"#;
