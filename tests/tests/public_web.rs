//! The customer's view, without a login, in real headless Chromium: the units' customer managers
//! (name and work number, never a login name; jobs handled, open, satisfaction) and a job's progress behind its
//! unguessable link from the office's page (QR code); nothing private shows, and a guessed or
//! altered link opens nothing.

use fieldline_tests::browser::Browser;
use fieldline_tests::*;
use serde_json::Value as Json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn customers_see_managers_and_their_progress_and_nothing_private() {
    let Some(mut b) = Browser::start("public").await else {
        return;
    };
    let server = TestServer::start().await;
    let users = seed_demo(&server).await;
    let base = server.url();

    // From the login page to the unit's managers.
    b.goto(&format!("{base}/")).await;
    b.click("a[href='/public']").await;
    b.click("a[href='/public/zhuxian']").await;
    let table = b.text("#managers").await;
    for who in ["李强", "赵敏"] {
        assert!(table.contains(who), "{who} in {table}");
    }
    // Work numbers, never login names (they would tell a stranger whom to try passwords on).
    for login in ["cm-li", "cm-zhao"] {
        assert!(!table.contains(login), "{login} in {table}");
    }
    let numbers = b
        .js("return [...document.querySelectorAll('#managers td[data-label=\"工号\"]')].map(td => td.textContent)")
        .await;
    let numbers: Vec<String> = serde_json::from_value(numbers).unwrap();
    assert!(
        numbers.len() == 2
            && numbers
                .iter()
                .all(|n| n.len() == 6 && n.bytes().all(|b| b.is_ascii_digit())),
        "{numbers:?}"
    );
    assert_eq!(
        b.count("#managers tbody tr").await,
        2,
        "customer managers only"
    );
    let page = b.text("body").await;
    for private in [
        "恒泰物流园",
        "城东花园小区",
        "13800000",
        "310101198",
        "pm-wang",
        "office1",
    ] {
        assert!(!page.contains(private), "{private} is not public");
    }
    b.shot("managers").await;

    // The office's job page carries the progress link and its QR code.
    b.login(&base, "/", "office1", &users.password("office1"))
        .await;
    let cookie = b.cookie_header().await;
    let list: Json = reqwest::Client::new()
        .get(format!("{base}/api/v1/jobs?cm=cm-li&limit=500"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let rows = list["rows"].as_array().unwrap();
    let job = rows
        .iter()
        .find(|r| r["next_due"].is_string())
        .expect("a job of cm-li with a running clock");
    let other = rows.iter().find(|r| r["job_id"] != job["job_id"]).unwrap();
    let id = job["job_id"].as_str().unwrap();
    b.goto(&format!("{base}/jobs/{id}")).await;
    assert_eq!(b.count("#progress-link svg").await, 1, "a QR code");
    let url = b.attr("#progress-link a", "href").await.unwrap();
    assert!(url.starts_with(&format!("{base}/p/{id}.")), "{url}");

    // Opened by the customer, without any login.
    b.click("header.top form[action='/logout'] button").await;
    b.goto(&url).await;
    let text = b.text("main").await;
    assert!(text.contains(job["job_no"].as_str().unwrap()));
    assert!(
        text.contains("李强") && text.contains(&numbers[0]) && !text.contains("cm-li"),
        "whom to contact, by name and work number: {text}"
    );
    assert!(
        b.text("#next-due")
            .await
            .contains(job["next_due"].as_str().unwrap()),
        "the next step's due date"
    );
    let customer = job["customer_name"].as_str().unwrap();
    let address = job["address"].as_str().unwrap();
    // What the customer gave, their document and phone numbers masked; not the address.
    assert!(text.contains(customer) && !text.contains(address), "{text}");
    assert!(!text.contains("1380000") && !text.contains("310101198"));
    assert!(b.text("#given-phone").await.contains("****"));
    b.shot("progress").await;
    // In English, on the same page.
    b.click("header.top a[href^='/lang/en']").await;
    assert_eq!(b.attr("html", "lang").await.as_deref(), Some("en"));
    let h1 = b.text("h1").await;
    assert!(
        h1.starts_with("Your application"),
        "{h1} at {}",
        b.path().await
    );
    b.close().await;

    // A guessed or altered link opens nothing, and says nothing more.
    let http = reqwest::Client::new();
    let token = url.rsplit('/').next().unwrap();
    let (_, mac) = token.split_once('.').unwrap();
    let other_id = other["job_id"].as_str().unwrap();
    let mut flipped = mac.to_string();
    let last = if flipped.ends_with('0') { "1" } else { "0" };
    flipped.replace_range(flipped.len() - 1.., last);
    for bad in [
        format!("{other_id}.{mac}"),
        format!("{id}.{flipped}"),
        id.to_string(),
        format!("{id}."),
        format!("../{id}.{mac}"),
        "x".repeat(500),
    ] {
        let r = http.get(format!("{base}/p/{bad}")).send().await.unwrap();
        assert_eq!(r.status(), 404, "{bad}");
    }
    let r = http
        .get(format!("{base}/public/nowhere"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(http.get(&url).send().await.unwrap().status(), 200);
}
