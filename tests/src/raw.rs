//! A device that speaks the documented protocol with its own key and actor, skipping every
//! check the phone's own code makes: how a hostile client or a signed-in insider reaches the
//! server.

use crate::{PASSWORD, TestServer};
use automerge::{ActorId, AutoCommit};
use field_core::contract::KeyPair;
use field_core::job::{Edit, EditContext, JobDoc, NewJob};
use field_core::rules::RuleSet;
use field_core::store::wire_heads;
use field_core::sync::protocol::{
    self, LoginRequest, LoginResponse, PushJob, SyncRequest, SyncResponse,
};

/// A device that speaks the protocol with its own key and actor, skipping every phone check.
pub struct Raw {
    pub token: String,
    pub device: String,
    pub actor: ActorId,
    pub key: KeyPair,
    pub user: String,
}

pub async fn raw_login(server: &TestServer, user: &str) -> Raw {
    let key = KeyPair::generate();
    let actor = ActorId::random();
    let device = format!("raw-{}", &actor.to_hex_string()[..12]);
    let resp: LoginResponse = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.url()))
        .json(&LoginRequest {
            username: user.into(),
            password: PASSWORD.into(),
            device_id: device.clone(),
            device_key: Some(key.public_hex()),
            device_actor: Some(actor.to_hex_string()),
        })
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    Raw {
        token: resp.token,
        device,
        actor,
        key,
        user: user.into(),
    }
}

impl Raw {
    pub async fn post(&self, server: &TestServer, body: Vec<u8>) -> (u16, Vec<u8>) {
        let resp = reqwest::Client::new()
            .post(format!("{}/api/v1/sync", server.url()))
            .bearer_auth(&self.token)
            .header("fieldline-protocol", "1")
            .body(body)
            .send()
            .await
            .unwrap();
        (resp.status().as_u16(), resp.bytes().await.unwrap().to_vec())
    }

    pub async fn push(&self, server: &TestServer, push: Vec<PushJob>) -> SyncResponse {
        let body = protocol::encode(&SyncRequest {
            protocol: 1,
            device_id: self.device.clone(),
            cursor: u64::MAX,
            push,
            messages: vec![],
            page_bytes: Some(1),
        });
        let (status, bytes) = self.post(server, body).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
        protocol::decode(&bytes, 1 << 30).unwrap()
    }

    /// The server's copy of a job, to write on as this device.
    pub async fn doc(&self, server: &TestServer, job: &str) -> AutoCommit {
        let bytes = self.document(server, job).await;
        AutoCommit::load_with_options(
            &bytes,
            automerge::LoadOptions::new().text_encoding(automerge::TextEncoding::UnicodeCodePoint),
        )
        .unwrap()
        .with_actor(self.actor.clone())
    }
}

pub fn hex_of(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn push_of(job: &str, doc: &mut AutoCommit, base: &[automerge::ChangeHash]) -> PushJob {
    PushJob {
        job_id: job.into(),
        changes: doc.save_after(base),
        heads: wire_heads(&doc.get_heads()),
    }
}

/// Logs a raw device in as `user` with the automerge actor `actor` (hex, as sent): the status
/// and body of the answer.
pub async fn login_with_actor(server: &TestServer, user: &str, actor: &str) -> (u16, String) {
    let key = KeyPair::generate();
    let resp = reqwest::Client::new()
        .post(format!("{}/api/v1/auth/login", server.url()))
        .json(&LoginRequest {
            username: user.into(),
            password: PASSWORD.into(),
            device_id: format!("raw-{}", uuid_like()),
            device_key: Some(key.public_hex()),
            device_actor: Some(actor.to_string()),
        })
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

fn uuid_like() -> String {
    ActorId::random().to_hex_string()[..16].to_string()
}

impl Raw {
    /// The automerge bytes of the server's copy of `job`, as this device may read them.
    pub async fn document(&self, server: &TestServer, job: &str) -> Vec<u8> {
        reqwest::Client::new()
            .get(format!("{}/api/v1/jobs/{job}/automerge", server.url()))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap()
            .to_vec()
    }

    /// What this device writes as: its user, its device id, now.
    pub fn context(&self) -> EditContext {
        EditContext {
            actor: self.user.clone(),
            device: self.device.clone(),
            now: chrono::Utc::now(),
        }
    }

    /// Applies `edit` to the server's copy of `job` as this device (only the document's own
    /// validation, none of the phone's rights checks) and pushes the change.
    pub async fn push_edit(&self, server: &TestServer, job: &str, edit: &Edit) -> SyncResponse {
        let bytes = self.document(server, job).await;
        let mut doc = JobDoc::load(&bytes, self.actor.clone()).expect("the server's document");
        let before = doc.heads();
        doc.apply(edit, &self.context()).expect("the edit applies");
        let push = PushJob {
            job_id: job.into(),
            changes: doc.save_after(&before),
            heads: wire_heads(&doc.heads()),
        };
        self.push(server, vec![push]).await
    }

    /// Creates `new` under the rule set `rules` as this device and pushes it.
    pub async fn push_new(
        &self,
        server: &TestServer,
        new: &NewJob,
        rules: &RuleSet,
    ) -> SyncResponse {
        let mut doc =
            JobDoc::create(self.actor.clone(), new, rules, &self.context()).expect("a new job");
        let id = doc.job().expect("job").id;
        let push = PushJob {
            job_id: id,
            changes: doc.save_after(&[]),
            heads: wire_heads(&doc.heads()),
        };
        self.push(server, vec![push]).await
    }
}
