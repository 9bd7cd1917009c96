//! The `fieldline` command line.

use crate::{Config, ServerError, auth, db::Db};
use clap::{Parser, Subcommand};
use field_core::Role;
use std::io::Read;
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "fieldline",
    version,
    about = "Fieldline server (业扩报装 sync server)"
)]
pub struct Cli {
    /// TOML configuration file (also FIELDLINE_CONFIG).
    #[arg(long, global = true)]
    pub config: Option<PathBuf>,
    /// Data directory (overrides the configuration).
    #[arg(long, global = true)]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080 (port 0: any free port).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create demo data once (a unit, a user of every role, jobs of every kind and state),
    /// print the logins, then serve.
    Demo {
        /// Address to listen on (default from the configuration, 127.0.0.1:8080).
        #[arg(long)]
        listen: Option<String>,
    },
    /// Manage users.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage devices.
    Device {
        #[command(subcommand)]
        command: DeviceCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Add a user; the password is read from standard input.
    Add {
        #[arg(long)]
        username: String,
        /// customer_manager, project_manager, office_staff, dispatcher or admin.
        #[arg(long)]
        role: String,
        #[arg(long)]
        unit: String,
        #[arg(long)]
        display_name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Revoke every login token of a device (a lost phone).
    Revoke {
        #[arg(long)]
        device_id: String,
    },
}

fn config(cli: &Cli) -> Result<Config, ServerError> {
    let mut c = Config::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        c.data_dir = d.clone();
    }
    Ok(c)
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    match run_inner(cli).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            1
        }
    }
}

async fn run_inner(cli: Cli) -> Result<(), ServerError> {
    let mut cfg = config(&cli)?;
    match cli.command {
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let running = crate::start(&cfg).await?;
            println!("fieldline listening on http://{}", running.addr);
            shutdown_signal().await;
            println!("fieldline shutting down");
            running.stop().await;
            Ok(())
        }
        Command::Demo { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let db = Db::open(&cfg.data_dir)?;
            let ctx = crate::jobs::Context::default();
            let data_dir = cfg.data_dir.clone();
            let users = db.run_sync(|core| crate::demo::seed(core, &data_dir, &ctx))?;
            drop(db);
            let running = crate::start(&cfg).await?;
            println!(
                "fieldline demo · 演示数据（单位 {}）",
                crate::demo::DEMO_UNIT
            );
            println!(
                "{:<14} {:<18} 密码 / password",
                "用户 / user", "角色 / role"
            );
            for (user, role, password) in &users {
                println!("{user:<14} {:<18} {password}", role.as_str());
            }
            println!("data: {}", cfg.data_dir.display());
            println!("fieldline listening on http://{}", running.addr);
            shutdown_signal().await;
            running.stop().await;
            Ok(())
        }
        Command::User {
            command:
                UserCommand::Add {
                    username,
                    role,
                    unit,
                    display_name,
                },
        } => {
            let role = Role::parse(&role).ok_or_else(|| {
                ServerError::bad(
                    "bad_role",
                    format!("未知角色 {role}"),
                    format!(
                        "unknown role {role}; use one of: {}",
                        Role::ALL
                            .iter()
                            .map(|r| r.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })?;
            let mut password = String::new();
            std::io::stdin()
                .read_to_string(&mut password)
                .map_err(|e| ServerError::Io(e.to_string()))?;
            let password = password.trim_end_matches(['\r', '\n']);
            let db = Db::open(&cfg.data_dir)?;
            db.run_sync(|core| {
                auth::add_user(&core.conn, &username, password, role, &unit, &display_name)
            })?;
            println!("added user {username} ({})", role.as_str());
            Ok(())
        }
        Command::Device {
            command: DeviceCommand::Revoke { device_id },
        } => {
            let db = Db::open(&cfg.data_dir)?;
            let n = db.run_sync(|core| auth::revoke_device(&core.conn, &device_id))?;
            println!("revoked {n} token(s) of device {device_id}");
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {},
            _ = term.recv() => {},
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
