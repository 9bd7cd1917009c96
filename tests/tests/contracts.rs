//! Survey-and-install in one visit (勘查装表一岗制): the whole visit offline on one phone, synced
//! later, countersigned and verified on the server; tampering named part by part; the PDF.

use clap::Parser;
use field_core::codes::{MilestoneEvent, PhotoPurpose};
use field_core::contract::{GeoFix, Part, SignRequest, SignaturePad, SignerRole};
use field_core::job::{Metering, Seal, Survey};
use field_core::photo::IngestOptions;
use field_core::photo::sample::{self, SampleExif};
use field_core::store::PhotoInput;
use field_core::{Edit, JobStatus, Role};
use fieldline_server::service::contracts::{files, verify_archive};
use fieldline_tests::{Phone, TestServer, at};
use std::path::Path;

fn pad(n: usize, seed: f64) -> SignaturePad {
    field_core::contract::sample::signature(n, seed)
}

fn photo(
    phone: &Phone,
    job: &str,
    seed: u64,
    purpose: PhotoPurpose,
    group: Option<&str>,
) -> String {
    let bytes = sample::jpeg(1200, 900, seed, &SampleExif::default());
    let input = PhotoInput {
        purpose,
        caption: None,
        gps: None,
        checklist_group: group.map(str::to_string),
        author_name: Some("张伟".into()),
    };
    phone
        .store
        .add_photo(job, &phone.user, &bytes, &input, &IngestOptions::default())
        .expect("photo")
        .photo_id
}

/// The visit, with no network: survey, photos, contract, meter, seals, power-on.
fn visit(phone: &Phone) -> (String, String) {
    let s = &phone.store;
    let me = phone.user.as_str();
    let job = s
        .create_job(
            me,
            &field_core::contract::sample::residential_job(
                "YK-2026-009001",
                "李春兰",
                at("2026-11-02"),
            ),
        )
        .expect("job");
    let id = job.id.clone();
    s.edit(
        &id,
        me,
        &Edit::UpdateSurvey(Survey {
            surveyed_at: Some(at("2026-11-03")),
            address_verified: Some(true),
            capacity_verified: Some(true),
            category_verified: Some(true),
            direct_install: Some(true),
            ..Default::default()
        }),
    )
    .expect("survey");
    let id_card = photo(
        phone,
        &id,
        11,
        PhotoPurpose::DocumentProof,
        Some("owner_id"),
    );
    let site = photo(phone, &id, 12, PhotoPurpose::Survey, None);
    let signed = s
        .sign_contract(
            &id,
            me,
            &SignRequest {
                contract_id: "contract-1".into(),
                template: None,
                inputs: [("supplier", "国网示范市供电公司"), ("manager_name", "张伟")]
                    .into_iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                amends: None,
                customer_name: None,
                customer: pad(150, 0.0),
                manager: pad(90, 1.5),
                photo_ids: vec![id_card, site],
                gps: Some(GeoFix {
                    latitude: 32.0603,
                    longitude: 118.7969,
                    accuracy_m: Some(5.0),
                }),
            },
        )
        .expect("contract signed");
    s.edit(
        &id,
        me,
        &Edit::UpdateMetering(Metering {
            meter_asset_no: Some("3200009876543".into()),
            initial_reading: Some(0.0),
            ct_ratio: Some("直接接入".into()),
            installer: Some(me.into()),
            installed_at: Some(at("2026-11-03")),
            ..Default::default()
        }),
    )
    .expect("meter");
    for (n, pos) in [("FY-1", "表箱门"), ("FY-2", "电能表端钮盒")] {
        s.edit(
            &id,
            me,
            &Edit::PutSeal {
                id: n.into(),
                seal: Seal {
                    number: Some(n.into()),
                    position: Some(pos.into()),
                },
            },
        )
        .expect("seal");
    }
    photo(phone, &id, 13, PhotoPurpose::Meter, None);
    let job = s
        .edit(
            &id,
            me,
            &Edit::RecordPowerOn {
                id: "power-on".into(),
                at: at("2026-11-03") + chrono::Duration::hours(2),
            },
        )
        .expect("power on");
    assert_eq!(job.status(), JobStatus::PoweredOn);
    (id, signed.text_sha256)
}

async fn cli(server: &TestServer, args: &[&str]) -> i32 {
    let global = server.cli_args();
    let mut all = vec!["fieldline"];
    all.extend(global.iter().map(String::as_str));
    all.extend_from_slice(args);
    fieldline_server::cli::run(fieldline_server::cli::Cli::parse_from(all)).await
}

fn run(cmd: &str, args: &[&str]) -> std::process::Output {
    std::process::Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{cmd} is needed (apt-get install poppler-utils): {e}"))
}

/// Flips one byte of a file, keeping it UTF-8 where it was.
fn tamper(path: &Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = bytes
        .iter()
        .rposition(|b| b.is_ascii_alphanumeric())
        .unwrap();
    bytes[i] = if bytes[i] == b'1' { b'2' } else { b'1' };
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn a_visit_offline_is_countersigned_verified_and_archived() {
    let mut server = TestServer::start().await;
    server.add_user("cm-zhang", Role::CustomerManager, "demo");
    server.add_user("office-other", Role::OfficeStaff, "elsewhere");
    let phone = Phone::login(&server, "cm-zhang").await;
    let key = phone.store.device().public_key;

    // No network for the whole visit.
    server.stop().await;
    let (job_id, text_sha) = visit(&phone);
    let offline = phone.store.verify_contract(&job_id, "contract-1").unwrap();
    assert!(offline.is_valid() && !offline.countersigned);
    server.restart().await;

    let report = phone.sync().await;
    assert_eq!(
        report.photos.as_ref().map(|p| p.blobs_uploaded),
        Some(9),
        "{report:?}"
    );
    let on_server = server.job(&job_id).await;
    let c = &on_server.contracts["contract-1"];
    assert!(c.receipt.receipt.is_some(), "countersigned on arrival");
    assert_eq!(on_server.status(), JobStatus::PoweredOn);
    assert!(on_server.first(MilestoneEvent::ContractSigned).is_some());
    assert_eq!(on_server.metering.seals.len(), 2);

    // The receipt comes back to the phone, which can now check it with the server's key.
    phone.sync().await;
    let back = phone.store.verify_contract(&job_id, "contract-1").unwrap();
    assert!(back.is_valid() && back.countersigned, "{back:?}");
    assert!(back.unchecked.is_empty(), "{:?}", back.unchecked);

    // Edits after signing are rejected, on the phone.
    let mut forged = c.clone();
    forged.text = Some(c.text.clone().unwrap().replace("李春兰", "李春"));
    let err = phone
        .store
        .edit(
            &job_id,
            "cm-zhang",
            &Edit::SignContract {
                id: "contract-1".into(),
                contract: forged,
            },
        )
        .unwrap_err();
    assert!(err.to_string().contains("不可修改"), "{err}");

    // The server's own verification: valid, with the device key it registered at login.
    assert_eq!(
        cli(&server, &["contract", "verify", "--job", &job_id]).await,
        0
    );
    let registered = server
        .env()
        .store
        .read()
        .unwrap()
        .device(&phone.store.device().device_id)
        .unwrap()
        .and_then(|d| d.public_key);
    assert_eq!(registered.as_deref(), Some(key.as_str()));

    // Over HTTP, only to those who may see the job.
    let http = reqwest::Client::new();
    let token = |p: &Phone| p.store.sync_setting("token").unwrap().unwrap();
    let url = format!(
        "{}/api/v1/jobs/{job_id}/contracts/contract-1/verification",
        server.url()
    );
    let v: serde_json::Value = http
        .get(&url)
        .bearer_auth(token(&phone))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["altered"], serde_json::json!([]), "{v}");
    assert_eq!(v["countersigned"], true);
    let outsider = Phone::login(&server, "office-other").await;
    let denied = http
        .get(&url)
        .bearer_auth(token(&outsider))
        .send()
        .await
        .unwrap();
    assert_eq!(denied.status(), 404);

    // The archive: verify, then tamper with each part.
    let out = server.dir.path().join("export");
    assert_eq!(
        cli(
            &server,
            &[
                "contract",
                "export",
                "--job",
                &job_id,
                "--out",
                out.to_str().unwrap()
            ]
        )
        .await,
        0
    );
    let dir = out.join("contract-1");
    let server_key = fieldline_server::signing::load(&fieldline_server::Config {
        data_dir: server.data_dir(),
        ..Default::default()
    })
    .unwrap()
    .unwrap()
    .public_hex();
    let v = verify_archive(&dir, Some(&server_key), &[]).unwrap();
    assert!(v.is_valid() && v.countersigned, "{v:?}");
    assert!(
        v.unchecked.is_empty(),
        "every photo is in the archive: {:?}",
        v.unchecked
    );

    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join(files::MANIFEST)).unwrap()).unwrap();
    let first_photo = m["photos"][0]["photo_id"].as_str().unwrap().to_string();
    let cases: Vec<(String, Part)> = vec![
        (files::TEXT.into(), Part::Text),
        (
            format!("{}/customer.json", files::SIGNATURES),
            Part::Signature(SignerRole::Customer),
        ),
        (
            format!("{}/customer_manager.json", files::SIGNATURES),
            Part::Signature(SignerRole::CustomerManager),
        ),
        (
            format!("{}/{first_photo}.jpg", files::PHOTOS),
            Part::Photo(first_photo.clone()),
        ),
        (files::MANIFEST.into(), Part::Manifest),
        (files::RECEIPT.into(), Part::Receipt),
    ];
    for (file, part) in cases {
        let copy = server
            .dir
            .path()
            .join(format!("tampered-{}", file.replace('/', "-")));
        copy_dir(&dir, &copy);
        tamper(&copy.join(&file));
        let v = verify_archive(&copy, Some(&server_key), &[]).unwrap();
        assert_eq!(
            v.altered_parts(),
            vec![&part],
            "tampering with {file}: {:?}",
            v.altered
        );
    }
    let copy = server.dir.path().join("tampered-cli");
    copy_dir(&dir, &copy);
    tamper(&copy.join(files::TEXT));
    assert_eq!(
        cli(
            &server,
            &["contract", "verify", "--archive", copy.to_str().unwrap()]
        )
        .await,
        1
    );

    // The PDF: the customer's name and the text hash are in its text; page 1 is not blank.
    let pdf = dir.join(files::PDF);
    // FIELDLINE_KEEP_PDF=/some/file.pdf keeps a copy to look at.
    if let Some(keep) = std::env::var_os("FIELDLINE_KEEP_PDF") {
        std::fs::copy(&pdf, keep).unwrap();
    }
    let text = run("pdftotext", &["-layout", pdf.to_str().unwrap(), "-"]);
    let text = String::from_utf8_lossy(&text.stdout).to_string();
    assert!(text.contains("李春兰"), "{text}");
    let pages = text.matches('\u{c}').count().max(1);
    assert!(pages >= 2, "{text}");
    assert_eq!(
        text.matches(&text_sha).count(),
        pages,
        "the hash is in every page footer: {text}"
    );
    assert!(
        text.replace(' ', "")
            .contains(&format!("第1页/共{pages}页")),
        "{text}"
    );
    let prefix = server.dir.path().join("page");
    let r = run(
        "pdftoppm",
        &[
            "-r",
            "40",
            "-f",
            "1",
            "-l",
            "1",
            "-gray",
            pdf.to_str().unwrap(),
            prefix.to_str().unwrap(),
        ],
    );
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let page = std::fs::read_dir(server.dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.file_name().unwrap().to_string_lossy().starts_with("page"))
        .expect("pdftoppm wrote page 1");
    let inked = dark_pixels(&std::fs::read(page).unwrap());
    assert!(inked > 2_000, "page 1 has {inked} dark pixels");
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let target = to.join(e.file_name());
        if e.path().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), target).unwrap();
        }
    }
}

/// Dark pixels of a binary PGM (P5) image.
fn dark_pixels(pgm: &[u8]) -> usize {
    assert!(pgm.starts_with(b"P5"), "pdftoppm -gray writes PGM");
    // Header: magic, width, height, maxval, each followed by white space.
    let mut fields = 0;
    let mut i = 2;
    while fields < 3 {
        while pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        while !pgm[i].is_ascii_whitespace() {
            i += 1;
        }
        fields += 1;
    }
    pgm[i + 1..].iter().filter(|&&v| v < 128).count()
}
