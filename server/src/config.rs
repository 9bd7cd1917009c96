//! Settings: defaults, then a TOML file, then `FIELDLINE_*` environment variables, then flags.

use crate::error::ServerError;
use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Config {
    /// Address to listen on; port 0 picks a free one.
    pub listen: String,
    /// Where the database (SQLite), the blobs (`blob_store = "fs"`) and the signing key live.
    pub data_dir: PathBuf,
    /// The database: `sqlite://PATH` or `postgres://user:password@host:port/db` (several
    /// nodes share one PostgreSQL). Empty: SQLite under `data_dir`.
    pub database_url: String,
    /// Connections per node to PostgreSQL.
    pub database_pool: u32,
    /// How long a login token lasts.
    pub token_ttl_days: u32,
    /// Login attempts per minute for one account from one client address (a stranger's guesses
    /// from elsewhere never use up the owner's; many addresses meet a backoff instead).
    pub login_attempts_per_minute: u32,
    /// Login attempts per minute from one client address (for any accounts).
    pub login_attempts_per_minute_per_address: u32,
    /// Behind a reverse proxy: the header that carries the client's address (e.g.
    /// `X-Forwarded-For`, whose last entry the proxy added, or `X-Real-IP`). Empty: the TCP peer.
    /// Set it only when every request passes the proxy, or clients could pick their address.
    pub client_ip_header: String,
    /// Requests per minute from one client address to the customers' pages (`/public`, `/p/…`),
    /// which need no login.
    pub public_requests_per_minute_per_address: u32,
    /// Online applications (申请用电) one client address may file per hour (each phone number
    /// may file three a day).
    pub applications_per_hour_per_address: u32,
    /// How long a unit's public list of customer managers is reused, seconds (it counts every
    /// job of the unit).
    pub public_cache_seconds: u64,
    /// Largest customer file (一户一档 zip) built, MiB: a job whose photos add up to more is
    /// refused with a message instead of filling the disk.
    pub archive_max_mib: u64,
    /// Customer files built at once (each streams its photos to a temporary file).
    pub archive_builds: u32,
    /// Sync exchanges worked on at once by this node (decoding, planning, writing); more wait
    /// their turn. Bounding them to about the node's cores keeps a write that holds a lock from
    /// sharing the cores with dozens of others. 0: as many as the node has cores.
    pub sync_workers: u32,
    /// Largest accepted photo upload (one blob), MiB.
    pub max_upload_mib: u64,
    /// Uploads untouched this long are forgotten with their partial bytes (the phone starts
    /// them again), hours.
    pub upload_expiry_hours: u64,
    /// Where photo blobs are kept: `fs` (under `data_dir/blobs`) or `s3`.
    pub blob_store: String,
    /// S3-compatible object storage (when `blob_store = "s3"`).
    pub s3: S3Config,
    /// Mark browser cookies `Secure` (set this when the server is reached over TLS; requests
    /// a proxy marks `X-Forwarded-Proto: https` get it anyway).
    pub secure_cookies: bool,
    /// The contract-countersigning key shared by every node: a file holding the 32 secret
    /// bytes (e.g. a mounted secret), never created by the server. Empty: `data_dir`'s own
    /// `server-signing.key`, created on first start.
    pub signing_key_file: String,
    /// The same key as 64 hex characters (e.g. `FIELDLINE_SIGNING_KEY` from a secret store);
    /// wins over `signing_key_file`.
    pub signing_key: String,
    /// This node's name among several (leases on once-per-cluster work). Empty: the host name
    /// and the listen address, so a restarted node takes its own lease back at once.
    pub node_id: String,
}

/// An S3-compatible bucket (AWS, MinIO, Ceph RGW, s3s-fs…).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct S3Config {
    pub bucket: String,
    /// e.g. `http://127.0.0.1:9000`; empty for AWS itself.
    pub endpoint: String,
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: String,
    /// Key prefix inside the bucket, e.g. `fieldline/`.
    pub prefix: String,
    /// Allow plain HTTP endpoints (tests, private networks).
    pub allow_http: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./fieldline-data"),
            database_url: String::new(),
            database_pool: 16,
            token_ttl_days: 30,
            login_attempts_per_minute: 10,
            login_attempts_per_minute_per_address: 60,
            client_ip_header: String::new(),
            public_requests_per_minute_per_address: 120,
            applications_per_hour_per_address: 10,
            public_cache_seconds: 60,
            archive_max_mib: 2048,
            archive_builds: 2,
            sync_workers: 0,
            max_upload_mib: 64,
            upload_expiry_hours: 7 * 24,
            blob_store: "fs".into(),
            s3: S3Config::default(),
            secure_cookies: false,
            signing_key_file: String::new(),
            signing_key: String::new(),
            node_id: String::new(),
        }
    }
}

impl Config {
    /// The node's name: `node_id`, else the host name and the listen address.
    pub fn node_name(&self) -> String {
        if !self.node_id.trim().is_empty() {
            return self.node_id.trim().to_string();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "node".into());
        format!("{host}@{}", self.listen)
    }

    /// Loads settings: defaults < `file` (if given, or `FIELDLINE_CONFIG`) < environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ServerError> {
        let mut fig = Figment::from(Serialized::defaults(Config::default()));
        let file = file
            .map(Path::to_path_buf)
            .or_else(|| std::env::var_os("FIELDLINE_CONFIG").map(PathBuf::from));
        if let Some(f) = file {
            if !f.exists() {
                return Err(ServerError::Io(format!(
                    "config file {} not found",
                    f.display()
                )));
            }
            check_known(&Figment::from(Toml::file(&f)), &format!("{}", f.display()))?;
            fig = fig.merge(Toml::file(f));
        }
        check_environment()?;
        fig = fig.merge(Env::prefixed("FIELDLINE_").ignore(&["config"]).split("__"));
        fig.extract()
            .map_err(|e| ServerError::Io(format!("invalid configuration: {e}")))
    }
}

/// `FIELDLINE_*` variables that are not settings: read by the server for other things (logs,
/// fonts, the test crash points) or by the project's scripts and tests.
pub const OTHER_VARIABLES: &[&str] = &[
    "CONFIG",
    "LOG",
    "LOG_FORMAT",
    "PDF_FONT_DIR",
    "CRASH_AT",
    "ARTIFACTS",
    "BIN",
    "CHROMEDRIVER",
    "CHROMIUM",
    "FUZZ_BUDGET_MIN",
    "FUZZ_SECONDS",
    "FUZZ_TARGET",
    "JS_DIR",
    "KEEP_PDF",
    "PG_DIR",
    "PROPTEST_CASES",
    "REF_DIR",
    "S3S_FS",
    "SKIP_CROSSCHECK",
    "TEST_POSTGRES",
    "TOOLS",
];

/// Every setting's name: `listen`, …, and `s3.bucket`, … for the nested table.
fn known_keys() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(serde_json::Value::Object(top)) = serde_json::to_value(Config::default()) {
        for (k, v) in top {
            match v {
                serde_json::Value::Object(nested) => {
                    out.extend(nested.keys().map(|n| format!("{k}.{n}")));
                }
                _ => out.push(k),
            }
        }
    }
    out
}

/// The known key nearest to `key` (by edit distance), when one is near enough to be a typo.
fn nearest(key: &str, known: &[String]) -> Option<String> {
    let distance = |a: &str, b: &str| -> usize {
        let b: Vec<char> = b.chars().collect();
        let mut row: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut prev = row[0];
            row[0] = i + 1;
            for (j, cb) in b.iter().enumerate() {
                let cur = row[j + 1];
                row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
                prev = cur;
            }
        }
        row[b.len()]
    };
    known
        .iter()
        .map(|k| (distance(key, k), k))
        .filter(|(d, k)| *d <= (k.len() / 3).max(2))
        .min()
        .map(|(_, k)| k.clone())
}

fn unknown(key: &str, place: &str, known: &[String]) -> ServerError {
    let hint = nearest(key, known);
    ServerError::Setup {
        zh: format!(
            "{place} 中有未知设置 {key}{}",
            hint.as_ref()
                .map(|h| format!("：是否想写 {h}？"))
                .unwrap_or_else(|| "（见 docs/deployment.md 的设置表）".into())
        ),
        en: format!(
            "unknown setting {key} in {place}{}",
            hint.as_ref()
                .map(|h| format!(": did you mean {h}?"))
                .unwrap_or_else(|| " (see the settings in docs/deployment.md)".into())
        ),
    }
}

/// Refuses a configuration file naming a key that is not a setting.
fn check_known(file: &Figment, place: &str) -> Result<(), ServerError> {
    use figment::Provider;
    use figment::value::Value;
    let known = known_keys();
    let data = file
        .data()
        .map_err(|e| ServerError::Io(format!("invalid configuration: {e}")))?;
    for dict in data.values() {
        for (key, value) in dict {
            match value {
                Value::Dict(_, nested)
                    if known.iter().any(|k| k.starts_with(&format!("{key}."))) =>
                {
                    for n in nested.keys() {
                        let full = format!("{key}.{n}");
                        if !known.contains(&full) {
                            return Err(unknown(&full, place, &known));
                        }
                    }
                }
                _ if known.contains(key) => {}
                _ => return Err(unknown(key, place, &known)),
            }
        }
    }
    Ok(())
}

/// Refuses a `FIELDLINE_*` environment variable that is neither a setting nor one of
/// [`OTHER_VARIABLES`].
fn check_environment() -> Result<(), ServerError> {
    let known = known_keys();
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        let Some(rest) = name.strip_prefix("FIELDLINE_") else {
            continue;
        };
        if OTHER_VARIABLES.contains(&rest) {
            continue;
        }
        let key = rest.to_ascii_lowercase().replace("__", ".");
        if !known.contains(&key) {
            let env_known: Vec<String> = known
                .iter()
                .map(|k| format!("FIELDLINE_{}", k.to_ascii_uppercase().replace('.', "__")))
                .collect();
            return Err(unknown(name, "the environment", &env_known));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn toml_file_overrides_defaults_and_bad_files_are_clear_errors() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fieldline.toml");
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\ntoken_ttl_days = 7\n").unwrap();
        let c = Config::load(Some(&file)).unwrap();
        assert_eq!(c.listen, "0.0.0.0:9000");
        assert_eq!(c.token_ttl_days, 7);
        assert_eq!(c.data_dir, Config::default().data_dir);
        std::fs::write(&file, "token_ttl_days = \"soon\"\n").unwrap();
        assert!(
            Config::load(Some(&file))
                .unwrap_err()
                .to_string()
                .contains("invalid configuration")
        );
        assert!(Config::load(Some(&dir.path().join("missing.toml"))).is_err());
    }

    #[test]
    fn misspelt_settings_are_errors_that_name_the_nearest_key() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("fieldline.toml");
        for (text, key, hint) in [
            ("listn = \"0.0.0.0:9000\"\n", "listn", Some("listen")),
            (
                "[s3]\nbuckett = \"photos\"\n",
                "s3.buckett",
                Some("s3.bucket"),
            ),
            ("colour = \"blue\"\n", "colour", None),
        ] {
            std::fs::write(&file, text).unwrap();
            let e = Config::load(Some(&file)).unwrap_err().to_string();
            assert!(e.contains(&format!("unknown setting {key}")), "{e}");
            assert!(e.contains(&file.display().to_string()), "{e}");
            if let Some(h) = hint {
                assert!(e.contains(&format!("did you mean {h}?")), "{e}");
            }
        }
        std::fs::write(&file, "listen = \"0.0.0.0:9000\"\n[s3]\nbucket = \"b\"\n").unwrap();
        assert_eq!(Config::load(Some(&file)).unwrap().s3.bucket, "b");
        assert_eq!(
            nearest("FIELDLINE_LISTN", &["FIELDLINE_LISTEN".to_string()]).as_deref(),
            Some("FIELDLINE_LISTEN")
        );
    }
}
