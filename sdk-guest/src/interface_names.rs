//! Natural ordering of interface names: a port of netutils'
//! `sort_interface_list` (networktocode/netutils, `netutils/interface.py`).
//!
//! The AI/DC generators pair ports by their position in this order, so a
//! port that orders even one name differently cables a different fabric.
//! The algorithm is therefore reproduced exactly, quirks included:
//!
//! 1. **Tokenize** each name left to right into maximal runs of one class:
//!    *string* (`[a-zA-Z-]`), *integer* (`[0-9]`) or *separator* (`[./]`).
//!    Any other character (space, `_`, `:`, non-ASCII…) makes the name
//!    invalid. A run of several separators (`//`, `./`) is one token.
//! 2. **Insert** the token sequences into a trie whose keys are
//!    *(class, exact text)*, so `01` and `1` are different keys; the node a
//!    name ends on is marked terminal. Duplicate names collapse: the output
//!    is a set.
//! 3. **Order** the children of every trie node with a *stable* sort by
//!    class (string < integer < separator), then within a class: strings by
//!    code point (`"ETH" < "Eth" < "eth"`), integers by numeric value (ties
//!    such as `01`/`1` keep insertion order), separators by weight
//!    (`.` = 10, `/` = 20, any multi-character run = 0, so it sorts first).
//! 4. **Walk** the trie depth first, emitting a terminal node's name before
//!    its descendants (`Gi1/0/2`, `Gi1/0/2.50`, `Gi1/0/3`).
//!
//! Ambiguities resolved (documented here because they change results):
//! - netutils raises `ValueError` when its sort happens to compare an integer
//!   token with a string token at the same level (a list mixing `1` and
//!   `Ethernet1`, depending on input order). This port never fails there:
//!   it orders string before integer, which is what netutils returns in the
//!   input orders that do not raise.
//! - Integers are compared by value without a size limit (leading zeros
//!   stripped, then by length, then by digits), as Python's `int()` does.
//! - An empty name has no token; netutils fails on it (it marks the last
//!   token terminal), so this port reports it as invalid too.
//! - netutils raises on an invalid name. [`try_sort_interface_list`] does the
//!   same (an `invalid-input` error naming the name and the character);
//!   [`sort_interface_list`], which cannot fail, places invalid names after
//!   all valid ones, in code-point order, without duplicates.

use core::cmp::Ordering;

use crate::{Error, Result};

/// Sorts interface names the way netutils does (see the module
/// documentation), removing duplicates.
///
/// Names netutils would reject (containing a character other than ASCII
/// letters, digits, `-`, `.` and `/`, or empty) come last, in code-point
/// order; use [`try_sort_interface_list`] to treat them as an error instead.
///
/// ```
/// use infragen_sdk::sort_interface_list;
/// assert_eq!(
///     sort_interface_list(&["Ethernet10", "Ethernet2", "Ethernet1/1", "Ethernet1"]),
///     ["Ethernet1", "Ethernet1/1", "Ethernet2", "Ethernet10"]
/// );
/// ```
pub fn sort_interface_list(names: &[impl AsRef<str>]) -> Vec<String> {
    let mut trie = Trie::default();
    let mut invalid: Vec<&str> = Vec::new();
    for name in names {
        let name = name.as_ref();
        match tokenize(name) {
            Ok(tokens) => trie.insert(tokens),
            Err(_) => invalid.push(name),
        }
    }
    let mut sorted = trie.into_sorted();
    invalid.sort_unstable();
    invalid.dedup();
    sorted.extend(invalid.into_iter().map(str::to_string));
    sorted
}

/// Sorts interface names the way netutils does, failing like netutils (with
/// `invalid-input`) on the first name it cannot tokenize.
pub fn try_sort_interface_list(names: &[impl AsRef<str>]) -> Result<Vec<String>> {
    let mut trie = Trie::default();
    for name in names {
        let name = name.as_ref();
        trie.insert(tokenize(name).map_err(|reason| {
            Error::invalid_input(format!("interface name {name:?}: {reason}"))
        })?);
    }
    Ok(trie.into_sorted())
}

/// A token's class. The declaration order is the sort order (netutils'
/// weights 10, 20, 30).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Class {
    String,
    Integer,
    Separator,
}

impl Class {
    fn of(c: char) -> Option<Class> {
        match c {
            'a'..='z' | 'A'..='Z' | '-' => Some(Class::String),
            '0'..='9' => Some(Class::Integer),
            '.' | '/' => Some(Class::Separator),
            _ => None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Token<'a> {
    class: Class,
    text: &'a str,
}

impl Token<'_> {
    /// netutils' `__lt__`, as a total order whose ties are exactly the pairs
    /// netutils considers neither less nor greater.
    fn order(&self, other: &Token<'_>) -> Ordering {
        self.class.cmp(&other.class).then_with(|| match self.class {
            Class::String => self.text.cmp(other.text),
            Class::Integer => integer_order(self.text, other.text),
            Class::Separator => separator_weight(self.text).cmp(&separator_weight(other.text)),
        })
    }
}

/// Numeric order of two digit strings of any length.
fn integer_order(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

fn separator_weight(separator: &str) -> u8 {
    match separator {
        "." => 10,
        "/" => 20,
        _ => 0,
    }
}

/// Splits a name into maximal runs of one class; fails on a character of no
/// class and on an empty name.
fn tokenize(name: &str) -> core::result::Result<Vec<Token<'_>>, String> {
    let mut tokens = Vec::new();
    let mut rest = name;
    while let Some(first) = rest.chars().next() {
        let class = Class::of(first).ok_or_else(|| format!("unknown character {first:?}"))?;
        let end = rest
            .char_indices()
            .find(|&(_, c)| Class::of(c) != Some(class))
            .map_or(rest.len(), |(index, _)| index);
        tokens.push(Token {
            class,
            text: &rest[..end],
        });
        rest = &rest[end..];
    }
    if tokens.is_empty() {
        return Err("empty name".to_string());
    }
    Ok(tokens)
}

/// The trie of token sequences. Children stay in insertion order until
/// [`Trie::into_sorted`], because the stable sort's tie order depends on it.
#[derive(Default)]
struct Trie<'a> {
    terminal: bool,
    children: Vec<(Token<'a>, Trie<'a>)>,
}

impl<'a> Trie<'a> {
    fn insert(&mut self, tokens: Vec<Token<'a>>) {
        let mut node = self;
        for token in tokens {
            let index = match node.children.iter().position(|(key, _)| *key == token) {
                Some(index) => index,
                None => {
                    node.children.push((token, Trie::default()));
                    node.children.len() - 1
                }
            };
            node = &mut node.children[index].1;
        }
        node.terminal = true;
    }

    fn into_sorted(mut self) -> Vec<String> {
        let mut names = Vec::new();
        self.walk(&mut String::new(), &mut names);
        names
    }

    fn walk(&mut self, prefix: &mut String, names: &mut Vec<String>) {
        // `sort_by` is stable, like Python's `sorted`.
        self.children.sort_by(|(a, _), (b, _)| a.order(b));
        for (token, child) in &mut self.children {
            let length = prefix.len();
            prefix.push_str(token.text);
            if child.terminal {
                names.push(prefix.clone());
            }
            child.walk(prefix, names);
            prefix.truncate(length);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sorted(names: &[&str]) -> Vec<String> {
        let result = try_sort_interface_list(names).expect("valid names");
        assert_eq!(
            result,
            sort_interface_list(names),
            "both entry points agree"
        );
        result
    }

    fn list(text: &str) -> Vec<&str> {
        text.split(", ").collect()
    }

    // ---- §4.3, from netutils' INTERFACE_SORT tests ----

    #[test]
    fn empty_list_sorts_to_empty() {
        assert!(sorted(&[]).is_empty());
    }

    #[test]
    fn duplicates_collapse() {
        assert_eq!(
            sorted(&["Fa0/0/1.200", "Fa0/0/1.200", "Fa0/0/1.200"]),
            ["Fa0/0/1.200"]
        );
    }

    /// The long INTERFACE_SORT case: 41 distinct names (the test's 43 entries
    /// include duplicates), fed in several orders. None of them has integer
    /// ties, so the input order must not matter.
    #[test]
    fn long_netutils_case_in_any_input_order() {
        let expected = list(
            "Fa0/0/1, Fa0/0/1.4, Fa0/0/1.10, Fa0/0/1.100, Fa0/0/1.101, Fa0/0/1.500, Fa0/0/1.999, \
             Fa0/0/2, Fa0/0/2.200, Fa1, Fa1.42, Fa1/0.100, Fa1/0/1.100, Fa1/42, Fa42, \
             Gi0/0/1, Gi0/0/2, Gi0/1, Gi1/0/1, Gi1/0/2, Gi1/0/2.50, Gi1/0/3, Gi1/0/3.100, Gi1/1, Gi/42, \
             Lo10, Loopback98, Loopback99, Loopback101, Loopback102, \
             Po40, Po160, Port-channel40, Port-channel75, Port-channel160, \
             Te1/0/1, Te/42, Tw1/0/1, Vlan42, Zf.42, loopback99",
        );
        assert_eq!(expected.len(), 41);

        let mut reversed = expected.clone();
        reversed.reverse();
        // A deterministic shuffle plus two duplicates: 43 entries.
        let mut shuffled: Vec<&str> = (0..expected.len())
            .map(|i| expected[(i * 17 + 5) % expected.len()])
            .collect();
        shuffled.extend(["Gi1/0/2.50", "Fa42"]);
        assert_eq!(shuffled.len(), 43);
        let mut by_text = expected.clone();
        by_text.sort_unstable();

        for input in [&expected, &reversed, &shuffled, &by_text] {
            assert_eq!(sorted(input), expected, "input {input:?}");
        }
    }

    #[test]
    fn docstring_example() {
        assert_eq!(
            sorted(&[
                "Gi1/0/1",
                "Gi1/0/3",
                "Gi1/0/3.100",
                "Gi1/0/2",
                "Gi1/0/2.50",
                "Gi2/0/2",
                "Po40",
                "Po160",
                "Lo10"
            ]),
            [
                "Gi1/0/1",
                "Gi1/0/2",
                "Gi1/0/2.50",
                "Gi1/0/3",
                "Gi1/0/3.100",
                "Gi2/0/2",
                "Lo10",
                "Po40",
                "Po160"
            ]
        );
    }

    // ---- §4.3, from runs of the real code ----

    #[test]
    fn integers_sort_by_value() {
        assert_eq!(
            sorted(&[
                "Ethernet10",
                "Ethernet2",
                "Ethernet1",
                "Ethernet32",
                "Ethernet28"
            ]),
            [
                "Ethernet1",
                "Ethernet2",
                "Ethernet10",
                "Ethernet28",
                "Ethernet32"
            ]
        );
    }

    #[test]
    fn nested_integers_sort_by_value() {
        assert_eq!(
            sorted(&[
                "Ethernet1/1/10",
                "Ethernet1/1/2",
                "Ethernet1/1/1",
                "Ethernet1/1/16"
            ]),
            [
                "Ethernet1/1/1",
                "Ethernet1/1/2",
                "Ethernet1/1/10",
                "Ethernet1/1/16"
            ]
        );
    }

    #[test]
    fn strings_sort_before_their_suffixes() {
        assert_eq!(
            sorted(&["Loopback0", "Ethernet1", "Ethernet2"]),
            ["Ethernet1", "Ethernet2", "Loopback0"]
        );
    }

    #[test]
    fn terminal_then_string_then_dot_then_slash() {
        assert_eq!(
            sorted(&["Ethernet1/1", "Ethernet1a", "Ethernet1", "Ethernet1.100"]),
            ["Ethernet1", "Ethernet1a", "Ethernet1.100", "Ethernet1/1"]
        );
    }

    #[test]
    fn equal_integer_values_keep_input_order() {
        assert_eq!(sorted(&["Eth01", "Eth1"]), ["Eth01", "Eth1"]);
        assert_eq!(sorted(&["Eth1", "Eth01"]), ["Eth1", "Eth01"]);
    }

    #[test]
    fn strings_sort_by_code_point_so_uppercase_first() {
        assert_eq!(sorted(&["Eth1", "eth1", "ETH1"]), ["ETH1", "Eth1", "eth1"]);
    }

    #[test]
    fn integer_before_separator() {
        assert_eq!(sorted(&["Zf.42", "Zf1"]), ["Zf1", "Zf.42"]);
        assert_eq!(sorted(&["Gi/42", "Gi1/1"]), ["Gi1/1", "Gi/42"]);
    }

    #[test]
    fn hyphen_is_part_of_a_string() {
        assert_eq!(
            sorted(&["et-0/0/10", "et-0/0/2", "xe-0/0/1"]),
            ["et-0/0/2", "et-0/0/10", "xe-0/0/1"]
        );
    }

    #[test]
    fn multi_character_separators_weigh_zero() {
        assert_eq!(
            sorted(&["Ethernet1//2", "Ethernet1./2", "Ethernet1/2"]),
            ["Ethernet1//2", "Ethernet1./2", "Ethernet1/2"]
        );
        // Equal weights keep input order.
        assert_eq!(
            sorted(&["Ethernet1/2", "Ethernet1./2", "Ethernet1//2"]),
            ["Ethernet1./2", "Ethernet1//2", "Ethernet1/2"]
        );
    }

    // ---- §4.1 tokenizer ----

    #[test]
    fn tokenizer_examples() {
        let texts = |name| -> Vec<(Class, &str)> {
            tokenize(name)
                .unwrap()
                .into_iter()
                .map(|t| (t.class, t.text))
                .collect()
        };
        use Class::*;
        assert_eq!(
            texts("Fa0/0/1.200"),
            [
                (String, "Fa"),
                (Integer, "0"),
                (Separator, "/"),
                (Integer, "0"),
                (Separator, "/"),
                (Integer, "1"),
                (Separator, "."),
                (Integer, "200")
            ]
        );
        assert_eq!(
            texts("Port-channel40"),
            [(String, "Port-channel"), (Integer, "40")]
        );
        assert_eq!(
            texts("Te/42"),
            [(String, "Te"), (Separator, "/"), (Integer, "42")]
        );
        assert_eq!(
            texts("Ethernet1./2"),
            [
                (String, "Ethernet"),
                (Integer, "1"),
                (Separator, "./"),
                (Integer, "2")
            ]
        );
    }

    #[test]
    fn netutils_bad_interface_names_are_refused() {
        for (name, character) in [
            ("fa?", '?'),
            ("Gi1^", '^'),
            ("Fa0/0*/42", '*'),
            ("Te42/55.32/77@99", '@'),
            ("Ethernet 1", ' '),
            ("Eth_1", '_'),
            ("Gi1:1", ':'),
            ("Éth1", 'É'),
        ] {
            let error = try_sort_interface_list(&["Ethernet1", name]).unwrap_err();
            assert_eq!(error.kind, crate::ErrorKind::InvalidInput);
            assert_eq!(
                error.message,
                format!("interface name {name:?}: unknown character {character:?}")
            );
        }
        let error = try_sort_interface_list(&[""]).unwrap_err();
        assert_eq!(error.message, "interface name \"\": empty name");
    }

    #[test]
    fn infallible_sort_puts_invalid_names_last() {
        assert_eq!(
            sort_interface_list(&["Gi1^", "Ethernet2", "fa?", "", "Ethernet1", "fa?"]),
            ["Ethernet1", "Ethernet2", "", "Gi1^", "fa?"]
        );
    }

    // ---- ambiguities resolved by this port ----

    #[test]
    fn string_before_integer_in_either_input_order() {
        // netutils returns this for ["1", "Ethernet1"] and raises ValueError
        // for ["Ethernet1", "1"]; the port returns it for both.
        assert_eq!(sorted(&["1", "Ethernet1"]), ["Ethernet1", "1"]);
        assert_eq!(sorted(&["Ethernet1", "1"]), ["Ethernet1", "1"]);
    }

    #[test]
    fn integers_beyond_u128_compare_by_value() {
        let huge = "Eth100000000000000000000000000000000000000000";
        let less = "Eth99999999999999999999999999999999999999999";
        assert_eq!(sorted(&[huge, less]), [less, huge]);
        assert_eq!(sorted(&["Eth0010", "Eth9"]), ["Eth9", "Eth0010"]);
        assert_eq!(
            sorted(&["Eth000", "Eth0"]),
            ["Eth000", "Eth0"],
            "equal values: input order"
        );
    }

    #[test]
    fn accepts_owned_strings() {
        let names = vec!["Ethernet2".to_string(), "Ethernet1".to_string()];
        assert_eq!(sort_interface_list(&names), ["Ethernet1", "Ethernet2"]);
    }
}
