//! What a signed-in insider or a stranger could do (issue 21), each tried the way they would: a
//! raw client that skips the phone's checks, a colleague's login, no login at all, and a real
//! browser where a browser is the way in. Every case is refused or harmless, and the server
//! goes on serving everyone else.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chrono::{TimeZone, Utc};
use field_core::job::{Edit, Milestone, Photo};
use field_core::photo::sample;
use field_core::photo::{IngestOptions, sha256_hex};
use field_core::store::PhotoInput;
use field_core::{JobKind, MilestoneEvent, PhotoPurpose, Role};
use fieldline_server::service::{admin, auth};
use fieldline_tests::browser::Browser;
use fieldline_tests::raw::*;
use fieldline_tests::*;

const UNIT: &str = "zhuxian";

/// A unit with an office, two customer managers and an admin; a job of cm-li's.
async fn setup_with(tweak: impl FnOnce(&mut fieldline_server::Config)) -> (TestServer, String) {
    let server = TestServer::start_with(tweak).await;
    for (user, role) in [
        ("office1", Role::OfficeStaff),
        ("cm-li", Role::CustomerManager),
        ("cm-zhao", Role::CustomerManager),
        ("admin1", Role::Admin),
    ] {
        server.add_user(user, role, UNIT);
    }
    let office = Phone::login(&server, "office1").await;
    let job = accept(
        &office,
        JobKind::LowVoltageResidential,
        UNIT,
        "王秀英",
        "cm-li",
        None,
    );
    office.sync().await;
    (server, job)
}

async fn setup() -> (TestServer, String) {
    setup_with(|_| {}).await
}

fn rejected(resp: &field_core::sync::protocol::SyncResponse) -> Vec<String> {
    resp.rejected.iter().map(|r| r.code.clone()).collect()
}

/// A photo record naming `original` (its bytes' hash and length) with `mime`.
fn photo_record(original: &[u8], mime: &str) -> Photo {
    Photo {
        purpose: Some(PhotoPurpose::Survey),
        taken_at: Some(Utc::now()),
        original_sha256: Some(sha256_hex(original)),
        original_bytes: Some(original.len() as i64),
        original_mime: Some(mime.into()),
        display_sha256: Some(sha256_hex(b"display")),
        display_bytes: Some(7),
        thumbnail_sha256: Some(sha256_hex(b"thumbnail")),
        thumbnail_bytes: Some(9),
        ..Default::default()
    }
}

/// Uploads `bytes` for `job` with a stock tus exchange: the status of the last PATCH.
async fn tus_upload(server: &TestServer, token: &str, job: &str, bytes: &[u8]) -> u16 {
    let http = reqwest::Client::new();
    let created = http
        .post(format!("{}/api/v1/uploads", server.url()))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", bytes.len().to_string())
        .header(
            "upload-metadata",
            format!(
                "sha256 {},job {}",
                B64.encode(sha256_hex(bytes)),
                B64.encode(job)
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(created.status().as_u16(), 201, "the upload is created");
    let location = created.headers()["location"].to_str().unwrap().to_string();
    http.patch(format!("{}{location}", server.url()))
        .bearer_auth(token)
        .header("tus-resumable", "1.0.0")
        .header("upload-offset", "0")
        .header("content-type", "application/offset+octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

async fn blob_status(server: &TestServer, token: &str, sha: &str) -> reqwest::Response {
    reqwest::Client::new()
        .get(format!("{}/api/v1/blobs/{sha}", server.url()))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn jpeg(seed: u64) -> Vec<u8> {
    sample::jpeg(640, 480, seed, &Default::default())
}

fn survey() -> PhotoInput {
    PhotoInput {
        purpose: PhotoPurpose::Survey,
        caption: None,
        gps: None,
        checklist_group: None,
        author_name: None,
    }
}

/// cm-li's phone takes a photo into `job` and syncs it (its blobs uploaded): the record.
async fn photo_taken(server: &TestServer, job: &str, seed: u64) -> Photo {
    let phone = Phone::login(server, "cm-li").await;
    phone.sync().await;
    let added = phone
        .store
        .add_photo(
            job,
            "cm-li",
            &jpeg(seed),
            &survey(),
            &IngestOptions::default(),
        )
        .unwrap();
    phone.sync().await;
    added.job.photos[&added.photo_id].clone()
}

/// Case 1: an HTML "photo" never reaches a browser as a page.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_photo_is_served_as_the_image_it_is_never_as_a_page() {
    let (server, job) = setup().await;
    let li = raw_login(&server, "cm-li").await;
    let html = b"<html><script>fetch('/admin/users',{method:'POST'})</script></html>".to_vec();
    // A photo record may not claim a type the phone never ingests.
    let claim = li
        .push_edit(
            &server,
            &job,
            &Edit::AddPhoto {
                id: "p-html".into(),
                photo: photo_record(&html, "text/html"),
            },
        )
        .await;
    assert_eq!(rejected(&claim), ["invalid_value"], "{:?}", claim.rejected);
    // Claiming JPEG and sending HTML bytes: the bytes are read, the upload refused, nothing kept.
    let lie = li
        .push_edit(
            &server,
            &job,
            &Edit::AddPhoto {
                id: "p-lie".into(),
                photo: photo_record(&html, "image/jpeg"),
            },
        )
        .await;
    assert!(lie.rejected.is_empty(), "{:?}", lie.rejected);
    assert_eq!(tus_upload(&server, &li.token, &job, &html).await, 415);
    assert_eq!(
        blob_status(&server, &li.token, &sha256_hex(&html))
            .await
            .status(),
        404
    );
    // A real photo is served as what it is, sandboxed, never sniffed.
    let sha = photo_taken(&server, &job, 1).await.original_sha256.unwrap();
    let resp = blob_status(&server, &li.token, &sha).await;
    assert_eq!(resp.status(), 200);
    let h = resp.headers();
    assert_eq!(h["content-type"], "image/jpeg");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(
        h["content-security-policy"]
            .to_str()
            .unwrap()
            .starts_with("sandbox"),
        "{:?}",
        h["content-security-policy"]
    );
    assert_eq!(h["content-disposition"], "inline");
}

/// Case 2: naming the hash of a photo in someone else's job reaches nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naming_someone_elses_photo_hash_reaches_nothing() {
    let (server, li_job) = setup().await;
    let li = Phone::login(&server, "cm-li").await;
    li.sync().await;
    let id_card = jpeg(7);
    let added = li
        .store
        .add_photo(
            &li_job,
            "cm-li",
            &id_card,
            &survey(),
            &IngestOptions::default(),
        )
        .unwrap();
    li.sync().await;
    let photo = added.job.photos[&added.photo_id].clone();
    let sha = photo.original_sha256.clone().unwrap();

    // cm-zhao, in the same unit, with a job of his own.
    let office = Phone::login(&server, "office1").await;
    let zhao_job = accept(
        &office,
        JobKind::LowVoltageResidential,
        UNIT,
        "赵客户",
        "cm-zhao",
        None,
    );
    office.sync().await;
    let zhao = raw_login(&server, "cm-zhao").await;
    assert_eq!(blob_status(&server, &zhao.token, &sha).await.status(), 404);
    let mut stolen = photo.clone();
    stolen.author = None;
    stolen.device = None;
    let resp = zhao
        .push_edit(
            &server,
            &zhao_job,
            &Edit::AddPhoto {
                id: "p-stolen".into(),
                photo: stolen,
            },
        )
        .await;
    assert_eq!(rejected(&resp), ["foreign_blob"], "{:?}", resp.rejected);
    assert_eq!(blob_status(&server, &zhao.token, &sha).await.status(), 404);
    // The office sees the unit's jobs, so it may name the photo (and its own job then shows it).
    let desk = raw_login(&server, "office1").await;
    let mut shared = photo.clone();
    shared.author = None;
    shared.device = None;
    let ok = desk
        .push_edit(
            &server,
            &zhao_job,
            &Edit::AddPhoto {
                id: "p-desk".into(),
                photo: shared,
            },
        )
        .await;
    assert!(ok.rejected.is_empty(), "{:?}", ok.rejected);
    // The office could read cm-li's job, so its record is honest: it reaches the photo.
    assert_eq!(blob_status(&server, &desk.token, &sha).await.status(), 200);
}

/// Case 3: dates outside 2000–2100 are refused, and no clock walks day by day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dates_outside_the_window_are_refused_and_the_server_stays_quick() {
    let (server, job) = setup().await;
    let li = raw_login(&server, "cm-li").await;
    let milestone = |event, at| Edit::AddMilestone {
        id: format!("m-{}", uuid_tail()),
        milestone: Milestone {
            event: Some(event),
            at: Some(at),
            ..Default::default()
        },
    };
    let ancient = Utc.with_ymd_and_hms(1776, 7, 4, 0, 0, 0).unwrap();
    let far = Utc.with_ymd_and_hms(2150, 1, 1, 0, 0, 0).unwrap();
    let fine = Utc.with_ymd_and_hms(2099, 1, 5, 0, 0, 0).unwrap();
    for (what, edit) in [
        (
            "an accepted milestone of 1776",
            milestone(MilestoneEvent::Accepted, ancient),
        ),
        (
            "fees paid in 2150",
            milestone(MilestoneEvent::FeesPaid, far),
        ),
    ] {
        let resp = li.push_edit(&server, &job, &edit).await;
        assert_eq!(
            rejected(&resp),
            ["invalid_value"],
            "{what}: {:?}",
            resp.rejected
        );
        assert!(
            resp.rejected[0].en.contains("2000-01-01–2100-12-31"),
            "{}",
            resp.rejected[0].en
        );
    }
    let resp = li
        .push_edit(&server, &job, &milestone(MilestoneEvent::FeesPaid, fine))
        .await;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    // Another manager's ordinary sync is served as usual, and the job page computes its clocks.
    let zhao = Phone::login(&server, "cm-zhao").await;
    zhao.sync().await;
    let j = server.job(&job).await;
    assert!(j.milestones.values().any(|m| m.at == Some(fine)));
}

fn uuid_tail() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..12].to_string()
}

/// Case 4: an actor is an identity: not the server's, not a colleague's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_cannot_write_as_the_server_or_a_colleague() {
    let (server, _) = setup().await;
    let zhao = raw_login(&server, "cm-zhao").await;
    let colleague = zhao.actor.to_hex_string();
    let server_actor = hex_of(b"fieldline-server");
    for (what, actor) in [
        ("the server's actor", server_actor.clone()),
        (
            "the server's actor in capitals",
            server_actor.to_uppercase(),
        ),
        ("a colleague's actor", colleague.clone()),
        ("a colleague's actor in capitals", colleague.to_uppercase()),
    ] {
        let (status, body) = login_with_actor(&server, "cm-li", &actor).await;
        assert_eq!(status, 409, "{what}: {body}");
        assert!(body.contains("actor_taken"), "{what}: {body}");
    }
    // A fresh actor is welcome, and the colleague's pushes go on.
    let (status, body) = login_with_actor(
        &server,
        "cm-li",
        &automerge::ActorId::random().to_hex_string(),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let phone = Phone::login(&server, "cm-zhao").await;
    phone.sync().await;
}

/// Case 5: a reset, a disable, a role or unit change end every token and session; an enable
/// revives none; the admin sees and ends sessions one by one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_end_when_trust_ends() {
    let (server, _) = setup().await;
    let base = server.url();
    let env = server.env().clone();
    let admin = fieldline_server::authz::Principal {
        user_id: 0,
        username: "admin1".into(),
        display_name: "admin1".into(),
        role: Role::Admin,
        unit: UNIT.into(),
        device_id: "test".into(),
        actor: None,
    };
    // Signed in: the job list answers as itself, not with the login page.
    let signed_in = |session: String| {
        let base = base.clone();
        async move {
            let r = session_get(&base, &session, "/jobs").await;
            r.status() == 200 && r.url().path() == "/jobs"
        }
    };
    let phone = Phone::login(&server, "office1").await;
    phone.sync().await;
    let session = form_login(&base, "office1", PASSWORD).await;
    assert!(signed_in(session.clone()).await);

    // A password reset ends both.
    let a = admin.clone();
    let password = env
        .blocking(move |env| admin::reset_password(env, &a, "office1"))
        .await
        .unwrap();
    assert!(phone.try_sync().await.is_err(), "the old token is dead");
    assert!(!signed_in(session).await, "the old session is dead");
    let session = form_login(&base, "office1", &password).await;
    assert!(signed_in(session.clone()).await);
    // Disable, then enable: nothing from before comes back.
    for off in [true, false] {
        let a = admin.clone();
        env.blocking(move |env| admin::set_disabled(env, &a, "office1", off))
            .await
            .unwrap();
    }
    assert!(!signed_in(session).await, "enable revives no session");
    // A change of unit ends them; a leader flag does not.
    let session = form_login(&base, "office1", &password).await;
    let a = admin.clone();
    env.blocking(move |env| admin::set_leader(env, &a, "office1", true))
        .await
        .unwrap();
    assert!(
        signed_in(session.clone()).await,
        "a leader flag keeps trust"
    );
    let a = admin.clone();
    env.blocking(move |env| {
        fieldline_server::service::units::create(env, &a, "other", "其他供电所")?;
        admin::set_role_unit(env, &a, "office1", "office_staff", "other")
    })
    .await
    .unwrap();
    assert!(!signed_in(session).await, "a unit change ends the session");
    // The admin's user page lists live sessions and ends one.
    let mine = form_login(&base, "office1", &password).await;
    let admin_session = form_login(&base, "admin1", PASSWORD).await;
    let page = session_get(&base, &admin_session, "/admin/users/office1")
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("浏览器会话"), "{page}");
    let id = page
        .split("name=\"session\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .expect("a live session listed")
        .to_string();
    let csrf = page_csrf(&base, &admin_session, "/admin/users/office1").await;
    let ended = session_post(
        &base,
        &admin_session,
        "/admin/users/office1/end-session",
        &[("csrf", csrf.as_str()), ("session", id.as_str())],
    )
    .await;
    assert!(ended.status().is_success(), "{}", ended.status());
    assert!(!signed_in(mine).await, "the listed session was ended");
    let kinds: Vec<String> = server
        .audit(None)
        .into_iter()
        .filter(|e| e.kind == "credentials_ended" || e.kind == "session_ended")
        .map(|e| e.kind)
        .collect();
    assert_eq!(
        kinds,
        [
            "credentials_ended",
            "credentials_ended",
            "credentials_ended",
            "session_ended"
        ]
    );
}

/// Case 6: redirect targets stay on this server, whatever control character they carry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirect_targets_stay_on_this_server() {
    let (server, _) = setup().await;
    let base = server.url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let mut hostile: Vec<String> = (0u8..0x20)
        .chain([0x7f])
        .map(|c| format!("/%{c:02X}/evil.example"))
        .collect();
    hostile.extend(
        [
            "//evil.example",
            "/%5Cevil.example",
            "https://evil.example",
            "/%20/evil.example",
            "/%E3%80%80/evil.example",
        ]
        .map(String::from),
    );
    for target in &hostile {
        let r = http
            .get(format!("{base}/lang/zh?back={target}"))
            .send()
            .await
            .unwrap();
        assert_eq!(r.headers()["location"], "/", "back={target} stays home");
    }
    // The login's `next`, through the real form.
    let session_for = |next: String| {
        let base = base.clone();
        async move {
            let r = form_login_to(&base, "office1", PASSWORD, &next).await;
            assert_eq!(r.status(), 303);
            r.headers()["location"].to_str().unwrap().to_string()
        }
    };
    for c in (0u8..0x20).chain([0x7f]) {
        let next = format!("/{}/evil.example", c as char);
        assert_eq!(session_for(next).await, "/jobs", "next with {c:#04x}");
    }
    assert_eq!(session_for("/board".into()).await, "/board");
    // A real browser follows the link and stays on this server.
    let Some(b) = Browser::start("insider-redirect").await else {
        return;
    };
    b.goto(&format!("{base}/lang/en?back=/%09/evil.example"))
        .await;
    let url = b.js("return location.href").await;
    assert!(
        url.as_str().unwrap().starts_with(&base),
        "the browser stayed: {url}"
    );
    b.close().await;
}

/// Case 7: every response carries the hardening headers, and the pages still work under them
/// in a real browser (the stylesheet and the script load, nothing inline is needed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_response_carries_the_hardening_headers() {
    let (server, job) = setup().await;
    let base = server.url();
    let session = form_login(&base, "office1", PASSWORD).await;
    let phone = raw_login(&server, "cm-li").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let progress = fieldline_server::service::public::token(server.env(), &job).unwrap();
    for path in [
        "/".to_string(),
        "/public".into(),
        format!("/public/{UNIT}"),
        format!("/p/{progress}"),
        "/static/app.css".into(),
        "/jobs".into(),
        format!("/jobs/{job}"),
        "/api/v1/me".into(),
        "/api/v1/openapi.json".into(),
        "/healthz".into(),
        "/nothing-here".into(),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .header("cookie", &session)
            .bearer_auth(if path.starts_with("/api") {
                &phone.token
            } else {
                ""
            })
            .send()
            .await
            .unwrap();
        let h = r.headers();
        let csp = h["content-security-policy"].to_str().unwrap();
        for want in [
            "default-src 'self'",
            "frame-ancestors 'none'",
            "script-src 'self'",
        ] {
            assert!(csp.contains(want), "{path}: {csp}");
        }
        assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        assert!(
            h.get("strict-transport-security").is_none(),
            "{path}: not over TLS"
        );
    }
    let tls = http
        .get(format!("{base}/"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    assert!(
        tls.headers()["strict-transport-security"]
            .to_str()
            .unwrap()
            .starts_with("max-age="),
    );
    // No page carries inline script, event handlers or style attributes.
    for path in ["/jobs".to_string(), format!("/jobs/{job}"), "/board".into()] {
        let html = session_get(&base, &session, &path)
            .await
            .text()
            .await
            .unwrap();
        for inline in ["<script>", " style=\"", " onclick=", "javascript:"] {
            assert!(!html.contains(inline), "{path} has {inline}");
        }
    }
    let Some(mut b) = Browser::start("insider-headers").await else {
        return;
    };
    b.login(&base, "/", "office1", PASSWORD).await;
    b.goto(&format!("{base}/jobs/{job}")).await;
    // The stylesheet applied (the header is a flex row) and the script ran (it shows the review
    // form's "one more finding" button, hidden without it).
    let styled = b
        .js("return getComputedStyle(document.querySelector('header.top')).display")
        .await;
    assert_eq!(styled, "flex", "the stylesheet loads under the policy");
    let scripted = b
        .js("return document.getElementById('add-finding').hidden")
        .await;
    assert_eq!(scripted, false, "the script runs under the policy");
    let framed = b
        .js("return document.querySelectorAll('iframe').length")
        .await;
    assert_eq!(framed, 0);
    b.shot("job-under-csp").await;
    b.close().await;
}

/// Case 8: the customer file holds each photo file once, is capped, and few build at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_customer_file_holds_each_photo_once_and_is_bounded() {
    let (server, job) = setup_with(|c| c.archive_max_mib = 1).await;
    let base = server.url();
    let photo = photo_taken(&server, &job, 3).await;
    // The same original named by many records of the job.
    let li = raw_login(&server, "cm-li").await;
    for n in 0..5 {
        let mut again = photo.clone();
        again.author = None;
        again.device = None;
        let resp = li
            .push_edit(
                &server,
                &job,
                &Edit::AddPhoto {
                    id: format!("p-again-{n}"),
                    photo: again,
                },
            )
            .await;
        assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    }
    let session = form_login(&base, "office1", PASSWORD).await;
    let zip = session_get(&base, &session, &format!("/jobs/{job}/archive.zip")).await;
    assert_eq!(zip.status(), 200);
    let bytes = zip.bytes().await.unwrap();
    let archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    let photos: Vec<String> = archive
        .file_names()
        .map(|n| n.unwrap().into_owned())
        .filter(|n| n.starts_with("photos/"))
        .collect();
    assert_eq!(photos.len(), 1, "one file for six records: {photos:?}");
    // A record declaring a 64 MiB original takes the file over its cap: a clear refusal.
    let mut big = photo_record(&jpeg(4), "image/jpeg");
    big.original_bytes = Some(64 * 1024 * 1024);
    let resp = li
        .push_edit(
            &server,
            &job,
            &Edit::AddPhoto {
                id: "p-big".into(),
                photo: big,
            },
        )
        .await;
    assert!(resp.rejected.is_empty(), "{:?}", resp.rejected);
    let refused = session_get(&base, &session, &format!("/jobs/{job}/archive.zip")).await;
    assert_eq!(refused.status(), 413);
    let page = refused.text().await.unwrap();
    assert!(page.contains("超过一户一档文件的上限"), "{page}");
    // While every build slot is taken, another build is told to come back.
    let (server2, job2) = setup().await;
    let permits = server2
        .env()
        .archives
        .try_acquire_many(2)
        .expect("two build slots by default");
    let session2 = form_login(&server2.url(), "office1", PASSWORD).await;
    let busy = session_get(
        &server2.url(),
        &session2,
        &format!("/jobs/{job2}/archive.zip"),
    )
    .await;
    assert_eq!(busy.status(), 503);
    drop(permits);
    let fine = session_get(
        &server2.url(),
        &session2,
        &format!("/jobs/{job2}/archive.zip"),
    )
    .await;
    assert_eq!(fine.status(), 200);
}

/// Case 10: a stranger's guesses never lock the owner out, and the public list names no login.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_guesses_never_lock_the_owner_out() {
    let (server, _) = setup_with(|c| {
        c.login_attempts_per_minute = 3;
        c.login_attempts_per_minute_per_address = 100;
        c.client_ip_header = "x-forwarded-for".into();
    })
    .await;
    let http = reqwest::Client::new();
    let login = |from: &'static str, password: &'static str, token: Option<String>| {
        let http = http.clone();
        let url = server.url();
        async move {
            let mut req = http
                .post(format!("{url}/api/v1/auth/login"))
                .header("x-forwarded-for", from)
                .json(&serde_json::json!({
                    "username": "cm-li", "password": password, "device_id": "li-phone",
                }));
            if let Some(t) = token {
                req = req.bearer_auth(t);
            }
            req.send().await.unwrap()
        }
    };
    // The owner's phone holds a token.
    let first = login("10.1.1.1", PASSWORD, None).await;
    assert_eq!(first.status(), 200);
    let token = first.json::<serde_json::Value>().await.unwrap()["token"]
        .as_str()
        .unwrap()
        .to_string();
    // A stranger guesses from one address: limited there.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            login("10.9.9.9", "guess-guess", None)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(statuses, [401, 401, 401, 429, 429, 429]);
    // … and from many: each address gets its few guesses, then a backoff, never a lockout.
    for n in 0..10 {
        let from: &'static str = Box::leak(format!("10.8.0.{n}").into_boxed_str());
        assert_eq!(login(from, "guess-guess", None).await.status(), 401);
    }
    // The owner logs in from their own address all the same.
    assert_eq!(login("10.1.1.2", PASSWORD, None).await.status(), 200);
    // Even at an address whose budget someone used up, the phone showing its token gets in.
    for _ in 0..4 {
        login("10.1.1.1", "guess-guess", None).await;
    }
    assert_eq!(login("10.1.1.1", PASSWORD, None).await.status(), 429);
    assert_eq!(login("10.1.1.1", PASSWORD, Some(token)).await.status(), 200);
    // The public list shows work numbers, not login names.
    let page = reqwest::get(format!("{}/public/{UNIT}", server.url()))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let numbers: Vec<&str> = page
        .split("data-label=\"工号\">")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .collect();
    assert_eq!(numbers.len(), 2, "{page}");
    assert!(
        numbers
            .iter()
            .all(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit())),
        "work numbers, not login names: {numbers:?}"
    );
}

/// Case 11: a new job follows the rules in force for its unit on its acceptance day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_job_must_follow_the_rules_in_force() {
    let (server, _) = setup().await;
    let desk = raw_login(&server, "office1").await;
    let rules = server.env().rules();
    let in_force = rules.in_force(UNIT, at("2026-11-02").date_naive()).clone();
    let mut laxer = in_force.clone();
    laxer.id = "lax".into();
    laxer.version = 1;
    let mut older = in_force.clone();
    older.version = in_force.version + 7;
    for (what, set) in [("a made-up set", laxer), ("another version", older)] {
        let resp = desk
            .push_new(
                &server,
                &new_job(JobKind::LowVoltageResidential, UNIT, "张三"),
                &set,
            )
            .await;
        assert_eq!(
            rejected(&resp),
            ["wrong_rule_set"],
            "{what}: {:?}",
            resp.rejected
        );
    }
    let ok = desk
        .push_new(
            &server,
            &new_job(JobKind::LowVoltageResidential, UNIT, "李四"),
            &in_force,
        )
        .await;
    assert!(ok.rejected.is_empty(), "{:?}", ok.rejected);
}

/// Case 12: the anonymous list is counted once a minute per unit and limited per address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_list_is_cached_and_rate_limited() {
    let (server, _) = setup_with(|c| {
        c.public_cache_seconds = 60;
        c.public_requests_per_minute_per_address = 5;
    })
    .await;
    let get = || async {
        reqwest::get(format!("{}/public/{UNIT}", server.url()))
            .await
            .unwrap()
    };
    let first = get().await.text().await.unwrap();
    // Another job for cm-li: the cached figures stay until the minute is over.
    let office = Phone::login(&server, "office1").await;
    accept(
        &office,
        JobKind::LowVoltageResidential,
        UNIT,
        "新客户",
        "cm-li",
        None,
    );
    office.sync().await;
    let second = get().await.text().await.unwrap();
    assert_eq!(first, second, "served from the unit's cached list");
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses.push(get().await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
}

/// Case 13: the server's files are its user's only.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_servers_files_are_private() {
    use std::os::unix::fs::PermissionsExt;
    let server = TestServer::start().await;
    // The demo writes photos, contracts and the admin's password into the data directory.
    seed_demo(&server).await;
    let data = server.data_dir();
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data), 0o700, "{}", data.display());
    let mut files = vec!["server-signing.key", "demo-passwords.txt"];
    if backend() == "sqlite" {
        files.push("fieldline.db");
    }
    for file in files {
        let path = data.join(file);
        assert_eq!(mode(&path), 0o600, "{}", path.display());
    }
    let blobs = data.join("blobs");
    if blobs.exists() {
        assert_eq!(mode(&blobs), 0o700);
    }
    assert!(fieldline_server::files::loose(&data).is_empty());
}

#[test]
fn backoff_grows_and_stays_bounded() {
    assert!(auth::backoff(0).is_zero());
    assert!(auth::backoff(auth::BACKOFF_AFTER - 1).is_zero());
    assert!(auth::backoff(auth::BACKOFF_AFTER) > std::time::Duration::ZERO);
    assert!(auth::backoff(auth::BACKOFF_AFTER + 1) > auth::backoff(auth::BACKOFF_AFTER));
    assert_eq!(auth::backoff(10_000), auth::BACKOFF_MAX);
}

/// Case 9: a feed page is measured before anything is loaded and holds at most its budget and
/// one position, jobs newly in scope included; paging through gives every change exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_page_holds_no_more_than_its_budget() {
    let (server, _) = setup().await;
    let office = Phone::login(&server, "office1").await;
    // Twelve jobs of cm-zhao's, each with some history, then all handed to cm-li at once.
    let mut jobs = Vec::new();
    for n in 0..12 {
        let id = accept(
            &office,
            JobKind::LowVoltageResidential,
            UNIT,
            &format!("客户{n}"),
            "cm-zhao",
            None,
        );
        for k in 0..3 {
            office
                .store
                .edit(
                    &id,
                    "office1",
                    &Edit::SetNotes {
                        text: format!("第 {k} 次记录：{}", "现场情况说明。".repeat(20)),
                    },
                )
                .unwrap();
        }
        jobs.push(id);
    }
    office.sync().await;
    // cm-li's phone is up to date here; then the twelve jobs enter its scope with their history.
    let start = server.env().store.read().unwrap().max_seq().unwrap() as u64;
    for id in &jobs {
        assign(&office, id, Some("cm-li"), None);
    }
    office.sync().await;
    let li = raw_login(&server, "cm-li").await;
    let env = server.env().clone();
    let token = li.token.clone();
    let who = env
        .blocking(move |env| auth::authenticate(&*env.store.read()?, &token))
        .await
        .unwrap();
    // Every stored change of those jobs, by job: (seq, bytes).
    let reader = env.store.read().unwrap();
    let known: std::collections::HashMap<String, Vec<(i64, Vec<u8>)>> = jobs
        .iter()
        .map(|j| (j.clone(), reader.job_changes_upto(j, i64::MAX).unwrap()))
        .collect();
    let largest_history = known
        .values()
        .map(|c| c.iter().map(|(_, b)| b.len()).sum::<usize>())
        .max()
        .unwrap();
    let budget = 4 * 1024u64;
    let (mut cursor, mut pages) = (start, 0);
    let mut received: Vec<(String, i64)> = Vec::new();
    loop {
        let page = fieldline_server::service::feed::page(&*reader, &who, cursor, budget).unwrap();
        pages += 1;
        // The page stops at the first position that reaches the budget: never more than the
        // budget and one position (at most one job's whole history).
        let bytes: usize = page.pull.iter().map(|p| p.changes.len()).sum();
        assert_eq!(
            page.loaded, bytes,
            "page {pages}: nothing loaded beyond the page"
        );
        assert!(
            bytes <= budget as usize + largest_history,
            "page {pages}: {bytes} bytes over {} jobs",
            page.pull.len()
        );
        for p in &page.pull {
            let Some(changes) = known.get(&p.job_id) else {
                continue;
            };
            // The page's bytes are whole stored changes, one after another.
            let mut at = 0;
            while at < p.changes.len() {
                let (seq, len) = changes
                    .iter()
                    .find(|(_, c)| p.changes[at..].starts_with(c))
                    .map(|(seq, c)| (*seq, c.len()))
                    .expect("whole stored changes");
                received.push((p.job_id.clone(), seq));
                at += len;
            }
        }
        cursor = page.cursor;
        if !page.more {
            break;
        }
        assert!(pages < 500, "the feed ends");
    }
    let expected: usize = known.values().map(Vec::len).sum();
    let unique: std::collections::BTreeSet<_> = received.iter().cloned().collect();
    assert_eq!(unique.len(), received.len(), "no change twice");
    assert_eq!(unique.len(), expected, "every change of the twelve jobs");
    assert!(pages > 3, "a small budget takes several pages ({pages})");
}
