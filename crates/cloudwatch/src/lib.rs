//! CloudWatch metrics for shardline: a bounded history of every stream's metrics (and of the
//! metrics clients publish with PutMetricData), and CloudWatch's metric API over it —
//! `GetMetricData`, `GetMetricStatistics`, `ListMetrics`, `PutMetricData` — in the three
//! protocols CloudWatch's clients speak. No I/O: the server routes requests here.
//!
//! - `history` — the series and their per-second and per-minute buckets;
//! - `recorder` — a `metrics` recorder filling the history from the engine's series;
//! - `api` — the operations, with CloudWatch's validation and messages;
//! - `codec` — rpc-v2 CBOR, JSON 1.0 and the query protocol, in and out.

pub mod api;
pub mod codec;
pub mod history;
pub mod recorder;

pub use api::{call, CwError, OPERATIONS};
pub use codec::{Out, Protocol};
pub use history::History;
pub use recorder::HistoryRecorder;
