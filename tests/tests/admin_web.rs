//! Administration (系统管理) in real headless Chromium as the demo's admin: create a user, whose
//! field-core phone then logs in and syncs; disable and enable them; reset their password;
//! revoke their phone. Others get 403.

use fieldline_tests::browser::Browser;
use fieldline_tests::*;

async fn phone_login(
    base: &str,
    user: &str,
    pw: &str,
) -> Result<(field_core::Store, tempfile::TempDir), String> {
    let d = tempfile::tempdir().unwrap();
    let store =
        field_core::Store::open(d.path().join("p.db"), &fieldline_tests::phone_key()).unwrap();
    field_core::sync::login(&store, base, user, pw)
        .await
        .map_err(|e| e.to_string())?;
    Ok((store, d))
}

async fn syncs(store: &field_core::Store) -> bool {
    field_core::sync::sync(store, &fast_options(), &|_| {})
        .await
        .is_ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_runs_users_and_devices() {
    let Some(mut b) = Browser::start("admin").await else {
        return;
    };
    let server = TestServer::start().await;
    let users = seed_demo(&server).await;
    let password = |u: &str| users.password(u);
    let base = server.url();

    b.login(&base, "/admin", "admin", &password("admin")).await;
    assert_eq!(b.path().await, "/admin");
    assert!(b.count("#users tbody tr").await >= 6);
    b.shot("users").await;

    // A new customer manager, with a generated password shown once.
    b.fill("#new-user input[name=username]", "cm-sun").await;
    b.fill("#new-user input[name=display_name]", "客户经理 孙丽")
        .await;
    b.select("#new-user select[name=role]", "customer_manager")
        .await;
    b.click("#new-user button[type=submit]").await;
    let first = b.text("#new-password code").await;
    assert_eq!(first.len(), 12, "{first}");
    b.shot("new-password").await;
    let (phone, _d) = phone_login(&base, "cm-sun", &first).await.unwrap();
    assert!(syncs(&phone).await);

    // Disabled: the phone's token stops working, and stays dead when the user is enabled again.
    b.goto(&format!("{base}/admin/users/cm-sun")).await;
    assert_eq!(b.count("#devices tbody tr").await, 1, "the phone is listed");
    b.click("#user form[action$='/disable'] button").await;
    assert_eq!(b.count("#user .badge.bad").await, 1);
    assert!(!syncs(&phone).await, "a disabled user's phone is refused");
    assert!(phone_login(&base, "cm-sun", &first).await.is_err());
    b.click("#user form[action$='/enable'] button").await;
    // Enabled again: the old token stays dead (trust ended with the disable); a new login works.
    assert!(!syncs(&phone).await, "enable revives no token");
    let (phone, _d) = phone_login(&base, "cm-sun", &first)
        .await
        .expect("logs in again");
    assert!(syncs(&phone).await);

    // A new password: the old one no longer logs in.
    b.click("#user form[action$='/password'] button").await;
    let second = b.text("#new-password code").await;
    assert_ne!(first, second);
    assert!(phone_login(&base, "cm-sun", &first).await.is_err());
    let (phone2, _d2) = phone_login(&base, "cm-sun", &second).await.unwrap();

    // Role and unit.
    b.goto(&format!("{base}/admin/users/cm-sun")).await;
    b.select("#role select[name=role]", "project_manager").await;
    b.click("#role button[type=submit]").await;
    assert!(b.text("#user").await.contains("项目经理"));
    // A new role ends every token: both phones log in again.
    assert!(!syncs(&phone).await && !syncs(&phone2).await);
    let (phone, _d3) = phone_login(&base, "cm-sun", &second).await.unwrap();
    let (phone2, _d4) = phone_login(&base, "cm-sun", &second).await.unwrap();
    b.goto(&format!("{base}/admin/users/cm-sun")).await;

    // A lost phone: revoked, its token refused; the other phone still works.
    b.click("#devices tbody tr:first-child form button").await;
    assert_eq!(
        b.count("#devices form[action$='/restore']").await,
        1,
        "one device revoked"
    );
    let results = (syncs(&phone).await, syncs(&phone2).await);
    assert!(
        results.0 != results.1,
        "exactly one phone is revoked: {results:?}"
    );
    // It stays revoked: its password no longer logs it in, until the admin lets it back.
    let lost = if results.0 { &phone2 } else { &phone };
    let again = field_core::sync::login(lost, &base, "cm-sun", &second).await;
    assert!(again.is_err(), "a revoked phone cannot log in again");
    b.shot("user").await;
    b.click("#devices form[action$='/restore'] button").await;
    assert_eq!(b.count("#devices form[action$='/restore']").await, 0);
    field_core::sync::login(lost, &base, "cm-sun", &second)
        .await
        .expect("let back, it logs in");
    assert!(syncs(lost).await);

    // The admin cannot lock themselves out.
    b.goto(&format!("{base}/admin/users/admin")).await;
    b.click("#user form[action$='/disable'] button").await;
    assert!(b.text("main").await.contains("不能停用自己的账号"));

    // Units: the demo unit with its people, its leader, its jobs, the rule set in force and the
    // grid cells; a unit without a leader is flagged.
    b.goto(&format!("{base}/admin/units")).await;
    let row = b.text("#units tr[data-unit=zhuxian]").await;
    for want in ["客户经理", "周伟", "national-default", "national v1"] {
        assert!(row.contains(want), "{want}: {row}");
    }
    assert!(b.count("#units tr[data-unit=zhuxian] .badge.bad").await == 0);
    // A unit is a record created before its people: here, with its name, and then offered
    // when a user is created or moved.
    b.fill("#new-unit input[name=unit]", "xinzhuang").await;
    b.fill("#new-unit input[name=name]", "新庄供电所").await;
    b.click("#new-unit button[type=submit]").await;
    let row = b.text("#units tr[data-unit=xinzhuang]").await;
    assert!(row.contains("新庄供电所"), "{row}");
    assert_eq!(
        b.count("#units tr[data-unit=xinzhuang] .badge.bad").await,
        1,
        "a new unit has no leader yet"
    );
    b.shot("units").await;
    b.goto(&format!("{base}/admin")).await;
    assert_eq!(
        b.count("#new-user select[name=unit] option[value=xinzhuang]")
            .await,
        1
    );
    // A unit nobody created is refused (a raw form post that skips the page's list).
    let admin_session = form_login(&base, "admin", &password("admin")).await;
    let csrf = page_csrf(&base, &admin_session, "/admin").await;
    let r = session_post(
        &base,
        &admin_session,
        "/admin/users",
        &[
            ("csrf", csrf.as_str()),
            ("username", "cm-typo"),
            ("display_name", "客户经理"),
            ("role", "customer_manager"),
            ("unit", "zhuxain"),
        ],
    )
    .await;
    assert_eq!(r.status(), 400);
    let page = r.text().await.unwrap();
    assert!(page.contains("单位 zhuxain 不存在"), "{page}");

    // The audit trail has it all, each act once, by the admin.
    let entries = server.audit(None);
    let added: Vec<_> = entries
        .iter()
        .filter(|e| e.kind == "user_added" && e.detail["user"] == "cm-sun")
        .collect();
    assert_eq!(added.len(), 1, "{added:?}");
    assert_eq!(added[0].username.as_deref(), Some("admin"));
    assert!(
        entries
            .iter()
            .any(|e| e.kind == "unit_added" && e.detail["unit"] == "xinzhuang")
    );
    let kinds: Vec<String> = entries.into_iter().map(|e| e.kind).collect();
    for k in [
        "user_added",
        "user_disabled",
        "user_enabled",
        "password_reset",
        "user_changed",
        "token_revoked",
    ] {
        assert!(kinds.iter().any(|x| x == k), "{k} audited");
    }
    b.close().await;

    // Nobody else administers: a dispatcher's and an office worker's sessions get 403.
    let http = reqwest::Client::new();
    for user in ["dispatcher1", "office1", "cm-li"] {
        let session = form_login(&base, user, &password(user)).await;
        for path in [
            "/admin",
            "/admin/users/cm-li",
            "/admin/units",
            "/admin/reference",
            "/admin/grid",
        ] {
            let r = http
                .get(format!("{base}{path}"))
                .header("cookie", &session)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{user} {path}");
        }
    }
}
