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
for (let i = 0; i < JOBS; i++) {
  const h = client.create({ schema_version: 1, id: `job-${i}`, kind: "lv_small_micro", customer: {}, project: { logs: {} }, notes: "" });
  for (let c = 1; c < CHANGES; c++) {
    h.change((d) => {
      switch (c % 4) {
        case 0: d.customer.contact_phone = `1380000${String(c).padStart(4, "0")}`; break;
        case 1: d.project.logs[`l${c}`] = { at: new Date(1767225600000 + c * 3600000), progress_pct: c % 100, text: "今日完成电缆敷设" }; break;
        case 2: A.splice(d, ["notes"], 0, 0, "现场"); break;
        default: d.customer.capacity_kva = 100 + c;
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
