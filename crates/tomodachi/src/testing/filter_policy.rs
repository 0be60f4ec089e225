//! AWS SNS subscription filter policies, evaluated in memory.
//!
//! A [`FilterPolicy`] is parsed (and validated the way SNS validates it at `Subscribe` /
//! `SetSubscriptionAttributes`) from the policy JSON plus its [`FilterPolicyScope`], and
//! then decides whether a published message is delivered to the subscription:
//! [`FilterPolicy::matches_attributes`] for the default `MessageAttributes` scope and
//! [`FilterPolicy::matches_body`] for the `MessageBody` (payload-based) scope.
//!
//! Supported, with AWS semantics
//! (<https://docs.aws.amazon.com/sns/latest/dg/sns-message-filtering.html>):
//!
//! * AND across the keys of a policy, OR within the value list of a key;
//! * exact string, number (`5`, or `{"numeric": ["=", 5]}`), `true`/`false` and (body
//!   scope) `null` matching;
//! * `prefix`, `suffix`, `equals-ignore-case`;
//! * `anything-but` with a single value, a list of strings and/or numbers, or
//!   `{"prefix": ...}`; an array value matches when it contains a non-excluded value;
//! * numeric ranges (`<`, `<=`, `>`, `>=`, `=`, and a lower plus an upper bound such as
//!   `[">", 0, "<=", 150]`);
//! * `exists: true` / `exists: false`;
//! * `$or` at the top level and nested (an array of at least two objects whose keys are
//!   not match keywords; otherwise `$or` is an ordinary key);
//! * `String.Array` attributes and array body properties (any element may match);
//!   `Binary` attributes are ignored (they count as absent);
//! * nested keys in the body scope address nested objects of the JSON body; an array of
//!   objects matches when any element matches.
//!
//! Validation follows what moto (the AWS emulator the project tests against) and AWS
//! return, with the same error texts ([`FilterPolicyError`]'s `Display`): at most 5
//! top-level keys, at most 150 value combinations (values per array multiplied, times the
//! nesting depth of the array, `$or` branches added up), no nesting in the attributes
//! scope, well-formed `numeric` expressions (bottom below top), `exists` booleans, string
//! patterns, no empty value arrays and no unknown match keywords.
//!
//! Behaviour is pinned by `tests/data/sns_filter_policy_table.json`, recorded against a
//! real moto server by `scripts/kit-tables/moto_filter_policy_table.py`; rows where moto
//! contradicts the AWS documentation are marked there and asserted against AWS's
//! documented behaviour instead.

use std::collections::BTreeMap;
use std::fmt;

use serde_json::{Map, Value};

/// Which part of a published message a filter policy applies to (the subscription's
/// `FilterPolicyScope` attribute).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum FilterPolicyScope {
    /// Attribute-based filtering on the message attributes (the SNS default).
    #[default]
    MessageAttributes,
    /// Payload-based filtering on the JSON message body.
    MessageBody,
}

impl FilterPolicyScope {
    /// The scope's name as SNS spells it (`"MessageAttributes"` / `"MessageBody"`).
    pub fn as_str(self) -> &'static str {
        match self {
            FilterPolicyScope::MessageAttributes => "MessageAttributes",
            FilterPolicyScope::MessageBody => "MessageBody",
        }
    }

    /// Parses an SNS `FilterPolicyScope` attribute value; `None` for unknown names.
    pub fn from_name(name: &str) -> Option<FilterPolicyScope> {
        match name {
            "MessageAttributes" => Some(FilterPolicyScope::MessageAttributes),
            "MessageBody" => Some(FilterPolicyScope::MessageBody),
            _ => None,
        }
    }
}

/// One SNS message attribute, as published (`DataType` and `StringValue`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// `String`, `Number`, `String.Array` or `Binary` (a custom suffix such as
    /// `String.uuid` is allowed after the base type, as in SNS).
    pub data_type: String,
    /// The value as text: the string, the number's text, the JSON array text of a
    /// `String.Array`, or (for `Binary`) any text; binary attributes never match.
    pub value: String,
}

impl MessageAttribute {
    /// A `String` attribute.
    pub fn string(value: impl Into<String>) -> MessageAttribute {
        MessageAttribute {
            data_type: "String".to_owned(),
            value: value.into(),
        }
    }

    /// A `Number` attribute (its text, e.g. `"301.5"` or `"3.015e2"`).
    pub fn number(value: impl Into<String>) -> MessageAttribute {
        MessageAttribute {
            data_type: "Number".to_owned(),
            value: value.into(),
        }
    }

    /// A `String.Array` attribute from its JSON array text, e.g. `["a", 1, true]`.
    pub fn string_array(json_array_text: impl Into<String>) -> MessageAttribute {
        MessageAttribute {
            data_type: "String.Array".to_owned(),
            value: json_array_text.into(),
        }
    }

    /// A `Binary` attribute (ignored by filter policies).
    pub fn binary(value: impl Into<String>) -> MessageAttribute {
        MessageAttribute {
            data_type: "Binary".to_owned(),
            value: value.into(),
        }
    }

    /// The base data type: the part of `data_type` before any custom `.suffix`, with
    /// `String.Array` kept whole.
    fn base_type(&self) -> &str {
        if self.data_type == "String.Array" {
            "String.Array"
        } else {
            self.data_type.split('.').next().unwrap_or("")
        }
    }
}

/// The attributes of a published message, by name.
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

/// A filter policy SNS would reject; `Display` gives the `InvalidParameter` message text
/// (as returned by moto / AWS), e.g.
/// `Invalid parameter: FilterPolicy: Filter policy can not have more than 5 keys`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterPolicyError {
    message: String,
}

impl FilterPolicyError {
    fn new(message: impl Into<String>) -> FilterPolicyError {
        FilterPolicyError {
            message: message.into(),
        }
    }

    /// `Invalid parameter: FilterPolicy: {detail}`.
    fn policy(detail: impl fmt::Display) -> FilterPolicyError {
        FilterPolicyError::new(format!("Invalid parameter: FilterPolicy: {detail}"))
    }

    /// The numeric-expression errors, which SNS words as `Attributes Reason: ...` with a
    /// source position (moto: `\n at ...`).
    fn numeric(detail: impl fmt::Display) -> FilterPolicyError {
        FilterPolicyError::new(format!(
            "Invalid parameter: Attributes Reason: FilterPolicy: {detail}\n at ..."
        ))
    }

    /// The SNS error code for this error (always `InvalidParameter`).
    pub fn code(&self) -> &'static str {
        "InvalidParameter"
    }

    /// The error message text.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FilterPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for FilterPolicyError {}

/// The most top-level keys a policy may have.
const MAX_KEYS: usize = 5;
/// The most value combinations a policy may have.
const MAX_COMBINATIONS: u64 = 150;
/// Keys that make an object a match expression rather than a (nested) property.
const KEYWORDS: &[&str] = &[
    "exists",
    "numeric",
    "prefix",
    "suffix",
    "anything-but",
    "equals-ignore-case",
    "cidr",
    "wildcard",
];

/// A parsed, validated SNS subscription filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    scope: FilterPolicyScope,
    root: Group,
}

/// Conditions that must all hold (the keys of one policy object).
#[derive(Debug, Clone, PartialEq, Default)]
struct Group {
    entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq)]
enum Entry {
    /// A key with its value list: at least one rule must match.
    Leaf { key: String, rules: Vec<Rule> },
    /// A nested property (body scope only).
    Nested { key: String, group: Group },
    /// `$or`: at least one branch must match.
    Or(Vec<Group>),
}

#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Cmp {
    Lt,
    Le,
    Eq,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
enum Rule {
    Exact(Scalar),
    Prefix(String),
    Suffix(String),
    EqualsIgnoreCase(String),
    AnythingBut(Vec<Scalar>),
    AnythingButPrefix(String),
    Numeric(Vec<(Cmp, f64)>),
    Exists(bool),
}

/// What a policy key finds in a message: whether the key is present, and its values.
struct Found {
    present: bool,
    values: Vec<Scalar>,
}

impl Found {
    fn absent() -> Found {
        Found {
            present: false,
            values: Vec::new(),
        }
    }
}

impl FilterPolicy {
    /// Parses and validates a filter policy for the given scope.
    ///
    /// ```
    /// # use tomodachi::testing::filter_policy::*;
    /// let policy = FilterPolicy::parse(
    ///     &serde_json::json!({"event": ["order_placed"], "price": [{"numeric": [">", 100]}]}),
    ///     FilterPolicyScope::MessageAttributes,
    /// )
    /// .unwrap();
    /// let mut attributes = MessageAttributes::new();
    /// attributes.insert("event".into(), MessageAttribute::string("order_placed"));
    /// attributes.insert("price".into(), MessageAttribute::number("150"));
    /// assert!(policy.matches_attributes(&attributes));
    ///
    /// let error = FilterPolicy::parse(
    ///     &serde_json::json!({"a": {"b": ["c"]}}),
    ///     FilterPolicyScope::MessageAttributes,
    /// )
    /// .unwrap_err();
    /// assert_eq!(
    ///     error.to_string(),
    ///     "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    /// );
    /// ```
    pub fn parse(
        policy: &Value,
        scope: FilterPolicyScope,
    ) -> Result<FilterPolicy, FilterPolicyError> {
        let Some(object) = policy.as_object() else {
            return Err(FilterPolicyError::policy(
                "Filter policy must be a JSON object",
            ));
        };
        if object.len() > MAX_KEYS {
            return Err(FilterPolicyError::policy(format!(
                "Filter policy can not have more than {MAX_KEYS} keys"
            )));
        }
        // Structure first (nesting, value kinds), then complexity, then the rules, which
        // is the order in which SNS reports the problems.
        check_structure(object, scope)?;
        if combinations(object, 1, 1) > MAX_COMBINATIONS {
            return Err(FilterPolicyError::policy("Filter policy is too complex"));
        }
        let root = parse_group(object)?;
        Ok(FilterPolicy { scope, root })
    }

    /// The scope the policy was parsed for.
    pub fn scope(&self) -> FilterPolicyScope {
        self.scope
    }

    /// Whether a message with these attributes passes the policy (attribute-based
    /// filtering). `Binary` attributes are ignored. An empty policy matches everything.
    pub fn matches_attributes(&self, attributes: &MessageAttributes) -> bool {
        group_matches_attributes(&self.root, attributes)
    }

    /// Whether a message with this JSON body passes the policy (payload-based
    /// filtering). A body that is not a JSON object only passes an empty policy.
    pub fn matches_body(&self, body: &Value) -> bool {
        if self.root.entries.is_empty() {
            return true;
        }
        match body {
            Value::Object(object) => group_matches_object(&self.root, Some(object)),
            _ => false,
        }
    }

    /// Like [`matches_body`](Self::matches_body) for the raw message text: a body that is
    /// not JSON only passes an empty policy.
    pub fn matches_body_text(&self, body: &str) -> bool {
        match serde_json::from_str::<Value>(body) {
            Ok(value) => self.matches_body(&value),
            Err(_) => self.root.entries.is_empty(),
        }
    }

    /// Whether a message passes the policy in the policy's own scope: the attributes for
    /// `MessageAttributes`, the body text for `MessageBody`.
    pub fn matches_message(&self, attributes: &MessageAttributes, body: &str) -> bool {
        match self.scope {
            FilterPolicyScope::MessageAttributes => self.matches_attributes(attributes),
            FilterPolicyScope::MessageBody => self.matches_body_text(body),
        }
    }
}

/// Whether `"$or": value` is an OR operator: an array of at least two objects whose keys
/// are not match keywords. Otherwise `$or` is an ordinary key.
fn or_branches<'a>(key: &str, value: &'a Value) -> Option<Vec<&'a Map<String, Value>>> {
    if key != "$or" {
        return None;
    }
    let items = value.as_array()?;
    if items.len() < 2 {
        return None;
    }
    items
        .iter()
        .map(|item| {
            item.as_object()
                .filter(|object| object.keys().all(|k| !KEYWORDS.contains(&k.as_str())))
        })
        .collect()
}

fn check_structure(
    object: &Map<String, Value>,
    scope: FilterPolicyScope,
) -> Result<(), FilterPolicyError> {
    for (key, value) in object {
        if let Some(branches) = or_branches(key, value) {
            for branch in branches {
                check_structure(branch, scope)?;
            }
            continue;
        }
        match value {
            Value::Object(nested) => {
                if scope == FilterPolicyScope::MessageAttributes {
                    return Err(FilterPolicyError::new(
                        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy",
                    ));
                }
                check_structure(nested, scope)?;
            }
            Value::Array(values) if values.is_empty() => {
                return Err(FilterPolicyError::policy("Empty arrays are not allowed"));
            }
            Value::Array(_) => {}
            _ => {
                return Err(FilterPolicyError::policy(format!(
                    "\"{key}\" must be an object or an array"
                )));
            }
        }
    }
    Ok(())
}

/// The value combinations of a (structurally valid) policy object: every value array
/// multiplies the running count by its length times its nesting depth; the branches of
/// an `$or` are added up.
fn combinations(object: &Map<String, Value>, depth: u64, mut running: u64) -> u64 {
    for (key, value) in object {
        if let Some(branches) = or_branches(key, value) {
            running = branches
                .into_iter()
                .map(|branch| combinations(branch, depth, running))
                .fold(0u64, u64::saturating_add);
            continue;
        }
        match value {
            Value::Object(nested) => running = combinations(nested, depth + 1, running),
            Value::Array(values) => {
                running = running.saturating_mul((values.len() as u64).saturating_mul(depth));
            }
            _ => {}
        }
    }
    running
}

fn parse_group(object: &Map<String, Value>) -> Result<Group, FilterPolicyError> {
    let mut entries = Vec::with_capacity(object.len());
    for (key, value) in object {
        if let Some(branches) = or_branches(key, value) {
            let groups = branches
                .into_iter()
                .map(parse_group)
                .collect::<Result<Vec<_>, _>>()?;
            entries.push(Entry::Or(groups));
            continue;
        }
        match value {
            Value::Object(nested) => entries.push(Entry::Nested {
                key: key.clone(),
                group: parse_group(nested)?,
            }),
            Value::Array(values) => entries.push(Entry::Leaf {
                key: key.clone(),
                rules: values.iter().map(parse_rule).collect::<Result<_, _>>()?,
            }),
            _ => {
                return Err(FilterPolicyError::policy(format!(
                    "\"{key}\" must be an object or an array"
                )));
            }
        }
    }
    Ok(Group { entries })
}

fn scalar(value: &Value) -> Option<Scalar> {
    match value {
        Value::String(s) => Some(Scalar::Str(s.clone())),
        Value::Number(n) => n.as_f64().map(Scalar::Num),
        Value::Bool(b) => Some(Scalar::Bool(*b)),
        Value::Null => Some(Scalar::Null),
        Value::Array(_) | Value::Object(_) => None,
    }
}

fn match_value_error() -> FilterPolicyError {
    FilterPolicyError::policy("Match value must be String, number, true, false, or null")
}

fn parse_rule(value: &Value) -> Result<Rule, FilterPolicyError> {
    if let Some(s) = scalar(value) {
        return Ok(Rule::Exact(s));
    }
    let Some(object) = value.as_object() else {
        return Err(match_value_error());
    };
    let mut pairs = object.iter();
    let (Some((keyword, operand)), None) = (pairs.next(), pairs.next()) else {
        return Err(FilterPolicyError::policy(
            "Only one key allowed in match expression",
        ));
    };
    let string_operand = |name: &str| {
        operand.as_str().map(str::to_owned).ok_or_else(|| {
            FilterPolicyError::policy(format!("{name} match pattern must be a string"))
        })
    };
    match keyword.as_str() {
        "prefix" => Ok(Rule::Prefix(string_operand("prefix")?)),
        "suffix" => Ok(Rule::Suffix(string_operand("suffix")?)),
        "equals-ignore-case" => Ok(Rule::EqualsIgnoreCase(string_operand(
            "equals-ignore-case",
        )?)),
        "exists" => match operand {
            Value::Bool(b) => Ok(Rule::Exists(*b)),
            _ => Err(FilterPolicyError::policy(
                "exists match pattern must be either true or false.",
            )),
        },
        "anything-but" => parse_anything_but(operand),
        "numeric" => parse_numeric(operand).map(Rule::Numeric),
        other => Err(FilterPolicyError::policy(format!(
            "Unrecognized match type {other}"
        ))),
    }
}

fn parse_anything_but(operand: &Value) -> Result<Rule, FilterPolicyError> {
    match operand {
        Value::Object(object) => {
            let mut pairs = object.iter();
            match (pairs.next(), pairs.next()) {
                (Some((k, v)), None) if k == "prefix" => match v {
                    Value::String(p) => Ok(Rule::AnythingButPrefix(p.clone())),
                    _ => Err(FilterPolicyError::policy(
                        "prefix match pattern must be a string",
                    )),
                },
                (Some((k, _)), None) => Err(FilterPolicyError::policy(format!(
                    "Unsupported anything-but pattern: {k}"
                ))),
                _ => Err(FilterPolicyError::policy(
                    "Only one key allowed in match expression",
                )),
            }
        }
        Value::Array(values) => values
            .iter()
            .map(|v| scalar(v).ok_or_else(match_value_error))
            .collect::<Result<Vec<_>, _>>()
            .map(Rule::AnythingBut),
        other => scalar(other)
            .map(|s| Rule::AnythingBut(vec![s]))
            .ok_or_else(match_value_error),
    }
}

fn cmp_of(operator: &str) -> Option<Cmp> {
    match operator {
        "<" => Some(Cmp::Lt),
        "<=" => Some(Cmp::Le),
        "=" => Some(Cmp::Eq),
        ">" => Some(Cmp::Gt),
        ">=" => Some(Cmp::Ge),
        _ => None,
    }
}

/// Text of a JSON value as SNS quotes it in numeric errors (strings unquoted).
fn member_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn parse_numeric(operand: &Value) -> Result<Vec<(Cmp, f64)>, FilterPolicyError> {
    let items: &[Value] = operand.as_array().map(Vec::as_slice).unwrap_or(&[]);
    let Some(first) = items.first() else {
        return Err(FilterPolicyError::numeric(
            "Invalid member in numeric match: ]",
        ));
    };
    let Value::String(first_op) = first else {
        return Err(FilterPolicyError::numeric(format!(
            "Invalid member in numeric match: {}",
            member_text(first)
        )));
    };
    let Some(lower_cmp) = cmp_of(first_op) else {
        return Err(FilterPolicyError::numeric(format!(
            "Unrecognized numeric range operator: {first_op}"
        )));
    };
    let Some(lower) = items.get(1).and_then(Value::as_f64) else {
        return Err(FilterPolicyError::numeric(format!(
            "Value of {first_op} must be numeric"
        )));
    };
    if items.len() == 2 {
        return Ok(vec![(lower_cmp, lower)]);
    }
    if !matches!(lower_cmp, Cmp::Gt | Cmp::Ge) {
        return Err(FilterPolicyError::numeric(
            "Too many elements in numeric expression",
        ));
    }
    let second = &items[2];
    let upper_cmp = second
        .as_str()
        .and_then(cmp_of)
        .filter(|c| matches!(c, Cmp::Lt | Cmp::Le));
    let Some(upper_cmp) = upper_cmp else {
        return Err(FilterPolicyError::numeric(format!(
            "Bad numeric range operator: {}",
            member_text(second)
        )));
    };
    let Some(upper) = items.get(3).and_then(Value::as_f64) else {
        return Err(FilterPolicyError::numeric(format!(
            "Value of {} must be numeric",
            member_text(second)
        )));
    };
    if upper <= lower {
        return Err(FilterPolicyError::numeric("Bottom must be less than top"));
    }
    if items.len() > 4 {
        return Err(FilterPolicyError::numeric(
            "Too many terms in numeric range expression",
        ));
    }
    Ok(vec![(lower_cmp, lower), (upper_cmp, upper)])
}

/// Numbers are compared with SNS's five decimal digits of accuracy.
fn same_number(a: f64, b: f64) -> bool {
    (a * 1e5).round() == (b * 1e5).round()
}

fn same_scalar(a: &Scalar, b: &Scalar) -> bool {
    match (a, b) {
        (Scalar::Str(x), Scalar::Str(y)) => x == y,
        (Scalar::Num(x), Scalar::Num(y)) => same_number(*x, *y),
        (Scalar::Bool(x), Scalar::Bool(y)) => x == y,
        (Scalar::Null, Scalar::Null) => true,
        _ => false,
    }
}

fn compare(cmp: Cmp, value: f64, bound: f64) -> bool {
    match cmp {
        Cmp::Lt => value < bound,
        Cmp::Le => value <= bound,
        Cmp::Eq => same_number(value, bound),
        Cmp::Gt => value > bound,
        Cmp::Ge => value >= bound,
    }
}

fn rule_matches(rule: &Rule, found: &Found) -> bool {
    let strings = || {
        found.values.iter().filter_map(|v| match v {
            Scalar::Str(s) => Some(s.as_str()),
            _ => None,
        })
    };
    match rule {
        Rule::Exists(expected) => found.present == *expected,
        Rule::Exact(expected) => found.values.iter().any(|v| same_scalar(v, expected)),
        Rule::Prefix(prefix) => strings().any(|s| s.starts_with(prefix.as_str())),
        Rule::Suffix(suffix) => strings().any(|s| s.ends_with(suffix.as_str())),
        Rule::EqualsIgnoreCase(expected) => {
            let expected = expected.to_lowercase();
            strings().any(|s| s.to_lowercase() == expected)
        }
        Rule::AnythingBut(excluded) => found
            .values
            .iter()
            .any(|v| !excluded.iter().any(|x| same_scalar(v, x))),
        Rule::AnythingButPrefix(prefix) => strings().any(|s| !s.starts_with(prefix.as_str())),
        Rule::Numeric(conditions) => found.values.iter().any(|v| match v {
            Scalar::Num(n) => conditions
                .iter()
                .all(|(cmp, bound)| compare(*cmp, *n, *bound)),
            _ => false,
        }),
    }
}

fn attribute_found(attribute: Option<&MessageAttribute>) -> Found {
    let Some(attribute) = attribute else {
        return Found::absent();
    };
    let values = match attribute.base_type() {
        "String" => vec![Scalar::Str(attribute.value.clone())],
        "Number" => attribute
            .value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|n| n.is_finite())
            .map(Scalar::Num)
            .into_iter()
            .collect(),
        "String.Array" => match serde_json::from_str::<Value>(&attribute.value) {
            Ok(Value::Array(items)) => items.iter().filter_map(scalar).collect(),
            _ => Vec::new(),
        },
        // Binary (and unknown) attributes are ignored by filter policies.
        _ => return Found::absent(),
    };
    Found {
        present: true,
        values,
    }
}

fn group_matches_attributes(group: &Group, attributes: &MessageAttributes) -> bool {
    group.entries.iter().all(|entry| match entry {
        Entry::Leaf { key, rules } => {
            let found = attribute_found(attributes.get(key));
            rules.iter().any(|rule| rule_matches(rule, &found))
        }
        // Rejected at parse time for this scope; never matches.
        Entry::Nested { .. } => false,
        Entry::Or(branches) => branches
            .iter()
            .any(|branch| group_matches_attributes(branch, attributes)),
    })
}

fn collect_scalars(value: &Value, into: &mut Vec<Scalar>) {
    match value {
        Value::Array(items) => items.iter().for_each(|item| collect_scalars(item, into)),
        Value::Object(_) => {}
        other => into.extend(scalar(other)),
    }
}

fn body_found(value: Option<&Value>) -> Found {
    let Some(value) = value else {
        return Found::absent();
    };
    let mut values = Vec::new();
    collect_scalars(value, &mut values);
    Found {
        present: true,
        values,
    }
}

/// Evaluates a policy group on one level of the body; `None` is an absent object (a
/// missing intermediate property), where only `exists: false` can match.
fn group_matches_object(group: &Group, object: Option<&Map<String, Value>>) -> bool {
    group.entries.iter().all(|entry| match entry {
        Entry::Leaf { key, rules } => {
            let found = body_found(object.and_then(|o| o.get(key)));
            rules.iter().any(|rule| rule_matches(rule, &found))
        }
        Entry::Nested { key, group } => match object.and_then(|o| o.get(key)) {
            None => group_matches_object(group, None),
            Some(Value::Object(nested)) => group_matches_object(group, Some(nested)),
            Some(Value::Array(items)) => items.iter().any(|item| match item {
                Value::Object(nested) => group_matches_object(group, Some(nested)),
                _ => false,
            }),
            Some(_) => false,
        },
        Entry::Or(branches) => branches
            .iter()
            .any(|branch| group_matches_object(branch, object)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const TABLE: &str = include_str!("../../tests/data/sns_filter_policy_table.json");

    fn attributes_of(value: &Value) -> MessageAttributes {
        value
            .as_object()
            .unwrap()
            .iter()
            .map(|(name, attr)| {
                let attribute = MessageAttribute {
                    data_type: attr["Type"].as_str().unwrap().to_owned(),
                    value: attr["Value"].as_str().unwrap().to_owned(),
                };
                (name.clone(), attribute)
            })
            .collect()
    }

    fn scope_of(row: &Value) -> FilterPolicyScope {
        FilterPolicyScope::from_name(row["scope"].as_str().unwrap()).unwrap()
    }

    /// Evaluates a delivery row (attributes or body) against a parsed policy.
    fn delivered(policy: &FilterPolicy, row: &Value) -> bool {
        if let Some(attributes) = row.get("attributes") {
            policy.matches_attributes(&attributes_of(attributes))
        } else if row.get("body_is_raw_text").and_then(Value::as_bool) == Some(true) {
            policy.matches_body_text(row["body"].as_str().unwrap())
        } else {
            policy.matches_body(&row["body"])
        }
    }

    /// Checks one expectation: `error` (Some(text) or None for accepted) and, when
    /// accepted, `expected_delivery` for the row's message.
    fn check(
        row: &Value,
        error: Option<&str>,
        expected_delivery: Option<bool>,
    ) -> Result<(), String> {
        let parsed = FilterPolicy::parse(&row["policy"], scope_of(row));
        match (parsed, error) {
            (Err(got), Some(want)) if got.to_string() == want => Ok(()),
            (Err(got), Some(want)) => Err(format!("error {got:?}, expected {want:?}")),
            (Err(got), None) => Err(format!("rejected with {got:?}, expected it accepted")),
            (Ok(_), Some(want)) => Err(format!("accepted, expected error {want:?}")),
            (Ok(policy), None) => match expected_delivery {
                Some(want) if delivered(&policy, row) != want => {
                    Err(format!("delivered = {}, expected {want}", !want))
                }
                _ => Ok(()),
            },
        }
    }

    fn table() -> Vec<Value> {
        let rows: Value = serde_json::from_str(TABLE).unwrap();
        rows.as_array().unwrap().clone()
    }

    fn report(failures: Vec<String>) {
        assert!(
            failures.is_empty(),
            "{} mismatches:\n{}",
            failures.len(),
            failures.join("\n")
        );
    }

    #[test]
    fn matches_every_row_recorded_from_moto() {
        let rows = table();
        assert!(rows.len() > 150, "table unexpectedly small: {}", rows.len());
        let mut failures = Vec::new();
        let mut checked = 0;
        for row in rows.iter().filter(|r| r.get("moto_differs").is_none()) {
            checked += 1;
            let result = if let Some(error) = row.get("error") {
                check(row, error.as_str(), None)
            } else {
                check(row, None, row["delivered"].as_bool())
            };
            if let Err(why) = result {
                failures.push(format!("{row}: {why}"));
            }
        }
        assert!(checked > 150, "only {checked} rows agree with moto");
        report(failures);
    }

    #[test]
    fn follows_aws_where_moto_differs() {
        let mut failures = Vec::new();
        let mut checked = 0;
        for row in table().iter().filter(|r| r.get("moto_differs").is_some()) {
            checked += 1;
            let mut results = Vec::new();
            if let Some(aws_error) = row.get("aws_error") {
                results.push(check(row, aws_error.as_str(), None));
                for message in row
                    .get("aws_messages")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mut message = message.clone();
                    message["policy"] = row["policy"].clone();
                    let want = message["delivered"].as_bool();
                    results.push(check(&message, None, want));
                }
            } else {
                results.push(check(row, None, row["aws_delivered"].as_bool()));
            }
            for result in results {
                if let Err(why) = result {
                    failures.push(format!("{row}: {why}"));
                }
            }
        }
        assert!(checked > 10, "only {checked} moto_differs rows");
        report(failures);
    }

    fn attrs(pairs: &[(&str, MessageAttribute)]) -> MessageAttributes {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), v.clone()))
            .collect()
    }

    fn parse(policy: Value) -> FilterPolicy {
        FilterPolicy::parse(&policy, FilterPolicyScope::MessageAttributes).unwrap()
    }

    fn parse_body(policy: Value) -> FilterPolicy {
        FilterPolicy::parse(&policy, FilterPolicyScope::MessageBody).unwrap()
    }

    #[test]
    fn empty_policy_matches_everything() {
        let policy = parse(json!({}));
        assert!(policy.matches_attributes(&MessageAttributes::new()));
        let body = parse_body(json!({}));
        assert!(body.matches_body(&json!("not an object")));
        assert!(body.matches_body_text("not json"));
    }

    #[test]
    fn numeric_ranges_and_exact_numbers() {
        let policy = parse(json!({"p": [{"numeric": [">", 0, "<=", 150]}]}));
        assert!(policy.matches_attributes(&attrs(&[("p", MessageAttribute::number("150"))])));
        assert!(!policy.matches_attributes(&attrs(&[("p", MessageAttribute::number("0"))])));
        assert!(!policy.matches_attributes(&attrs(&[("p", MessageAttribute::string("5"))])));
        let exact = parse(json!({"p": [301.5]}));
        assert!(exact.matches_attributes(&attrs(&[("p", MessageAttribute::number("3.015e2"))])));
        assert!(exact.matches_attributes(&attrs(&[("p", MessageAttribute::number("301.500001"))])));
    }

    #[test]
    fn string_array_elements_match_individually() {
        let tags = attrs(&[("t", MessageAttribute::string_array(r#"["rugby", 5, true]"#))]);
        assert!(parse(json!({"t": ["rugby"]})).matches_attributes(&tags));
        assert!(parse(json!({"t": [5]})).matches_attributes(&tags));
        assert!(parse(json!({"t": [true]})).matches_attributes(&tags));
        assert!(parse(json!({"t": [{"prefix": "rug"}]})).matches_attributes(&tags));
        assert!(
            !parse(json!({"t": [{"anything-but": ["rugby", 5, true]}]})).matches_attributes(&tags)
        );
    }

    #[test]
    fn binary_attributes_are_ignored() {
        let bin = attrs(&[("b", MessageAttribute::binary("x"))]);
        assert!(!parse(json!({"b": [{"exists": true}]})).matches_attributes(&bin));
        assert!(parse(json!({"b": [{"exists": false}]})).matches_attributes(&bin));
        assert!(!parse(json!({"b": ["x"]})).matches_attributes(&bin));
    }

    #[test]
    fn custom_data_type_suffixes_use_the_base_type() {
        let a = attrs(&[(
            "id",
            MessageAttribute {
                data_type: "String.uuid".into(),
                value: "x".into(),
            },
        )]);
        assert!(parse(json!({"id": ["x"]})).matches_attributes(&a));
    }

    #[test]
    fn body_nested_arrays_null_and_or() {
        let policy = parse_body(json!({"store": {"name": [{"prefix": "ex"}]}, "id": [null]}));
        assert!(policy
            .matches_body(&json!({"store": [{"name": "x"}, {"name": "example"}], "id": null})));
        assert!(!policy.matches_body(&json!({"store": {"name": "example"}})));
        let missing = parse_body(json!({"a": {"b": [{"exists": false}]}}));
        assert!(missing.matches_body(&json!({})));
        let or = parse_body(json!({"k": ["v"], "$or": [{"a": ["1"]}, {"b": {"c": [2]}}]}));
        assert!(or.matches_body(&json!({"k": "v", "b": {"c": 2}})));
        assert!(!or.matches_body(&json!({"k": "v", "b": {"c": 3}})));
    }

    #[test]
    fn or_with_keyword_branches_is_an_ordinary_key() {
        let error = FilterPolicy::parse(
            &json!({"$or": [{"numeric": 123}, {"prefix": "abc"}]}),
            FilterPolicyScope::MessageAttributes,
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "Invalid parameter: Attributes Reason: FilterPolicy: Invalid member in numeric match: ]\n at ..."
        );
        let single = parse(json!({"$or": ["x"]}));
        assert!(single.matches_attributes(&attrs(&[("$or", MessageAttribute::string("x"))])));
    }

    #[test]
    fn validation_messages() {
        let cases = [
            (json!([1]), "Invalid parameter: FilterPolicy: Filter policy must be a JSON object"),
            (json!({"a": [{"prefix": "x", "suffix": "y"}]}), "Invalid parameter: FilterPolicy: Only one key allowed in match expression"),
            (json!({"a": [{"numeric": [">", 1, "<", 5, "x"]}]}), "Invalid parameter: Attributes Reason: FilterPolicy: Too many terms in numeric range expression\n at ..."),
            (json!({"a": [{"equals-ignore-case": 1}]}), "Invalid parameter: FilterPolicy: equals-ignore-case match pattern must be a string"),
            (json!({"a": [{"anything-but": {"prefix": 1}}]}), "Invalid parameter: FilterPolicy: prefix match pattern must be a string"),
        ];
        for (policy, message) in cases {
            let error =
                FilterPolicy::parse(&policy, FilterPolicyScope::MessageAttributes).unwrap_err();
            assert_eq!(error.to_string(), message, "{policy}");
            assert_eq!(error.code(), "InvalidParameter");
        }
    }

    #[test]
    fn complexity_counts_depth_and_sums_or_branches() {
        let values: Vec<Value> = (0..75).map(|i| json!(i.to_string())).collect();
        assert!(
            FilterPolicy::parse(&json!({"a": {"b": values}}), FilterPolicyScope::MessageBody)
                .is_ok()
        );
        let doc_example = json!({
            "key_a": {"key_b": {"key_c": ["1", "2", "3", "4"]}},
            "key_d": {"key_e": ["1", "2", "3"]}
        });
        let object = doc_example.as_object().unwrap();
        assert_eq!(combinations(object, 1, 1), 72);
    }

    #[test]
    fn scope_names_round_trip() {
        for scope in [
            FilterPolicyScope::MessageAttributes,
            FilterPolicyScope::MessageBody,
        ] {
            assert_eq!(FilterPolicyScope::from_name(scope.as_str()), Some(scope));
        }
        assert_eq!(
            FilterPolicyScope::default(),
            FilterPolicyScope::MessageAttributes
        );
        assert_eq!(FilterPolicyScope::from_name("Body"), None);
    }
}
