//! The binary's integration tests: each module starts real `shardline` servers and drives them
//! with the AWS SDK. One test binary rather than one per file, because each links the whole SDK:
//! ten of them cost minutes of linking and gigabytes of disk in a fresh build.

mod common;

mod bench;
mod consumer;
mod crash;
mod crash_matrix;
mod encryption;
mod faults;
mod limits;
mod producer;
mod records;
mod reshard;
mod streams;
mod subscribe;
mod tls;
