//! The supply contract on one phone: fill, sign, immutability, amendments, verification and
//! tampering, power-on.
#![cfg(feature = "photo")]

use chrono::{DateTime, TimeZone, Utc};
use field_core::codes::{MilestoneEvent, PhotoPurpose};
use field_core::contract::sample::sign_request;
use field_core::contract::{self, Evidence, Part, SignaturePad, SignerRole, Trust};
use field_core::job::{Customer, Metering, Seal};
use field_core::photo::IngestOptions;
use field_core::photo::sample::{self, SampleExif};
use field_core::store::PhotoInput;
use field_core::{Edit, JobStatus, Store};
use std::collections::BTreeMap;

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn store() -> Store {
    let now = at("2026-11-20T02:00:00Z");
    Store::open_in_memory().unwrap().with_clock(move || now)
}

fn pad(n: usize, seed: f64) -> SignaturePad {
    contract::sample::signature(n, seed)
}

fn new_job(store: &Store) -> String {
    let job = store
        .create_job(
            "office1",
            &contract::sample::residential_job(
                "YK-2026-000777",
                "王秀英",
                at("2026-11-19T01:00:00Z"),
            ),
        )
        .unwrap();
    job.id
}

fn add_photo(store: &Store, job_id: &str, seed: u64, purpose: PhotoPurpose) -> String {
    let bytes = sample::jpeg(800, 600, seed, &SampleExif::default());
    let input = PhotoInput {
        purpose,
        caption: None,
        gps: None,
        checklist_group: None,
        author_name: Some("张伟".into()),
    };
    store
        .add_photo(
            job_id,
            "cm-zhang",
            &bytes,
            &input,
            &IngestOptions::default(),
        )
        .unwrap()
        .photo_id
}

#[test]
fn a_contract_is_filled_signed_verified_and_never_edited() {
    let store = store();
    let job_id = new_job(&store);
    let id_card = add_photo(&store, &job_id, 1, PhotoPurpose::DocumentProof);
    let site = add_photo(&store, &job_id, 2, PhotoPurpose::Survey);

    // The preview says what is missing, in both languages, and signing without it is refused.
    let preview = store
        .contract_preview(&job_id, None, &BTreeMap::new(), None)
        .unwrap();
    assert_eq!(preview.template_id, "lv_residential");
    assert!(preview.text.contains("用电人：王秀英"));
    assert!(preview.missing.iter().any(|m| m.key == "supplier"));
    let mut no_supplier = sign_request("c1", vec![]);
    no_supplier.inputs.remove("supplier");
    let err = store
        .sign_contract(&job_id, "cm-zhang", &no_supplier)
        .unwrap_err()
        .to_string();
    assert!(err.contains("供电人") && err.contains("supplier"), "{err}");
    assert!(store.job(&job_id).unwrap().contracts.is_empty());

    let signed = store
        .sign_contract(
            &job_id,
            "cm-zhang",
            &sign_request("c1", vec![id_card.clone(), site]),
        )
        .unwrap();
    let job = signed.job;
    let c = &job.contracts["c1"];
    assert!(c.is_signed());
    assert_eq!(c.version, Some(1));
    assert_eq!(c.contract_no.as_deref(), Some("YK-2026-000777-HT01"));
    let text = c.text.as_deref().unwrap();
    assert!(text.contains("供电人：国网示范市供电公司") && text.contains("8 千伏安"));
    assert!(text.contains("签订日期：2026年11月20日"));
    assert_eq!(signed.text_sha256, contract::text_sha256(text));
    assert!(job.first(MilestoneEvent::ContractSigned).is_some());
    assert_eq!(job.status(), JobStatus::ReadyToPowerOn);

    // Verification on the phone: valid, waiting for the server's receipt.
    let v = store.verify_contract(&job_id, "c1").unwrap();
    assert!(v.is_valid(), "{:?}", v.altered);
    assert!(!v.countersigned);
    assert!(v.unchecked.iter().any(|f| f.part == Part::Receipt));

    // A signed contract never changes: neither through the store nor through a raw edit.
    let mut changed = sign_request("c1", vec![]);
    changed.inputs.insert("term".into(), "十年".into());
    let err = store
        .sign_contract(&job_id, "cm-zhang", &changed)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("不可修改") && err.contains("amendment"),
        "{err}"
    );
    let mut forged = c.clone();
    forged.text = Some(text.replace("王秀英", "王秀").to_string());
    let err = store
        .edit(
            &job_id,
            "cm-zhang",
            &Edit::SignContract {
                id: "c1".into(),
                contract: forged,
            },
        )
        .unwrap_err()
        .to_string();
    assert!(err.contains("不可修改"), "{err}");
    // Re-recording the identical contract (a retried call) changes nothing.
    store
        .edit(
            &job_id,
            "cm-zhang",
            &Edit::SignContract {
                id: "c1".into(),
                contract: c.clone(),
            },
        )
        .unwrap();

    // Job fields may still change; the signed text does not, and stays valid.
    store
        .edit(
            &job_id,
            "office1",
            &Edit::UpdateCustomer(Customer {
                contact_phone: Some("13900000000".into()),
                ..Default::default()
            }),
        )
        .unwrap();
    assert!(store.verify_contract(&job_id, "c1").unwrap().is_valid());

    // An amendment is a new version that names the old one.
    let mut amend = sign_request("c2", vec![id_card]);
    amend.amends = Some("c1".into());
    amend.inputs.insert("term".into(), "十年".into());
    let job = store
        .sign_contract(&job_id, "cm-zhang", &amend)
        .unwrap()
        .job;
    let c2 = &job.contracts["c2"];
    assert_eq!((c2.version, c2.amends.as_deref()), (Some(2), Some("c1")));
    assert!(
        c2.text
            .as_deref()
            .unwrap()
            .contains("合同 YK-2026-000777-HT01 的变更（第 2 版）")
    );
    assert!(store.verify_contract(&job_id, "c2").unwrap().is_valid());
    let mut again = sign_request("c3", vec![]);
    again.amends = Some("c1".into());
    let err = store
        .sign_contract(&job_id, "cm-zhang", &again)
        .unwrap_err()
        .to_string();
    assert!(err.contains("最新版本"), "{err}");
}

#[test]
fn tampering_with_any_part_is_detected_and_named() {
    let store = store();
    let job_id = new_job(&store);
    let photo = add_photo(&store, &job_id, 3, PhotoPurpose::DocumentProof);
    let job = store
        .sign_contract(
            &job_id,
            "cm-zhang",
            &sign_request("c1", vec![photo.clone()]),
        )
        .unwrap()
        .job;
    let good = Evidence::from_job(&job, "c1").unwrap();
    let key = store.device().public_key;
    let trust = Trust {
        device_key: Some(&key),
        server_key: None,
    };
    let photo_sha = job.photos[&photo].original_sha256.clone().unwrap();
    let honest = |_: &contract::PhotoRef| Some(photo_sha.clone());
    let check = |e: &Evidence, photo: &mut dyn FnMut(&contract::PhotoRef) -> Option<String>| {
        contract::verify(e, trust, photo)
    };
    assert!(check(&good, &mut { honest }).is_valid());

    let flip = |s: &str, from: &str, to: &str| s.replacen(from, to, 1);
    let mut text = good.clone();
    text.text = flip(&text.text, "王秀英", "王秀华");
    assert_eq!(
        check(&text, &mut { honest }).altered_parts(),
        vec![&Part::Text]
    );

    let mut strokes = good.clone();
    let s = strokes.strokes.get_mut(&SignerRole::Customer).unwrap();
    *s = flip(s, "[20.0,", "[21.0,");
    assert_eq!(
        check(&strokes, &mut { honest }).altered_parts(),
        vec![&Part::Signature(SignerRole::Customer)]
    );

    let mut manifest = good.clone();
    manifest.manifest = flip(&manifest.manifest, "\"version\":1", "\"version\":2");
    assert_eq!(
        check(&manifest, &mut { honest }).altered_parts(),
        vec![&Part::Manifest]
    );

    let mut other_key = good.clone();
    other_key.device_signature = contract::KeyPair::generate().sign(good.manifest.as_bytes());
    assert_eq!(
        check(&other_key, &mut { honest }).altered_parts(),
        vec![&Part::Manifest]
    );

    let v = check(&good, &mut |_| Some("0".repeat(64)));
    assert_eq!(v.altered_parts(), vec![&Part::Photo(photo.clone())]);
    let (zh, en) = v.summary();
    assert!(zh.contains("照片") && en.contains("photo"), "{zh} / {en}");

    // A receipt signed by the server key; changing a byte of it is named.
    let server = contract::KeyPair::generate();
    let receipt = contract::countersign(&job, "c1", Some(&key), &server, Utc::now()).unwrap();
    let mut with_receipt = good.clone();
    with_receipt.receipt = Some((
        receipt.receipt.clone().unwrap(),
        receipt.signature.clone().unwrap(),
    ));
    let server_hex = server.public_hex();
    let trusted = Trust {
        device_key: Some(&key),
        server_key: Some(&server_hex),
    };
    let v = contract::verify(&with_receipt, trusted, &mut { honest });
    assert!(v.is_valid() && v.countersigned, "{:?}", v.altered);
    let mut bad_receipt = with_receipt.clone();
    let (json, sig) = bad_receipt.receipt.take().unwrap();
    bad_receipt.receipt = Some((
        json.replacen("\"received_at\":\"20", "\"received_at\":\"19", 1),
        sig,
    ));
    assert_eq!(
        contract::verify(&bad_receipt, trusted, &mut { honest }).altered_parts(),
        vec![&Part::Receipt]
    );
    // A device whose registered key differs is not countersigned.
    let other = contract::KeyPair::generate().public_hex();
    assert!(contract::countersign(&job, "c1", Some(&other), &server, Utc::now()).is_err());
    assert!(contract::countersign(&job, "c1", None, &server, Utc::now()).is_err());
}

#[test]
fn power_on_needs_a_contract_and_the_meter_then_updates_the_timeline() {
    let store = store();
    let job_id = new_job(&store);
    let power_on = Edit::RecordPowerOn {
        id: "power-on".into(),
        at: at("2026-11-20T03:00:00Z"),
    };
    let err = store
        .edit(&job_id, "cm-zhang", &power_on)
        .unwrap_err()
        .to_string();
    assert!(err.contains("供用电合同"), "{err}");
    store
        .sign_contract(&job_id, "cm-zhang", &sign_request("c1", vec![]))
        .unwrap();
    let err = store
        .edit(&job_id, "cm-zhang", &power_on)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("电能表资产编号") && err.contains("initial meter reading"),
        "{err}"
    );
    store
        .edit(
            &job_id,
            "cm-zhang",
            &Edit::UpdateMetering(Metering {
                meter_asset_no: Some("3300001234567".into()),
                initial_reading: Some(0.0),
                ct_ratio: Some("直接接入".into()),
                installed_at: Some(at("2026-11-20T02:40:00Z")),
                ..Default::default()
            }),
        )
        .unwrap();
    store
        .edit(
            &job_id,
            "cm-zhang",
            &Edit::PutSeal {
                id: "s1".into(),
                seal: Seal {
                    number: Some("FY-000123".into()),
                    position: Some("表箱门".into()),
                },
            },
        )
        .unwrap();
    add_photo(&store, &job_id, 9, PhotoPurpose::Meter);
    let job = store.edit(&job_id, "cm-zhang", &power_on).unwrap();
    assert_eq!(job.metering.powered_on_at, Some(at("2026-11-20T03:00:00Z")));
    assert_eq!(
        job.first(MilestoneEvent::PoweredOn),
        Some(at("2026-11-20T03:00:00Z"))
    );
    assert_eq!(job.status(), JobStatus::PoweredOn);
    let today = Utc
        .with_ymd_and_hms(2026, 11, 21, 0, 0, 0)
        .unwrap()
        .date_naive();
    let limits = store.time_limits(&job_id, today).unwrap();
    let json = serde_json::to_string(&limits).unwrap();
    assert!(json.contains("power_on"), "{json}");
}

#[test]
fn signatures_render_as_svg_and_png() {
    let p = pad(60, 1.0);
    let svg = p.to_svg();
    assert!(svg.starts_with("<svg") && svg.matches("<path").count() == 58);
    let png = contract::signature_png(&p, 1.0).unwrap();
    let decoder = png::Decoder::new(std::io::Cursor::new(png));
    let mut reader = decoder.read_info().unwrap();
    let mut buf = vec![0; reader.output_buffer_size().unwrap()];
    let info = reader.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (640, 240));
    let inked = buf.chunks(2).filter(|px| px[1] > 128).count();
    assert!(inked > 500 && inked < 640 * 240 / 4, "{inked} inked pixels");
}
