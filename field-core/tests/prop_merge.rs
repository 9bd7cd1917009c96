//! Property test: three replicas make random concurrent edits and merge in random orders.
//! All replicas end equal, no appended item is lost or duplicated, no text insertion is lost.

mod common;

use automerge::ActorId;
use common::*;
use field_core::job::{ConstructionLog, Customer, Milestone, Seal};
use field_core::rules::RuleSet;
use field_core::{Edit, JobDoc, JobKind, MilestoneEvent};
use proptest::prelude::*;
use std::collections::BTreeSet;

#[derive(Debug, Clone)]
enum Op {
    /// Replica r edits a scalar field with a value.
    Scalar { field: u8, value: u8 },
    /// Replica r appends a keyed entry (milestone, log or seal).
    Append { what: u8 },
    /// Replica r inserts a marker into the notes at one of the marker boundaries.
    Insert { slot: u8 },
    /// Replica r merges from replica `from`.
    Merge { from: u8 },
}

#[derive(Debug, Clone)]
struct Step {
    replica: u8,
    op: Op,
}

fn step() -> impl Strategy<Value = Step> {
    let op = prop_oneof![
        (0u8..3, any::<u8>()).prop_map(|(field, value)| Op::Scalar { field, value }),
        (0u8..3).prop_map(|what| Op::Append { what }),
        any::<u8>().prop_map(|slot| Op::Insert { slot }),
        (0u8..3).prop_map(|from| Op::Merge { from }),
    ];
    (0u8..3, op).prop_map(|(replica, op)| Step { replica, op })
}

/// Positions (in chars) where a new marker may go without splitting an existing one.
fn boundaries(text: &str) -> Vec<usize> {
    let mut out = vec![0];
    for (i, c) in text.chars().enumerate() {
        if c == '⟩' {
            out.push(i + 1);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]
    #[test]
    fn replicas_converge_without_loss(steps in prop::collection::vec(step(), 1..60), finals in prop::collection::vec(0u8..3, 3..8)) {
        let c = ctx("office", "counter", "2026-05-06");
        let mut origin = JobDoc::create(
            ActorId::from(vec![7u8; 16]),
            &new_job(JobKind::HighVoltage, "2026-05-06"),
            &RuleSet::default(),
            &c,
        ).unwrap();
        let mut replicas: Vec<JobDoc> = (0..3u8).map(|i| origin.fork_as(ActorId::from(vec![i + 1; 16]))).collect();
        let mut appended: BTreeSet<String> = BTreeSet::new();
        let mut markers: BTreeSet<String> = BTreeSet::new();
        for (n, s) in steps.iter().enumerate() {
            let r = s.replica as usize;
            let rc = ctx(&format!("user{r}"), &format!("dev{r}"), "2026-05-07");
            match &s.op {
                Op::Scalar { field, value } => {
                    let v = Some(format!("v{value}"));
                    let patch = match field {
                        0 => Customer { contact_name: v, ..Default::default() },
                        1 => Customer { account_no: v, ..Default::default() },
                        _ => Customer { id_number: v, ..Default::default() },
                    };
                    replicas[r].apply(&Edit::UpdateCustomer(patch), &rc).unwrap();
                }
                Op::Append { what } => {
                    let id = format!("e{n}-r{r}");
                    let edit = match what {
                        0 => Edit::AddMilestone { id: id.clone(), milestone: Milestone {
                            event: Some(MilestoneEvent::SurveyDone), at: Some(at("2026-05-07")), ..Default::default() } },
                        1 => Edit::PutConstructionLog { id: id.clone(), log: ConstructionLog {
                            at: Some(at("2026-05-07")), text: Some(id.clone()), ..Default::default() } },
                        _ => Edit::PutSeal { id: id.clone(), seal: Seal { number: Some(id.clone()), ..Default::default() } },
                    };
                    replicas[r].apply(&edit, &rc).unwrap();
                    // Retried: must not duplicate.
                    replicas[r].apply(&edit, &rc).unwrap();
                    appended.insert(format!("{what}:{id}"));
                }
                Op::Insert { slot } => {
                    let text = replicas[r].read().unwrap().notes;
                    let b = boundaries(&text);
                    let pos = b[*slot as usize % b.len()];
                    let marker = format!("⟨{n}.{r}⟩");
                    replicas[r].apply(&Edit::SpliceNotes { pos, delete: 0, insert: marker.clone() }, &rc).unwrap();
                    markers.insert(marker);
                }
                Op::Merge { from } => {
                    let f = *from as usize;
                    if f != r {
                        let (a, b) = if r < f {
                            let (x, y) = replicas.split_at_mut(f);
                            (&mut x[r], &mut y[0])
                        } else {
                            let (x, y) = replicas.split_at_mut(r);
                            (&mut y[0], &mut x[f])
                        };
                        a.merge(b).unwrap();
                    }
                }
            }
        }
        // Final gossip in a random order, then everyone merges everyone (through saved bytes too).
        for w in finals.windows(2) {
            let (a, b) = (w[0] as usize, w[1] as usize);
            if a != b {
                let bytes = replicas[b].save();
                replicas[a].apply_remote(&bytes).unwrap();
            }
        }
        for a in 0..3 {
            for b in 0..3 {
                if a != b {
                    let bytes = replicas[b].save();
                    replicas[a].apply_remote(&bytes).unwrap();
                }
            }
        }
        let jobs: Vec<_> = replicas.iter().map(|r| r.read().unwrap()).collect();
        prop_assert_eq!(&jobs[0], &jobs[1]);
        prop_assert_eq!(&jobs[1], &jobs[2]);
        let mut heads: Vec<_> = replicas.iter_mut().map(|r| { let mut h = r.heads(); h.sort(); h }).collect();
        heads.dedup();
        prop_assert_eq!(heads.len(), 1);
        let job = &jobs[0];
        let mut seen: BTreeSet<String> = BTreeSet::new();
        let mut count = 0;
        for id in job.milestones.keys().filter(|k| *k != "accepted") { seen.insert(format!("0:{id}")); count += 1; }
        for id in job.project.logs.keys() { seen.insert(format!("1:{id}")); count += 1; }
        for id in job.metering.seals.keys() { seen.insert(format!("2:{id}")); count += 1; }
        prop_assert_eq!(&seen, &appended, "no appended item lost");
        prop_assert_eq!(count, appended.len(), "no appended item duplicated");
        for m in &markers {
            prop_assert_eq!(job.notes.matches(m.as_str()).count(), 1, "marker {} in {}", m, job.notes);
        }
        prop_assert_eq!(job.notes.chars().filter(|c| *c == '⟨').count(), markers.len());
    }
}
