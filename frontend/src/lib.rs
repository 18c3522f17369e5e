//! MSN Messenger 1.0 in the browser: the yew app on top of the `msnp` crate.

pub mod app;
pub mod explain;

#[cfg(test)]
wasm_bindgen_test::wasm_bindgen_test_configure!(run_in_browser);
