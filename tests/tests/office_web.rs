//! Office review in a real headless Chromium against the real server with the demo data: log
//! in, filter the job list, open a job, look at its photos with the keyboard, return it with a
//! finding; the customer manager's phone (field-core) sees the return, fixes and resubmits; the
//! office sees what changed since the review and approves; the phone sees the approval. Exports
//! (CSV, XLSX, the customer file zip, the written notice) are downloaded and read back; the
//! English toggle, a phone-sized window and printing are checked; other roles get 403/404.
//!
//! Screenshots are written for a person to look at (see `fieldline_tests::browser`).

use field_core::codes::ReviewState;
use field_core::job::Customer;
use field_core::{Edit, Store};
use fieldline_tests::browser::Browser;
use fieldline_tests::*;
use serde_json::{Value as Json, json};
use sha2::{Digest, Sha256};
use std::io::Read;

struct Demo {
    server: TestServer,
    users: DemoUsers,
}

impl Demo {
    async fn start() -> Demo {
        let server = TestServer::start().await;
        let users = seed_demo(&server).await;
        Demo { server, users }
    }

    fn password(&self, user: &str) -> String {
        self.users.password(user)
    }

    /// A bearer token for `user` through the phones' login.
    async fn token(&self, user: &str) -> String {
        let r: Json = reqwest::Client::new()
            .post(format!("{}/api/v1/auth/login", self.server.url()))
            .json(&json!({"username": user, "password": self.password(user), "device_id": format!("raw-{user}")}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        r["token"].as_str().unwrap().to_string()
    }

    /// A field-core phone signed in as `user` and synced.
    async fn phone(&self, user: &str) -> (Store, tempfile::TempDir) {
        let d = tempfile::tempdir().unwrap();
        let store = Store::open(d.path().join("phone.db"), &fieldline_tests::phone_key()).unwrap();
        field_core::sync::login(&store, &self.server.url(), user, &self.password(user))
            .await
            .unwrap();
        field_core::sync::sync(&store, &fast_options(), &|_| {})
            .await
            .unwrap();
        (store, d)
    }
}

async fn get_json(url: &str, cookie: &str) -> Json {
    let r = reqwest::Client::new()
        .get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn office_reviews_returns_and_approves_in_a_real_browser() {
    let Some(mut b) = Browser::start("office_review").await else {
        return;
    };
    let demo = Demo::start().await;
    let base = demo.server.url();

    // Not signed in: any page leads to the login form, in Chinese.
    b.goto(&format!("{base}/jobs?review=pending")).await;
    assert!(b.path().await.starts_with("/?next="), "{}", b.path().await);
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("zh-CN"));
    b.shot("login").await;
    // A wrong password is refused with a clear message and no hint of which part was wrong.
    b.fill("input[name=username]", "office1").await;
    b.fill("input[name=password]", "not-the-password").await;
    b.click("form[action='/login'] button[type=submit]").await;
    assert!(b.text("p.error").await.contains("用户名或密码"));
    b.fill("input[name=username]", "office1").await;
    b.fill("input[name=password]", &demo.password("office1"))
        .await;
    b.click("form[action='/login'] button[type=submit]").await;
    // Back where the user was going.
    assert_eq!(b.path().await, "/jobs?review=pending");
    assert_eq!(b.text("h1").await, "待审核工单");

    // The job list with filters from the form.
    b.goto(&format!("{base}/jobs")).await;
    let all_rows = b.count("table.list tbody tr").await;
    assert!(all_rows >= 12, "{all_rows} rows");
    b.shot("job-list").await;
    b.select("select[name=cm]", "cm-li").await;
    b.select("select[name=review]", "pending").await;
    b.click("form.filters button[type=submit]").await;
    let path = b.path().await;
    assert!(
        path.contains("cm=cm-li") && path.contains("review=pending"),
        "{path}"
    );
    let hrefs: Vec<String> = b
        .js("return [...document.querySelectorAll('table.list tbody tr a[href^=\"/jobs/\"]')].map(a => a.getAttribute('href'))")
        .await
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    assert!(!hrefs.is_empty(), "cm-li has jobs waiting for review");
    b.shot("job-list-filtered").await;
    let cookie = b.cookie_header().await;
    // Every listed job is cm-li's and pending (checked through the JSON API as this browser).
    let mut chosen = None;
    for h in &hrefs {
        let v = get_json(&format!("{base}/api/v1{h}"), &cookie).await;
        assert_eq!(v["job"]["assignment"]["customer_manager"], "cm-li");
        assert_eq!(v["job"]["review"]["state"], "pending");
        let proofs = v["job"]["photos"]
            .as_object()
            .is_some_and(|p| p.values().any(|p| p["checklist_group"].is_string()));
        if chosen.is_none() && proofs && v["job"]["photos"].as_object().unwrap().len() >= 2 {
            chosen = Some(v);
        }
    }
    let job = chosen.expect("a pending job of cm-li with photos and proofs");
    let id = job["job"]["id"].as_str().unwrap().to_string();
    let job_no = job["job"]["job_no"].as_str().unwrap().to_string();
    let customer = job["job"]["customer"]["name"].as_str().unwrap().to_string();

    // The detail page: every section, time limits, verdicts, checklist with proofs.
    b.click(&format!("table.list a[href='/jobs/{id}']")).await;
    let h1 = b.text("h1").await;
    assert!(h1.contains(&job_no) && h1.contains(&customer), "{h1}");
    for section in [
        "#customer",
        "#time-limits",
        "#verdicts",
        "#checklist",
        "#review",
        "#milestones",
    ] {
        assert_eq!(b.count(section).await, 1, "{section} on the detail page");
    }
    assert!(b.text("#time-limits").await.contains("工作日"));
    assert!(b.count("#checklist img[loading=lazy]").await >= 1);
    b.shot("job-detail").await;

    // Photos: the gallery, then the viewer, next photo by the keyboard.
    b.click("nav.tabs a[href$='/photos']").await;
    let thumbs = b.count("img[loading=lazy]").await;
    assert!(thumbs >= 2, "{thumbs} thumbnails");
    let loaded = b
        .js("return [...document.images].filter(i => i.complete && i.naturalWidth > 0).length")
        .await;
    assert!(loaded.as_u64().unwrap() >= 1, "thumbnails load");
    b.shot("gallery").await;
    b.click(&format!("a[href^='/jobs/{id}/photos/']")).await;
    assert!(b.text("#original-check").await.contains("一致"));
    assert!(b.text("main").await.contains("SHA-256"));
    b.shot("photo-viewer").await;
    let next_href = b.attr("a[rel=next]", "href").await.expect("a next photo");
    b.key_to_page("\u{e014}").await;
    assert!(
        next_href.ends_with(&b.path().await),
        "→ goes to the next photo"
    );
    // A damaged original on the server is shown as not matching.
    let second = b.path().await;
    let pid = second.rsplit('/').next().unwrap();
    let sha = job["job"]["photos"][pid]["original_sha256"]
        .as_str()
        .unwrap()
        .to_string();
    let blob = demo
        .server
        .data_dir()
        .join("blobs")
        .join(&sha[..2])
        .join(&sha);
    let original = std::fs::read(&blob).unwrap();
    std::fs::write(&blob, b"damaged").unwrap();
    b.client.refresh().await.unwrap();
    assert!(b.text("#original-check").await.contains("不一致"));
    b.shot("photo-viewer-damaged").await;
    std::fs::write(&blob, &original).unwrap();

    // Return the job with a finding.
    b.goto(&format!("{base}/jobs/{id}#review")).await;
    let finding = "用电地址证明缺少盖章页，请补拍";
    b.fill("#review textarea[name=comment]", "请补充后重新提交")
        .await;
    b.fill("#review input[name=finding]", finding).await;
    b.click("#review button[value=return]").await;
    assert!(b.path().await.contains("done=return"));
    assert!(b.text("#review").await.contains(finding));
    assert_eq!(b.count("#review .badge.returned").await, 1);
    b.shot("returned").await;

    // The customer manager's phone gets the return and the finding, fixes and resubmits.
    let (phone, _pd) = demo.phone("cm-li").await;
    let on_phone = phone.job(&id).unwrap();
    assert_eq!(on_phone.review.state, Some(ReviewState::Returned));
    assert!(
        on_phone
            .review
            .findings
            .values()
            .any(|f| f.text.as_deref() == Some(finding)),
        "the finding reached the phone"
    );
    let now = chrono::Utc::now();
    phone
        .edit(
            &id,
            "cm-li",
            &Edit::UpdateCustomer(Customer {
                contact_name: Some("刘建华".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    // The stamped page the finding asks for comes from the phone's gallery as a WebP.
    let webp =
        field_core::photo::sample::encoded(field_core::photo::ImageFormat::WebP, 900, 1200, 8);
    let retaken = phone
        .add_photo(
            &id,
            "cm-li",
            &webp,
            &field_core::store::PhotoInput {
                purpose: field_core::PhotoPurpose::DocumentProof,
                caption: Some("用电地址证明盖章页".into()),
                gps: None,
                checklist_group: None,
                author_name: None,
            },
            &field_core::photo::IngestOptions::default(),
        )
        .unwrap();
    phone
        .edit(
            &id,
            "cm-li",
            &Edit::SubmitForReview {
                id: "resubmit-1".into(),
                at: now,
            },
        )
        .unwrap();
    field_core::sync::sync(&phone, &fast_options(), &|_| {})
        .await
        .unwrap();

    // The office views the WebP like any photo: its JPEG display copy, its original checked.
    b.goto(&format!("{base}/jobs/{id}/photos/{}", retaken.photo_id))
        .await;
    assert!(b.text("#original-check").await.contains("一致"));
    assert!(b.text("main").await.contains("image/webp"));
    b.shot("photo-viewer-webp").await;

    // The office sees it pending again, with the change since the return.
    b.goto(&format!("{base}/jobs?review=pending&cm=cm-li"))
        .await;
    assert_eq!(
        b.count(&format!("table.list a[href='/jobs/{id}']")).await,
        1
    );
    b.goto(&format!("{base}/jobs/{id}/history")).await;
    let since = b.text("#since-review").await;
    assert!(
        since.contains("刘建华"),
        "the diff shows the new value: {since}"
    );
    assert!(
        since.contains("联系人"),
        "the diff names the field: {since}"
    );
    let audit = b.text("#audit").await;
    assert!(
        audit.contains("cm-li") && audit.contains("office1"),
        "{audit}"
    );
    b.shot("history").await;
    b.goto(&format!("{base}/jobs/{id}#review")).await;
    b.click("#review button[value=approve]").await;
    assert!(b.path().await.contains("done=approve"));
    assert_eq!(b.count("#review .badge.approved").await, 1);
    field_core::sync::sync(&phone, &fast_options(), &|_| {})
        .await
        .unwrap();
    let approved = phone.job(&id).unwrap();
    assert_eq!(approved.review.state, Some(ReviewState::Approved));
    assert!(
        approved
            .review
            .findings
            .values()
            .all(|f| f.resolved == Some(true)),
        "approval closes the findings"
    );
    // An approved job offers a new review only behind a fold.
    b.goto(&format!("{base}/jobs/{id}")).await;
    assert_eq!(b.count("#review details button[value=return]").await, 1);

    // The customer file: a zip with the summary, the document and every photo by its hash.
    b.goto(&format!("{base}/jobs/{id}")).await;
    b.click_only("nav.tabs a[href$='/archive.zip']").await;
    let zip_path = b.download(".zip").await;
    let mut zip = zip::ZipArchive::new(std::fs::File::open(&zip_path).unwrap()).unwrap();
    let names: Vec<String> = zip.file_names().map(|n| n.unwrap().into_owned()).collect();
    for want in ["summary.pdf", "job.json", "job.automerge"] {
        assert!(
            names.iter().any(|n| n.ends_with(want)),
            "{want} in {names:?}"
        );
    }
    let mut photos = 0;
    for i in 0..zip.len() {
        let mut f = zip.by_index(i).unwrap();
        let name = f.name().unwrap().into_owned();
        if let Some((stem, ext)) = name
            .strip_prefix("photos/")
            .and_then(|n| n.rsplit_once('.'))
        {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes).unwrap();
            assert!(stem.ends_with(&sha256_hex(&bytes)), "{name} holds its hash");
            if stem.starts_with(&retaken.photo_id) {
                assert_eq!(ext, "webp", "{name}: the gallery's WebP keeps its type");
                assert!(bytes == webp, "{name}: {} bytes, not the WebP", bytes.len());
            } else {
                assert_eq!(ext, "jpg", "{name}");
            }
            photos += 1;
        }
    }
    assert_eq!(photos, job["job"]["photos"].as_object().unwrap().len() + 1);
    let mut summary = Vec::new();
    zip.by_name(names.iter().find(|n| n.ends_with("summary.pdf")).unwrap())
        .unwrap()
        .read_to_end(&mut summary)
        .unwrap();
    assert!(summary.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&summary) {
        assert!(text.contains(&job_no), "summary names the job");
    }

    // The one-time written notice (PDF) of a job whose completion inspection found defects:
    // linked from its page, typeset with the customer and the findings.
    let all = get_json(&format!("{base}/api/v1/jobs?limit=500"), &cookie).await;
    let mut noticed = None;
    let mut contracted = None;
    for row in all["rows"].as_array().unwrap() {
        let jid = row["job_id"].as_str().unwrap();
        let v = get_json(&format!("{base}/api/v1/jobs/{jid}"), &cookie).await;
        // A notice for every inspection with findings.
        let with_findings = ["design_review", "mid", "completion"]
            .into_iter()
            .filter(|k| {
                v["document"]
                    .pointer(&format!("/inspections/{k}/findings"))
                    .and_then(Json::as_object)
                    .is_some_and(|f| !f.is_empty())
            })
            .count();
        let found = v["document"]
            .pointer("/inspections/completion/findings")
            .and_then(Json::as_object)
            .is_some_and(|f| !f.is_empty());
        let link = format!("a[href='/jobs/{jid}/notice.pdf?inspection=completion']");
        b.goto(&format!("{base}/jobs/{jid}")).await;
        assert_eq!(b.count(&link).await, usize::from(found), "{jid}");
        assert_eq!(b.count("a.notice-link").await, with_findings, "{jid}");
        if contracted.is_none()
            && v["job"]["contracts"]
                .as_object()
                .is_some_and(|c| !c.is_empty())
        {
            contracted = Some(v.clone());
        }
        if found && noticed.is_none() {
            noticed = Some(v);
        }
    }
    let v = noticed.expect("a demo job with completion findings");
    let jid = v["job"]["id"].as_str().unwrap();
    let r = reqwest::Client::new()
        .get(format!("{base}/jobs/{jid}/notice.pdf"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let notice = r.bytes().await.unwrap();
    assert!(notice.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&notice) {
        assert!(text.contains("告知"), "{text}");
        assert!(text.contains(v["job"]["customer"]["name"].as_str().unwrap()));
    }
    // Printed, the notice is recorded as given in the job (the manager's phone gets it).
    let after = get_json(&format!("{base}/api/v1/jobs/{jid}"), &cookie).await;
    assert_eq!(
        after["job"]["inspections"]["completion"]["written_notice"],
        true
    );
    // A notice for an inspection without findings is refused with the reason.
    let r = reqwest::Client::new()
        .get(format!("{base}/jobs/{jid}/notice.pdf?inspection=nonsense"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);

    // Exports of the filtered list, downloaded by the browser.
    b.goto(&format!("{base}/jobs?cm=cm-li")).await;
    let li_rows = b.count("table.list tbody tr").await;
    b.click_only("a[href^='/jobs/export.csv']").await;
    let csv = std::fs::read(b.download(".csv").await).unwrap();
    assert!(csv.starts_with("\u{feff}".as_bytes()), "a BOM for Excel");
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.contains(&job_no));
    assert_eq!(
        csv.lines().count(),
        li_rows + 1,
        "header + the filtered rows"
    );
    b.click_only("a[href^='/jobs/export.xlsx']").await;
    let xlsx = b.download(".xlsx").await;
    let mut book = zip::ZipArchive::new(std::fs::File::open(&xlsx).unwrap()).unwrap();
    let mut text = String::new();
    for i in 0..book.len() {
        let mut f = book.by_index(i).unwrap();
        if f.name().unwrap().ends_with(".xml") {
            f.read_to_string(&mut text).unwrap();
        }
    }
    assert!(text.contains(&job_no), "the workbook holds the job number");

    // The contract page verifies the signatures.
    let c = contracted.expect("a demo job with a signed contract");
    let (cjob, cid) = (
        c["job"]["id"].as_str().unwrap(),
        c["job"]["contracts"]
            .as_object()
            .unwrap()
            .keys()
            .next()
            .unwrap(),
    );
    b.goto(&format!("{base}/jobs/{cjob}")).await;
    b.click(&format!("nav.tabs a[href='/jobs/{cjob}/contracts/{cid}']"))
        .await;
    assert_eq!(b.count("#verification .badge.ok").await, 1);
    assert!(b.count("svg").await >= 2, "both signatures drawn");
    b.shot("contract").await;

    // English by the toggle, kept across pages.
    b.goto(&format!("{base}/jobs/{id}")).await;
    b.click("header.top a[href^='/lang/en']").await;
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("en"));
    assert!(b.text("#review h2").await.starts_with("Review"));
    b.shot("detail-english").await;
    b.goto(&format!("{base}/jobs")).await;
    assert_eq!(b.text("h1").await, "Jobs");
    b.click("header.top a[href^='/lang/zh']").await;
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("zh-CN"));

    // A phone-sized window: nothing wider than the screen.
    b.resize(390, 844).await;
    b.goto(&format!("{base}/jobs")).await;
    assert_eq!(
        b.js("return document.querySelector('details.filter-box').open")
            .await,
        json!(false),
        "the filters start folded on a phone"
    );
    for path in [
        "/jobs".to_string(),
        format!("/jobs/{id}"),
        format!("/jobs/{id}/photos"),
        format!("/jobs/{id}/history"),
    ] {
        b.goto(&format!("{base}{path}")).await;
        let overflow = b
            .js("return document.documentElement.scrollWidth - window.innerWidth")
            .await
            .as_i64()
            .unwrap();
        assert!(overflow <= 1, "{path} is {overflow} px wider than a phone");
        b.shot(&format!("phone{}", path.replace('/', "-"))).await;
    }
    b.resize(1280, 900).await;

    // Printing the detail page: the content without the navigation and forms.
    b.goto(&format!("{base}/jobs/{id}")).await;
    let pdf = b.print_pdf().await;
    assert!(pdf.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&pdf) {
        assert!(text.contains(&job_no));
        assert!(!text.contains("退出"), "no logout button on paper");
        assert!(!text.contains("退回时逐条填写"), "no review form on paper");
    }

    // Logout ends the session: the old cookie no longer opens anything.
    b.click("header.top form[action='/logout'] button").await;
    assert_eq!(b.path().await, "/");
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/jobs"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "a logged-out cookie is sent to the login");
    b.close().await;
}

/// Who may see and do what, through the same pages and API, without a browser's own checks.
#[tokio::test]
async fn office_pages_answer_403_and_404_to_others() {
    let demo = Demo::start().await;
    let base = demo.server.url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let office = demo.token("office1").await;
    let list: Json = http
        .get(format!("{base}/api/v1/jobs?cm=cm-li&limit=500"))
        .bearer_auth(&office)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let li_job = list["rows"][0]["job_id"].as_str().unwrap().to_string();

    // Another customer manager cannot see cm-li's job: not found, not forbidden.
    let zhao = demo.token("cm-zhao").await;
    let r = http
        .get(format!("{base}/api/v1/jobs/{li_job}"))
        .bearer_auth(&zhao)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A dispatcher may read but not review.
    let dispatcher = demo.token("dispatcher1").await;
    let r = http
        .get(format!("{base}/api/v1/jobs/{li_job}"))
        .bearer_auth(&dispatcher)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = http
        .post(format!("{base}/api/v1/jobs/{li_job}/review"))
        .bearer_auth(&dispatcher)
        .json(&json!({"outcome": "approve"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let body: Json = r.json().await.unwrap();
    assert!(body["zh"].as_str().is_some() && body["en"].as_str().is_some());

    // A browser session: a form without its CSRF token is refused.
    let form_login = |user: &'static str| {
        let (base, pw) = (base.clone(), demo.password(user));
        async move { fieldline_tests::form_login(&base, user, &pw).await }
    };
    let session = form_login("office1").await;
    let r = http
        .post(format!("{base}/jobs/{li_job}/review"))
        .header("cookie", &session)
        .form(&[("outcome", "approve")])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "no CSRF token");
    let r = http
        .post(format!("{base}/jobs/{li_job}/review"))
        .header("cookie", &session)
        .form(&[("outcome", "approve"), ("csrf", &"0".repeat(64))])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403, "a wrong CSRF token");
    // Nothing was reviewed by those attempts.
    let v: Json = http
        .get(format!("{base}/api/v1/jobs/{li_job}"))
        .bearer_auth(&office)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_ne!(v["job"]["review"]["state"], "approved");
    // The session cookie is HttpOnly and SameSite=Strict.
    let page = http.get(format!("{base}/")).send().await.unwrap();
    let set = page.headers().get("set-cookie").unwrap().to_str().unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );

    // A dispatcher's browser sees the job but gets no review form, and a review post is 403.
    let session = form_login("dispatcher1").await;
    let html = http
        .get(format!("{base}/jobs/{li_job}"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!html.contains("value=\"approve\""));
    let csrf = page_csrf(&base, &session, &format!("/jobs/{li_job}")).await;
    let r = http
        .post(format!("{base}/jobs/{li_job}/review"))
        .header("cookie", &session)
        .form(&[("outcome", "approve"), ("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    // A customer manager in the browser gets 404 for a colleague's job, photos and exports.
    let session = form_login("cm-zhao").await;
    for path in [
        format!("/jobs/{li_job}"),
        format!("/jobs/{li_job}/photos"),
        format!("/jobs/{li_job}/history"),
        format!("/jobs/{li_job}/archive.zip"),
        format!("/jobs/{li_job}/notice.pdf"),
    ] {
        let r = http
            .get(format!("{base}{path}"))
            .header("cookie", &session)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 404, "{path}");
    }
    // And the colleague's jobs are not in the exports.
    let csv = http
        .get(format!("{base}/jobs/export.csv"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let no = list["rows"][0]["job_no"].as_str().unwrap();
    assert!(!csv.contains(no), "cm-li's job is not in cm-zhao's export");
    assert!(csv.lines().count() >= 2, "cm-zhao's own jobs are");
}
