//! Why a run was started: the generator, the branch, the target and its
//! parameters.

use serde_json::{Map, Value};

use crate::bindings::infragen::generator::types::RunContext;
use crate::{Error, Result, Target};

/// Everything a run knows about why it was started, with the parameters
/// already parsed.
///
/// The host sends the parameters as JSON text; parsing them once here means a
/// generator reads `ctx.param_str("fabric_name")?` instead of handling JSON.
#[derive(Clone, Debug, PartialEq)]
pub struct Context {
    /// Name of the generator definition in `.infrahub.yml`.
    pub generator: String,
    /// The branch every read and write of this run goes to (informational: the
    /// host pins it, a plugin cannot reach another branch).
    pub branch: String,
    /// The design object this run generates from.
    pub target: Target,
    /// The definition's parameters extracted from the target, e.g.
    /// `{"fabric_name": "Fabric-A"}`.
    pub params: Map<String, Value>,
}

impl Context {
    /// Parses the context the host passes to `generate`. Fails with
    /// `invalid-input` when `params` is not a JSON object.
    pub fn from_run_context(ctx: RunContext) -> Result<Context> {
        let params = match serde_json::from_str::<Value>(&ctx.params) {
            Ok(Value::Object(params)) => params,
            Ok(other) => {
                return Err(Error::invalid_input(format!(
                    "run context params must be a JSON object, got {other}"
                )));
            }
            Err(error) => {
                return Err(Error::invalid_input(format!(
                    "run context params are not valid JSON: {error}"
                )));
            }
        };
        Ok(Context {
            generator: ctx.generator,
            branch: ctx.branch,
            target: ctx.target,
            params,
        })
    }

    /// The parameter `name`, if the definition declares it.
    pub fn param(&self, name: &str) -> Option<&Value> {
        self.params.get(name)
    }

    /// The string parameter `name`. Fails with `invalid-input` naming the
    /// parameter, the generator and the target when it is missing or not a
    /// string: the usual cause is a `.infrahub.yml` definition whose
    /// `parameters` do not match what the plugin expects.
    pub fn param_str(&self, name: &str) -> Result<&str> {
        match self.params.get(name) {
            Some(Value::String(value)) => Ok(value),
            Some(other) => Err(Error::invalid_input(format!(
                "parameter '{name}' of generator '{}' (target '{}') must be a string, got {other}",
                self.generator, self.target.display_label
            ))),
            None => {
                let given: Vec<&str> = self.params.keys().map(String::as_str).collect();
                Err(Error::invalid_input(format!(
                    "parameter '{name}' is missing for generator '{}' (target '{}'); parameters given: [{}]",
                    self.generator,
                    self.target.display_label,
                    given.join(", ")
                )))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;

    fn run_context(params: &str) -> RunContext {
        RunContext {
            generator: "generate-fabric".into(),
            branch: "b1".into(),
            target: Target {
                id: "18a1c3b2-0000-4000-8000-000000000001".into(),
                kind: "DesignFabric".into(),
                display_label: "Fabric-A".into(),
            },
            params: params.into(),
        }
    }

    #[test]
    fn params_are_parsed_into_a_map() {
        let ctx =
            Context::from_run_context(run_context(r#"{"fabric_name":"Fabric-A","n":2}"#)).unwrap();
        assert_eq!(ctx.generator, "generate-fabric");
        assert_eq!(ctx.branch, "b1");
        assert_eq!(ctx.target.display_label, "Fabric-A");
        assert_eq!(ctx.param_str("fabric_name").unwrap(), "Fabric-A");
        assert_eq!(ctx.param("n"), Some(&Value::from(2)));
    }

    #[test]
    fn missing_param_names_the_parameter_the_generator_and_what_was_given() {
        let ctx = Context::from_run_context(run_context(r#"{"pod_name":"Pod-A1"}"#)).unwrap();
        let error = ctx.param_str("fabric_name").unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert_eq!(
            error.message,
            "parameter 'fabric_name' is missing for generator 'generate-fabric' \
             (target 'Fabric-A'); parameters given: [pod_name]"
        );
    }

    #[test]
    fn non_string_param_is_refused() {
        let ctx = Context::from_run_context(run_context(r#"{"fabric_name":7}"#)).unwrap();
        let error = ctx.param_str("fabric_name").unwrap_err();
        assert_eq!(error.kind, ErrorKind::InvalidInput);
        assert!(
            error.message.contains("must be a string, got 7"),
            "{}",
            error.message
        );
    }

    #[test]
    fn params_that_are_not_an_object_are_invalid_input() {
        for params in ["[]", "\"x\"", "{oops"] {
            let error = Context::from_run_context(run_context(params)).unwrap_err();
            assert_eq!(error.kind, ErrorKind::InvalidInput, "{params}");
        }
    }
}
