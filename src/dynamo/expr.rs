//! Building DynamoDB expressions. Attribute names become `#n0, #n1, ..` and values `:v0, :v1, ..`;
//! the expression text is written only from placeholders and fixed keywords, so input from users
//! can never change an expression's meaning.

use std::collections::HashMap;

use super::AttributeValue;

/// `ExpressionAttributeNames`.
pub type Names = HashMap<String, String>;
/// `ExpressionAttributeValues`.
pub type Values = HashMap<String, AttributeValue>;

/// Collects the names and values an expression refers to.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Expr {
    names: Names,
    values: Values,
}

impl Expr {
    pub fn new() -> Self {
        Self::default()
    }

    /// A placeholder for attribute `name`; the same name gives the same placeholder.
    pub fn name(&mut self, name: &str) -> String {
        if let Some((placeholder, _)) = self.names.iter().find(|(_, n)| n.as_str() == name) {
            return placeholder.clone();
        }
        let placeholder = format!("#n{}", self.names.len());
        self.names.insert(placeholder.clone(), name.to_string());
        placeholder
    }

    /// A placeholder for `value`; every call makes a new one.
    pub fn value(&mut self, value: impl Into<AttributeValue>) -> String {
        let placeholder = format!(":v{}", self.values.len());
        self.values.insert(placeholder.clone(), value.into());
        placeholder
    }

    /// A placeholder for a string value.
    pub fn str(&mut self, value: impl Into<String>) -> String {
        self.value(AttributeValue::S(value.into()))
    }

    /// A placeholder for a number value.
    pub fn num(&mut self, value: i64) -> String {
        self.value(AttributeValue::N(value.to_string()))
    }

    /// `#n = :v`
    pub fn equals(&mut self, name: &str, value: impl Into<AttributeValue>) -> String {
        format!("{} = {}", self.name(name), self.value(value))
    }

    /// `attribute_exists(#n)`
    pub fn exists(&mut self, name: &str) -> String {
        format!("attribute_exists({})", self.name(name))
    }

    /// `attribute_not_exists(#n)`
    pub fn not_exists(&mut self, name: &str) -> String {
        format!("attribute_not_exists({})", self.name(name))
    }

    /// Both maps, consuming the builder.
    pub fn into_parts(self) -> (Option<Names>, Option<Values>) {
        let names = (!self.names.is_empty()).then_some(self.names);
        let values = (!self.values.is_empty()).then_some(self.values);
        (names, values)
    }
}

/// Joins conditions with `AND`; `None` when there are none.
pub fn and(parts: &[String]) -> Option<String> {
    let parts: Vec<&str> = parts.iter().map(String::as_str).filter(|p| !p.is_empty()).collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_never_contain_input() {
        let mut e = Expr::new();
        let hostile = "x) OR attribute_exists(PK";
        let cond = e.equals("email", AttributeValue::S(hostile.into()));
        assert_eq!(cond, "#n0 = :v0");
        let (names, values) = e.into_parts();
        assert_eq!(names, Some(HashMap::from([("#n0".to_string(), "email".to_string())])));
        assert_eq!(values, Some(HashMap::from([(":v0".to_string(), AttributeValue::S(hostile.into()))])));
    }

    #[test]
    fn names_are_reused_and_values_are_not() {
        let mut e = Expr::new();
        let a = e.name("ttl");
        let b = e.name("ttl");
        let c = e.name("revoked_at");
        assert_eq!((a.as_str(), b.as_str(), c.as_str()), ("#n0", "#n0", "#n1"));
        assert_eq!(e.num(5), ":v0");
        assert_eq!(e.num(5), ":v1");
        let cond = and(&[e.exists("PK"), e.not_exists("revoked_at"), String::new()]);
        assert_eq!(cond.as_deref(), Some("attribute_exists(#n2) AND attribute_not_exists(#n1)"));
        assert_eq!(and(&[]), None);
    }

    #[test]
    fn empty_maps_are_omitted() {
        let e = Expr::new();
        assert_eq!(e.into_parts(), (None, None));
    }
}
