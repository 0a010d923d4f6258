//! Infrahub's GraphQL dialect, generated from the loaded schema: a top-level field per kind,
//! nodes with attribute objects and relationships, filters, and the `<Kind>Create|Update|
//! Upsert|Delete` and `RelationshipAdd|Remove` mutations.
//!
//! Documents are parsed with `async-graphql-parser` and executed directly against the store's
//! graph: the "type system" is the schema itself ([`types`]), so nothing is generated per
//! schema load except the SDL text served at `/schema.graphql` ([`sdl`]). Mutations are
//! turned into calls of the write engine (`engine`).
//!
//! Every error in a response carries its [`ErrorCode`] in `extensions.code`
//! (`{"message": …, "extensions": {"code": "NOT_FOUND"}}`), so clients classify errors by
//! code rather than by message.

pub mod answer;
pub(crate) mod filters;
pub(crate) mod mutation;
pub(crate) mod query;
pub mod sdl;
pub mod types;

pub use answer::{Answer, Fields};
pub use query::INFRAHUB_COMPAT_VERSION;

use async_graphql_parser::types::{
    DocumentOperations, ExecutableDocument, Field, OperationType, Selection, SelectionSet,
};
use async_graphql_parser::{Pos, Positioned};
use async_graphql_value::{ConstValue, Name, Value as GqlValue};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use crate::engine::EngineError;
use crate::error::{ErrorCode, StoreError};

/// A GraphQL request as sent to `/graphql/{branch}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GraphqlRequest {
    /// The document.
    pub query: String,
    /// Variable values (an object, or null).
    #[serde(default)]
    pub variables: Option<Value>,
    /// Which operation to run when the document has several.
    #[serde(default, rename = "operationName", alias = "operation_name")]
    pub operation_name: Option<String>,
    /// Who sends it (set by the server from the API token, never from the body):
    /// what `AccountProfile` answers.
    #[serde(skip)]
    pub account: Option<crate::store::Account>,
    /// Where to record the id of every node the query resolves, when set: the members of
    /// a stored query's group (`/api/query/NAME?update_group=true`).
    #[serde(skip)]
    pub related: Option<RelatedNodes>,
    /// `query` as [`parse_document`] parsed it, when the sender has it already: the
    /// request then runs without parsing (see [`GraphqlRequest::with_parsed`]).
    #[serde(skip)]
    parsed: Option<Arc<ExecutableDocument>>,
}

/// The ids of the nodes a query resolved, at any depth (Infrahub's `related_node_ids`).
#[derive(Debug, Clone, Default)]
pub struct RelatedNodes(std::sync::Arc<std::sync::Mutex<std::collections::BTreeSet<String>>>);

impl RelatedNodes {
    /// Records `id`.
    pub(crate) fn insert(&self, id: &str) {
        let mut ids = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if !ids.contains(id) {
            ids.insert(id.to_owned());
        }
    }

    /// Every id recorded, sorted.
    pub fn ids(&self) -> Vec<String> {
        let ids = self.0.lock().unwrap_or_else(|e| e.into_inner());
        ids.iter().cloned().collect()
    }
}

impl GraphqlRequest {
    /// A request with just a document.
    pub fn new(query: impl Into<String>) -> Self {
        Self {
            query: query.into(),
            variables: None,
            operation_name: None,
            account: None,
            related: None,
            parsed: None,
        }
    }
    /// Add variables.
    pub fn with_variables(mut self, variables: Value) -> Self {
        self.variables = Some(variables);
        self
    }
    /// Sent by `account`.
    pub fn with_account(mut self, account: crate::store::Account) -> Self {
        self.account = Some(account);
        self
    }
    /// Run as `parsed`, the document [`parse_document`] or [`parsed_document`] gave for
    /// this request's text: nothing is parsed to run it, so it may run on a stack the
    /// parser's recursion guard cannot measure (see `infragen::native_stack`).
    pub fn with_parsed(mut self, parsed: Arc<ExecutableDocument>) -> Self {
        self.parsed = Some(parsed);
        self
    }
    /// Recording into `related` the id of every node the query resolves.
    pub fn collecting(mut self, related: RelatedNodes) -> Self {
        self.related = Some(related);
        self
    }
}

/// A GraphQL error: message, code, where in the document, and the response path.
#[derive(Debug, Clone)]
pub struct GqlError {
    /// Message (Infrahub's wording where clients depend on it).
    pub message: String,
    /// What kind of error it is, answered as `extensions.code`.
    pub code: ErrorCode,
    /// Position in the document.
    pub pos: Option<Pos>,
    /// Response path.
    pub path: Vec<Value>,
}

impl GqlError {
    /// An error in the document at a position ([`ErrorCode::BadRequest`]).
    pub fn at(message: impl Into<String>, pos: Pos) -> Self {
        Self {
            message: message.into(),
            code: ErrorCode::BadRequest,
            pos: Some(pos),
            path: Vec::new(),
        }
    }
    /// An error in the document or the request, without a position
    /// ([`ErrorCode::BadRequest`]).
    pub fn msg(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: ErrorCode::BadRequest,
            pos: None,
            path: Vec::new(),
        }
    }
    /// The same error with another code.
    pub fn with_code(mut self, code: ErrorCode) -> Self {
        self.code = code;
        self
    }
    /// The error as a response's `errors` entry: `message`, `locations`, `path`,
    /// `extensions.code`.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("message".into(), Value::String(self.message.clone()));
        if let Some(p) = self.pos {
            m.insert(
                "locations".into(),
                json!([{"line": p.line, "column": p.column}]),
            );
        }
        if !self.path.is_empty() {
            m.insert("path".into(), Value::Array(self.path.clone()));
        }
        m.insert("extensions".into(), json!({"code": self.code.as_str()}));
        Value::Object(m)
    }
}

impl From<StoreError> for GqlError {
    fn from(e: StoreError) -> Self {
        GqlError::msg(e.to_string()).with_code(e.code())
    }
}

impl From<EngineError> for GqlError {
    fn from(e: EngineError) -> Self {
        GqlError::msg(e.to_string()).with_code(e.code())
    }
}

/// A full response with only errors (at least one) and `data: null`.
pub fn error_response(errors: &[GqlError]) -> Answer {
    crate::store::respond(Answer::NULL, errors)
}

/// A parsed operation ready to run.
pub(crate) struct Prepared<'d> {
    pub ty: OperationType,
    pub selection: &'d SelectionSet,
    pub vars: Map<String, Value>,
}

/// The parsed document of `req` (an error is a complete response): the one it was given
/// ([`GraphqlRequest::with_parsed`]), else from the process's [`ParsedDocuments`].
pub(crate) fn parse(req: &GraphqlRequest) -> Result<Arc<ExecutableDocument>, Answer> {
    if let Some(parsed) = &req.parsed {
        return Ok(Arc::clone(parsed));
    }
    parse_document(&req.query).map_err(|e| {
        let pos = e.positions().next();
        let mut err = GqlError::msg(format!("Syntax Error: {}", e.to_string().trim()));
        err.pos = pos;
        error_response(&[err])
    })
}

/// The document `text` parsed, kept for the next time it is sent (see
/// [`ParsedDocuments`]): the host checks a generator's documents before the store runs
/// them, and both parse each text once.
pub fn parse_document(text: &str) -> Result<Arc<ExecutableDocument>, async_graphql_parser::Error> {
    PARSED.parse(text)
}

/// The document `text` as [`parse_document`] parsed it before, if it still keeps it.
/// Never parses: a caller on a stack the parser cannot measure (a guest's fiber) takes
/// a document from here without switching stacks, and parses only what is not here.
pub fn parsed_document(text: &str) -> Option<Arc<ExecutableDocument>> {
    PARSED.get(text)
}

/// The process's parsed documents (see [`ParsedDocuments`]).
static PARSED: LazyLock<ParsedDocuments> = LazyLock::new(ParsedDocuments::default);

/// Parsed documents by their text. Parsing is a pure function of the text, and
/// generators send the same few documents again and again (parsing took ~3% of a seed
/// build's instructions), so documents of at most [`PARSED_TEXT_MOST`] bytes are kept,
/// [`PARSED_MOST`] of them at most.
#[derive(Default)]
struct ParsedDocuments {
    docs: Mutex<HashMap<String, Arc<ExecutableDocument>>>,
}

/// The longest document [`ParsedDocuments`] keeps (generators' are mostly under 2 kB).
const PARSED_TEXT_MOST: usize = 16 * 1024;
/// How many documents [`ParsedDocuments`] keeps: at most 1 MB of text.
const PARSED_MOST: usize = 64;

impl ParsedDocuments {
    fn get(&self, text: &str) -> Option<Arc<ExecutableDocument>> {
        if text.len() > PARSED_TEXT_MOST {
            return None;
        }
        self.lock().get(text).cloned()
    }

    fn parse(&self, text: &str) -> Result<Arc<ExecutableDocument>, async_graphql_parser::Error> {
        if let Some(doc) = self.get(text) {
            return Ok(doc);
        }
        let keep = text.len() <= PARSED_TEXT_MOST;
        let doc = Arc::new(async_graphql_parser::parse_query(text)?);
        if keep {
            let mut docs = self.lock();
            if docs.len() >= PARSED_MOST {
                // Few documents in practice: a set outgrown is simply started again.
                docs.clear();
            }
            docs.insert(text.to_owned(), Arc::clone(&doc));
        }
        Ok(doc)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<ExecutableDocument>>> {
        self.docs.lock().unwrap_or_else(|e| e.into_inner())
    }
}

pub(crate) fn prepare<'d>(
    doc: &'d ExecutableDocument,
    req: &GraphqlRequest,
) -> Result<Prepared<'d>, Answer> {
    let op = match (&doc.operations, &req.operation_name) {
        (DocumentOperations::Single(op), _) => op,
        (DocumentOperations::Multiple(ops), Some(name)) => match ops.get(name.as_str()) {
            Some(op) => op,
            None => {
                return Err(error_response(&[GqlError::msg(format!(
                    "Unknown operation named '{name}'."
                ))]));
            }
        },
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => match ops.values().next() {
            Some(op) => op,
            None => {
                return Err(error_response(&[GqlError::msg(
                    "Must provide an operation.",
                )]));
            }
        },
        (DocumentOperations::Multiple(_), None) => {
            return Err(error_response(&[GqlError::msg(
                "Must provide operation name if query contains multiple operations.",
            )]));
        }
    };
    let given = match &req.variables {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(m)) => m.clone(),
        Some(_) => {
            return Err(error_response(&[GqlError::msg(
                "Variables must be provided as an object.",
            )]));
        }
    };
    let mut vars = Map::new();
    let mut errors = Vec::new();
    for vd in &op.node.variable_definitions {
        let name = vd.node.name.node.as_str();
        let ty = &vd.node.var_type.node;
        match given.get(name) {
            Some(v) if !v.is_null() || ty.nullable => {
                vars.insert(name.to_string(), v.clone());
            }
            _ => match &vd.node.default_value {
                Some(d) => {
                    vars.insert(
                        name.to_string(),
                        d.node.clone().into_json().unwrap_or(Value::Null),
                    );
                }
                None if ty.nullable => {
                    vars.insert(name.to_string(), Value::Null);
                }
                None => errors.push(GqlError::at(
                    format!("Variable '${name}' of required type '{ty}' was not provided."),
                    vd.pos,
                )),
            },
        }
    }
    if !errors.is_empty() {
        return Err(error_response(&errors));
    }
    Ok(Prepared {
        ty: op.node.ty,
        selection: &op.node.selection_set.node,
        vars,
    })
}

/// Evaluate an argument value, substituting variables.
pub(crate) fn arg_json(
    v: &Positioned<GqlValue>,
    vars: &Map<String, Value>,
) -> Result<Value, GqlError> {
    let pos = v.pos;
    let c: ConstValue =
        v.node
            .clone()
            .into_const_with(|name: Name| -> Result<ConstValue, GqlError> {
                match vars.get(name.as_str()) {
                    Some(val) => ConstValue::from_json(val.clone())
                        .map_err(|e| GqlError::at(e.to_string(), pos)),
                    None => Err(GqlError::at(
                        format!("Variable '${name}' is not defined."),
                        pos,
                    )),
                }
            })?;
    c.into_json().map_err(|e| GqlError::at(e.to_string(), pos))
}

/// Evaluate all arguments of a field into an object.
pub(crate) fn args_json(
    f: &Field,
    vars: &Map<String, Value>,
) -> Result<Map<String, Value>, GqlError> {
    let mut m = Map::new();
    for (n, v) in &f.arguments {
        m.insert(n.node.as_str().to_owned(), arg_json(v, vars)?);
    }
    Ok(m)
}

/// Whether `@skip`/`@include` keep a selection.
fn included(sel: &Selection, vars: &Map<String, Value>) -> bool {
    for d in sel.directives() {
        let name = d.node.name.node.as_str();
        let cond = d
            .node
            .arguments
            .iter()
            .find(|(n, _)| n.node == "if")
            .and_then(|(_, v)| arg_json(v, vars).ok())
            .and_then(|v| v.as_bool())
            .unwrap_or(false);
        if (name == "skip" && cond) || (name == "include" && !cond) {
            return false;
        }
    }
    true
}

/// Flatten a selection set into fields, following fragments whose type condition `applies`.
/// `branch` (as [`crate::branch::api_branches`] describes it) with the fields `set`
/// selects: what the `Branch` query and the branch mutations' `object` answer.
pub(crate) fn branch_selection(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    vars: &Map<String, Value>,
    branch: &Map<String, Value>,
) -> Answer {
    let mut fields = Vec::new();
    collect_fields(
        doc,
        set,
        vars,
        &|tc| tc.is_none_or(|t| t == "Branch"),
        &mut fields,
        0,
    );
    let mut out = Fields::new();
    for field in fields {
        let value = match field.node.name.node.as_str() {
            "__typename" => Value::from("Branch"),
            name => branch.get(name).cloned().unwrap_or(Value::Null),
        };
        out.insert(&field.node.response_key().node, value);
    }
    Answer::Object(out)
}

/// `value` (an object, a list of them, or a leaf) as an answer to `set`: the fields it
/// selects, under their response keys, in selection order, for results built as JSON (the
/// server's own lists: relationships, tasks). `type_name` is the type of `value`'s objects:
/// a fragment applies where it names no type or that one, and `__typename` answers it;
/// `nested_type` names the type of a field's objects from the field's name.
pub fn project_value(
    doc: &ExecutableDocument,
    set: &SelectionSet,
    vars: &Map<String, Value>,
    value: &Value,
    type_name: &str,
    nested_type: &dyn Fn(&str) -> &'static str,
) -> Answer {
    match value {
        Value::Array(items) => Answer::List(
            items
                .iter()
                .map(|item| project_value(doc, set, vars, item, type_name, nested_type))
                .collect(),
        ),
        Value::Object(object) => {
            let mut fields = Vec::new();
            let applies = |condition: Option<&str>| condition.is_none_or(|on| on == type_name);
            collect_fields(doc, set, vars, &applies, &mut fields, 0);
            let mut out = Fields::new();
            for field in fields {
                let name = field.node.name.node.as_str();
                let answer = match name {
                    "__typename" => Answer::Value(Value::from(type_name)),
                    _ => {
                        let inner = object.get(name).unwrap_or(&Value::Null);
                        let nested = &field.node.selection_set.node;
                        if nested.items.is_empty() {
                            Answer::Value(inner.clone())
                        } else {
                            project_value(doc, nested, vars, inner, nested_type(name), nested_type)
                        }
                    }
                };
                out.insert(&field.node.response_key().node, answer);
            }
            Answer::Object(out)
        }
        leaf => Answer::Value(leaf.clone()),
    }
}

/// Every field `set` selects, whatever its fragments' type conditions: for results whose
/// type has no variants (mutation results, branches).
pub(crate) fn all_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    vars: &Map<String, Value>,
) -> Vec<&'d Positioned<Field>> {
    let mut out = Vec::new();
    collect_fields(doc, set, vars, &|_| true, &mut out, 0);
    out
}

pub(crate) fn collect_fields<'d>(
    doc: &'d ExecutableDocument,
    set: &'d SelectionSet,
    vars: &Map<String, Value>,
    applies: &dyn Fn(Option<&str>) -> bool,
    out: &mut Vec<&'d Positioned<Field>>,
    depth: usize,
) {
    if depth > 32 {
        return;
    }
    for sel in &set.items {
        if !included(&sel.node, vars) {
            continue;
        }
        match &sel.node {
            Selection::Field(f) => out.push(f),
            Selection::InlineFragment(fr) => {
                let tc = fr
                    .node
                    .type_condition
                    .as_ref()
                    .map(|t| t.node.on.node.as_str());
                if applies(tc) {
                    collect_fields(
                        doc,
                        &fr.node.selection_set.node,
                        vars,
                        applies,
                        out,
                        depth + 1,
                    );
                }
            }
            Selection::FragmentSpread(sp) => {
                if let Some(fd) = doc.fragments.get(&sp.node.fragment_name.node)
                    && applies(Some(fd.node.type_condition.node.on.node.as_str()))
                {
                    collect_fields(
                        doc,
                        &fd.node.selection_set.node,
                        vars,
                        applies,
                        out,
                        depth + 1,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str =
        "query Devices($names: [String]) { NetworkDevice(name__values: $names) { count } }";

    #[test]
    fn a_document_sent_again_is_parsed_once_and_as_parsing_it_gives() {
        let parsed = ParsedDocuments::default();
        let first = parsed.parse(QUERY).unwrap();
        let again = parsed.parse(QUERY).unwrap();
        assert!(Arc::ptr_eq(&first, &again), "kept, not parsed again");
        assert_eq!(
            format!("{:?}", *first),
            format!("{:?}", async_graphql_parser::parse_query(QUERY).unwrap())
        );
    }

    #[test]
    fn a_request_given_its_parsed_document_is_not_parsed_again() {
        let parsed = parse_document(QUERY).expect("parses");
        // A text that does not parse: the document given is what runs.
        let request = GraphqlRequest::new("query {").with_parsed(Arc::clone(&parsed));
        let doc = parse(&request).expect("the given document");
        assert!(Arc::ptr_eq(&doc, &parsed));
        assert!(parse(&GraphqlRequest::new("query {")).is_err());
    }

    #[test]
    fn a_kept_document_is_given_without_parsing_and_nothing_else_is() {
        let parsed = ParsedDocuments::default();
        assert!(
            parsed.get(QUERY).is_none(),
            "nothing is kept before a parse"
        );
        let first = parsed.parse(QUERY).unwrap();
        let kept = parsed.get(QUERY).expect("kept by the parse");
        assert!(Arc::ptr_eq(&first, &kept));
        assert!(parsed.get("{ NetworkDevice {").is_none());
        assert!(parsed.parse("{ NetworkDevice {").is_err());
        assert!(
            parsed.get("{ NetworkDevice {").is_none(),
            "errors are not kept"
        );
        let long = format!("{QUERY}{}", " ".repeat(PARSED_TEXT_MOST));
        parsed.parse(&long).unwrap();
        assert!(
            parsed.get(&long).is_none(),
            "a document over the length is not kept"
        );
    }

    #[test]
    fn kept_documents_stay_few_and_short_and_errors_are_not_kept() {
        let parsed = ParsedDocuments::default();
        let long = format!("{QUERY}{}", " ".repeat(PARSED_TEXT_MOST));
        let (a, b) = (parsed.parse(&long).unwrap(), parsed.parse(&long).unwrap());
        assert!(
            !Arc::ptr_eq(&a, &b),
            "a document over the length is not kept"
        );
        for i in 0..=PARSED_MOST {
            parsed
                .parse(&format!("query Q{i} {{ NetworkDevice {{ count }} }}"))
                .unwrap();
            assert!(parsed.lock().len() <= PARSED_MOST);
        }
        let error = parsed.parse("{ NetworkDevice {").unwrap_err();
        assert_eq!(
            error.to_string(),
            async_graphql_parser::parse_query("{ NetworkDevice {")
                .unwrap_err()
                .to_string()
        );
        assert!(!parsed.lock().contains_key("{ NetworkDevice {"));
    }
}
