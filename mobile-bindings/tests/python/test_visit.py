"""A survey-and-install visit through the generated Python bindings only, offline, then synced
against a real `fieldline serve` started here; the server's copy is checked by the server's own
contract verification and by a second phone that syncs the job down.

Needs: FIELDLINE_BIN (the `fieldline` server binary) and `fieldline` importable (PYTHONPATH =
the `python` directory written by scripts/bindings.sh). scripts/test.sh sets both.
"""

import asyncio
import datetime as dt
import json
import os
import socket
import struct
import subprocess
import tempfile
import time
import unittest
import urllib.request
import uuid
import zlib

import fieldline as fl

SERVER_BIN = os.environ.get("FIELDLINE_BIN", "fieldline")
PASSWORD = "password-123"


def png(width, height, seed):
    """A small RGB PNG (a gradient), written with the standard library only."""
    rows = b"".join(
        b"\x00" + bytes(((x * 7 + seed) % 256, (y * 5 + seed) % 256, (x + y) % 256)[c]
                        for x in range(width) for c in range(3))
        for y in range(height))

    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def signature(points, phase):
    import math
    ink = [fl.InkPoint(x=20.0 + i * 3.0, y=100.0 + math.sin(i * 0.4 + phase) * 60.0, t_ms=i * 10, pressure=0.5)
           for i in range(points)]
    return fl.Signature(width=640, height=240, strokes=[fl.Stroke(points=ink[: points // 2]),
                                                        fl.Stroke(points=ink[points // 2:])])


class Keychain(fl.StoreKeyProvider):
    """Stands in for the Android Keystore / iOS Keychain: one secret per data folder, made on
    first use with the library's own generator and the same ever after."""

    def __init__(self):
        self.secrets = {}
        self.asked = 0

    def store_secret(self):
        self.asked += 1
        return self.secrets.setdefault("fieldline", fl.new_store_secret())


class FixedKey(fl.StoreKeyProvider):
    def __init__(self, secret):
        self.secret = secret

    def store_secret(self):
        return self.secret


class LockedKeychain(fl.StoreKeyProvider):
    """A keystore that cannot answer (the device is locked)."""

    def store_secret(self):
        raise RuntimeError("user not authenticated")


def files_containing(folder, needles):
    """Every (file, needle) where a file under `folder` holds the needle's bytes."""
    found = []
    for root, _dirs, files in os.walk(folder):
        for name in files:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                data = f.read()
            found += [(os.path.relpath(path, folder), n) for n in needles if n in data]
    return found


class Progress(fl.SyncListener):
    def __init__(self):
        self.seen = []

    def on_progress(self, progress):
        self.seen.append(progress)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, root):
        self.data = os.path.join(root, "server")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc = None

    def cli(self, *args, stdin=None):
        return subprocess.run([SERVER_BIN, "--data-dir", self.data, *args], input=stdin,
                              capture_output=True, text=True, timeout=120)

    def add_user(self, username, role, unit):
        units = self.cli("unit", "list").stdout.split()
        if unit not in units:
            r = self.cli("unit", "add", "--unit", unit, "--name", unit)
            assert r.returncode == 0, r.stderr
        r = self.cli("user", "add", "--username", username, "--role", role, "--unit", unit,
                     "--display-name", username, stdin=PASSWORD)
        assert r.returncode == 0, r.stderr

    def start(self):
        self.proc = subprocess.Popen([SERVER_BIN, "--data-dir", self.data, "serve", "--listen",
                                      f"127.0.0.1:{self.port}"], stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("fieldline serve did not start")

    def stop(self):
        if self.proc:
            self.proc.terminate()
            self.proc.wait(timeout=30)
            self.proc = None


class VisitTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.server = Server(self.tmp.name)
        r = self.server.cli("init")
        assert r.returncode == 0, r.stderr
        self.server.add_user("cm-py", "customer_manager", "demo")
        self.server.add_user("office-py", "office_staff", "demo")
        self.server.add_user("cm-py2", "customer_manager", "demo")
        self.server.add_user("pm-py", "project_manager", "demo")
        self.server.start()
        self.keys = Keychain()

    def tearDown(self):
        self.server.stop()
        self.tmp.cleanup()

    def test_a_visit_offline_then_synced_and_checked_on_the_server(self):
        app = fl.FieldApp.open(os.path.join(self.tmp.name, "phone"), self.keys)
        user = asyncio.run(app.login(self.server.url, "cm-py", PASSWORD))
        self.assertEqual(user.role, "customer_manager")
        self.assertEqual(app.current_user().username, "cm-py")
        # The list's clocks move to today once per day (the app calls it on open and resume).
        self.assertIsNotNone(asyncio.run(app.refresh_clocks()))
        self.assertIsNone(asyncio.run(app.refresh_clocks()))

        # The network goes away for the whole visit.
        self.server.stop()
        accepted = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
        job = app.create_job(fl.NewJobInput(
            kind=fl.JobKind.LOW_VOLTAGE_RESIDENTIAL, unit="demo", accepted_at=accepted,
            customer=fl.Customer(name="赵桂芳", id_number="110101199202020022",
                                 contact_phone="13700000000", address="北京市东城区示范胡同 6 号"),
            application=fl.ApplicationPatch(capacity_kva=8.0, voltage=fl.Voltage.V220,
                                            tariff=fl.Tariff.RESIDENTIAL)))
        self.assertEqual(job.status, fl.JobStatus.ACCEPTED)
        job_id = job.id
        job = app.edit(job_id, fl.JobEdit.UPDATE_SURVEY(fl.Survey(
            surveyed_at=accepted + dt.timedelta(minutes=30), address_verified=True, direct_install=True)))
        self.assertTrue(job.survey.direct_install)

        # Bad input: a clear error in both languages, nothing stored.
        with self.assertRaises(fl.FieldlineError.InvalidInput) as bad:
            app.edit(job_id, fl.JobEdit.UPDATE_CUSTOMER(fl.Customer(contact_phone="not a phone")))
        self.assertIn("电话", bad.exception.zh)
        self.assertIn("phone", bad.exception.en)

        id_card = asyncio.run(app.add_photo(job_id, png(320, 240, 1), fl.PhotoCapture(
            purpose=fl.PhotoPurpose.DOCUMENT_PROOF, checklist_group="owner_id", author_name="张伟")))
        site = asyncio.run(app.add_photo(job_id, png(320, 240, 2), fl.PhotoCapture(
            purpose=fl.PhotoPurpose.SURVEY, location=fl.Location(latitude=39.93, longitude=116.41))))
        self.assertFalse(site.duplicate)
        self.assertEqual(app.upload_queue().photos_pending, 2)

        preview = app.contract_preview(job_id, "国网示范供电公司", {"manager_name": "张伟"}, None)
        self.assertIn("赵桂芳", preview.text)
        self.assertEqual(preview.missing, [])
        contract_id = str(uuid.uuid4())
        signed = app.sign_contract(job_id, fl.ContractRequest(
            contract_id=contract_id, supplier="国网示范供电公司", inputs={"manager_name": "张伟"},
            customer_signature=signature(120, 0.0), manager_signature=signature(80, 1.0),
            photo_ids=[id_card.photo_id, site.photo_id], location=fl.Location(latitude=39.93, longitude=116.41)))
        self.assertEqual(len(signed.text_sha256), 64)
        self.assertEqual(signed.job.status, fl.JobStatus.READY_TO_POWER_ON)
        with self.assertRaises(fl.FieldlineError.InvalidInput):
            app.sign_contract(job_id, fl.ContractRequest(
                contract_id=contract_id, supplier="别的公司", customer_signature=signature(50, 0.0),
                manager_signature=signature(50, 1.0)))

        app.edit(job_id, fl.JobEdit.UPDATE_METERING(fl.MeteringPatch(
            meter_asset_no="1100001234567", initial_reading=0.0, ct_ratio="直接接入")))
        for n in ("FY-01", "FY-02"):
            app.edit(job_id, fl.JobEdit.PUT_SEAL(n, fl.Seal(number=n, position="表箱")))
        asyncio.run(app.add_photo(job_id, png(320, 240, 3), fl.PhotoCapture(purpose=fl.PhotoPurpose.METER)))
        job = app.edit(job_id, fl.JobEdit.RECORD_POWER_ON("power-on", dt.datetime.now(dt.timezone.utc)))
        self.assertEqual(job.status, fl.JobStatus.POWERED_ON)
        stages = {c.stage: c for c in app.time_limits(job_id, dt.date.today().isoformat())}
        self.assertIn("power_on", stages)
        local = app.verify_contract(job_id, contract_id)
        self.assertTrue(local.valid and not local.countersigned, local.summary_en)

        # Back online: documents first, then the photos; progress reaches the listener.
        self.server.start()
        listener = Progress()
        result = asyncio.run(app.sync(listener))
        self.assertGreaterEqual(result.jobs_pushed, 1)
        self.assertEqual(result.photos_uploaded, 9)
        self.assertTrue(listener.seen)
        self.assertEqual(app.upload_queue().photos_pending, 0)

        # The server's own verification of its copy.
        r = self.server.cli("contract", "verify", "--job", job_id, "--json")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        checks = json.loads(r.stdout)
        self.assertEqual(checks["altered"], [])
        self.assertTrue(checks["countersigned"])

        # The receipt comes back; a second phone receives the whole job from the server.
        asyncio.run(app.sync(None))
        self.assertTrue(app.verify_contract(job_id, contract_id).countersigned)

        # At rest: no file in the phone's data folder holds the customer's name, ID number or
        # phone number, nor a photo's bytes, as they are; everything reads back with the key.
        folder = os.path.join(self.tmp.name, "phone")
        id_card_png = png(320, 240, 1)
        needles = ["赵桂芳".encode(), b"110101199202020022", b"13700000000",
                   "示范胡同".encode(), id_card_png[:200], b"\x89PNG", b"JFIF", b"Exif"]
        self.assertEqual(files_containing(folder, needles), [])
        self.assertGreater(sum(len(f) for _r, _d, f in os.walk(folder)), 10)
        card = app.get_job(job_id).photos[id_card.photo_id]
        self.assertEqual(app.photo_bytes(card.original_sha256), id_card_png)
        del app
        with self.assertRaises(fl.FieldlineError.Key) as wrong:
            fl.FieldApp.open(folder, FixedKey(b"\x01" * 32))
        self.assertIn("密钥", wrong.exception.zh)
        with self.assertRaises(fl.FieldlineError.Key):
            fl.FieldApp.open(folder, LockedKeychain())
        with self.assertRaises(fl.FieldlineError.Key):
            fl.FieldApp.open(folder, FixedKey(b"short"))
        app = fl.FieldApp.open(folder, self.keys)
        again = app.get_job(job_id)
        self.assertEqual(again.customer.id_number, "110101199202020022")
        self.assertEqual(app.photo_bytes(card.original_sha256), id_card_png)
        self.assertTrue(app.verify_contract(job_id, contract_id).countersigned)
        office = fl.FieldApp.open(os.path.join(self.tmp.name, "office"), self.keys)
        asyncio.run(office.login(self.server.url, "office-py", PASSWORD))
        asyncio.run(office.sync(None))
        copy = office.get_job(job_id)
        self.assertEqual(copy.customer.name, "赵桂芳")
        self.assertEqual(copy.status, fl.JobStatus.POWERED_ON)
        self.assertEqual(sorted(copy.metering.seals), ["FY-01", "FY-02"])
        self.assertEqual(len(copy.photos), 3)
        self.assertIsNotNone(copy.contracts[contract_id].receipt.receipt)
        # The written receipt (书面回执) for the customer, with the progress page the server gave.
        self.assertTrue(copy.progress_token.startswith(job_id + "."))
        try:
            pdf = asyncio.run(app.receipt_pdf(job_id))
            self.assertTrue(pdf.startswith(b"%PDF"))
        except fl.FieldlineError.Refused as e:
            self.assertEqual(e.code, "pdf_not_built")
        rows = office.list_jobs(fl.JobQuery(text="赵桂芳")).items
        self.assertEqual([r.job_id for r in rows], [job_id])

    def test_a_refused_job_is_set_aside_and_can_be_exported_discarded_or_retried(self):
        office = fl.FieldApp.open(os.path.join(self.tmp.name, "office"), self.keys)
        asyncio.run(office.login(self.server.url, "office-py", PASSWORD))
        cm = fl.FieldApp.open(os.path.join(self.tmp.name, "cm"), self.keys)
        asyncio.run(cm.login(self.server.url, "cm-py", PASSWORD))
        accepted = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=1)

        def assign(job_id, who):
            office.edit(job_id, fl.JobEdit.UPDATE_ASSIGNMENT(fl.Assignment(customer_manager=who)))

        jobs = {}
        for name in ("甲", "乙", "丙"):
            job = office.create_job(fl.NewJobInput(
                kind=fl.JobKind.LOW_VOLTAGE_RESIDENTIAL, unit="demo", accepted_at=accepted,
                customer=fl.Customer(name=name)))
            assign(job.id, "cm-py")
            jobs[name] = job.id
        asyncio.run(office.sync(None))
        asyncio.run(cm.sync(None))
        # The customer manager writes notes on all three, offline; meanwhile the office gives
        # 甲 and 丙 to a colleague.
        for name, job_id in jobs.items():
            cm.edit(job_id, fl.JobEdit.SET_NOTES(f"{name}的备注"))
        assign(jobs["甲"], "cm-py2")
        assign(jobs["丙"], "cm-py2")
        asyncio.run(office.sync(None))

        # One sync: 乙 is acknowledged, 甲 and 丙 are refused and set aside; nothing is blocked.
        result = asyncio.run(cm.sync(None))
        self.assertTrue(result.complete)
        self.assertEqual(result.jobs_pushed, 1)
        self.assertEqual(sorted(result.rejected_jobs), sorted([jobs["甲"], jobs["丙"]]))
        self.assertEqual(sorted(result.left_scope), sorted([jobs["甲"], jobs["丙"]]))
        held = {r.job_id: r for r in cm.refused_jobs()}
        self.assertEqual(set(held), {jobs["甲"], jobs["丙"]})
        for r in held.values():
            self.assertTrue(r.left_scope)
            self.assertEqual(r.unsynced_changes, 1)
            self.assertIn("负责范围", r.zh)
        rows = cm.list_jobs(fl.JobQuery()).items
        self.assertEqual([r.job_id for r in rows], [jobs["乙"]])
        self.assertIsNone(rows[0].attention)
        # Not theirs: retrying does nothing; the job comes back when it is reassigned.
        self.assertFalse(cm.retry_refused(jobs["甲"]))

        # 丙: export, then discard (it leaves the phone, the export keeps the note).
        out = os.path.join(self.tmp.name, "exports")
        exported = cm.export_unsynced(jobs["丙"], out)
        self.assertEqual(exported.changes, 1)
        with open(exported.summary_file, encoding="utf-8") as f:
            summary = json.load(f)
        self.assertEqual(summary["job"]["notes"], "丙的备注")
        self.assertEqual(summary["refused"]["code"], "left_scope")
        self.assertGreater(os.path.getsize(exported.changes_file), 0)
        discarded = cm.discard_unsynced(jobs["丙"], out)
        self.assertTrue(discarded.job_removed)
        self.assertTrue(os.path.exists(discarded.export.summary_file))
        with self.assertRaises(fl.FieldlineError.NotFound):
            cm.get_job(jobs["丙"])

        # 甲 comes back to this customer manager: its held note goes to the server.
        assign(jobs["甲"], "cm-py")
        asyncio.run(office.sync(None))
        asyncio.run(cm.sync(None))
        asyncio.run(cm.sync(None))
        self.assertEqual(cm.refused_jobs(), [])
        asyncio.run(office.sync(None))
        self.assertEqual(office.get_job(jobs["甲"]).notes, "甲的备注")
        self.assertEqual(office.get_job(jobs["乙"]).notes, "乙的备注")
        self.assertEqual(office.get_job(jobs["丙"]).notes, "")

        # What a customer manager may not write is refused on the phone, before it is stored.
        with self.assertRaises(fl.FieldlineError.Refused) as refused:
            cm.edit(jobs["乙"], fl.JobEdit.UPDATE_REVIEW(fl.ReviewPatch(state=fl.ReviewState.APPROVED)))
        self.assertEqual(refused.exception.code, "forbidden")
        self.assertIn("审核", refused.exception.zh)
        self.assertIn("review", refused.exception.en)

    def api(self, method, path, token, body=None):
        """The office's JSON API, as another program would call it."""
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.server.url + path, data=data, method=method,
                                     headers={"authorization": f"Bearer {token}",
                                              "content-type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            return json.load(r)

    def test_returned_with_findings_fixed_and_submitted_again(self):
        office = fl.FieldApp.open(os.path.join(self.tmp.name, "office"), self.keys)
        asyncio.run(office.login(self.server.url, "office-py", PASSWORD))
        cm = fl.FieldApp.open(os.path.join(self.tmp.name, "cm"), self.keys)
        asyncio.run(cm.login(self.server.url, "cm-py", PASSWORD))
        accepted = dt.datetime.now(dt.timezone.utc) - dt.timedelta(hours=2)
        job = office.create_job(fl.NewJobInput(
            kind=fl.JobKind.LOW_VOLTAGE_RESIDENTIAL, unit="demo", accepted_at=accepted,
            customer=fl.Customer(name="周晓梅", contact_phone="13800001234")))
        office.edit(job.id, fl.JobEdit.UPDATE_ASSIGNMENT(fl.Assignment(customer_manager="cm-py")))
        asyncio.run(office.sync(None))
        asyncio.run(cm.sync(None))
        now = lambda: dt.datetime.now(dt.timezone.utc)  # noqa: E731
        cm.edit(job.id, fl.JobEdit.SUBMIT_FOR_REVIEW(id="submit-1", at=now()))
        self.assertEqual(cm.get_job(job.id).review.state, fl.ReviewState.PENDING)
        asyncio.run(cm.sync(None))

        # The office returns it through the JSON API with two findings.
        login = urllib.request.Request(
            self.server.url + "/api/v1/auth/login", method="POST",
            data=json.dumps({"username": "office-py", "password": PASSWORD,
                             "device_id": "office-script-1"}).encode(),
            headers={"content-type": "application/json"})
        with urllib.request.urlopen(login, timeout=30) as r:
            token = json.load(r)["token"]
        queue = self.api("GET", "/api/v1/jobs?review=pending", token)
        self.assertIn(job.id, [row["job_id"] for row in queue["rows"]])
        findings = ["身份证照片不清晰", "缺少产权证明"]
        self.api("POST", f"/api/v1/jobs/{job.id}/review", token,
                 {"outcome": "return", "comment": "请补充后重新提交", "findings": findings})

        # The customer manager's phone sees "returned" with each finding.
        asyncio.run(cm.sync(None))
        review = cm.get_job(job.id).review
        self.assertEqual(review.state, fl.ReviewState.RETURNED)
        self.assertEqual(review.comment, "请补充后重新提交")
        self.assertEqual(sorted(f.text for f in review.findings.values()), sorted(findings))
        self.assertTrue(all(f.resolved is False for f in review.findings.values()))

        # Fixes, submits again; the job is back in the queue with what changed.
        cm.edit(job.id, fl.JobEdit.UPDATE_CUSTOMER(fl.Customer(id_number="110101199003078515")))
        cm.edit(job.id, fl.JobEdit.SUBMIT_FOR_REVIEW(id="submit-2", at=now()))
        asyncio.run(cm.sync(None))
        queue = self.api("GET", "/api/v1/jobs?review=pending", token)
        self.assertIn(job.id, [row["job_id"] for row in queue["rows"]])
        since = self.api("GET", f"/api/v1/jobs/{job.id}/changes-since-review", token)
        paths = [".".join(c["path"]) if isinstance(c["path"], list) else c["path"]
                 for c in since["changes"]]
        self.assertIn("customer.id_number", paths)

        self.api("POST", f"/api/v1/jobs/{job.id}/review", token, {"outcome": "approve"})
        asyncio.run(cm.sync(None))
        review = cm.get_job(job.id).review
        self.assertEqual(review.state, fl.ReviewState.APPROVED)
        self.assertTrue(all(f.resolved for f in review.findings.values()))
        events = [m.event for m in cm.get_job(job.id).milestones.values()]
        self.assertEqual(events.count(fl.MilestoneEvent.REVIEW_SUBMITTED), 2)

    def test_a_meetings_action_item_reaches_its_owner_who_records_it_done(self):
        office = fl.FieldApp.open(os.path.join(self.tmp.name, "office"), self.keys)
        asyncio.run(office.login(self.server.url, "office-py", PASSWORD))
        cm = fl.FieldApp.open(os.path.join(self.tmp.name, "cm"), self.keys)
        asyncio.run(cm.login(self.server.url, "cm-py", PASSWORD))
        pm = fl.FieldApp.open(os.path.join(self.tmp.name, "pm"), self.keys)
        asyncio.run(pm.login(self.server.url, "pm-py", PASSWORD))
        now = dt.datetime.now(dt.timezone.utc)
        china = (now + dt.timedelta(hours=8)).date()
        day = lambda n: (china + dt.timedelta(days=n)).isoformat()  # noqa: E731
        job = office.create_job(fl.NewJobInput(
            kind=fl.JobKind.HIGH_VOLTAGE, unit="demo", accepted_at=now - dt.timedelta(hours=1),
            customer=fl.Customer(name="恒泰物流园", contact_phone="13800004321"),
            application=fl.ApplicationPatch(voltage=fl.Voltage.KV10, capacity_kva=800.0)))
        office.edit(job.id, fl.JobEdit.UPDATE_ASSIGNMENT(
            fl.Assignment(customer_manager="cm-py", project_manager="pm-py")))
        asyncio.run(office.sync(None))
        asyncio.run(pm.sync(None))
        pm.edit(job.id, fl.JobEdit.PUT_MEETING(id="m1", meeting=fl.Meeting(
            held_on=day(0), place="供电所会议室", topics="配套工程进度",
            decisions="客户三日内交付配电室")))
        pm.edit(job.id, fl.JobEdit.PUT_ACTION(id="a1", action=fl.ActionItemPatch(
            meeting="m1", text="督促客户交付配电室", owner="cm-py", due_on=day(3))))
        # The customer manager may not call meetings (refused on the phone, nothing stored).
        asyncio.run(cm.sync(None))
        with self.assertRaises(fl.FieldlineError.Refused):
            cm.edit(job.id, fl.JobEdit.PUT_MEETING(id="m2", meeting=fl.Meeting(
                held_on=day(0), topics="越权")))
        asyncio.run(pm.sync(None))
        asyncio.run(cm.sync(None))
        mine = cm.agenda(day(30), True)
        self.assertEqual([(e.kind, e.due_on, e.state) for e in mine],
                         [("action", day(3), "due_soon")])
        self.assertEqual(mine[0].title, "督促客户交付配电室")
        self.assertEqual(pm.agenda(day(30), True), [])
        # Only the owner records it done; the project manager's attempt is refused.
        with self.assertRaises(fl.FieldlineError.Refused):
            pm.edit(job.id, fl.JobEdit.COMPLETE_ACTION(id="a1", at=now, note=None))
        cm.edit(job.id, fl.JobEdit.COMPLETE_ACTION(id="a1", at=now, note="已交付"))
        asyncio.run(cm.sync(None))
        asyncio.run(pm.sync(None))
        done = pm.get_job(job.id).actions["a1"].done
        self.assertEqual((done.done_by, done.note), ("cm-py", "已交付"))
        self.assertEqual(cm.agenda(day(30), True), [])

        # The typical design from the catalogue, with its cost range; the firms' verdict.
        choice = cm.typical_designs(job.id)
        self.assertEqual(choice.catalogue, "national-designs")
        self.assertIn("hv-10kv-box", [d.id for d in choice.designs])
        picked = cm.pick_typical_design(job.id, "hv-10kv-box").typical_design
        self.assertEqual((picked.cost_low_yuan, picked.cost_high_yuan), (250000.0, 600000.0))
        cm.edit(job.id, fl.JobEdit.UPDATE_CUSTOMER_WORKS(works=fl.CustomerWorks(
            builder_firm="no-such-firm")))
        checks = cm.firm_checks(job.id)
        self.assertEqual(len(checks), 1)
        self.assertFalse(checks[0].ok)
        self.assertIn("不在本单位的资质登记中", checks[0].reasons_zh[0])
        # A connection plan proposed offline is on the phone's agenda at once.
        cm.edit(job.id, fl.JobEdit.UPDATE_POWER_ON_PLAN(plan=fl.PowerOnPlan(planned_on=day(12))))
        self.assertEqual([e.kind for e in cm.agenda(day(30), True)], ["power_on"])

    def test_errors_and_calendar(self):
        app = fl.FieldApp.open(os.path.join(self.tmp.name, "phone2"), self.keys)
        with self.assertRaises(fl.FieldlineError.LoginRequired):
            asyncio.run(app.sync(None))
        with self.assertRaises(fl.FieldlineError.LoginRequired):
            app.create_job(fl.NewJobInput(kind=fl.JobKind.HIGH_VOLTAGE, unit="demo",
                                          accepted_at=dt.datetime.now(dt.timezone.utc),
                                          customer=fl.Customer(name="x")))
        with self.assertRaises(fl.FieldlineError.LoginRequired):
            asyncio.run(app.login(self.server.url, "cm-py", "wrong password"))
        with self.assertRaises(fl.FieldlineError.NotFound):
            app.get_job("no-such-job")
        # National Day 2026: 1–7 October off, Saturday 10 October a working day (调休).
        self.assertFalse(app.is_working_day("2026-10-01"))
        self.assertTrue(app.is_working_day("2026-10-10"))
        self.assertEqual(app.add_working_days("2026-09-30", 1), "2026-10-08")


if __name__ == "__main__":
    unittest.main()
