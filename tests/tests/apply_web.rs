//! The customer's own channel, in real headless Chromium as an anonymous customer: apply online
//! with a chosen customer manager (a bad phone number first: the message), get the tracking link
//! and the receipt; the counter sees the application with its photo and accepts it on that one
//! document; the chosen manager's field-core phone receives the job with the ID photo. Also:
//! a declined application, a duplicate, a tampered link, the limits per address and per phone,
//! and the dispatch board's warning for an application not started the same working day.

use field_core::job::{Metering, Milestone, SupplyPlan};
use field_core::{Edit, MilestoneEvent};
use fieldline_tests::browser::Browser;
use fieldline_tests::*;

/// A customer manager's figures on the public list: (average satisfaction, scores).
async fn public_manager(base: &str, name: &str) -> (Option<f64>, u64) {
    let html = reqwest::get(format!("{base}/public/zhuxian"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let row = html
        .split("<tr>")
        .find(|r| r.contains(name))
        .unwrap_or_else(|| panic!("{name} on the list"));
    let cell = row
        .split("平均满意度\">")
        .nth(1)
        .unwrap()
        .split("</td>")
        .next()
        .unwrap();
    if cell.trim() == "—" {
        return (None, 0);
    }
    let avg: f64 = cell.split(" / 5").next().unwrap().trim().parse().unwrap();
    let n: u64 = cell
        .split('(')
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    (Some(avg), n)
}

/// Installs the meter, signs the contract and powers the job on, on the phone, and syncs.
async fn power_on(phone: &Phone, id: &str) {
    let s = &phone.store;
    let me = phone.user.as_str();
    s.edit(
        id,
        me,
        &Edit::UpdateMetering(Metering {
            meter_asset_no: Some("3200001234567".into()),
            initial_reading: Some(0.0),
            installer: Some(me.into()),
            installed_at: Some(chrono::Utc::now()),
            ..Default::default()
        }),
    )
    .unwrap();
    s.sign_contract(
        id,
        me,
        &field_core::contract::sample::sign_request("contract-1", vec![]),
    )
    .expect("contract signed");
    s.edit(
        id,
        me,
        &Edit::RecordPowerOn {
            id: "power-on".into(),
            at: chrono::Utc::now(),
        },
    )
    .expect("powered on");
    phone.sync().await;
}

const ID_NUMBER: &str = "11010519491231002X";
const ADDRESS: &str = "朱仙镇人民路 88 号";

fn id_photo() -> (tempfile::TempDir, std::path::PathBuf, Vec<u8>) {
    let dir = tempfile::tempdir().unwrap();
    let bytes = field_core::photo::sample::jpeg(1200, 800, 7, &Default::default());
    let path = dir.path().join("id-card.jpg");
    std::fs::write(&path, &bytes).unwrap();
    (dir, path, bytes)
}

/// Files an application as a raw client (multipart, no redirects followed).
async fn file_raw(
    base: &str,
    fields: &[(&str, &str)],
    photo: Option<&[u8]>,
    forwarded_for: &str,
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (k, v) in fields {
        form = form.text(k.to_string(), v.to_string());
    }
    if let Some(p) = photo {
        form = form.part(
            "photo",
            reqwest::multipart::Part::bytes(p.to_vec())
                .file_name("id.jpg")
                .mime_str("image/jpeg")
                .unwrap(),
        );
    }
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{base}/public/zhuxian/apply"))
        .header("x-forwarded-for", forwarded_for)
        .multipart(form)
        .send()
        .await
        .unwrap()
}

fn person<'a>(
    name: &'a str,
    id: &'a str,
    phone: &'a str,
    address: &'a str,
) -> Vec<(&'a str, &'a str)> {
    vec![
        ("kind", "lv_residential"),
        ("name", name),
        ("id_number", id),
        ("phone", phone),
        ("address", address),
        ("capacity_kva", "8"),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_customer_applies_online_and_the_chosen_manager_gets_the_job() {
    let Some(mut b) = Browser::start("apply").await else {
        return;
    };
    let server = TestServer::start_with(|c| {
        c.client_ip_header = "x-forwarded-for".into();
        c.public_cache_seconds = 0;
    })
    .await;
    let users = seed_demo(&server).await;
    let base = server.url();
    let (_dir, photo_path, photo) = id_photo();

    // From the public pages to the form: the unit by its name, never its code.
    b.goto(&format!("{base}/public")).await;
    let units = b.text("#units").await;
    assert!(
        units.contains("朱仙供电所") && !units.contains("zhuxian"),
        "{units}"
    );
    b.click("a[href='/public/zhuxian']").await;
    let contacts = b.text("#contacts").await;
    for shown in ["朱仙镇人民路 18 号", "0710-5551234", "95598", "12398"] {
        assert!(contacts.contains(shown), "{shown} in {contacts}");
    }
    b.click("#apply-link").await;
    b.shot("form").await;

    // A bad phone number first: the message, and what was typed is kept.
    let li = b
        .js("return [...document.querySelectorAll('select[name=manager] option')].find(o => o.textContent.includes('李强')).value")
        .await;
    let li = li.as_str().unwrap().to_string();
    b.select("select[name=kind]", "lv_residential").await;
    b.fill("input[name=name]", "张三丰").await;
    b.fill("input[name=id_number]", ID_NUMBER).await;
    b.fill("input[name=phone]", "12345").await;
    b.fill("input[name=address]", ADDRESS).await;
    b.fill("input[name=capacity_kva]", "8").await;
    b.select("select[name=manager]", &li).await;
    b.upload("input[name=photo]", &photo_path).await;
    b.click("#apply button[type=submit]").await;
    let error = b.text("#apply-error").await;
    assert!(error.contains("联系电话"), "{error}");
    assert_eq!(
        b.attr("input[name=name]", "value").await.as_deref(),
        Some("张三丰")
    );
    b.shot("bad-phone").await;

    // Fixed: filed, and the tracking page says it waits at the counter.
    b.fill("input[name=phone]", "139 0000 1111").await;
    b.upload("input[name=photo]", &photo_path).await;
    b.click("#apply button[type=submit]").await;
    let tracking = b.path().await;
    assert!(
        tracking.starts_with("/p/") && tracking.ends_with("?filed=1"),
        "{tracking}"
    );
    let tracking = tracking.trim_end_matches("?filed=1").to_string();
    let id = tracking
        .trim_start_matches("/p/")
        .split('.')
        .next()
        .unwrap()
        .to_string();
    assert!(b.text("#stage").await.contains("待受理"));
    assert!(b.text("#chosen").await.contains("李强"));
    assert_eq!(b.text("#given-id").await, "1101**********002X");
    assert_eq!(b.text("#given-phone").await, "139****1111");
    let page = b.text("body").await;
    assert!(!page.contains(ID_NUMBER) && !page.contains("13900001111"));
    b.shot("filed").await;
    b.resize(390, 844).await;
    b.shot("filed-390").await;
    b.click("#receipt-link").await;
    let number = b.text("#receipt-number").await;
    assert!(number.starts_with("SQ"), "{number}");
    assert_eq!(
        b.count("#receipt svg").await,
        1,
        "the tracking link's QR code"
    );
    let receipt = reqwest::get(format!("{base}{tracking}/receipt.pdf"))
        .await
        .unwrap();
    assert_eq!(receipt.status(), 200);
    let receipt = receipt.bytes().await.unwrap();
    assert!(receipt.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&receipt) {
        let flat: String = text.split_whitespace().collect();
        assert!(
            flat.contains(&number) && flat.contains("139****1111"),
            "{text:.600}"
        );
        assert!(!flat.contains("13900001111"), "the phone masked");
    }
    b.shot("receipt-390").await;
    b.resize(1280, 900).await;

    // The counter sees it, with its photo, and accepts it.
    b.login(
        &base,
        "/applications",
        "office1",
        &users.password("office1"),
    )
    .await;
    assert!(b.text("#queue").await.contains("张三丰"));
    b.click(&format!("#queue tr[data-id='{id}'] a")).await;
    assert!(b.text("#app-manager").await.contains("李强"));
    let width = b
        .js("const i = document.getElementById('app-photo'); return i.complete ? i.naturalWidth : -1")
        .await;
    assert!(width.as_i64().unwrap() > 0, "the photo shows: {width}");
    b.shot("counter").await;
    b.click("#accept-button").await;
    assert_eq!(b.path().await, format!("/jobs/{id}"));
    b.shot("job").await;

    // The chosen manager's phone receives the job with the ID photo.
    let mut phone = Phone::offline();
    field_core::sync::login(&phone.store, &base, "cm-li", &users.password("cm-li"))
        .await
        .unwrap();
    phone.user = "cm-li".into();
    phone.sync().await;
    let job = phone.store.job(&id).unwrap();
    assert_eq!(job.application.channel.as_deref(), Some("online"));
    assert_eq!(job.customer.id_number.as_deref(), Some(ID_NUMBER));
    assert_eq!(job.assignment.customer_manager.as_deref(), Some("cm-li"));
    assert_eq!(job.assignment.customer_chose_manager, Some(true));
    let (photo_id, p) = job.photos.iter().next().expect("the ID photo");
    assert_eq!(p.checklist_group.as_deref(), Some("owner_id"));
    assert_eq!(
        p.original_sha256.as_deref(),
        Some(&*field_core::photo::sha256_hex(&photo))
    );
    assert_eq!(job.checklist["owner_id"].collected, Some(true));
    let later = &job.checklist["property_proof"];
    assert_eq!(later.collected, Some(false));
    assert!(
        later.due_on.is_some(),
        "the documents to collect later have a date"
    );
    let original =
        field_core::sync::fetch_photo(&phone.store, &id, photo_id, "original", &fast_options())
            .await
            .unwrap();
    assert_eq!(original, photo, "the phone holds the customer's photo");
    let display =
        field_core::sync::fetch_photo(&phone.store, &id, photo_id, "display", &fast_options())
            .await
            .unwrap();
    assert!(display.starts_with(&[0xFF, 0xD8]));
    // The ID photo: the counter and the job's managers, not the rest of the unit.
    let sha = p.display_sha256.clone().unwrap();
    let office = form_login(&base, "office1", &users.password("office1")).await;
    let dispatch = form_login(&base, "dispatcher1", &users.password("dispatcher1")).await;
    let other_cm = form_login(&base, "cm-zhao", &users.password("cm-zhao")).await;
    let blob = format!("/api/v1/blobs/{sha}");
    assert_eq!(session_get(&base, &office, &blob).await.status(), 200);
    assert_eq!(session_get(&base, &dispatch, &blob).await.status(), 404);
    assert_eq!(session_get(&base, &other_cm, &blob).await.status(), 404);

    // The tracking link now shows the job's progress and whom to contact.
    b.click("header.top form[action='/logout'] button").await;
    b.goto(&format!("{base}{tracking}")).await;
    assert!(b.text("#contact").await.contains("李强"));
    assert_eq!(b.text("#given-id").await, "1101**********002X");
    b.shot("accepted").await;

    // The manager replies the supply plan with the agreed power-on date; the customer sees the
    // parts meant for them and confirms it; the phone sees the confirmation.
    let me = "cm-li";
    let agreed = field_core::job::local_date(chrono::Utc::now()) + chrono::Duration::days(10);
    let now = chrono::Utc::now();
    phone
        .store
        .edit(
            &id,
            me,
            &Edit::UpdateSupplyPlan(SupplyPlan {
                source: Some(field_core::Source::Single),
                voltage: Some(field_core::Voltage::V220),
                capacity_kva: Some(8.0),
                metering_point: Some("表箱内电能表".into()),
                property_boundary: Some("进户线与表箱接线端子处".into()),
                fees_yuan: Some(0.0),
                fees_basis: Some("低压居民新装零投资，不收取费用".into()),
                power_on_agreed_on: Some(agreed),
                reply_mode: Some("online".into()),
                replied_at: Some(now),
                ..Default::default()
            }),
        )
        .unwrap();
    phone
        .store
        .edit(
            &id,
            me,
            &Edit::AddMilestone {
                id: "plan-replied".into(),
                milestone: Milestone {
                    event: Some(MilestoneEvent::SupplyPlanReplied),
                    at: Some(now),
                    ..Default::default()
                },
            },
        )
        .unwrap();
    phone.sync().await;
    b.goto(&format!("{base}{tracking}")).await;
    assert!(b.text("#plan-fees").await.contains("无需缴费"));
    assert_eq!(b.text("#plan-power-on").await, agreed.to_string());
    b.shot("plan").await;
    b.click("#confirm-plan").await;
    assert!(b.text("#plan-confirmed").await.contains("确认"));
    b.shot("plan-confirmed").await;
    phone.sync().await;
    let job = phone.store.job(&id).unwrap();
    assert!(job.customer_voice.plan_confirmed_at.is_some());
    assert_eq!(
        job.customer_voice.plan_replied_at,
        job.supply_plan.replied_at
    );
    assert!(
        job.first(MilestoneEvent::PlanConfirmed).is_some(),
        "on the phone's timeline"
    );
    // Confirming again is refused, not recorded twice.
    let again = reqwest::Client::new()
        .post(format!("{base}{tracking}/plan"))
        .form(&[("action", "confirm")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 409);

    // Power-on, then the customer rates 2: the follow-up opens on the board, and the public
    // list and the assessment count the rating.
    let before = public_manager(&base, "李强").await;
    let month = field_core::job::local_date(chrono::Utc::now())
        .format("%Y-%m")
        .to_string();
    let dispatcher = form_login(&base, "dispatcher1", &users.password("dispatcher1")).await;
    let assessed = |session: String, month: String, base: String| async move {
        session_get(
            &base,
            &session,
            &format!("/api/v1/assessment?month={month}"),
        )
        .await
        .json::<serde_json::Value>()
        .await
        .unwrap()
    };
    let a0 = assessed(dispatcher.clone(), month.clone(), base.clone()).await;
    power_on(&phone, &id).await;
    b.goto(&format!("{base}{tracking}")).await;
    b.js("document.querySelector('#stars input[value=\"2\"]').click(); return 0")
        .await;
    b.fill("#rating textarea[name=comment]", "等待时间较长")
        .await;
    b.click("#rate").await;
    assert!(b.text("#rated").await.contains('2'));
    b.shot("rated").await;
    let twice = reqwest::Client::new()
        .post(format!("{base}{tracking}/rating"))
        .form(&[("score", "5")])
        .send()
        .await
        .unwrap();
    assert_eq!(twice.status(), 409, "rated once");
    let board = session_get(&base, &dispatcher, "/board")
        .await
        .text()
        .await
        .unwrap();
    let follow = board.split("id=\"follow-ups\"").nth(1).unwrap_or_default();
    assert!(
        follow.contains(&job.job_no),
        "the low rating's follow-up: {follow:.600}"
    );
    let after = public_manager(&base, "李强").await;
    assert_eq!(after.1, before.1 + 1, "one more score");
    let expected = (before.0.unwrap_or(0.0) * before.1 as f64 + 2.0) / (before.1 + 1) as f64;
    assert!(
        (after.0.unwrap() - expected).abs() < 0.051,
        "{after:?} vs {expected}"
    );
    let a1 = assessed(dispatcher.clone(), month.clone(), base.clone()).await;
    let n = |a: &serde_json::Value| {
        a["satisfaction"]["visits"].as_u64().unwrap()
            + a["satisfaction"]["ratings"].as_u64().unwrap()
    };
    assert_eq!(
        a1["satisfaction"]["ratings"].as_u64(),
        Some(a0["satisfaction"]["ratings"].as_u64().unwrap() + 1)
    );
    let avg0 = a0["satisfaction"]["average"].as_f64().unwrap_or(0.0);
    let want = (avg0 * n(&a0) as f64 + 2.0) / n(&a1) as f64;
    assert!(
        (a1["satisfaction"]["average"].as_f64().unwrap() - want).abs() < 1e-9,
        "{a1} vs {want}"
    );
    assert_eq!(
        a1["satisfaction"]["low"].as_u64(),
        Some(a0["satisfaction"]["low"].as_u64().unwrap() + 1)
    );
    phone.sync().await;
    let job = phone.store.job(&id).unwrap();
    assert_eq!(
        job.customer_voice.rating,
        Some(2),
        "the phone sees the rating"
    );
    assert_eq!(
        job.return_visit.satisfaction, None,
        "never mixed with the return visit"
    );
    b.close().await;

    // A tampered link opens nothing.
    let http = reqwest::Client::new();
    let token = tracking.trim_start_matches("/p/");
    let mut flipped = token.to_string();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(flipped.len() - 1.., last);
    for bad in [flipped.clone(), id.clone(), format!("{flipped}/receipt")] {
        let r = http.get(format!("{base}/p/{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }

    // The same person and place again: the same application, if the phone matches too.
    let again = file_raw(
        &base,
        &person("张三丰", ID_NUMBER, "13900001111", "朱仙镇人民路88号"),
        Some(&photo),
        "10.0.0.2",
    )
    .await;
    assert_eq!(again.status(), 303);
    assert_eq!(
        again.headers()["location"].to_str().unwrap(),
        format!("{tracking}?filed=again")
    );
    let stranger = file_raw(
        &base,
        &person("张三丰", ID_NUMBER, "13700002222", ADDRESS),
        Some(&photo),
        "10.0.0.3",
    )
    .await;
    assert_eq!(stranger.status(), 409, "no link for someone else's phone");
    assert!(stranger.text().await.unwrap().contains("已有办理中的申请"));

    // Declined, with a reason the applicant reads.
    let other = file_raw(
        &base,
        &person(
            "李四",
            "91350100M000100Y43",
            "0710-7654321",
            "朱仙镇工业园 3 号",
        ),
        Some(&photo),
        "10.0.0.4",
    )
    .await;
    assert_eq!(other.status(), 303);
    let other_link = other.headers()["location"]
        .to_str()
        .unwrap()
        .trim_end_matches("?filed=1")
        .to_string();
    let other_id = other_link
        .trim_start_matches("/p/")
        .split('.')
        .next()
        .unwrap()
        .to_string();
    let session = form_login(&base, "office1", &users.password("office1")).await;
    let csrf = page_csrf(&base, &session, &format!("/applications/{other_id}")).await;
    let r = session_post(
        &base,
        &session,
        &format!("/applications/{other_id}/decline"),
        &[("csrf", &csrf), ("reason", "用电地址不在本单位供电范围内")],
    )
    .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    let shown = http
        .get(format!("{base}{other_link}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(shown.contains("用电地址不在本单位供电范围内") && shown.contains("不予受理"));
    // Decided once: accepting it now is refused.
    let r = session_post(
        &base,
        &session,
        &format!("/applications/{other_id}/accept"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(r.status(), 409);

    // Someone else's counter, and the phones, see no application.
    let cm = form_login(&base, "cm-li", &users.password("cm-li")).await;
    assert_eq!(
        session_get(&base, &cm, &format!("/applications/{other_id}"))
            .await
            .status(),
        404
    );
    assert_eq!(
        session_get(
            &base,
            &cm,
            &format!("/applications/{other_id}/photo/original")
        )
        .await
        .status(),
        404
    );
    let anonymous = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("{base}/applications/{other_id}/photo/original"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 303, "a stranger is sent to log in");

    // Filed two days ago and still pending: the board warns.
    let late = server.env().store.write().map(|mut tx| {
        let row = fieldline_server::store::ApplicationRow {
            id: "latelatelatelate0000000000000000".into(),
            unit: "zhuxian".into(),
            state: "pending".into(),
            same_key: "k".into(),
            phone_key: "p".into(),
            detail: serde_json::json!({
                "kind": "lv_residential", "name": "王五", "id_number": ID_NUMBER,
                "phone": "13800000000", "address": "x", "capacity_kva": null,
                "wanted_on": null, "manager": null, "photo": {}
            })
            .to_string(),
            created_at: chrono::Utc::now().timestamp_millis() - 3 * 86_400_000,
            ..Default::default()
        };
        tx.insert_application(&row).unwrap();
        tx.commit().unwrap();
    });
    late.unwrap();
    let dispatcher = form_login(&base, "dispatcher1", &users.password("dispatcher1")).await;
    let board = session_get(&base, &dispatcher, "/board")
        .await
        .text()
        .await
        .unwrap();
    let warned = board
        .split("id=\"late-applications\"")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .unwrap_or_default();
    assert!(
        warned.contains("王五") && !warned.contains("张三丰"),
        "{warned:.400}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn applications_are_limited_per_address_and_per_phone() {
    let server = TestServer::start_with(|c| {
        c.client_ip_header = "x-forwarded-for".into();
        c.applications_per_hour_per_address = 3;
    })
    .await;
    let _users = seed_demo(&server).await;
    let base = server.url();
    let (_dir, _, photo) = id_photo();
    let ids = [
        "11010519491231002X",
        "91350100M000100Y43",
        "421122198001010016",
    ];
    // Per address: the fourth filing within the hour is refused, whatever it is.
    for (i, id) in ids.iter().enumerate() {
        let address = format!("朱仙镇 {i} 号");
        let phone = format!("1390000000{i}");
        let r = file_raw(
            &base,
            &person("甲", id, &phone, &address),
            Some(&photo),
            "10.1.0.1",
        )
        .await;
        assert_eq!(r.status(), 303, "filing {i}");
    }
    let r = file_raw(
        &base,
        &person("甲", ids[0], "13911112222", "别处"),
        Some(&photo),
        "10.1.0.1",
    )
    .await;
    assert_eq!(r.status(), 429);
    // Per phone: three a day, from any address.
    for (i, id) in ids.iter().enumerate() {
        let r = file_raw(
            &base,
            &person("乙", id, "13955556666", &format!("乙地 {i}")),
            Some(&photo),
            &format!("10.2.0.{i}"),
        )
        .await;
        assert_eq!(r.status(), 303, "filing {i} of the phone");
    }
    let r = file_raw(
        &base,
        &person("乙", ids[1], "13955556666", "乙地 9"),
        Some(&photo),
        "10.2.0.9",
    )
    .await;
    assert_eq!(r.status(), 429);
    // Not an image, or none: a clear message, nothing filed.
    let r = file_raw(
        &base,
        &person("丙", ids[2], "13977778888", "丙地"),
        Some(b"%PDF-1.4 not a photo"),
        "10.3.0.1",
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("不是 JPEG 或 PNG"));
    let r = file_raw(
        &base,
        &person("丙", ids[2], "13977778888", "丙地"),
        None,
        "10.3.0.2",
    )
    .await;
    assert_eq!(r.status(), 400);
    let r = file_raw(
        &base,
        &person("丙", "110105194912310021", "13977778888", "丙地"),
        Some(&photo),
        "10.3.0.3",
    )
    .await;
    assert_eq!(r.status(), 400, "a wrong check digit");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_applies_and_follows_through_the_json_api() {
    use base64::Engine;
    let server = TestServer::start().await;
    let _users = seed_demo(&server).await;
    let base = server.url();
    let (_dir, _, photo) = id_photo();
    let http = reqwest::Client::new();
    let units: serde_json::Value = http
        .get(format!("{base}/api/v1/public/units"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(units[0]["name"], "朱仙供电所");
    let managers: serde_json::Value = http
        .get(format!("{base}/api/v1/public/units/zhuxian/managers"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let zhao = managers
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"].as_str().unwrap().contains("赵敏"))
        .unwrap()["work_number"]
        .as_str()
        .unwrap()
        .to_string();
    let body = serde_json::json!({
        "kind": "lv_small_micro", "name": "邾县宏达五金厂", "id_number": "91350100M000100Y43",
        "phone": "0710-7654321", "address": "朱仙镇工业园 9 号", "capacity_kva": 30.0,
        "manager": zhao,
        "id_photo": base64::engine::general_purpose::STANDARD.encode(&photo),
    });
    let url = format!("{base}/api/v1/public/units/zhuxian/applications");
    let r = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(r.status(), 201);
    let filed: serde_json::Value = r.json().await.unwrap();
    let token = filed["token"].as_str().unwrap().to_string();
    assert!(filed["number"].as_str().unwrap().starts_with("SQ"));
    let again = http.post(&url).json(&body).send().await.unwrap();
    assert_eq!(again.status(), 200, "the same application");
    let again: serde_json::Value = again.json().await.unwrap();
    assert_eq!(again["token"].as_str(), Some(token.as_str()));
    assert_eq!(again["duplicate"], true);
    let tracked: serde_json::Value = http
        .get(format!("{base}/api/v1/public/track/{token}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(tracked["kind"], "application");
    assert_eq!(tracked["state"], "pending");
    assert_eq!(tracked["id_number"], "9135**********0Y43");
    assert!(tracked["contact"].as_str().unwrap().contains("赵敏"));
    // No plan yet: a confirmation is a conflict with the job's state (and there is no job).
    let r = http
        .post(format!(
            "{base}/api/v1/public/track/{token}/plan/confirmation"
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404, "an application has no plan to confirm");
    // Bad input gets the error body, in both languages.
    let mut bad = body.clone();
    bad["id_photo"] = serde_json::json!("not base64!");
    bad["id_number"] = serde_json::json!("421122198001010016");
    let r = http.post(&url).json(&bad).send().await.unwrap();
    assert_eq!(r.status(), 400);
    let e: serde_json::Value = r.json().await.unwrap();
    assert_eq!(e["code"], "invalid_photo");
    assert!(
        e["zh"].as_str().unwrap().contains("base64")
            && e["en"].as_str().unwrap().contains("base64")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guide_shows_the_rules_and_fees_in_force_as_a_page_and_a_pdf() {
    let Some(mut b) = Browser::start("guide").await else {
        return;
    };
    let server = TestServer::start().await;
    let users = seed_demo(&server).await;
    let base = server.url();
    let today = field_core::job::local_date(chrono::Utc::now());
    let whole = server
        .env()
        .rules()
        .in_force("zhuxian", today)
        .limits
        .small_micro_whole_job;

    // From the unit's page to a kind's guide: the limits the clocks use, the fees in force.
    b.goto(&format!("{base}/public/zhuxian")).await;
    b.click("#guides a[href='/public/zhuxian/guide/lv_small_micro']")
        .await;
    let row = b.text("#limits tr[data-stage=whole_job] td.days").await;
    assert!(row.contains(&whole.to_string()), "{row}");
    assert!(b.text("#fees").await.contains("零投资"));
    assert!(b.text("#documents").await.contains("营业执照"));
    assert!(b.text("#rights").await.contains("12398"));
    b.shot("guide").await;
    b.resize(390, 844).await;
    b.shot("guide-390").await;
    b.resize(1280, 900).await;

    // The admin installs the unit's own fee schedule: the page and the PDF follow at once.
    let admin = form_login(&base, "admin", &users.password("admin")).await;
    let csrf = page_csrf(&base, &admin, "/admin/reference").await;
    let schedule = serde_json::json!({
        "id": "zhuxian-fees", "version": 1, "effective_from": "2026-01-01", "unit": "zhuxian",
        "items": [{
            "kinds": ["lv_small_micro"],
            "item": {"zh": "临时接电费", "en": "temporary connection charge"},
            "standard": {"zh": "每户 120 元", "en": "120 yuan per connection"},
            "basis": {"zh": "邾县发改委〔2026〕18 号", "en": "county notice 2026/18"}
        }]
    });
    let r = session_post(
        &base,
        &admin,
        "/admin/reference",
        &[
            ("csrf", csrf.as_str()),
            ("kind", "fee_schedule"),
            ("body", &schedule.to_string()),
        ],
    )
    .await;
    assert!(
        r.status().is_success() || r.status().is_redirection(),
        "{}",
        r.status()
    );
    b.goto(&format!("{base}/public/zhuxian/guide/lv_small_micro"))
        .await;
    let fees = b.text("#fees").await;
    assert!(
        fees.contains("每户 120 元") && !fees.contains("零投资"),
        "{fees}"
    );
    let pdf = reqwest::get(format!("{base}/public/zhuxian/guide/lv_small_micro/pdf"))
        .await
        .unwrap();
    assert_eq!(pdf.status(), 200);
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let bytes = pdf.bytes().await.unwrap();
    assert!(bytes.starts_with(b"%PDF"));
    if let Some(text) = pdf_text(&bytes) {
        let flat: String = text.split_whitespace().collect();
        for want in [
            "供电业务报装指南",
            "朱仙供电所",
            "每户120元",
            "95598",
            "12398",
        ] {
            assert!(flat.contains(want), "{want} in the PDF: {text:.800}");
        }
        assert!(
            flat.contains(&format!("≤{whole}")),
            "the whole-job limit in the PDF"
        );
    }
    // A bad schedule is refused with the reason; nothing changes.
    let r = session_post(
        &base,
        &admin,
        "/admin/reference",
        &[
            ("csrf", csrf.as_str()),
            ("kind", "fee_schedule"),
            ("body", "{\"id\":\"x\"}"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("收费标准无效"));
    // An unknown kind or unit is not found.
    for bad in [
        "/public/zhuxian/guide/nuclear",
        "/public/nowhere/guide/hv",
        "/public/nowhere/guide/hv/pdf",
    ] {
        assert_eq!(
            reqwest::get(format!("{base}{bad}")).await.unwrap().status(),
            404,
            "{bad}"
        );
    }
    b.close().await;
}
