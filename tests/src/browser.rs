//! Real headless Chromium for the web UI tests, driven over WebDriver (chromedriver +
//! fantoccini). Screenshots go to `$FIELDLINE_ARTIFACTS/<test>/` (default: the cargo target's
//! `tmp/screenshots/<test>/`) so a person can look at them.
//!
//! Without Chromium the tests are skipped with a message, except under `CI=true`, where a missing
//! browser is a failure (the test script installs it).

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A headless Chromium with its own profile and download folder.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
    pub downloads: PathBuf,
    pub shots: PathBuf,
    width: u32,
    taken: usize,
}

fn find_program(env: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(p) = std::env::var_os(env) {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    for name in names {
        for dir in std::env::split_paths(&path) {
            let p = dir.join(name);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Browser {
    /// Starts chromedriver and a headless Chromium; `None` (skip) when they are not installed
    /// outside CI.
    pub async fn start(test: &str) -> Option<Browser> {
        let chromium = find_program(
            "FIELDLINE_CHROMIUM",
            &["chromium", "chromium-browser", "google-chrome"],
        );
        let driver = find_program("FIELDLINE_CHROMEDRIVER", &["chromedriver"]);
        let (chromium, driver_bin) = match (chromium, driver) {
            (Some(c), Some(d)) => (c, d),
            _ => {
                assert!(
                    std::env::var("CI").as_deref() != Ok("true"),
                    "CI needs chromium and chromedriver (apt-get install chromium chromium-driver)"
                );
                eprintln!("skipped: chromium or chromedriver not installed");
                return None;
            }
        };
        let port = free_port();
        let driver = Command::new(&driver_bin)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let url = format!("http://127.0.0.1:{port}");
        for _ in 0..200 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let profile = tempfile::tempdir().expect("profile dir");
        let downloads = profile.path().join("downloads");
        std::fs::create_dir_all(&downloads).unwrap();
        let width = 1280;
        let caps = json!({
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update",
                    "--disable-sync", "--disable-dev-shm-usage", "--hide-scrollbars",
                    "--lang=zh-CN",
                    format!("--user-data-dir={}", profile.path().join("profile").display()),
                    format!("--window-size={width},900"),
                ],
                "prefs": {
                    "download.default_directory": downloads,
                    "download.prompt_for_download": false,
                    "download.directory_upgrade": true,
                    "safebrowsing.enabled": false,
                }
            }
        });
        let caps = match caps {
            serde_json::Value::Object(m) => m,
            _ => unreachable!(),
        };
        let mut last = None;
        let mut client = None;
        for _ in 0..5 {
            // chromedriver speaks plain HTTP on loopback: no TLS stack needed.
            let http = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(http)
                .capabilities(caps.clone())
                .connect(&url)
                .await
            {
                Ok(c) => {
                    client = Some(c);
                    break;
                }
                Err(e) => {
                    last = Some(e);
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
            }
        }
        let client = client.unwrap_or_else(|| panic!("chromium session: {last:?}"));
        // Headless Chromium saves downloads only when told where, over the DevTools protocol.
        let session = client.session_id().await.unwrap().expect("a session id");
        let r = reqwest::Client::new()
            .post(format!("{url}/session/{session}/goog/cdp/execute"))
            .json(&json!({
                "cmd": "Page.setDownloadBehavior",
                "params": {"behavior": "allow", "downloadPath": downloads}
            }))
            .send()
            .await
            .expect("chromedriver answers");
        assert!(r.status().is_success(), "download folder: {}", r.status());
        let shots = match std::env::var_os("FIELDLINE_ARTIFACTS") {
            Some(d) => PathBuf::from(d),
            // target/<profile>/deps/<test binary> → target/tmp/screenshots
            None => std::env::current_exe()
                .ok()
                .and_then(|e| e.ancestors().nth(3).map(Path::to_path_buf))
                .unwrap_or_else(std::env::temp_dir)
                .join("tmp")
                .join("screenshots"),
        }
        .join(test);
        let _ = std::fs::remove_dir_all(&shots);
        std::fs::create_dir_all(&shots).unwrap();
        Some(Browser {
            client,
            driver,
            _profile: profile,
            downloads,
            shots,
            width,
            taken: 0,
        })
    }

    /// Logs in through the login form at `base` (from wherever the browser is sent first).
    pub async fn login(&self, base: &str, start: &str, user: &str, password: &str) {
        self.goto(&format!("{base}{start}")).await;
        self.fill("input[name=username]", user).await;
        self.fill("input[name=password]", password).await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigates");
    }

    pub async fn path(&self) -> String {
        let u = self.client.current_url().await.unwrap();
        match u.query() {
            Some(q) => format!("{}?{q}", u.path()),
            None => u.path().to_string(),
        }
    }

    /// The text of the first element matching `css`.
    pub async fn text(&self, css: &str) -> String {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .text()
            .await
            .unwrap()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.client.find_all(Locator::Css(css)).await.unwrap().len()
    }

    /// Clicks what leads to another page and waits until that page has loaded (a marker set
    /// on the old document is gone and the new one is complete).
    pub async fn click(&self, css: &str) {
        self.js("window.__flOld = true; return 0").await;
        self.click_only(css).await;
        self.wait_new_page(&format!("clicking {css}")).await;
    }

    async fn wait_new_page(&self, what: &str) {
        for _ in 0..200 {
            let v = self
                .client
                .execute(
                    "return !window.__flOld && document.readyState === 'complete'",
                    vec![],
                )
                .await;
            if matches!(v, Ok(serde_json::Value::Bool(true))) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("{what} loaded no page");
    }

    /// Clicks without waiting for a page (downloads, buttons that stay on the page).
    pub async fn click_only(&self, css: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .unwrap_or_else(|e| panic!("click {css}: {e}"));
    }

    /// Sends a key (WebDriver key code, e.g. `"\u{e014}"` for →) to the focused element and
    /// waits for the page it leads to.
    pub async fn key_to_page(&self, key: &str) {
        self.js("window.__flOld = true; return 0").await;
        self.client
            .active_element()
            .await
            .unwrap()
            .send_keys(key)
            .await
            .unwrap();
        self.wait_new_page("the key").await;
    }

    pub async fn fill(&self, css: &str, text: &str) {
        let e = self
            .client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        e.clear().await.unwrap();
        e.send_keys(text).await.unwrap();
    }

    /// Chooses a local file in a file input (the browser runs on this machine).
    pub async fn upload(&self, css: &str, file: &std::path::Path) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .send_keys(&file.display().to_string())
            .await
            .unwrap_or_else(|e| panic!("upload {} in {css}: {e}", file.display()));
    }

    pub async fn select(&self, css: &str, value: &str) {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .select_by_value(value)
            .await
            .unwrap_or_else(|e| panic!("select {value} in {css}: {e}"));
    }

    pub async fn attr(&self, css: &str, name: &str) -> Option<String> {
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .attr(name)
            .await
            .unwrap()
    }

    pub async fn js(&self, script: &str) -> serde_json::Value {
        self.client.execute(script, vec![]).await.unwrap()
    }

    /// The value of the session cookie, for fetching files as the signed-in browser.
    pub async fn cookie_header(&self) -> String {
        self.client
            .get_all_cookies()
            .await
            .unwrap()
            .iter()
            .map(|c| format!("{}={}", c.name(), c.value()))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Resizes the window to `width` x `height` (the viewport of headless Chromium).
    pub async fn resize(&mut self, width: u32, height: u32) {
        self.width = width;
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// A whole-page screenshot: the window grows to the page's height (capped), then shrinks back.
    pub async fn shot(&mut self, name: &str) -> PathBuf {
        let h = self
            .js("return document.documentElement.scrollHeight")
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(400, 8000) as u32;
        self.client.set_window_size(self.width, h).await.unwrap();
        let png = self.client.screenshot().await.unwrap();
        self.client.set_window_size(self.width, 900).await.unwrap();
        self.taken += 1;
        let path = self.shots.join(format!("{:02}-{name}.png", self.taken));
        std::fs::write(&path, &png).unwrap();
        assert!(png.starts_with(b"\x89PNG"), "a PNG screenshot");
        path
    }

    /// Waits for a finished download whose name ends in `suffix`.
    pub async fn download(&self, suffix: &str) -> PathBuf {
        // Generous: a debug build renders a customer file's PDF slowly.
        for _ in 0..1200 {
            if let Some(p) = finished(&self.downloads, suffix) {
                return p;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let names: Vec<_> = std::fs::read_dir(&self.downloads)
            .unwrap()
            .flatten()
            .map(|e| e.file_name())
            .collect();
        panic!("no download ending in {suffix}; folder holds {names:?}");
    }

    /// Prints the page to PDF (as the browser's print would), returning its bytes.
    pub async fn print_pdf(&self) -> Vec<u8> {
        self.client
            .print(fantoccini::wd::PrintConfiguration::default())
            .await
            .unwrap()
    }

    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

fn finished(dir: &Path, suffix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir).ok()?.flatten().find_map(|e| {
        let name = e.file_name().to_string_lossy().into_owned();
        (name.ends_with(suffix) && !name.ends_with(".crdownload")).then(|| e.path())
    })
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.driver.kill();
    }
}
