//! The `fieldline` command line.

use crate::service::{Env, audit, auth};
use crate::store::{AuditQuery, Schema};
use crate::{Config, ServerError};
use clap::{Parser, Subcommand};
use field_core::Role;
use std::io::Read;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The database: `sqlite://PATH` or `postgres://…` (also FIELDLINE_DATABASE_URL; default:
    /// SQLite under the data directory).
    #[arg(long, global = true)]
    pub database_url: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create a new installation: the data directory (private to this user), the database and
    /// the signing key. An existing one is upgraded and otherwise left as it is. Every command
    /// but `init`, `serve` and `demo` needs an existing database.
    Init,
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
    /// Manage units (供电单位): create them before adding their users.
    Unit {
        #[command(subcommand)]
        command: UnitCommand,
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
    /// Verify and export signed supply contracts (供用电合同).
    Contract {
        #[command(subcommand)]
        command: ContractCommand,
    },
    /// The audit trail (审计记录): who changed what, when, from which device; logins, refusals,
    /// exports and downloads.
    /// Newest first; a notice on stderr says how many more match.
    Audit {
        /// Only this job.
        #[arg(long)]
        job: Option<String>,
        /// Only what this user did.
        #[arg(long)]
        user: Option<String>,
        /// Only what was done to this user (added, reset, disabled, changed, sessions ended).
        #[arg(long)]
        subject: Option<String>,
        /// Only entries at or after this time (RFC 3339, or a date YYYY-MM-DD in China time).
        #[arg(long)]
        since: Option<String>,
        /// Only entries before this time (RFC 3339, or a date YYYY-MM-DD: before that day).
        #[arg(long)]
        until: Option<String>,
        /// At most this many entries (1 or more).
        #[arg(long, default_value_t = 100)]
        limit: u32,
        /// Oldest first.
        #[arg(long)]
        oldest_first: bool,
        /// Print JSON (one array).
        #[arg(long)]
        json: bool,
    },
    /// Write policies (写入权限): which role may write which part of a job.
    Policy {
        #[command(subcommand)]
        command: PolicyCommand,
    },
    /// The photo files: `blobs check` finds those the database has but the store lacks.
    Blobs {
        #[command(subcommand)]
        command: BlobsCommand,
    },
    /// The server's contract-countersigning key: show it, or rotate it (stop the servers first).
    Key {
        #[command(subcommand)]
        command: KeyCommand,
    },
    /// Back up the installation into a new folder: a consistent snapshot of the database
    /// (SQLite or PostgreSQL, while the servers run), the photo files (or their list), the
    /// signing key and a manifest with counts and digests. `backup verify DIR` checks one.
    #[command(args_conflicts_with_subcommands = true)]
    Backup {
        #[command(subcommand)]
        command: Option<BackupCommand>,
        /// The new (or empty) folder to write.
        #[arg(long, required = true)]
        out: Option<PathBuf>,
        /// `copy` the photo files into the backup, or only `list` them (a bucket with its own
        /// versioning or replication keeps them).
        #[arg(long, default_value = "copy", value_parser = ["copy", "list"])]
        blobs: String,
    },
    /// Restore a backup into a new installation (an empty database; the data folder's database
    /// must not exist): verified whole first, then the database, the photo files and the key.
    Restore {
        /// The backup folder (`fieldline backup --out`).
        #[arg(long)]
        from: PathBuf,
    },
    /// The database: move an installation to another store.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Debug, Subcommand)]
pub enum BlobsCommand {
    /// Check that every photo file the database records is in the blob store at its size (with
    /// --full, that its bytes still hash to its name); lists the missing ones with their jobs
    /// and exits with 1 when any is.
    Check {
        #[arg(long)]
        full: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum KeyCommand {
    /// Print the key's public half and the retired keys still trusted.
    Show,
    /// Replace the key: the old public half stays trusted for the receipts it signed, new
    /// receipts are signed with the new key. Stop every server first. With the data folder's own
    /// key a new one is made; with a shared key (signing_key_file, FIELDLINE_SIGNING_KEY) give
    /// the new secret with --new-key-file, then install it on every node.
    Rotate {
        /// The new key's 32 secret bytes (for a shared key).
        #[arg(long)]
        new_key_file: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Check a backup: every file against the manifest, the database snapshot table by table,
    /// every photo file re-hashed (unless --quick: sizes only), the key against the contracts it
    /// countersigned. Exits with 1 when anything is wrong.
    Verify {
        /// The backup folder.
        dir: PathBuf,
        #[arg(long)]
        quick: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy everything from one database into a new, empty one (e.g. SQLite to PostgreSQL),
    /// then check every table's row count and digest on both sides. Stop the servers first.
    Copy {
        /// `sqlite://PATH` (the data directory or its fieldline.db) or `postgres://…`.
        #[arg(long)]
        from: String,
        /// An empty database: `postgres://…` or `sqlite://PATH`.
        #[arg(long)]
        to: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum PolicyCommand {
    /// Install a policy from a JSON file (a unit's override or a newer version; see
    /// field-core/data/policy/national.v1.json). Takes effect at its effective date.
    Add {
        #[arg(long)]
        file: PathBuf,
    },
    /// List the policies this server knows (the compiled-in default and those installed).
    List {
        #[arg(long)]
        json: bool,
    },
    /// Print the policy in force for a unit today.
    Show {
        #[arg(long)]
        unit: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum ContractCommand {
    /// Say whether a job's contracts (or an exported archive) are exactly as signed, or which
    /// part was altered. Exits with 1 when anything was altered.
    Verify {
        /// The job whose contracts to verify (from this server's database).
        #[arg(long, conflicts_with = "archive", required_unless_present = "archive")]
        job: Option<String>,
        /// Only this contract of the job.
        #[arg(long, requires = "job")]
        contract: Option<String>,
        /// An exported contract directory (`fieldline contract export`).
        #[arg(long)]
        archive: Option<PathBuf>,
        /// The server public key (hex) to trust for an archive; default: this server's key.
        #[arg(long)]
        server_key: Option<String>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write a job's contracts as archive directories (text, manifest, signatures, photos, PDF)
    /// under `--out/<contract id>/`.
    Export {
        #[arg(long)]
        job: String,
        #[arg(long)]
        contract: Option<String>,
        #[arg(long)]
        out: PathBuf,
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
    /// List the users (all units, or one).
    List {
        #[arg(long)]
        unit: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: every token and browser session ends at once.
    Disable {
        #[arg(long)]
        username: String,
    },
    /// Enable a disabled user again (they log in anew).
    Enable {
        #[arg(long)]
        username: String,
    },
    /// Give a user a new password, printed once; every token and session ends.
    Reset {
        #[arg(long)]
        username: String,
    },
    /// Change a user's role and unit; every token and session ends when either changes.
    Role {
        #[arg(long)]
        username: String,
        #[arg(long)]
        role: String,
        #[arg(long)]
        unit: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum UnitCommand {
    /// Add a unit.
    Add {
        /// Its code: 1–64 letters, digits or - _ . (as users and jobs name it).
        #[arg(long)]
        unit: String,
        /// Its name, e.g. 朱仙供电所.
        #[arg(long)]
        name: String,
    },
    /// List the units.
    List,
}

#[derive(Debug, Subcommand)]
pub enum DeviceCommand {
    /// Revoke a device (a lost phone): its tokens end and its password no longer logs it in
    /// until `device restore`.
    Revoke {
        #[arg(long)]
        device_id: String,
    },
    /// Let a revoked device log in again (its user signs in anew).
    Restore {
        #[arg(long)]
        device_id: String,
    },
}

fn config(cli: &Cli) -> Result<Config, ServerError> {
    let mut c = Config::load(cli.config.as_deref())?;
    if let Some(d) = &cli.data_dir {
        c.data_dir = d.clone();
    }
    if let Some(u) = &cli.database_url {
        c.database_url = u.clone();
    }
    Ok(c)
}

/// Runs the command line; returns the process exit code.
pub async fn run(cli: Cli) -> i32 {
    // Everything the server creates (database, keys, photos, demo passwords) is private.
    crate::files::private_by_default();
    match run_inner(cli).await {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("错误 / error: {e}");
            1
        }
    }
}

/// Opens an existing installation's store and services (without creating a signing key):
/// `Schema::AsIs` for commands that only read, `Schema::Upgrade` for those that write.
fn open(cfg: &Config, schema: Schema) -> Result<Arc<Env>, ServerError> {
    let store = crate::store::open_as(cfg, schema)?;
    let key = crate::signing::load(cfg)?;
    Ok(Arc::new(Env::new(cfg, store, key)?))
}

async fn run_inner(cli: Cli) -> Result<(), ServerError> {
    if !matches!(cli.command, Command::Serve { .. } | Command::Demo { .. }) {
        // A command whose output is piped into `head` ends quietly when the reader goes away,
        // as other Unix tools do (the server itself keeps ignoring SIGPIPE).
        #[cfg(unix)]
        // SAFETY: restoring the default disposition of one signal has no other effect.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let mut cfg = config(&cli)?;
    match cli.command {
        Command::Init => {
            let env = crate::open(&cfg)?;
            let key = env
                .signing_key
                .as_ref()
                .map(|k| k.public_hex())
                .unwrap_or_default();
            println!(
                "Fieldline 安装就绪 / installation ready: data {} · database {} · signing key {}",
                cfg.data_dir.display(),
                env.store.backend(),
                key
            );
            Ok(())
        }
        Command::Serve { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let stop = shutdown_signal();
            let running = crate::start(&cfg).await?;
            tracing::info!(
                addr = %running.addr,
                backend = running.env.store.backend(),
                "fieldline listening on http://{}",
                running.addr
            );
            stop.await;
            tracing::info!("fieldline shutting down");
            running.stop().await;
            Ok(())
        }
        Command::Demo { listen } => {
            if let Some(l) = listen {
                cfg.listen = l;
            }
            let listener = crate::listen(&cfg).await?;
            let env = crate::open(&cfg)?;
            let data_dir = cfg.data_dir.clone();
            let users = env
                .blocking(move |env| crate::service::demo::seed(env, &data_dir))
                .await?;
            let stop = shutdown_signal();
            let running = crate::serve_on(listener, &cfg, env).await?;
            println!(
                "fieldline demo · 演示数据（单位 {}）",
                crate::service::demo::DEMO_UNIT
            );
            println!(
                "{:<14} {:<18} 密码 / password",
                "用户 / user", "角色 / role"
            );
            for (user, role, password) in &users {
                println!("{user:<14} {:<18} {password}", role.as_str());
            }
            println!("data: {}", cfg.data_dir.display());
            tracing::info!(addr = %running.addr, "fieldline listening on http://{}", running.addr);
            stop.await;
            running.stop().await;
            Ok(())
        }
        Command::Unit { command } => match command {
            UnitCommand::Add { unit, name } => {
                let env = open(&cfg, Schema::Upgrade)?;
                let mut tx = env.store.write()?;
                crate::service::units::add(&mut *tx, &unit, &name, &operator())?;
                tx.commit()?;
                println!("已新建单位 {unit}（{name}）/ added unit {unit} ({name})");
                Ok(())
            }
            UnitCommand::List => {
                let env = open(&cfg, Schema::AsIs)?;
                for u in crate::service::units::list(&env)? {
                    println!("{:<16} {}", u.unit, u.name);
                }
                Ok(())
            }
        },
        Command::User { command } => user_command(&cfg, command).await,
        Command::Contract { command } => contract_command(&cfg, command).await,
        Command::Device { command } => {
            let env = open(&cfg, Schema::Upgrade)?;
            let mut tx = env.store.write()?;
            match command {
                DeviceCommand::Revoke { device_id } => {
                    let n = auth::revoke_device(&mut *tx, &device_id, Some(&operator()))?;
                    tx.commit()?;
                    println!(
                        "已吊销设备 {device_id}（结束 {n} 个令牌）/ revoked device {device_id} ({n} token(s) ended); it cannot log in until `fieldline device restore`"
                    );
                }
                DeviceCommand::Restore { device_id } => {
                    auth::restore_device(&mut *tx, &device_id, Some(&operator()))?;
                    tx.commit()?;
                    println!("设备 {device_id} 可重新登录 / device {device_id} may log in again");
                }
            }
            Ok(())
        }
        Command::Audit {
            job,
            user,
            subject,
            since,
            until,
            limit,
            oldest_first,
            json,
        } => {
            if limit == 0 {
                return Err(ServerError::bad(
                    "bad_limit",
                    "--limit 至少为 1",
                    "--limit must be 1 or more",
                ));
            }
            let since = since.as_deref().map(parse_since).transpose()?;
            let until = until.as_deref().map(parse_since).transpose()?;
            let env = open(&cfg, Schema::AsIs)?;
            let q = AuditQuery {
                job_id: job,
                username: user,
                subject,
                since,
                until,
                after_id: None,
                before_id: (!oldest_first).then_some(i64::MAX),
                limit,
            };
            let entries = audit::query(&env, &q)?;
            let total = env.store.read()?.audit_count(&q)?;
            print_audit(&entries, json);
            let more = total - entries.len() as i64;
            if more > 0 {
                eprintln!(
                    "另有 {more} 条{}记录未显示：调大 --limit，或用 --since/--until 缩小范围 / {more} more {} entries: raise --limit or narrow with --since/--until",
                    if oldest_first {
                        "更新的"
                    } else {
                        "更早的"
                    },
                    if oldest_first { "newer" } else { "older" }
                );
            }
            Ok(())
        }
        Command::Policy { command } => policy_command(&cfg, command),
        Command::Blobs {
            command: BlobsCommand::Check { full },
        } => {
            let env = open(&cfg, Schema::AsIs)?;
            let (checked, lost) = crate::service::integrity::check_all(&env, full, |n| {
                if n % 1000 == 0 {
                    eprint!("\r{n}");
                }
            })
            .await?;
            for l in &lost {
                let what = match &l.problem {
                    crate::service::integrity::Problem::Missing => "missing".to_string(),
                    crate::service::integrity::Problem::WrongSize { stored } => {
                        format!("wrong size ({stored} bytes)")
                    }
                    crate::service::integrity::Problem::Damaged => "damaged".to_string(),
                };
                println!("{}  {what}  jobs: {}", l.sha256, l.jobs.join(", "));
            }
            println!(
                "已检查 {checked} 个照片文件，{} 个有问题 / checked {checked} photo files, {} with problems",
                lost.len(),
                lost.len()
            );
            if lost.is_empty() {
                Ok(())
            } else {
                Err(ServerError::Setup {
                    zh: "照片存储缺少文件：请从备份恢复 blobs/ 或存储桶".into(),
                    en: "the blob store lacks files: restore blobs/ or the bucket from the backup"
                        .into(),
                })
            }
        }
        Command::Db {
            command: DbCommand::Copy { from, to },
        } => db_copy(&cfg, &from, &to),
        Command::Backup {
            command: Some(BackupCommand::Verify { dir, quick }),
            ..
        } => backup_verify(&dir, !quick).await,
        Command::Backup { out, blobs, .. } => {
            let out = out.expect("clap requires --out");
            backup(&cfg, &out, &blobs).await
        }
        Command::Restore { from } => restore(&cfg, &from).await,
        Command::Key {
            command: KeyCommand::Show,
        } => {
            let env = open(&cfg, Schema::AsIs)?;
            match env.server_key() {
                Some(k) => println!("当前 / current  {k}"),
                None => println!("尚无签名密钥 / no signing key yet"),
            }
            for r in crate::signing::retired(&*env.store.read()?)? {
                println!("已退役 / retired {} ({})", r.public, r.retired_at);
            }
            Ok(())
        }
        Command::Key {
            command: KeyCommand::Rotate { new_key_file },
        } => {
            let r = crate::service::keys::rotate(&cfg, new_key_file.as_deref(), &operator())?;
            println!(
                "签名密钥已更换 / signing key rotated: {} → {}",
                r.old_public, r.new_public
            );
            if r.shared {
                println!(
                    "请在启动前把每个节点的 signing_key_file 或 FIELDLINE_SIGNING_KEY 换成新密钥 / before starting, install the new key on every node (signing_key_file or FIELDLINE_SIGNING_KEY)"
                );
            }
            Ok(())
        }
    }
}

/// A progress line on stderr, rewritten in place (only on a terminal: never into a log file).
fn show_progress(p: crate::service::backup::Progress) {
    use crate::service::backup::Progress;
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return;
    }
    match p {
        Progress::Table { table, rows } => eprint!("\r\x1b[K{table}: {rows}"),
        Progress::Blob { done, of } => {
            if done == of || done % 100 == 0 {
                eprint!("\r\x1b[K照片 / photos: {done}/{of}")
            }
        }
    }
}

async fn backup(cfg: &Config, out: &std::path::Path, blobs: &str) -> Result<(), ServerError> {
    use crate::service::backup::{self, BlobMode};
    let mode = if blobs == "list" {
        BlobMode::Listed
    } else {
        BlobMode::Copied
    };
    let started = std::time::Instant::now();
    let m = backup::backup(cfg, out, mode, show_progress).await;
    eprintln!();
    let m = m?;
    println!(
        "备份完成 / backup written: {} ({} rows: {} jobs, {} users, {} changes; {} photo files, {} MiB {}; signing key {}) in {:.1} s",
        out.display(),
        m.tables.iter().map(|t| t.rows).sum::<u64>(),
        m.rows("jobs"),
        m.rows("users"),
        m.rows("changes"),
        m.blobs.count,
        m.blobs.bytes / (1 << 20),
        if mode == BlobMode::Listed {
            "listed, not copied"
        } else {
            "copied"
        },
        m.signing_key.as_ref().map_or("none", |k| k.public.as_str()),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn backup_verify(dir: &std::path::Path, full: bool) -> Result<(), ServerError> {
    let v = crate::service::backup::verify(dir, full, show_progress).await;
    eprintln!();
    let v = v?;
    for p in &v.problems {
        println!("  ✗ {p}");
    }
    if v.problems.is_empty() {
        println!(
            "备份完好 / the backup is whole: {} from {} ({} tables, {} photo files{})",
            dir.display(),
            v.manifest.created_at,
            v.manifest.tables.len(),
            v.manifest.blobs.count,
            if full { ", re-hashed" } else { ", sizes only" }
        );
        Ok(())
    } else {
        Err(ServerError::Setup {
            zh: format!("备份有 {} 处问题", v.problems.len()),
            en: format!("the backup has {} problem(s)", v.problems.len()),
        })
    }
}

async fn restore(cfg: &Config, from: &std::path::Path) -> Result<(), ServerError> {
    let started = std::time::Instant::now();
    let r = crate::service::backup::restore(cfg, from, &operator(), show_progress).await;
    eprintln!();
    let r = r?;
    println!(
        "已恢复 / restored {} rows from the backup of {}; photo files: {} copied, {} already in the store{}; signing key: {} ({:.1} s)",
        r.rows,
        r.manifest.created_at,
        r.blobs_copied,
        r.blobs_present,
        if r.blobs_missing.is_empty() {
            String::new()
        } else {
            format!(", {} missing", r.blobs_missing.len())
        },
        match (&r.key, &r.manifest.signing_key) {
            (Some(path), _) => path.display().to_string(),
            (None, Some(k)) => format!("the configured key ({})", k.public),
            (None, None) => "none in the backup (a new one is made at the first start)".into(),
        },
        started.elapsed().as_secs_f64()
    );
    if r.blobs_missing.is_empty() {
        Ok(())
    } else {
        for sha in &r.blobs_missing {
            println!("  ✗ {sha}");
        }
        Err(ServerError::Setup {
            zh: format!(
                "照片存储缺少 {} 个备份只列出而未复制的文件：请从存储桶的版本或副本恢复它们，然后运行 fieldline blobs check",
                r.blobs_missing.len()
            ),
            en: format!(
                "the blob store lacks {} photo files the backup only listed: restore them from the bucket's versions or replica, then run fieldline blobs check",
                r.blobs_missing.len()
            ),
        })
    }
}

fn db_copy(cfg: &Config, from: &str, to: &str) -> Result<(), ServerError> {
    if let Some(path) = from.strip_prefix("sqlite://") {
        let dir = crate::store::sqlite::dir_of(std::path::Path::new(path))?;
        if !dir.join(crate::store::sqlite::FILE).is_file() {
            return Err(ServerError::Io(format!(
                "{} 不存在 / {} does not exist",
                dir.join(crate::store::sqlite::FILE).display(),
                dir.join(crate::store::sqlite::FILE).display()
            )));
        }
    }
    let open = |url: &str| {
        let mut c = cfg.clone();
        c.database_url = url.to_string();
        crate::store::open(&c)
    };
    let (source, target) = (open(from)?, open(to)?);
    let started = std::time::Instant::now();
    let mut last = String::new();
    let report = crate::store::copy::copy(&*source, &*target, |table, rows| {
        if table != last {
            if !last.is_empty() {
                eprintln!();
            }
            last = table.to_string();
        }
        eprint!("\r{table}: {rows}");
    })?;
    eprintln!();
    for (table, rows, digest) in &report.tables {
        println!("{table:<20} {rows:>10}  {}", &digest[..16]);
    }
    println!(
        "已复制并核对 {} 行 / copied and verified {} rows in {:.1} s",
        report.rows(),
        report.rows(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// The operator as the administration services see them: an admin of every unit.
fn operator_principal() -> crate::authz::Principal {
    crate::authz::Principal {
        user_id: 0,
        username: operator(),
        display_name: operator(),
        role: Role::Admin,
        unit: String::new(),
        device_id: "cli".into(),
        actor: None,
    }
}

/// A new user's role and password hash, checked and hashed before any database is opened.
fn prepare_new_user(role: &str) -> Result<(Role, String), ServerError> {
    let role = Role::parse(role).ok_or_else(|| {
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
    auth::check_password(password)?;
    let hash = auth::hash_password(password)?;
    Ok((role, hash))
}

/// `fieldline user add / list / disable / enable / reset / role`, through the same administration
/// service as the admin's pages, audited as the operator.
async fn user_command(cfg: &Config, command: UserCommand) -> Result<(), ServerError> {
    use crate::service::admin;
    let new_user = match &command {
        UserCommand::Add { role, .. } => Some(prepare_new_user(role)?),
        _ => None,
    };
    let env = open(
        cfg,
        if matches!(command, UserCommand::List { .. }) {
            Schema::AsIs
        } else {
            Schema::Upgrade
        },
    )?;
    let who = operator_principal();
    match command {
        UserCommand::Add {
            username,
            unit,
            display_name,
            ..
        } => {
            let (role, hash) = new_user.expect("read before the database was opened");
            let mut tx = env.store.write()?;
            auth::add_user(
                &mut *tx,
                &username,
                &hash,
                role,
                &unit,
                &display_name,
                &operator(),
            )?;
            tx.commit()?;
            println!("added user {username} ({})", role.as_str());
        }
        UserCommand::List { unit, json } => {
            let users: Vec<_> = admin::users(&env, &who)?
                .into_iter()
                .filter(|u| unit.as_ref().is_none_or(|x| *x == u.unit))
                .collect();
            if json {
                let rows: Vec<serde_json::Value> = users
                    .iter()
                    .map(|u| {
                        serde_json::json!({
                            "username": u.username, "display_name": u.display_name,
                            "role": u.role, "unit": u.unit, "disabled": u.disabled,
                            "leader": u.leader,
                        })
                    })
                    .collect();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&rows).unwrap_or_default()
                );
            } else {
                for u in &users {
                    println!(
                        "{:<16} {:<18} {:<12} {}{}",
                        u.username,
                        u.role,
                        u.unit,
                        u.display_name,
                        if u.disabled {
                            "  (停用 / disabled)"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
        UserCommand::Disable { username } => {
            admin::set_disabled(&env, &who, &username, true)?;
            println!(
                "已停用 {username}，其令牌和会话已结束 / disabled {username}; their tokens and sessions ended"
            );
        }
        UserCommand::Enable { username } => {
            admin::set_disabled(&env, &who, &username, false)?;
            println!("已启用 {username}（需重新登录）/ enabled {username} (they log in anew)");
        }
        UserCommand::Reset { username } => {
            let password = admin::reset_password(&env, &who, &username)?;
            println!("{username} 的新密码 / new password of {username}: {password}");
        }
        UserCommand::Role {
            username,
            role,
            unit,
        } => {
            admin::set_role_unit(&env, &who, &username, &role, &unit)?;
            println!("{username}: {role} · {unit}");
        }
    }
    Ok(())
}

/// Who acts through the command line, as the audit trail records it: `cli:` and the operating
/// system's user.
fn operator() -> String {
    let os_user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("cli:{os_user}")
}

/// RFC 3339, or a China date (its midnight).
fn parse_since(s: &str) -> Result<i64, ServerError> {
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        let midnight = d.and_hms_opt(0, 0, 0).expect("midnight");
        return Ok((midnight - chrono::Duration::hours(8))
            .and_utc()
            .timestamp_millis());
    }
    Err(ServerError::bad(
        "bad_time",
        format!("时间 {s} 无效：请用 RFC 3339 或 YYYY-MM-DD"),
        format!("{s} is not a time: use RFC 3339 or YYYY-MM-DD"),
    ))
}

fn print_audit(entries: &[crate::store::AuditEntry], json: bool) {
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(entries).unwrap_or_default()
        );
        return;
    }
    if entries.is_empty() {
        println!("没有记录 / no entries");
    }
    let china = field_core::job::china_offset();
    for e in entries {
        let at = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(e.at)
            .map(|t| {
                t.with_timezone(&china)
                    .format("%Y-%m-%d %H:%M:%S")
                    .to_string()
            })
            .unwrap_or_default();
        let who = e.username.as_deref().unwrap_or("-");
        let role = e.role.as_deref().unwrap_or("");
        let device = e.device_id.as_deref().unwrap_or("-");
        let job = e.job_id.as_deref().unwrap_or("");
        let what = if e.sections.is_empty() {
            e.detail.to_string()
        } else {
            e.sections.join(",")
        };
        println!(
            "#{:<6} {at} {:<16} {who:<12} {role:<16} {device:<34} {job} {what}",
            e.id, e.kind
        );
    }
}

fn policy_command(cfg: &Config, command: PolicyCommand) -> Result<(), ServerError> {
    match command {
        PolicyCommand::Add { file } => {
            let body = std::fs::read_to_string(&file)
                .map_err(|e| ServerError::Io(format!("{}: {e}", file.display())))?;
            let env = open(cfg, Schema::Upgrade)?;
            let r = crate::service::reference::install(&env, &operator(), "write_policy", &body)?;
            println!(
                "installed write policy {} v{} ({}, from {}); a running server applies it when \
                 restarted (the administration pages apply at once); phones get it at their next sync",
                r.id,
                r.version,
                r.unit.as_deref().unwrap_or("all units"),
                r.effective_from.as_deref().unwrap_or("-")
            );
            Ok(())
        }
        PolicyCommand::List { json } => {
            let env = open(cfg, Schema::AsIs)?;
            let book = env.policies.read().unwrap_or_else(|p| p.into_inner());
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(book.all()).unwrap_or_default()
                );
            } else {
                for p in book.all() {
                    println!(
                        "{} v{}  unit {}  from {}",
                        p.id,
                        p.version,
                        p.unit.as_deref().unwrap_or("*"),
                        p.effective_from
                    );
                }
            }
            Ok(())
        }
        PolicyCommand::Show { unit } => {
            let env = open(cfg, Schema::AsIs)?;
            let p = env.policy(&unit);
            println!("{}", serde_json::to_string_pretty(&p).unwrap_or_default());
            Ok(())
        }
    }
}

fn print_verification(v: &field_core::contract::Verification, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(v).unwrap_or_default());
        return;
    }
    let (zh, en) = v.summary();
    println!("{zh}\n{en}");
    for f in &v.altered {
        println!("  ✗ {} / {}: {} / {}", f.part.zh(), f.part.en(), f.zh, f.en);
    }
    for f in &v.unchecked {
        println!("  ? {} / {}: {} / {}", f.part.zh(), f.part.en(), f.zh, f.en);
    }
}

fn altered_error(count: usize) -> ServerError {
    ServerError::bad(
        "contract_altered",
        format!("{count} 份合同被改动"),
        format!("{count} contract(s) were altered"),
    )
}

async fn contract_command(cfg: &Config, command: ContractCommand) -> Result<(), ServerError> {
    let own_key = crate::signing::load(cfg)?.map(|k| k.public_hex());
    match command {
        ContractCommand::Verify {
            archive: Some(dir),
            server_key,
            json,
            ..
        } => {
            // The server's own keys (its retired ones too) unless the caller names one.
            let retired = match (&server_key, &own_key) {
                (None, Some(_)) => open(cfg, Schema::AsIs)
                    .map(|env| env.retired_keys.clone())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            let key = server_key.or(own_key);
            let v = crate::service::contracts::verify_archive(&dir, key.as_deref(), &retired)?;
            print_verification(&v, json);
            if v.is_valid() {
                Ok(())
            } else {
                Err(altered_error(1))
            }
        }
        ContractCommand::Verify {
            job: Some(job),
            contract,
            json,
            ..
        } => {
            let env = open(cfg, Schema::Upgrade)?;
            let key = own_key.ok_or_else(|| {
                ServerError::bad(
                    "no_server_key",
                    "此数据目录没有服务器签名密钥",
                    "this data directory has no server signing key",
                )
            })?;
            let all = crate::service::contracts::verify_job(&env, &key, &job, contract.as_deref())
                .await?;
            for v in &all {
                audit::record(
                    &env,
                    crate::store::AuditEntry {
                        kind: "contract_verified".into(),
                        username: Some(operator()),
                        job_id: Some(job.clone()),
                        detail: serde_json::json!({
                            "contract": v.contract_id, "valid": v.is_valid(),
                        }),
                        ..Default::default()
                    },
                )?;
            }
            if all.is_empty() {
                println!("工单 {job} 没有合同 / job {job} has no contracts");
            }
            for v in &all {
                print_verification(v, json);
            }
            match all.iter().filter(|v| !v.is_valid()).count() {
                0 => Ok(()),
                n => Err(altered_error(n)),
            }
        }
        ContractCommand::Verify { .. } => Err(ServerError::bad(
            "missing_argument",
            "请指定 --job 或 --archive",
            "give --job or --archive",
        )),
        ContractCommand::Export { job, contract, out } => {
            let env = open(cfg, Schema::Upgrade)?;
            let job = crate::service::contracts::load_job(&env, &job).await?;
            let ids: Vec<String> = match contract {
                Some(c) => vec![c],
                None => job.contracts.keys().cloned().collect(),
            };
            // Never a partial archive: every photo the server received must be in the store.
            let photos = crate::service::contracts::manifest_photos(&job, &ids);
            crate::service::integrity::require(&env, photos).await?;
            for id in ids {
                let started = std::time::Instant::now();
                let (j, c) = (job.clone(), id.clone());
                let pdf = tokio::task::spawn_blocking(move || crate::pdf::render(&j, &c))
                    .await
                    .map_err(|e| ServerError::Internal(e.to_string()))??;
                let render_ms = started.elapsed().as_millis();
                let dir = out.join(&id);
                let files =
                    crate::service::contracts::export(&env.blobs, &job, &id, &dir, pdf.clone())
                        .await?;
                audit::record(
                    &env,
                    crate::store::AuditEntry {
                        kind: "contract_exported".into(),
                        username: Some(operator()),
                        job_id: Some(job.id.clone()),
                        detail: serde_json::json!({
                            "contract": id, "out": dir.display().to_string(), "files": files.len(),
                        }),
                        ..Default::default()
                    },
                )?;
                println!(
                    "合同 {id} → {}（{} 个文件{}）/ contract {id} → {} ({} files{})",
                    dir.display(),
                    files.len(),
                    pdf.as_ref()
                        .map(|p| format!("，PDF {} 字节，{render_ms} 毫秒", p.len()))
                        .unwrap_or_default(),
                    dir.display(),
                    files.len(),
                    pdf.as_ref()
                        .map(|p| format!(", PDF {} bytes in {render_ms} ms", p.len()))
                        .unwrap_or_default(),
                );
            }
            Ok(())
        }
    }
}

/// Waits for SIGTERM or Ctrl-C. The handlers are installed when this is called (not when the
/// future is first awaited), so a stop that arrives right after the "listening" line is clean.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let term = signal(SignalKind::terminate()).ok();
        let int = signal(SignalKind::interrupt()).ok();
        async move {
            let wait = |s: Option<tokio::signal::unix::Signal>| async move {
                match s {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                _ = wait(term) => {},
                _ = wait(int) => {},
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
