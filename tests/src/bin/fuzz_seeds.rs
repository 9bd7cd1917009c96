//! Writes the fuzzers' seed corpora from real data: a job document and changes as phones make
//! them, sync bodies, a signed contract's manifest and receipt, tus headers, ranges, photos.
//!
//!   cargo run -p fieldline-tests --bin fuzz_seeds -- fuzz/seeds

use automerge::ActorId;
use base64::Engine;
use chrono::{DateTime, Utc};
use field_core::contract::{self, KeyPair, SignRequest, Signer};
use field_core::job::{Assignment, JobDoc, Survey};
use field_core::photo::sample::{self, SampleExif};
use field_core::store::wire_heads;
use field_core::sync::protocol::{self, PullJob, PushJob, SyncRequest, SyncResponse};
use field_core::{Edit, EditContext};
use std::path::Path;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn write(dir: &Path, target: &str, name: &str, bytes: &[u8]) {
    let d = dir.join(target);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::write(d.join(name), bytes).unwrap();
}

fn main() {
    let out = std::env::args()
        .nth(1)
        .expect("usage: fuzz_seeds <dir> (e.g. fuzz/seeds)");
    let out = Path::new(&out);
    let office = EditContext {
        actor: "office1".into(),
        device: "office-device".into(),
        now: at("2026-11-02T01:00:00Z"),
    };
    let mut new =
        contract::sample::residential_job("YK-FUZZ-1", "王秀英", at("2026-11-02T01:00:00Z"));
    new.unit = "zhuxian".into();
    new.id = Some("fuzz-job".into());
    let mut job = JobDoc::create(
        ActorId::from(b"office-device".as_slice()),
        &new,
        &field_core::RuleSet::default(),
        &office,
    )
    .unwrap();
    job.apply(
        &Edit::UpdateAssignment(Assignment {
            customer_manager: Some("cm-li".into()),
            ..Default::default()
        }),
        &office,
    )
    .unwrap();
    let base = job.save();
    write(out, "automerge_job", "job.automerge", &base);
    write(
        out,
        "automerge_job",
        "new-job",
        &[[0u8].as_slice(), &base].concat(),
    );
    // A customer manager's edits on top, as the target's writer ("fuzz-device").
    let mut cm = job.fork_as(ActorId::from(b"fuzz-device".as_slice()));
    let heads = cm.heads();
    let ctx = EditContext {
        actor: "cm-li".into(),
        device: "fuzz-device".into(),
        now: at("2026-11-03T02:00:00Z"),
    };
    cm.apply(
        &Edit::UpdateSurvey(Survey {
            surveyor: Some("李强".into()),
            address_verified: Some(true),
            ..Default::default()
        }),
        &ctx,
    )
    .unwrap();
    cm.apply(
        &Edit::SpliceNotes {
            pos: 0,
            delete: 0,
            insert: "现场已勘查。".into(),
        },
        &ctx,
    )
    .unwrap();
    let edits = cm.save_after(&heads);
    write(
        out,
        "automerge_job",
        "cm-edits",
        &[[1u8].as_slice(), &edits].concat(),
    );

    // Sync bodies.
    let req = SyncRequest {
        protocol: 1,
        device_id: "fuzz-device".into(),
        cursor: 42,
        push: vec![PushJob {
            job_id: "fuzz-job".into(),
            changes: edits.clone(),
            heads: wire_heads(&cm.heads()),
        }],
        messages: vec![],
        page_bytes: Some(1 << 20),
    };
    write(out, "sync_request", "request", &protocol::encode(&req));
    let resp = SyncResponse {
        protocol: 1,
        acks: vec![],
        fallback: vec![],
        messages: vec![],
        rejected: vec![],
        pull: vec![PullJob {
            job_id: "fuzz-job".into(),
            changes: base.clone(),
        }],
        cursor: 43,
        more: false,
        gone: vec!["gone-job".into()],
        wanted_blobs: vec!["ab".repeat(32)],
        server_keys: vec!["cd".repeat(32)],
    };
    write(out, "sync_request", "response", &protocol::encode(&resp));

    // A signed, countersigned contract.
    let key = KeyPair::generate();
    let server = KeyPair::generate();
    let mut signed_job = job.fork_as(ActorId::from(b"fuzz-device".as_slice()));
    let typed = signed_job.job().unwrap();
    let c = contract::sign(
        &typed,
        &SignRequest {
            contract_id: "c1".into(),
            template: None,
            inputs: [("supplier", "示范供电公司"), ("manager_name", "李强")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            amends: None,
            customer_name: None,
            customer: contract::sample::signature(40, 0.0),
            manager: contract::sample::signature(40, 1.0),
            photo_ids: vec![],
            gps: None,
        },
        &Signer {
            user: "cm-li".into(),
            device_id: "fuzz-device".into(),
            device_time: at("2026-11-03T02:00:00Z"),
        },
        &key,
    )
    .unwrap();
    write(
        out,
        "contract_json",
        "manifest",
        c.manifest.as_deref().unwrap().as_bytes(),
    );
    signed_job
        .apply(
            &Edit::SignContract {
                id: "c1".into(),
                contract: c,
            },
            &ctx,
        )
        .unwrap();
    let typed = signed_job.job().unwrap();
    let receipt = contract::countersign(
        &typed,
        "c1",
        Some(&key.public_hex()),
        &server,
        at("2026-11-03T03:00:00Z"),
    )
    .unwrap();
    write(
        out,
        "contract_json",
        "receipt",
        receipt.receipt.unwrap().as_bytes(),
    );

    // tus headers.
    let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
    let sha = "ab".repeat(32);
    write(
        out,
        "tus_headers",
        "metadata",
        format!("sha256 {},job {}", b64(sha.as_bytes()), b64(b"fuzz-job")).as_bytes(),
    );
    write(
        out,
        "tus_headers",
        "checksum",
        format!("sha256 {}", b64(&[7u8; 32])).as_bytes(),
    );

    // Ranges.
    for (name, len, h) in [
        ("first-kib", 4096u64, "bytes=0-1023"),
        ("suffix", 4096, "bytes=-500"),
        ("open", 4096, "bytes=100-"),
        ("list", 4096, "bytes=0-1,5-9"),
    ] {
        write(
            out,
            "byte_range",
            name,
            &[len.to_le_bytes().as_slice(), h.as_bytes()].concat(),
        );
    }

    // Photos as phones take them.
    let exif = SampleExif {
        orientation: 6,
        taken_at: Some(at("2026-11-03T02:00:00Z")),
        gps: Some((32.06, 118.79)),
    };
    write(
        out,
        "photo_header",
        "camera.jpg",
        &sample::jpeg(64, 48, 1, &exif),
    );
    write(
        out,
        "photo_header",
        "screenshot.png",
        &sample::png(32, 24, 2),
    );
    // Gallery formats, decoded through the `image` crate: headers for photo_header, whole small
    // images for photo_decode.
    use field_core::photo::ImageFormat;
    for (format, name) in [
        (ImageFormat::WebP, "gallery.webp"),
        (ImageFormat::Gif, "chat.gif"),
        (ImageFormat::Bmp, "paint.bmp"),
        (ImageFormat::Tiff, "scan.tif"),
    ] {
        let bytes = sample::encoded(format, 24, 16, 3);
        write(out, "photo_header", name, &bytes);
        write(out, "photo_decode", name, &bytes);
    }
    write(
        out,
        "photo_decode",
        "camera.jpg",
        &sample::jpeg(24, 16, 1, &exif),
    );
    write(
        out,
        "photo_decode",
        "screenshot.png",
        &sample::png(24, 16, 2),
    );
    println!("seeds written to {}", out.display());
}
