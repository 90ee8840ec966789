//! The `shardline` command.

mod consume;
mod credentials;
mod faults;
mod produce;
mod serve;
mod settings;

use clap::{Parser, Subcommand};

/// Requests allocate and free many small buffers across worker threads; mimalloc's per-thread
/// free lists cost a fraction of glibc malloc's there (see docs/benchmarks.md, Profiling).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "shardline",
    version,
    about = "A Kinesis Data Streams-compatible streaming service: durable, fast, faithful.",
    args_override_self = true
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the Kinesis-compatible server.
    Serve(Box<settings::ServeArgs>),
    /// Change the fault-injection rules of a running server.
    Faults(faults::FaultsArgs),
    /// Benchmark a Kinesis endpoint (this server or any other): put, get, e2e, produce.
    Bench(shardline_bench::BenchArgs),
    /// Put standard input to a stream, one record per line, through the producer library.
    Produce(produce::ProduceArgs),
    /// Print a stream's records as they arrive, checkpointing by application name.
    Consume(consume::ConsumeArgs),
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => serve::run(settings::Settings::resolve(*args)?),
        Command::Faults(args) => faults::run(args),
        Command::Bench(args) => shardline_bench::run(args),
        Command::Produce(args) => produce::run(args),
        Command::Consume(args) => consume::run(args),
    }
}
