//! The real `fieldline` command, built inside the tests package so that its integration tests
//! can run it as a separate process (and kill it).
use clap::Parser;

#[tokio::main]
async fn main() {
    fieldline_server::init_logging();
    let code = fieldline_server::cli::run(fieldline_server::cli::Cli::parse()).await;
    std::process::exit(code);
}
