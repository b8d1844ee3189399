//! The few JavaScript built-ins the module calls, imported directly with
//! wasm-bindgen instead of through `js-sys`: `js-sys` declares every
//! built-in, and the closure shims its declarations describe stay in the
//! module's function table (about 5 KiB) whether or not anything calls them.

use alloc::vec::Vec;

use wasm_bindgen::prelude::*;

#[wasm_bindgen]
extern "C" {
    /// A JS `Uint8Array` (Node's `Buffer` is one).
    #[wasm_bindgen(js_name = Uint8Array)]
    pub type Uint8Array;

    /// `Uint8Array.from(bytes)`: a copy of the bytes (wasm-bindgen hands
    /// over a view of the module's memory; `from` copies it out).
    #[wasm_bindgen(static_method_of = Uint8Array, js_name = from)]
    pub fn copy_in(bytes: &[u8]) -> Uint8Array;

    /// `Uint8Array.from(array)` handed back as a `Vec<u8>`: wasm-bindgen
    /// copies a returned byte array into the module.
    #[wasm_bindgen(static_method_of = Uint8Array, js_name = from)]
    pub fn copy_out(array: &Uint8Array) -> Vec<u8>;

    /// A plain JS object.
    #[wasm_bindgen(js_name = Object)]
    pub type Object;

    /// `new Object()`: `{}`.
    #[wasm_bindgen(constructor, js_class = Object)]
    pub fn new() -> Object;

    /// `Reflect.get(target, key)`; throws (an `Err` here) when `target` is
    /// not an object.
    #[wasm_bindgen(js_namespace = Reflect, js_name = get, catch)]
    pub fn reflect_get(target: &JsValue, key: &str) -> Result<JsValue, JsValue>;

    /// `Reflect.set(target, key, value)`; throws when `target` is not an object.
    #[wasm_bindgen(js_namespace = Reflect, js_name = set, catch)]
    pub fn reflect_set(target: &JsValue, key: &str, value: &JsValue) -> Result<bool, JsValue>;
}

#[wasm_bindgen(module = "/src/record.js")]
extern "C" {
    /// The JS value a [`Record`](crate::record::Record) stands for.
    #[wasm_bindgen(js_name = decodeRecord)]
    pub fn decode_record(bytes: &[u8]) -> JsValue;
}

#[wasm_bindgen(module = "/src/facts.js")]
extern "C" {
    /// File facts as bytes for [`FactsReader::facts`](crate::facts::FactsReader::facts).
    #[wasm_bindgen(js_name = encodeFacts)]
    pub fn encode_facts(facts: &JsValue) -> Vec<u8>;

    /// Listing entries as bytes for [`FactsReader::entry`](crate::facts::FactsReader::entry),
    /// after a byte that says whether `entries` is an array (1) or not (0).
    #[wasm_bindgen(js_name = encodeEntries)]
    pub fn encode_entries(entries: &JsValue) -> Vec<u8>;
}
