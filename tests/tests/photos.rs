//! Photos end to end: ingest on the phone, documents first, then resumable tus uploads that
//! reach the server exactly once, blob access control, and a flaky network.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use field_core::photo::sample::{self, SampleExif};
use field_core::photo::{IngestOptions, sha256_hex};
use field_core::store::PhotoInput;
use field_core::sync::SyncOptions;
use field_core::{JobKind, PhotoPurpose, Role};
use fieldline_tests::proxy::{Fault, FaultProxy};
use fieldline_tests::s3::S3Server;
use fieldline_tests::*;
use sha2::{Digest, Sha256};

const UNIT: &str = "zhuxian";

/// Where the server keeps blobs: the same tests run against both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    Fs,
    S3,
}

async fn start(backend: Backend) -> (TestServer, Option<S3Server>) {
    match backend {
        Backend::Fs => (TestServer::start().await, None),
        Backend::S3 => {
            let s3 = S3Server::start();
            let server = TestServer::start_with(|c| s3.configure(c)).await;
            (server, Some(s3))
        }
    }
}

/// The blob is where the backend keeps blobs, and only there.
fn assert_stored(server: &TestServer, s3: &Option<S3Server>, sha: &str) {
    let local = server.data_dir().join("blobs").join(&sha[..2]).join(sha);
    match s3 {
        None => assert!(local.exists(), "{sha} not in the data dir"),
        Some(s3) => {
            assert!(
                !local.exists(),
                "{sha} in the data dir although S3 is configured"
            );
            assert!(s3.holds(sha), "{sha} not in the bucket");
        }
    }
}

fn input(purpose: PhotoPurpose, group: Option<String>) -> PhotoInput {
    PhotoInput {
        purpose,
        caption: Some("现场照片".into()),
        gps: None,
        checklist_group: group,
        author_name: Some("李经理".into()),
    }
}

fn photo(seed: u64) -> Vec<u8> {
    sample::jpeg(
        2400,
        1800,
        seed,
        &SampleExif {
            orientation: 1,
            taken_at: Some(at("2026-11-05")),
            gps: Some((30.5, 114.3)),
        },
    )
}

fn token(phone: &Phone) -> String {
    phone.store.sync_setting("token").unwrap().unwrap()
}

async fn get_blob(url: &str, token: &str, sha: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{url}/api/v1/blobs/{sha}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

async fn get_range(url: &str, token: &str, sha: &str, range: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{url}/api/v1/blobs/{sha}"))
        .bearer_auth(token)
        .header("range", range)
        .send()
        .await
        .unwrap()
}

/// Downloads stream with a length and answer single byte ranges, so a phone can resume a large
/// original; a range outside the blob is 416, and a stale If-Range gets the whole blob.
async fn check_ranges(url: &str, token: &str, sha: &str, bytes: &[u8]) {
    let len = bytes.len();
    let resp = get_blob(url, token, sha).await;
    assert_eq!(resp.headers()["accept-ranges"], "bytes");
    assert_eq!(resp.headers()["content-length"], len.to_string().as_str());
    for (range, want) in [
        ("bytes=0-9".to_string(), 0..10),
        (format!("bytes={}-", len - 100), len - 100..len),
        (
            "bytes=-300000".to_string(),
            len.saturating_sub(300_000)..len,
        ),
        (format!("bytes=1000-{}", len + 5000), 1000..len),
    ] {
        let resp = get_range(url, token, sha, &range).await;
        assert_eq!(resp.status(), 206, "{range}");
        assert_eq!(
            resp.headers()["content-range"],
            format!("bytes {}-{}/{len}", want.start, want.end - 1).as_str(),
            "{range}"
        );
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            &bytes[want],
            "{range}"
        );
    }
    let resp = get_range(url, token, sha, &format!("bytes={len}-")).await;
    assert_eq!(resp.status(), 416);
    assert_eq!(
        resp.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
    let resp = reqwest::Client::new()
        .get(format!("{url}/api/v1/blobs/{sha}"))
        .bearer_auth(token)
        .header("range", "bytes=0-9")
        .header("if-range", "\"something-else\"")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.bytes().await.unwrap().len(), len);
}

async fn blob_rows(server: &TestServer) -> i64 {
    server.stats().blobs
}

async fn photos_sync_after_documents_upload_once_and_are_served_only_to_the_job(backend: Backend) {
    let (server, s3) = start(backend).await;
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    server.add_user("cm-zhao", Role::CustomerManager, UNIT);
    let cm = Phone::login(&server, "cm-li").await;
    let other = Phone::login(&server, "cm-zhao").await;
    let job = cm
        .store
        .create_job(
            "cm-li",
            &new_job(JobKind::LowVoltageResidential, UNIT, "照片客户"),
        )
        .unwrap();
    let group = job.checklist.keys().next().cloned().unwrap();
    let survey = photo(1);
    let proof = photo(2);
    let opts = IngestOptions::default();
    let a = cm
        .store
        .add_photo(
            &job.id,
            "cm-li",
            &survey,
            &input(PhotoPurpose::Survey, None),
            &opts,
        )
        .unwrap();
    let b = cm
        .store
        .add_photo(
            &job.id,
            "cm-li",
            &proof,
            &input(PhotoPurpose::DocumentProof, Some(group.clone())),
            &opts,
        )
        .unwrap();
    assert_eq!(b.job.checklist[&group].photos.get(&b.photo_id), Some(&true));
    // Taking the same photo again records nothing new.
    let again = cm
        .store
        .add_photo(
            &job.id,
            "cm-li",
            &survey,
            &input(PhotoPurpose::Survey, None),
            &opts,
        )
        .unwrap();
    assert!(again.duplicate);
    assert_eq!(again.photo_id, a.photo_id);
    let status = cm.store.upload_status().unwrap();
    assert_eq!((status.photos_pending, status.blobs_pending), (2, 6));

    let mut progress_seen = std::sync::Mutex::new(Vec::new());
    let report = field_core::sync::sync(&cm.store, &fast_options(), &|p| {
        progress_seen.lock().unwrap().push(p.blobs_pending)
    })
    .await
    .unwrap();
    let photos = report.photos.expect("uploads ran");
    assert_eq!(photos.blobs_uploaded, 6, "{photos:?}");
    assert_eq!(photos.blobs_pending, 0);
    assert!(progress_seen.get_mut().unwrap().contains(&0));
    assert_eq!(blob_rows(&server).await, 6);

    // The server's copy of the job names the photos; the blobs come back byte for byte.
    let on_server = server.job(&job.id).await;
    assert_eq!(on_server.photos.len(), 2);
    let rec = &on_server.photos[&a.photo_id];
    let sha = rec.original_sha256.clone().unwrap();
    assert_eq!(sha, sha256_hex(&survey));
    let resp = get_blob(&server.url(), &token(&cm), &sha).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.bytes().await.unwrap().as_ref(), survey.as_slice());
    assert_stored(&server, &s3, &sha);
    let thumb = rec.thumbnail_sha256.clone().unwrap();
    let resp = get_blob(&server.url(), &token(&cm), &thumb).await;
    assert_eq!(sha256_hex(&resp.bytes().await.unwrap()), thumb);
    check_ranges(&server.url(), &token(&cm), &sha, &survey).await;
    // Another customer manager of the unit has no access to the job: the blob does not exist
    // for them (404, not 403: existence is not disclosed).
    let resp = get_blob(&server.url(), &token(&other), &sha).await;
    assert_eq!(resp.status(), 404);
    let resp = get_blob(&server.url(), "not-a-token", &sha).await;
    assert_eq!(resp.status(), 401);

    // A second job with the same photo from this phone: the blobs it already uploaded are not
    // queued again; only the display copy (its watermark names the other job) goes up.
    let job2 = cm
        .store
        .create_job(
            "cm-li",
            &new_job(JobKind::LowVoltageResidential, UNIT, "第二户"),
        )
        .unwrap();
    cm.store
        .add_photo(
            &job2.id,
            "cm-li",
            &survey,
            &input(PhotoPurpose::Survey, None),
            &opts,
        )
        .unwrap();
    let photos = cm.sync().await.photos.unwrap();
    assert_eq!(photos.blobs_uploaded, 1);
    assert!(photos.bytes_sent < survey.len() as u64 / 2, "{photos:?}");
    assert_eq!(blob_rows(&server).await, 7);

    // Another device (office staff see the unit's jobs) takes the same photo into job 2: the
    // server already has the original and the thumbnail, so their uploads are created complete.
    server.add_user("office1", Role::OfficeStaff, UNIT);
    let office = Phone::login(&server, "office1").await;
    let job3 = office
        .store
        .create_job(
            "office1",
            &new_job(JobKind::LowVoltageResidential, UNIT, "第三户"),
        )
        .unwrap();
    let mut by_office = input(PhotoPurpose::Survey, None);
    by_office.author_name = Some("王内勤".into());
    office
        .store
        .add_photo(&job3.id, "office1", &survey, &by_office, &opts)
        .unwrap_or_else(|e| panic!("{e}"));
    let photos = office.sync().await.photos.unwrap();
    assert_eq!(photos.blobs_uploaded, 3, "{photos:?}");
    assert!(
        photos.bytes_sent < survey.len() as u64 / 2,
        "the original was not uploaded again ({} bytes sent)",
        photos.bytes_sent
    );
    assert_eq!(blob_rows(&server).await, 8);
}

async fn uploads_resume_and_arrive_exactly_once_through_a_flaky_network(backend: Backend) {
    let (server, s3) = start(backend).await;
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    let proxy = FaultProxy::start(server.addr, "/api/v1/uploads").await;
    let cm = Phone::login_at(&proxy.url(), "cm-li").await;
    let job = cm
        .store
        .create_job(
            "cm-li",
            &new_job(JobKind::LowVoltageSmallMicro, UNIT, "弱网照片"),
        )
        .unwrap();
    let mut originals = Vec::new();
    for seed in 10..14 {
        let bytes = photo(seed);
        cm.store
            .add_photo(
                &job.id,
                "cm-li",
                &bytes,
                &input(PhotoPurpose::Construction, None),
                &IngestOptions::default(),
            )
            .unwrap();
        originals.push(bytes);
    }
    let total = cm.store.upload_status().unwrap().bytes_pending;
    let mut rng = 0x5EED_u64;
    let faults: Vec<Fault> = (0..120)
        .map(|_| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            match rng % 8 {
                0 => Fault::DropRequest,
                1 => Fault::DropResponse,
                2 => Fault::Duplicate,
                3 => Fault::Truncate,
                4 => Fault::Reset,
                5 => Fault::CutRequest,
                _ => Fault::Pass,
            }
        })
        .collect();
    proxy.schedule(faults);
    let options = SyncOptions {
        upload_chunk_bytes: 128 * 1024,
        attempts: 4,
        ..fast_options()
    };
    let mut sent = 0;
    let mut runs = 0;
    loop {
        runs += 1;
        assert!(runs < 60, "uploads never finished");
        match field_core::sync::sync(&cm.store, &options, &|_| {}).await {
            Ok(r) => {
                if let Some(p) = &r.photos {
                    sent += p.bytes_sent;
                }
            }
            Err(e) => eprintln!("run {runs}: {e}"),
        }
        if cm.store.upload_status().unwrap().blobs_pending == 0 {
            break;
        }
    }
    let stats = proxy.stats();
    eprintln!(
        "{runs} runs, {} upload requests, {} faults; {} bytes reached the server for {total} \
         bytes of blobs ({sent} acknowledged in completed runs)",
        stats.requests, stats.faults, stats.bytes_to_server
    );
    assert!(stats.faults > 20, "the network was flaky");
    // Every blob is on the server once and intact.
    assert_eq!(blob_rows(&server).await, 12);
    for original in &originals {
        let sha = sha256_hex(original);
        assert_stored(&server, &s3, &sha);
        let resp = get_blob(&server.url(), &token(&cm), &sha).await;
        assert_eq!(sha256_hex(&resp.bytes().await.unwrap()), sha);
    }
    // Resumed, not restarted: at most the chunks in flight at a fault are sent again.
    let chunk = options.upload_chunk_bytes as u64 + 1024;
    assert!(
        stats.bytes_to_server <= total + stats.faults * chunk,
        "{} bytes for {total}: uploads restart instead of resuming",
        stats.bytes_to_server
    );
}

/// A raw tus client (as any stock client would speak it), for the protocol's edges.
struct Tus {
    url: String,
    token: String,
    http: reqwest::Client,
}

impl Tus {
    async fn create(&self, sha: &str, job: &str, len: usize) -> reqwest::Response {
        self.http
            .post(format!("{}/api/v1/uploads", self.url))
            .bearer_auth(&self.token)
            .header("tus-resumable", "1.0.0")
            .header("upload-length", len.to_string())
            .header(
                "upload-metadata",
                format!("sha256 {},job {}", B64.encode(sha), B64.encode(job)),
            )
            .send()
            .await
            .unwrap()
    }

    async fn head(&self, location: &str) -> reqwest::Response {
        self.http
            .head(format!("{}{location}", self.url))
            .bearer_auth(&self.token)
            .header("tus-resumable", "1.0.0")
            .send()
            .await
            .unwrap()
    }

    async fn patch(
        &self,
        location: &str,
        offset: usize,
        body: &[u8],
        checksum: Option<&[u8]>,
    ) -> Result<reqwest::Response, reqwest::Error> {
        let mut req = self
            .http
            .patch(format!("{}{location}", self.url))
            .bearer_auth(&self.token)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", offset.to_string())
            .header("content-type", "application/offset+octet-stream")
            .body(body.to_vec());
        if let Some(c) = checksum {
            req = req.header(
                "upload-checksum",
                format!("sha256 {}", B64.encode(Sha256::digest(c))),
            );
        }
        req.send().await
    }
}

fn offset(resp: &reqwest::Response) -> usize {
    resp.headers()["upload-offset"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

async fn the_tus_protocol_edges(backend: Backend) {
    let (server, s3) = start(backend).await;
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    server.add_user("cm-zhao", Role::CustomerManager, UNIT);
    let cm = Phone::login(&server, "cm-li").await;
    let other = Phone::login(&server, "cm-zhao").await;
    let job = cm
        .store
        .create_job(
            "cm-li",
            &new_job(JobKind::LowVoltageResidential, UNIT, "协议边界"),
        )
        .unwrap();
    let original = photo(21);
    let added = cm
        .store
        .add_photo(
            &job.id,
            "cm-li",
            &original,
            &input(PhotoPurpose::Meter, None),
            &IngestOptions::default(),
        )
        .unwrap();
    // Documents only: the server learns which blobs the job names.
    let docs_only = SyncOptions {
        upload_photos: false,
        ..fast_options()
    };
    field_core::sync::sync(&cm.store, &docs_only, &|_| {})
        .await
        .unwrap();
    let sha = sha256_hex(&original);
    let proxy = FaultProxy::start(server.addr, "/api/v1/uploads").await;
    let tus = Tus {
        url: proxy.url(),
        token: token(&cm),
        http: reqwest::Client::new(),
    };

    // OPTIONS advertises the protocol.
    let resp = tus
        .http
        .request(
            reqwest::Method::OPTIONS,
            format!("{}/api/v1/uploads", tus.url),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(resp.headers()["tus-version"], "1.0.0");
    assert!(
        resp.headers()["tus-extension"]
            .to_str()
            .unwrap()
            .contains("checksum")
    );
    assert_eq!(resp.headers()["tus-checksum-algorithm"], "sha256");

    // Refusals: no tus header, a blob the job does not name, a stranger, a wrong length.
    let resp = tus
        .http
        .post(format!("{}/api/v1/uploads", tus.url))
        .bearer_auth(&tus.token)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 412);
    let unnamed = sha256_hex(b"nothing");
    assert_eq!(tus.create(&unnamed, &job.id, 7).await.status(), 409);
    let stranger = Tus {
        token: token(&other),
        ..Tus {
            url: tus.url.clone(),
            token: String::new(),
            http: reqwest::Client::new(),
        }
    };
    assert_eq!(
        stranger
            .create(&sha, &job.id, original.len())
            .await
            .status(),
        403
    );
    assert_eq!(
        tus.create(&sha, &job.id, original.len() + 1).await.status(),
        400
    );

    // Create, then a PATCH cut off half-way: without a checksum the server keeps what came.
    let resp = tus.create(&sha, &job.id, original.len()).await;
    assert_eq!(resp.status(), 201);
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    proxy.schedule([Fault::CutRequest]);
    assert!(tus.patch(&location, 0, &original, None).await.is_err());
    // The server finishes storing what came after the connection dropped: wait for it (a loaded
    // machine, or an object store, may take a while), up to ten seconds.
    let mut head = tus.head(&location).await;
    for _ in 0..100 {
        if offset(&head) > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        head = tus.head(&location).await;
    }
    assert_eq!(head.status(), 200);
    assert_eq!(
        head.headers()["upload-length"],
        original.len().to_string().as_str()
    );
    let kept = offset(&head);
    assert!(
        kept > 0 && kept < original.len(),
        "kept {kept} of {} bytes",
        original.len()
    );
    // A retried creation finds the same upload and its offset.
    let resp = tus.create(&sha, &job.id, original.len()).await;
    assert_eq!(resp.headers()["location"], location.as_str());
    assert_eq!(offset(&resp), kept);
    // A stale offset is refused; a damaged chunk fails its checksum and changes nothing.
    let resp = tus
        .patch(&location, 0, &original[..10], None)
        .await
        .unwrap();
    assert_eq!(resp.status(), 409);
    let mut damaged = original[kept..].to_vec();
    damaged[5] ^= 0xFF;
    let resp = tus
        .patch(&location, kept, &damaged, Some(&original[kept..]))
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 460);
    assert_eq!(offset(&tus.head(&location).await), kept);
    // The rest, from the server's offset: the blob exists and is the original.
    let resp = tus
        .patch(&location, kept, &original[kept..], Some(&original[kept..]))
        .await
        .unwrap();
    assert_eq!(resp.status(), 204);
    assert_eq!(offset(&resp), original.len());
    let got = get_blob(&server.url(), &tus.token, &sha).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), original.as_slice());
    assert_stored(&server, &s3, &sha);
    // The server stopped between the last byte and recording the blob: the next request for
    // the upload records it, and the blob is served again.
    {
        let mut tx = server.env().store.write().unwrap();
        tx.forget_blob(&sha).unwrap();
        tx.commit().unwrap();
    }
    assert_eq!(
        get_blob(&server.url(), &tus.token, &sha).await.status(),
        404
    );
    let head = tus.head(&location).await;
    assert_eq!(offset(&head), original.len());
    assert_eq!(
        get_blob(&server.url(), &tus.token, &sha).await.status(),
        200
    );

    // Right length, wrong bytes: refused at the end, and the upload is gone.
    let rec = server.job(&job.id).await.photos[&added.photo_id].clone();
    let thumb = rec.thumbnail_sha256.unwrap();
    let len = rec.thumbnail_bytes.unwrap() as usize;
    let resp = tus.create(&thumb, &job.id, len).await;
    let location = resp.headers()["location"].to_str().unwrap().to_string();
    let garbage = vec![7u8; len];
    let resp = tus.patch(&location, 0, &garbage, None).await.unwrap();
    assert_eq!(resp.status().as_u16(), 460);
    assert_eq!(tus.head(&location).await.status(), 404);
    assert_eq!(
        get_blob(&server.url(), &tus.token, &thumb).await.status(),
        404
    );
}

/// A stock tus client (PyPI `tuspy`) uploads against the server and resumes in a new sitting.
async fn a_stock_tus_client_uploads_and_resumes(backend: Backend) {
    let (server, s3) = start(backend).await;
    server.add_user("cm-li", Role::CustomerManager, UNIT);
    let cm = Phone::login(&server, "cm-li").await;
    let job = cm
        .store
        .create_job(
            "cm-li",
            &new_job(JobKind::LowVoltageOther, UNIT, "标准客户端"),
        )
        .unwrap();
    let original = photo(31);
    cm.store
        .add_photo(
            &job.id,
            "cm-li",
            &original,
            &input(PhotoPurpose::Survey, None),
            &IngestOptions::default(),
        )
        .unwrap();
    let docs_only = SyncOptions {
        upload_photos: false,
        ..fast_options()
    };
    field_core::sync::sync(&cm.store, &docs_only, &|_| {})
        .await
        .unwrap();
    let sha = sha256_hex(&original);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("photo.jpg");
    std::fs::write(&file, &original).unwrap();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/python/tus_stock_client.py");
    let out = tokio::process::Command::new("python3")
        .arg(script)
        .args([&server.url(), &token(&cm), &job.id, &sha])
        .arg(&file)
        .arg("262144")
        .output()
        .await
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "tuspy failed (pip install tuspy): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(facts["after_first"], 262144);
    assert_eq!(
        facts["resumed_from"], 262144,
        "resumed from the server's offset"
    );
    assert_eq!(facts["final"], original.len());
    let got = get_blob(&server.url(), &token(&cm), &sha).await;
    assert_eq!(got.bytes().await.unwrap().as_ref(), original.as_slice());
    assert_stored(&server, &s3, &sha);
}

/// Each test runs against the filesystem blob store and against S3 (s3s-fs).
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod fs {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::Fs).await;
            })+
        }
        mod s3 {
            $(#[tokio::test]
            async fn $name() {
                super::$name(super::Backend::S3).await;
            })+
        }
    };
}

on_both_backends!(
    photos_sync_after_documents_upload_once_and_are_served_only_to_the_job,
    uploads_resume_and_arrive_exactly_once_through_a_flaky_network,
    the_tus_protocol_edges,
    a_stock_tus_client_uploads_and_resumes,
);
