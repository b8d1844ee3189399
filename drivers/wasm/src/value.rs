//! Plain data handed to JavaScript: every output of a session is built as a
//! [`Value`] first and turned into a JS object at the boundary, so the exact
//! shape a host sees can be checked by native tests and by `node --test`
//! alike (the shared fixtures compare against it).

use alloc::string::String;
use alloc::vec::Vec;

/// A JSON-like value whose byte strings stay bytes (`Uint8Array` in JS).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// `null`.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// A JS number (sizes and offsets fit: files stay below 2^53 bytes).
    Number(f64),
    /// A JS string.
    Text(String),
    /// A `Uint8Array` (paths, user names and passwords are bytes in FTP).
    Bytes(Vec<u8>),
    /// A plain object with these properties, in this order.
    Object(Vec<(String, Value)>),
}

impl Value {
    /// An object whose `type` property is `kind`, followed by `fields`.
    pub fn tagged(
        kind: &'static str,
        fields: impl IntoIterator<Item = (&'static str, Value)>,
    ) -> Self {
        let mut properties = Vec::with_capacity(8);
        properties.push((String::from("type"), Value::Text(String::from(kind))));
        properties.extend(fields.into_iter().map(|(k, v)| (String::from(k), v)));
        Value::Object(properties)
    }

    /// The property `name` of an object.
    pub fn get(&self, name: &str) -> Option<&Value> {
        match self {
            Value::Object(properties) => {
                properties.iter().find(|(k, _)| *k == name).map(|(_, v)| v)
            }
            _ => None,
        }
    }

    /// The `type` property of an object, if it is text.
    pub fn kind(&self) -> Option<&str> {
        match self.get("type") {
            Some(Value::Text(kind)) => Some(kind),
            _ => None,
        }
    }

    /// Converts to a JS value: objects become plain objects, bytes `Uint8Array`s.
    pub fn to_js(&self) -> wasm_bindgen::JsValue {
        use wasm_bindgen::JsValue;
        match self {
            Value::Null => JsValue::NULL,
            Value::Bool(b) => JsValue::from_bool(*b),
            Value::Number(n) => JsValue::from_f64(*n),
            Value::Text(s) => JsValue::from_str(s),
            Value::Bytes(bytes) => crate::js::Uint8Array::copy_in(bytes).into(),
            Value::Object(properties) => {
                let object: JsValue = crate::js::Object::new().into();
                for (name, value) in properties {
                    // Setting a property on a fresh plain object cannot fail.
                    let _ = crate::js::reflect_set(&object, name, &value.to_js());
                }
                object
            }
        }
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Self {
        Value::Text(String::from(text))
    }
}

impl From<&[u8]> for Value {
    fn from(bytes: &[u8]) -> Self {
        Value::Bytes(bytes.to_vec())
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Self {
        Value::Bool(b)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Self {
        Value::Number(f64::from(n))
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Self {
        Value::Number(n as f64)
    }
}
