//! The phone's data at rest: after a whole visit no file in the data folder holds the customer's
//! name, ID number or phone number as bytes; everything reads back with the key; a wrong or
//! missing key is a clear error that changes nothing; a plain store is encrypted on open, also
//! when a crash interrupted that before.
#![cfg(feature = "photo")]

use chrono::{DateTime, Utc};
use field_core::codes::PhotoPurpose;
use field_core::contract;
use field_core::photo::IngestOptions;
use field_core::photo::sample::{self, SampleExif};
use field_core::store::PhotoInput;
use field_core::{Store, StoreError, StoreKey};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const NAME: &str = "欧阳秀英";
const ID_NUMBER: &str = "310101199001011234";
const PHONE: &str = "13800000000";

fn key() -> StoreKey {
    StoreKey::new(b"at-rest test: a fixed 32-byte key").unwrap()
}

fn now() -> DateTime<Utc> {
    DateTime::parse_from_rfc3339("2026-11-20T02:00:00Z")
        .unwrap()
        .with_timezone(&Utc)
}

/// Every file under `dir` (recursively) with its bytes.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files(&path));
        } else {
            out.insert(path.clone(), std::fs::read(&path).unwrap());
        }
    }
    out
}

fn needles(extra: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut n: Vec<Vec<u8>> = [NAME, ID_NUMBER, PHONE, "示范路 1 号"]
        .iter()
        .map(|s| s.as_bytes().to_vec())
        .collect();
    n.extend(extra.iter().cloned());
    n
}

/// (file, needle index) for every needle found in a file under `dir`.
fn readable(dir: &Path, needles: &[Vec<u8>]) -> Vec<(PathBuf, usize)> {
    let mut found = Vec::new();
    for (path, bytes) in files(dir) {
        for (i, n) in needles.iter().enumerate() {
            if bytes.windows(n.len()).any(|w| w == n.as_slice()) {
                found.push((path.clone(), i));
            }
        }
    }
    found
}

struct Visit {
    job_id: String,
    photo_bytes: Vec<Vec<u8>>,
    originals: Vec<String>,
}

/// A customer manager's visit: the job with the customer's name, ID number and phone, an ID-card
/// photo and a site photo, a signed contract.
fn visit(store: &Store) -> Visit {
    let job = store
        .create_job(
            "office1",
            &contract::sample::residential_job("YK-2026-000901", NAME, now()),
        )
        .unwrap();
    let mut photo_ids = Vec::new();
    let mut photo_bytes = Vec::new();
    let mut originals = Vec::new();
    for (seed, purpose) in [(1, PhotoPurpose::DocumentProof), (2, PhotoPurpose::Survey)] {
        let bytes = sample::jpeg(1200, 900, seed, &SampleExif::default());
        let added = store
            .add_photo(
                &job.id,
                "cm-zhang",
                &bytes,
                &PhotoInput {
                    purpose,
                    caption: Some(format!("{NAME} 身份证")),
                    gps: None,
                    checklist_group: None,
                    author_name: Some("张伟".into()),
                },
                &IngestOptions::default(),
            )
            .unwrap();
        let p = &added.job.photos[&added.photo_id];
        originals.push(p.original_sha256.clone().unwrap());
        photo_ids.push(added.photo_id);
        photo_bytes.push(bytes);
    }
    store
        .sign_contract(
            &job.id,
            "cm-zhang",
            &contract::sample::sign_request("c1", photo_ids),
        )
        .unwrap();
    Visit {
        job_id: job.id,
        photo_bytes,
        originals,
    }
}

/// Everything the visit recorded reads back.
fn check_reads_back(store: &Store, v: &Visit) {
    let job = store.job(&v.job_id).unwrap();
    assert_eq!(job.customer.name.as_deref(), Some(NAME));
    assert_eq!(job.customer.id_number.as_deref(), Some(ID_NUMBER));
    assert_eq!(job.customer.contact_phone.as_deref(), Some(PHONE));
    assert!(job.contracts["c1"].is_signed());
    assert!(store.verify_contract(&v.job_id, "c1").unwrap().is_valid());
    for (sha, bytes) in v.originals.iter().zip(&v.photo_bytes) {
        assert_eq!(&store.blob(sha).unwrap(), bytes);
    }
    let list = store.list_jobs(&Default::default()).unwrap();
    assert_eq!(list.items[0].customer_name, NAME);
    assert!(store.device().public_key.len() == 64);
}

/// The first bytes of every photo file the visit made (the originals and the JPEG renditions):
/// none may appear in the folder either.
fn photo_needles(v: &Visit) -> Vec<Vec<u8>> {
    let mut n: Vec<Vec<u8>> = v.photo_bytes.iter().map(|b| b[..256].to_vec()).collect();
    n.push(b"JFIF".to_vec());
    n.push(b"Exif\0\0".to_vec());
    n
}

#[test]
fn after_a_whole_visit_nothing_in_the_folder_is_readable_without_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let (v, all) = {
        let store = Store::open(&path, &key()).unwrap().with_clock(now);
        assert!(store.is_encrypted());
        // The login token and the signing key are rows of the (encrypted) store.
        store
            .set_sync_setting("token", "secret-session-token-0123456789")
            .unwrap();
        let v = visit(&store);
        let all = needles(&[photo_needles(&v), vec![b"secret-session-token".to_vec()]].concat());
        // While the store is open (its WAL holds the newest pages) ...
        assert_eq!(readable(dir.path(), &all), vec![]);
        (v, all)
    };
    // ... and after it is closed.
    assert_eq!(readable(dir.path(), &all), vec![]);
    // The control: a plain store's folder shows the name (its list) and the
    // photos.
    let plain_dir = tempfile::tempdir().unwrap();
    {
        let plain = Store::open_unencrypted(plain_dir.path().join("field.db")).unwrap();
        let pv = visit(&plain);
        let found = readable(plain_dir.path(), &needles(&photo_needles(&pv)));
        for i in [0, 4, 5] {
            assert!(
                found.iter().any(|(_, n)| *n == i),
                "needle {i} in plain files"
            );
        }
    }

    let store = Store::open(&path, &key()).unwrap();
    check_reads_back(&store, &v);
    assert_eq!(
        store.sync_setting("token").unwrap().as_deref(),
        Some("secret-session-token-0123456789")
    );
}

#[test]
fn a_wrong_or_missing_key_is_a_clear_error_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let v = visit(&Store::open(&path, &key()).unwrap().with_clock(now));
    let before = files(dir.path());

    let wrong = StoreKey::new(&[7; 32]).unwrap();
    let e = Store::open(&path, &wrong).unwrap_err();
    assert!(matches!(e, StoreError::WrongKey), "{e}");
    assert!(e.to_string().contains("密钥不对") && e.to_string().contains("wrong key"));
    let e = Store::open_unencrypted(&path).unwrap_err();
    assert!(matches!(e, StoreError::KeyRequired), "{e}");
    assert!(e.to_string().contains("需要密钥") && e.to_string().contains("key"));
    assert!(matches!(
        StoreKey::new(b"short"),
        Err(StoreError::BadKey(_))
    ));
    assert_eq!(files(dir.path()), before, "nothing changed");

    let store = Store::open(&path, &key()).unwrap();
    check_reads_back(&store, &v);
}

#[test]
fn a_plain_store_is_encrypted_on_open_and_its_plain_files_removed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let v = {
        let plain = Store::open_unencrypted(&path).unwrap().with_clock(now);
        assert!(!plain.is_encrypted());
        plain
            .set_sync_setting("token", "plain-token-0123456789")
            .unwrap();
        visit(&plain)
    };
    let all = needles(&photo_needles(&v));
    assert!(!readable(dir.path(), &all).is_empty(), "plain before");
    let device = Store::open_unencrypted(&path).unwrap().device();

    let store = Store::open(&path, &key()).unwrap();
    assert!(store.is_encrypted());
    check_reads_back(&store, &v);
    assert_eq!(store.device(), device, "same device, same signing key");
    assert_eq!(
        store.sync_setting("token").unwrap().as_deref(),
        Some("plain-token-0123456789")
    );
    // The photos still upload: their queue and their bytes came along.
    assert_eq!(store.upload_status().unwrap().blobs_pending, 6);
    drop(store);
    assert_eq!(readable(dir.path(), &all), vec![]);
    let names: Vec<String> = files(dir.path())
        .keys()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("encrypting") || n.contains("plain-blobs")),
        "{names:?}"
    );
    assert!(!names.iter().any(|n| v.originals.contains(n)), "{names:?}");
}

#[test]
fn an_encryption_cut_short_by_a_crash_is_finished_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let v = visit(&Store::open_unencrypted(&path).unwrap().with_clock(now));
    let blob_dir = dir.path().join("field.db-blobs");
    let plain_blobs = files(&blob_dir);

    // 1. A crash while exporting: a half-written copy is left; the plain store is untouched and
    // the next open starts over.
    std::fs::write(dir.path().join("field.db-encrypting"), b"half a database").unwrap();
    let store = Store::open(&path, &key()).unwrap();
    check_reads_back(&store, &v);
    drop(store);
    assert!(!dir.path().join("field.db-encrypting").exists());

    // 2. A crash after the encrypted database took the plain one's place but before the plain
    // photo files were removed: the marker is there, the plain files come back (as if never
    // removed) and the next open removes them.
    for (p, bytes) in &plain_blobs {
        std::fs::write(p, bytes).unwrap();
    }
    std::fs::write(dir.path().join("field.db-plain-blobs"), b"").unwrap();
    assert!(!readable(&blob_dir, &needles(&photo_needles(&v))).is_empty());
    let store = Store::open(&path, &key()).unwrap();
    check_reads_back(&store, &v);
    drop(store);
    assert_eq!(readable(dir.path(), &needles(&photo_needles(&v))), vec![]);
    assert!(!dir.path().join("field.db-plain-blobs").exists());
}

#[test]
fn a_damaged_photo_file_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("field.db");
    let store = Store::open(&path, &key()).unwrap().with_clock(now);
    let v = visit(&store);
    for (p, mut bytes) in files(&dir.path().join("field.db-blobs")) {
        let last = bytes.len() - 1;
        bytes[last] ^= 0x55;
        bytes[40] ^= 0x55;
        std::fs::write(&p, bytes).unwrap();
    }
    let e = store.blob(&v.originals[0]).unwrap_err();
    assert!(e.to_string().contains("cannot be decrypted"), "{e}");
    // Upload chunks of it fail the same way.
    assert!(store.blob_range(&v.originals[0], 0, 1000).is_err());
    // The database is untouched by that.
    assert_eq!(
        store.job(&v.job_id).unwrap().customer.name.as_deref(),
        Some(NAME)
    );
}
