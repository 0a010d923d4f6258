//! Computed attributes (`computed_attribute: {kind: Jinja2, jinja2_template: …}`): what
//! Infrahub renders into an attribute from the node's own values and those of its
//! cardinality-one peers, such as an interface's zero-padded `index` from its name.
//!
//! A template's variables are paths (`name__value`, `device__hostname__value`), checked
//! when the schema loads ([`variables`]). The store renders every Jinja2 attribute of a
//! node when the node is written (created, updated, upserted, loaded from an object file),
//! and, in the same transaction, the attributes of the nodes that read a changed value:
//! through a peer whose values changed, a relationship changed from the other side, or a
//! profile whose values changed (`engine::write::render_readers`).
//!
//! The template language is Infrahub's (Jinja2, undefined variables an error). Filters are
//! minijinja's built-ins, which follow Jinja2's, with the ones Infrahub's computed
//! attributes use most made to behave as Python's do: `format` (`"%03d" | format(7)`),
//! `int` (what Python cannot read as a number is the default, 0), `replace` with a count,
//! and netutils' `split_interface`. A template that fails to render (a filter infragen does
//! not have, a variable with no value) leaves the attribute empty, with a warning naming
//! the node, the attribute and the reason.

use minijinja::value::{Kwargs, Rest};
use minijinja::{Environment, Error, ErrorKind, UndefinedBehavior, Value};
use std::collections::{BTreeSet, HashMap};
use std::sync::{LazyLock, Mutex};

/// The most compiled templates kept at once.
const MOST_TEMPLATES: usize = 1024;

/// The most rendered values kept at once (see [`Templates::rendered`]).
const MOST_RENDERED: usize = 4096;

/// The environment every computed attribute renders in, with each template compiled once
/// and kept under its own text, beside the variables it reads.
static TEMPLATES: LazyLock<Mutex<Templates>> = LazyLock::new(|| {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.add_filter("format", python_format);
    env.add_filter("int", python_int);
    env.add_filter("replace", python_replace);
    env.add_filter("split_interface", split_interface);
    Mutex::new(Templates {
        env,
        variables: HashMap::new(),
        rendered: HashMap::new(),
    })
});

/// The compiled templates and, by template, the variables each reads.
struct Templates {
    env: Environment<'static>,
    variables: HashMap<String, Vec<String>>,
    /// What a template rendered to (or why it did not), by the template and its inputs
    /// ([`render_key`]): rendering is a pure function of them, and the same inputs recur
    /// (every device has an `Ethernet1`, whose `index` is `001`), so most renders of a
    /// build are a lookup instead of a run of the template (~16,000 instructions).
    rendered: HashMap<String, Result<String, String>>,
}

impl Templates {
    /// The variables of `template`, compiling it the first time.
    fn variables(&mut self, template: &str) -> Result<&[String], Error> {
        if !self.variables.contains_key(template) {
            // Templates come with schemas; a server loading many schemas in turn compiles
            // the templates it still uses again rather than keeping every one it saw.
            if self.variables.len() >= MOST_TEMPLATES {
                self.env.clear_templates();
                self.variables.clear();
                self.rendered.clear();
            }
            self.env
                .add_template_owned(template.to_owned(), template.to_owned())?;
            let names = self
                .env
                .get_template(template)?
                .undeclared_variables(false)
                .into_iter()
                .collect::<BTreeSet<String>>();
            self.variables
                .insert(template.to_owned(), names.into_iter().collect());
        }
        Ok(self.variables.get(template).map_or(&[], Vec::as_slice))
    }
}

/// Why a template cannot be used or rendered: minijinja's own words.
fn explain(error: &Error) -> String {
    let mut text = error.to_string();
    // minijinja names the template it was given, which is the template's text here.
    if let Some(at) = text.find(" (in ") {
        text.truncate(at);
    }
    text
}

/// The variables `template` reads (`name__value`, …), in order, or why it does not
/// compile.
pub(crate) fn variables(template: &str) -> Result<Vec<String>, String> {
    let mut templates = TEMPLATES.lock().unwrap_or_else(|e| e.into_inner());
    templates
        .variables(template)
        .map(<[String]>::to_vec)
        .map_err(|e| explain(&e))
}

/// `template` rendered with its `variables` (as [`variables`] found them) given by
/// `value_of` (JSON; `null` is Jinja2's `None`), or why it failed.
pub(crate) fn render(
    template: &str,
    variables: &[String],
    value_of: impl Fn(&str) -> serde_json::Value,
) -> Result<String, String> {
    let inputs: Vec<serde_json::Value> = variables.iter().map(|name| value_of(name)).collect();
    let key = render_key(template, &inputs);
    let mut templates = TEMPLATES.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(known) = templates.rendered.get(&key) {
        return known.clone();
    }
    templates.variables(template).map_err(|e| explain(&e))?;
    let context: Value = variables
        .iter()
        .map(String::as_str)
        .zip(inputs.into_iter().map(value_from_json))
        .collect();
    let rendered = templates
        .env
        .get_template(template)
        .and_then(|t| t.render(context))
        .map_err(|e| explain(&e));
    if templates.rendered.len() >= MOST_RENDERED {
        templates.rendered.clear();
    }
    templates.rendered.insert(key, rendered.clone());
    rendered
}

/// The key of `template` rendered with `inputs`: the template's length and text, then each
/// input's JSON text after a unit separator, which JSON text never holds unescaped (so no
/// two templates and inputs share a key).
fn render_key(template: &str, inputs: &[serde_json::Value]) -> String {
    use std::fmt::Write as _;
    let mut key = format!("{}:{template}", template.len());
    for input in inputs {
        // Writing into a String cannot fail.
        let _ = write!(key, "\u{1f}{input}");
    }
    key
}

/// A stored value as a template value: texts, numbers and booleans directly, the rest
/// through serde.
fn value_from_json(value: serde_json::Value) -> Value {
    match value {
        serde_json::Value::Null => Value::from(()),
        serde_json::Value::Bool(b) => Value::from(b),
        serde_json::Value::String(s) => Value::from(s),
        serde_json::Value::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::from(i),
            (None, Some(f)) => Value::from(f),
            _ => Value::from_serialize(&n),
        },
        other => Value::from_serialize(&other),
    }
}

/// Jinja2's `format`: Python's `%` formatting (`"%03d" | format(7)` is `007`).
fn python_format(format: String, args: Rest<Value>) -> Result<String, Error> {
    let mut out = String::new();
    let mut args = args.0.into_iter();
    let mut chars = format.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        if chars.peek() == Some(&'%') {
            chars.next();
            out.push('%');
            continue;
        }
        let mut flags = String::new();
        while let Some(&f) = chars.peek().filter(|f| "-+ 0#".contains(**f)) {
            flags.push(f);
            chars.next();
        }
        let width = digits(&mut chars);
        let precision = if chars.peek() == Some(&'.') {
            chars.next();
            Some(digits(&mut chars).unwrap_or(0))
        } else {
            None
        };
        let conversion = chars
            .next()
            .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "incomplete format"))?;
        let arg = args.next().ok_or_else(|| {
            Error::new(
                ErrorKind::InvalidOperation,
                "not enough arguments for format string",
            )
        })?;
        let body = match conversion {
            'd' | 'i' | 'u' => {
                let n = integer_of(&arg, conversion)?;
                signed(n.to_string(), n < 0, &flags)
            }
            'x' | 'X' | 'o' => {
                let n = integer_of(&arg, conversion)?;
                let magnitude = n.unsigned_abs();
                let text = match conversion {
                    'x' => format!("{magnitude:x}"),
                    'X' => format!("{magnitude:X}"),
                    _ => format!("{magnitude:o}"),
                };
                signed(text, n < 0, &flags)
            }
            'f' | 'F' => {
                let x = f64::try_from(arg.clone()).map_err(|_| {
                    Error::new(
                        ErrorKind::InvalidOperation,
                        format!("%{conversion} format: a real number is required, not {arg}"),
                    )
                })?;
                signed(
                    format!("{:.*}", precision.unwrap_or(6), x.abs()),
                    x < 0.0,
                    &flags,
                )
            }
            's' | 'r' => {
                let text = arg.to_string();
                match precision {
                    Some(p) => text.chars().take(p).collect(),
                    None => text,
                }
            }
            other => {
                return Err(Error::new(
                    ErrorKind::InvalidOperation,
                    format!("unsupported format character '{other}'"),
                ));
            }
        };
        out.push_str(&pad(body, width.unwrap_or(0), &flags, conversion != 's'));
    }
    if args.next().is_some() {
        return Err(Error::new(
            ErrorKind::InvalidOperation,
            "not all arguments converted during string formatting",
        ));
    }
    Ok(out)
}

/// The digits at the front of `chars`, as a number.
fn digits(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<usize> {
    let mut n: Option<usize> = None;
    while let Some(d) = chars.peek().and_then(|c| c.to_digit(10)) {
        chars.next();
        n = Some(n.unwrap_or(0).saturating_mul(10).saturating_add(d as usize));
    }
    n
}

/// What `%d` and its kin accept: an integer, or a real number (truncated) — as Python.
fn integer_of(arg: &Value, conversion: char) -> Result<i64, Error> {
    if let Ok(n) = i64::try_from(arg.clone()) {
        return Ok(n);
    }
    match f64::try_from(arg.clone()) {
        Ok(x) if x.is_finite() => Ok(x.trunc() as i64),
        _ => Err(Error::new(
            ErrorKind::InvalidOperation,
            format!("%{conversion} format: a real number is required, not {arg}"),
        )),
    }
}

/// `magnitude` with its sign as `flags` ask (`+`, ` `).
fn signed(magnitude: String, negative: bool, flags: &str) -> String {
    let magnitude = magnitude.trim_start_matches('-').to_owned();
    if negative {
        format!("-{magnitude}")
    } else if flags.contains('+') {
        format!("+{magnitude}")
    } else if flags.contains(' ') {
        format!(" {magnitude}")
    } else {
        magnitude
    }
}

/// `body` padded to `width`: left-aligned with `-`, with zeros after the sign with `0`
/// (numbers only), else with spaces in front.
fn pad(body: String, width: usize, flags: &str, numeric: bool) -> String {
    let len = body.chars().count();
    if len >= width {
        return body;
    }
    let fill = width - len;
    if flags.contains('-') {
        format!("{body}{}", " ".repeat(fill))
    } else if flags.contains('0') && numeric {
        let sign_len = usize::from(body.starts_with(['-', '+', ' ']));
        let (sign, digits) = body.split_at(sign_len);
        format!("{sign}{}{digits}", "0".repeat(fill))
    } else {
        format!("{}{body}", " ".repeat(fill))
    }
}

/// Jinja2's `int`: a number's integer part, a text's number (in `base`, default 10, or as
/// a real number), and `default` (0) for anything else.
fn python_int(value: Value, default: Option<Value>, kwargs: Kwargs) -> Result<Value, Error> {
    let default = match default {
        Some(d) => d,
        None => kwargs
            .get::<Option<Value>>("default")?
            .unwrap_or(Value::from(0)),
    };
    let base: u32 = kwargs.get::<Option<u32>>("base")?.unwrap_or(10);
    kwargs.assert_all_used()?;
    if let Some(text) = value.as_str() {
        let text = text.trim().replace('_', "");
        let (negative, digits) = match text.strip_prefix('-') {
            Some(rest) => (true, rest.to_owned()),
            None => (false, text.trim_start_matches('+').to_owned()),
        };
        if let Ok(n) = i64::from_str_radix(&digits, base) {
            return Ok(Value::from(if negative { -n } else { n }));
        }
        return Ok(match text.parse::<f64>() {
            Ok(x) if x.is_finite() => Value::from(x.trunc() as i64),
            _ => default,
        });
    }
    if value.is_none() || value.is_undefined() {
        return Ok(default);
    }
    if let Ok(n) = i64::try_from(value.clone()) {
        return Ok(Value::from(n));
    }
    Ok(match f64::try_from(value) {
        Ok(x) if x.is_finite() => Value::from(x.trunc() as i64),
        _ => default,
    })
}

/// Jinja2's `replace`: every occurrence of `old`, or the first `count`.
fn python_replace(text: String, old: String, new: String, count: Option<i64>) -> String {
    match count {
        Some(n) if n >= 0 => text.replacen(&old, &new, usize::try_from(n).unwrap_or(usize::MAX)),
        _ => text.replace(&old, &new),
    }
}

/// netutils' `split_interface`: an interface name's type and its number
/// (`Ethernet1/1` → `["Ethernet", "1/1"]`).
fn split_interface(interface: String) -> Value {
    let head = interface.trim_end_matches(|c: char| c.is_ascii_digit() || "/\\. ".contains(c));
    let tail = interface[head.len()..].trim_start();
    Value::from(vec![head.to_owned(), tail.to_owned()])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rendered(template: &str, values: &[(&str, serde_json::Value)]) -> Result<String, String> {
        let names = variables(template)?;
        render(template, &names, |name| {
            values
                .iter()
                .find(|(n, _)| *n == name)
                .map_or(serde_json::Value::Null, |(_, v)| v.clone())
        })
    }

    /// The interface index of Infrahub's AI/DC schema, for the names its templates make:
    /// `Ethernet1/1`'s number is not an integer, which Jinja2's `int` makes 0.
    #[test]
    fn an_interface_index_is_its_number_zero_padded_as_jinja2_renders_it() {
        let index = r#"{{ "%03d"| format(name__value | split_interface | last | int) }}"#;
        for (name, expected) in [
            ("Ethernet1", "001"),
            ("Ethernet32", "032"),
            ("Loopback0", "000"),
            ("Ethernet1/1", "000"),
            ("swp1000", "1000"),
        ] {
            assert_eq!(
                rendered(index, &[("name__value", json!(name))]).as_deref(),
                Ok(expected),
                "{name}"
            );
        }
        assert_eq!(variables(index).unwrap(), ["name__value"]);
    }

    #[test]
    fn python_formatting_pads_signs_and_converts_as_python_does() {
        let cases = [
            ("%d", json!(7), "7"),
            ("%05d", json!(-42), "-0042"),
            ("%+d", json!(3), "+3"),
            ("%-4d|", json!(3), "3   |"),
            ("%x-%X-%o", json!(255), ""),
            ("%.2f", json!(2.5), "2.50"),
            ("%6.1f", json!(-1.25), "  -1.2"),
            ("%s!", json!("up"), "up!"),
            ("%.3s", json!("abcdef"), "abc"),
            ("100%%", json!(null), ""),
        ];
        for (format, arg, expected) in cases {
            let template = if format == "%x-%X-%o" {
                "{{ '%x-%X-%o' | format(v, v, v) }}".to_owned()
            } else if format == "100%%" {
                "{{ '100%%' | format() }}".to_owned()
            } else {
                format!("{{{{ '{format}' | format(v) }}}}")
            };
            let expected = match format {
                "%x-%X-%o" => "ff-FF-377",
                "100%%" => "100%",
                _ => expected,
            };
            assert_eq!(
                rendered(&template, &[("v", arg)]).as_deref(),
                Ok(expected),
                "{template}"
            );
        }
        assert_eq!(
            rendered("{{ '%d %d' | format(v) }}", &[("v", json!(1))]),
            Err("invalid operation: not enough arguments for format string".to_owned())
        );
        assert_eq!(
            rendered("{{ '%d' | format(v) }}", &[("v", json!("x"))]),
            Err("invalid operation: %d format: a real number is required, not x".to_owned())
        );
    }

    #[test]
    fn int_replace_and_undefined_variables_behave_as_in_jinja2() {
        let cases = [
            ("{{ v | int }}", json!("12"), "12"),
            ("{{ v | int }}", json!(" -3 "), "-3"),
            ("{{ v | int }}", json!("2.9"), "2"),
            ("{{ v | int }}", json!("1/1"), "0"),
            ("{{ v | int(7) }}", json!("x"), "7"),
            ("{{ v | int(base=16) }}", json!("ff"), "255"),
            ("{{ v | int }}", json!(4.7), "4"),
            ("{{ v | int }}", json!(null), "0"),
            (
                r#"{{ v | replace("server-", "", 1) }}"#,
                json!("server-a-server-b"),
                "a-server-b",
            ),
            (r#"{{ v | replace("-", "_") }}"#, json!("a-b-c"), "a_b_c"),
        ];
        for (template, value, expected) in cases {
            assert_eq!(
                rendered(template, &[("v", value.clone())]).as_deref(),
                Ok(expected),
                "{template} of {value}"
            );
        }
        assert_eq!(
            rendered("{{ missing__value }}", &[]).as_deref(),
            Ok("None"),
            "a variable without a value is None"
        );
        assert_eq!(
            rendered("{{ v | no_such_filter }}", &[("v", json!(1))]),
            Err("unknown filter: filter no_such_filter is unknown".to_owned())
        );
        assert_eq!(
            variables("{{ broken").unwrap_err(),
            "syntax error: unexpected end of input, expected end of variable block"
        );
    }

    /// A value is kept by its template and every input: renders with other inputs, or the
    /// same inputs split another way, are not answered with it; and however many inputs
    /// come, at most [`MOST_RENDERED`] values stay kept.
    #[test]
    fn rendered_values_are_kept_by_template_and_inputs_and_bounded() {
        let pair = "{{ a }}/{{ b }}";
        let split = |a: &str, b: &str| rendered(pair, &[("a", json!(a)), ("b", json!(b))]);
        assert_eq!(split("1", "23").as_deref(), Ok("1/23"));
        assert_eq!(split("12", "3").as_deref(), Ok("12/3"));
        assert_eq!(split("1", "23").as_deref(), Ok("1/23"));
        assert_ne!(
            render_key("{{ a }}", &[json!("\u{1f}x")]),
            render_key("{{ a }}\u{1f}\"", &[json!("x")]),
        );
        let counter = "{{ n }}!";
        for n in 0..(MOST_RENDERED + 10) {
            assert_eq!(rendered(counter, &[("n", json!(n))]), Ok(format!("{n}!")));
            let kept = TEMPLATES.lock().map(|t| t.rendered.len()).unwrap_or(0);
            assert!(kept <= MOST_RENDERED, "{kept} rendered values kept");
        }
        assert_eq!(rendered(counter, &[("n", json!(0))]).as_deref(), Ok("0!"));
    }

    /// However many templates come and go, at most [`MOST_TEMPLATES`] stay compiled, and
    /// one dropped renders again when asked for.
    #[test]
    fn the_compiled_templates_are_bounded_and_one_dropped_is_compiled_again() {
        let first = "{{ v }}-first";
        assert_eq!(
            rendered(first, &[("v", json!(1))]).as_deref(),
            Ok("1-first")
        );
        for n in 0..(MOST_TEMPLATES + 10) {
            let template = format!("{{{{ v }}}}-{n}");
            assert_eq!(
                rendered(&template, &[("v", json!(2))]),
                Ok(format!("2-{n}"))
            );
            let (held, kept) = TEMPLATES
                .lock()
                .map(|t| (t.variables.len(), t.rendered.len()))
                .unwrap_or_default();
            assert!(held <= MOST_TEMPLATES, "{held} held");
            assert!(kept <= MOST_RENDERED, "{kept} rendered values kept");
        }
        assert_eq!(
            rendered(first, &[("v", json!(3))]).as_deref(),
            Ok("3-first")
        );
    }
}
