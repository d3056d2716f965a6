//! Small, pure pieces of protocol worth reading: how an event travels as bytes.
//!
//! - [`payload`]: the event payload, exactly `payload_bytes` long, carrying id and creation time.
//! - [`sse`]: the `text/event-stream` encoder and parser.
//! - [`http_heads`]: the HTTP header profiles (minimal, browser, padded to an exact size).

pub mod http_heads;
pub mod payload;
pub mod sse;
