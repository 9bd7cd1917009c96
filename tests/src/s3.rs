//! A real S3-compatible server for tests: `s3s-fs` (crates.io, `cargo install s3s-fs --features
//! binary`), run as its own process on a free port with a temporary root. `scripts/test.sh`
//! installs it; `FIELDLINE_S3S_FS` may name the binary.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "fieldline-test";
pub const SECRET_KEY: &str = "fieldline-test-secret";
pub const BUCKET: &str = "fieldline-blobs";

/// A running s3s-fs; killed on drop.
pub struct S3Server {
    child: Child,
    pub endpoint: String,
    pub root: tempfile::TempDir,
}

impl Drop for S3Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn binary() -> PathBuf {
    if let Some(p) = std::env::var_os("FIELDLINE_S3S_FS") {
        return PathBuf::from(p);
    }
    let tools = PathBuf::from("/var/tmp/fieldline-tools/bin/s3s-fs");
    if tools.exists() {
        return tools;
    }
    PathBuf::from("s3s-fs")
}

impl S3Server {
    /// Starts s3s-fs with one bucket, waiting until it accepts connections.
    pub fn start() -> S3Server {
        let root = tempfile::tempdir().expect("temp dir");
        // s3s-fs keeps a bucket as a directory under its root.
        std::fs::create_dir(root.path().join(BUCKET)).expect("bucket dir");
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("free port")
            .port();
        let bin = binary();
        let child = Command::new(&bin)
            .args(["--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--access-key", ACCESS_KEY, "--secret-key", SECRET_KEY])
            .arg(root.path())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot start {} ({e}): install it with `cargo install s3s-fs --features \\
                     binary` or run scripts/test.sh",
                    bin.display()
                )
            });
        let started = Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "s3s-fs did not start"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        S3Server {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
            root,
        }
    }

    /// Server configuration that keeps blobs in this bucket.
    pub fn configure(&self, config: &mut fieldline_server::Config) {
        config.blob_store = "s3".into();
        config.s3 = fieldline_server::config::S3Config {
            bucket: BUCKET.into(),
            endpoint: self.endpoint.clone(),
            region: "us-east-1".into(),
            access_key_id: ACCESS_KEY.into(),
            secret_access_key: SECRET_KEY.into(),
            prefix: "photos/".into(),
            allow_http: true,
        };
    }

    /// Whether an object whose key ends in `name` is stored in the bucket (s3s-fs keeps
    /// objects as files named by their key under the bucket directory).
    pub fn holds(&self, name: &str) -> bool {
        fn walk(dir: &std::path::Path, name: &str) -> bool {
            std::fs::read_dir(dir).is_ok_and(|entries| {
                entries.flatten().any(|e| {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, name)
                    } else {
                        p.file_name().is_some_and(|f| f == name)
                    }
                })
            })
        }
        walk(&self.root.path().join(BUCKET), name)
    }
}
