//! Fixtures for tests, benchmarks and demos: a low-voltage residential job ready for a contract,
//! generated signatures (a wavy line like a fast scrawl) and a complete request to sign.

use super::signature::{SignaturePad, StrokePoint};
use super::{GeoFix, SignRequest};
use crate::codes::{JobKind, Tariff, Voltage};
use crate::job::{Application, Customer, NewJob};
use chrono::{DateTime, Utc};

/// A low-voltage residential application (8 kVA, 220 V, residential tariff) from customer
/// `name` with a complete identity, phone and address: everything a contract needs from the job.
pub fn residential_job(job_no: &str, name: &str, accepted_at: DateTime<Utc>) -> NewJob {
    NewJob {
        id: None,
        job_no: Some(job_no.into()),
        kind: JobKind::LowVoltageResidential,
        unit: "demo".into(),
        accepted_at,
        customer: Customer {
            name: Some(name.into()),
            id_number: Some("310101199001011234".into()),
            contact_phone: Some("13800000000".into()),
            address: Some("上海市浦东新区示范路 1 号 2 单元 301 室".into()),
            ..Default::default()
        },
        application: Application {
            capacity_kva: Some(8.0),
            voltage: Some(Voltage::V220),
            tariff: Some(Tariff::Residential),
            ..Default::default()
        },
    }
}

/// A request to sign contract `contract_id` naming `photo_ids`: the supplier and the manager's
/// name given, both parties' signatures drawn, a GPS fix in Shanghai.
pub fn sign_request(contract_id: &str, photo_ids: Vec<String>) -> SignRequest {
    SignRequest {
        contract_id: contract_id.into(),
        template: None,
        inputs: [("supplier", "国网示范市供电公司"), ("manager_name", "张伟")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        amends: None,
        customer_name: None,
        customer: signature(120, 0.0),
        manager: signature(80, 2.0),
        photo_ids,
        gps: Some(GeoFix {
            latitude: 31.2304,
            longitude: 121.4737,
            accuracy_m: Some(6.0),
        }),
    }
}

/// A signature of `points` points in two strokes on a 640×240 canvas; `phase` varies its shape.
pub fn signature(points: usize, phase: f64) -> SignaturePad {
    let all: Vec<StrokePoint> = (0..points)
        .map(|i| StrokePoint {
            x: 20.0 + i as f64 * (580.0 / points.max(1) as f64),
            y: 110.0 + ((i as f64 + phase) * 0.45).sin() * 70.0,
            t_ms: i as u64 * 10,
            pressure: Some(0.3 + (i % 5) as f64 * 0.1),
        })
        .collect();
    let (a, b) = all.split_at(points / 2);
    SignaturePad {
        width: 640,
        height: 240,
        strokes: vec![a.to_vec(), b.to_vec()],
    }
}
