use clap::Parser;

#[tokio::main]
async fn main() {
    fieldline_server::init_logging();
    // Everything the server creates (database, keys, photos, demo passwords) is private.
    fieldline_server::files::private_by_default();
    let code = fieldline_server::cli::run(fieldline_server::cli::Cli::parse()).await;
    std::process::exit(code);
}
