//! The `scimgate` command line: serve, check, map, test.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use scimgate::app::{self, StartError};
use scimgate::cli;

/// A SCIM 2.0 service provider in front of LDAP, SQL and HTTP backends.
///
/// Exit codes: 0 success; 1 a test or dry run failed; 2 usage error; 69 a backend is
/// unreachable (`check`); 70 internal error; 78 configuration error.
#[derive(Parser)]
#[command(name = "scimgate", version, about, long_about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve SCIM over HTTP. Without --config, serves the built-in SQLite quickstart
    /// (./scimgate.db). The bearer token comes from SCIMGATE_TOKEN; when it is unset and the
    /// config names none, one is generated and printed once.
    Serve {
        /// Path to scimgate.toml.
        #[arg(long)]
        config: Option<PathBuf>,
        /// Address to listen on, overriding [server] listen (e.g. 0.0.0.0:8080).
        #[arg(long)]
        listen: Option<SocketAddr>,
    },
    /// Validate the config and every mapping file it references, reporting every error with
    /// file:line:column and a hint; then connect to each backend. Exit 78 on a config error,
    /// 69 when a backend is unreachable.
    Check {
        #[arg(long)]
        config: Option<PathBuf>,
        /// Do not contact backends.
        #[arg(long)]
        offline: bool,
    },
    /// Print the backend operations a SCIM request would produce, without running them.
    Map(cli::MapArgs),
    /// Run the [[X.test]] cases of every mapping file, without a backend.
    Test {
        #[arg(long)]
        config: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    scimgate::init_tracing();
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::from(70);
        }
    };
    runtime.block_on(async move {
        match cli.command {
            Command::Serve { config, listen } => serve(config, listen).await,
            Command::Check { config, offline } => cli::check(config.as_deref(), offline).await,
            Command::Map(args) => cli::map(args).await,
            Command::Test { config } => cli::test(config.as_deref()).await,
        }
    })
}

async fn serve(config: Option<PathBuf>, listen: Option<SocketAddr>) -> ExitCode {
    let (config, files) = match app::load_config(config.as_deref()) {
        Ok(c) => c,
        Err(d) => {
            eprintln!("{d}");
            return ExitCode::from(78);
        }
    };
    let built = match app::build(&config, files, listen).await {
        Ok(a) => a,
        Err(StartError::Config(d)) => {
            eprintln!("{d}");
            return ExitCode::from(78);
        }
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(69);
        }
    };
    let listener = match tokio::net::TcpListener::bind(built.listen).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: cannot listen on {}: {e}", built.listen);
            return ExitCode::from(69);
        }
    };
    let addr = listener.local_addr().map_or(built.listen, |a| a);
    if let Some(token) = &built.generated_token {
        // Printed once, to stdout, so scripts can capture it; never logged.
        println!("SCIMGATE_TOKEN={token}");
    }
    tracing::info!(%addr, endpoints = built.state.endpoints.len(), "scimgate listening");
    match scimgate::http::serve(listener, built.state, scimgate::shutdown_signal()).await {
        Ok(()) => {
            tracing::info!("stopped");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(70)
        }
    }
}
