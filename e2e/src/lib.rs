//! End-to-end tests live in `tests/`; `cargo xtask test` runs them after building the app.
