use clap::Parser;

#[tokio::main]
async fn main() {
    fieldline_server::init_logging();
    let code = fieldline_server::cli::run(fieldline_server::cli::Cli::parse()).await;
    std::process::exit(code);
}
