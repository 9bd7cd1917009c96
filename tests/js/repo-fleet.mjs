// The automerge-repo peer of tests/src/bin/fleet_bench.rs: the same "first upload" workload
// (one client creates JOBS documents offline with CHANGES changes each, then connects and sends
// them all to a server) through automerge-repo 2.x with its WebSocket network adapters and the
// Node filesystem storage. Prints one JSON line with the figures.
//
//   node tests/js/repo-fleet.mjs --jobs 1000 --changes 50
// (run from a directory whose node_modules has @automerge/automerge-repo@2,
//  @automerge/automerge-repo-network-websocket@2, @automerge/automerge-repo-storage-nodefs@2, ws)
import { Repo } from "@automerge/automerge-repo";
import * as A from "@automerge/automerge";
import { WebSocketServerAdapter, WebSocketClientAdapter } from "@automerge/automerge-repo-network-websocket";
import { NodeFSStorageAdapter } from "@automerge/automerge-repo-storage-nodefs";
import { WebSocketServer } from "ws";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : dflt;
};
const JOBS = arg("jobs", 1000);
const CHANGES = arg("changes", 50);

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "repo-fleet-"));
const wss = new WebSocketServer({ port: 0, host: "127.0.0.1" });
await new Promise((r) => wss.on("listening", r));
const port = wss.address().port;
let wireBytes = 0;
wss.on("connection", (ws) => {
  ws.on("message", (m) => { wireBytes += m.length; });
  const send = ws.send.bind(ws);
  ws.send = (data, ...rest) => { wireBytes += data.length ?? data.byteLength ?? 0; return send(data, ...rest); };
});
const server = new Repo({
  network: [new WebSocketServerAdapter(wss)],
  storage: new NodeFSStorageAdapter(path.join(tmp, "server")),
  sharePolicy: async () => false,
});

// The client works offline first: no network adapter yet.
const client = new Repo({ network: [], storage: new NodeFSStorageAdapter(path.join(tmp, "client")) });
const handles = [];
let rawBytes = 0;
// Varied jobs, as in fleet_bench.rs: seeded pools and numbers, so documents differ as real ones do.
const rng = (seed) => () => {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹".split("");
const GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英", "霞", "平", "刚", "桂英", "建国", "建华", "志强", "海燕", "红梅", "文", "斌", "玉兰"];
const ROADS = ["建设路", "人民路", "解放大道", "长江路", "工业一路", "花园街", "民主路", "振兴大道", "滨河路", "桃园路"];
const NOTES = ["与客户电话沟通，约定现场勘查时间", "客户补充提交营业执照复印件", "现场核实用电地址与申请一致", "客户询问电价政策，已解释分时电价", "表箱位置需与物业协商", "客户要求尽快送电，已告知办理时限", "配变容量紧张，建议错峰用电", "已提醒客户准备受电工程竣工资料"];
for (let i = 0; i < JOBS; i++) {
  const r = rng(i + 1);
  const below = (n) => Math.floor(r() * n);
  const pick = (a) => a[below(a.length)];
  const digits = (n) => Array.from({ length: n }, () => below(10)).join("");
  const hex64 = () => Array.from({ length: 64 }, () => below(16).toString(16)).join("");
  const person = () => pick(SURNAMES) + pick(GIVEN);
  const h = client.create({
    schema_version: 1, id: `job-${i}`, kind: "lv_small_micro", project: { logs: {} }, photos: {}, notes: "",
    customer: { name: person(), contact_phone: `13${digits(9)}`, address: `邾县${pick(ROADS)}${1 + below(998)}号` },
  });
  for (let c = 1; c < CHANGES; c++) {
    h.change((d) => {
      switch (c % 5) {
        case 0: d.customer.contact_phone = `1${3 + below(6)}${digits(9)}`; d.customer.contact_name = person(); break;
        case 1: d.project.logs[`l${c}-${digits(6)}`] = { at: new Date(1767225600000 + c * 3600000 + below(3600000)), progress_pct: below(100), text: `${pick(NOTES)}（${person()}）` }; break;
        case 2: A.splice(d, ["notes"], d.notes.length, 0, `${1 + below(12)}月${1 + below(28)}日 ${pick(NOTES)}。\n`); break;
        case 3: d.photos[`p${c}-${digits(8)}`] = { caption: `现场${1 + below(9)}`, original_sha256: hex64(), display_sha256: hex64(), thumbnail_sha256: hex64(), latitude: 30 + r(), longitude: 114 + r() }; break;
        default: d.customer.capacity_kva = 10 + below(990);
      }
    });
  }
  handles.push(h);
}
await client.flush();
for (const h of handles) for (const c of A.getAllChanges(h.doc())) rawBytes += c.length;

const start = performance.now();
client.networkSubsystem.addNetworkAdapter(new WebSocketClientAdapter(`ws://127.0.0.1:${port}`));
// Done when the server holds every document at the client's heads.
const want = new Map(handles.map((h) => [h.documentId, A.getHeads(h.doc()).join(",")]));
for (;;) {
  let done = 0;
  for (const [id, heads] of want) {
    const sh = server.handles[id];
    if (sh && sh.isReady() && A.getHeads(sh.doc()).join(",") === heads) done++;
  }
  if (done === want.size) break;
  if (performance.now() - start > 600_000) { console.error(`timeout: ${done}/${want.size}`); break; }
  await new Promise((r) => setTimeout(r, 5));
}
const seconds = (performance.now() - start) / 1000;
console.log(JSON.stringify({ docs: JOBS, changes: CHANGES, seconds, docs_per_s: JOBS / seconds, wire_bytes: wireBytes, raw_bytes: rawBytes }));
await client.shutdown();
await server.shutdown();
wss.close();
fs.rmSync(tmp, { recursive: true, force: true });
process.exit(0);
