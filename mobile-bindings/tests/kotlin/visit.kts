// A survey-and-install visit through the generated Kotlin bindings: offline on one phone, then a
// `suspend` sync with a Kotlin progress listener against a real `fieldline serve` started here,
// then the server's own contract verification. Any failed check throws, so the script exits
// non-zero and CI fails.
//
// Needs FIELDLINE_BIN (the server binary); run by scripts/test.sh with the compiled bindings,
// JNA and kotlinx-coroutines on the class path and the library on LD_LIBRARY_PATH.

import kotlinx.coroutines.runBlocking
import uniffi.fieldline.*
import java.awt.image.BufferedImage
import java.io.ByteArrayOutputStream
import java.io.File
import java.net.HttpURLConnection
import java.net.ServerSocket
import java.net.URI
import java.time.Instant
import java.time.LocalDate
import java.util.UUID
import java.util.concurrent.TimeUnit
import javax.imageio.ImageIO
import kotlin.math.sin

val bin = System.getenv("FIELDLINE_BIN") ?: error("set FIELDLINE_BIN to the fieldline server binary")
val password = "password-123"
val root: File = kotlin.io.path.createTempDirectory("fieldline-kotlin").toFile()
val serverDir = File(root, "server").path
val port = ServerSocket(0).use { it.localPort }
val url = "http://127.0.0.1:$port"

fun cli(vararg args: String, input: String? = null): Pair<Int, String> {
    val p = ProcessBuilder(listOf(bin, "--data-dir", serverDir) + args).redirectErrorStream(true).start()
    input?.let { p.outputStream.use { o -> o.write(it.toByteArray()) } } ?: p.outputStream.close()
    val out = p.inputStream.bufferedReader().readText()
    check(p.waitFor(120, TimeUnit.SECONDS)) { "fieldline ${args.toList()} timed out" }
    return p.exitValue() to out
}

fun addUser(name: String, role: String) {
    if (!cli("unit", "list").second.lines().any { it.split(" ").first() == "demo" }) {
        val (c, o) = cli("unit", "add", "--unit", "demo", "--name", "演示供电所")
        check(c == 0) { "unit add failed: $o" }
    }
    val (code, out) = cli("user", "add", "--username", name, "--role", role, "--unit", "demo", "--display-name", name, input = password)
    check(code == 0) { "user add failed: $out" }
}

var server: Process? = null

fun startServer() {
    server = ProcessBuilder(bin, "--data-dir", serverDir, "serve", "--listen", "127.0.0.1:$port")
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.DISCARD).start()
    val deadline = System.currentTimeMillis() + 30_000
    while (System.currentTimeMillis() < deadline) {
        try {
            val c = URI("$url/healthz").toURL().openConnection() as HttpURLConnection
            if (c.responseCode == 200) return
        } catch (_: java.io.IOException) {
            Thread.sleep(100)
        }
    }
    error("fieldline serve did not start")
}

fun stopServer() {
    server?.let { it.destroy(); it.waitFor(30, TimeUnit.SECONDS) }
    server = null
}

fun png(width: Int, height: Int, seed: Int): ByteArray {
    val img = BufferedImage(width, height, BufferedImage.TYPE_INT_RGB)
    for (y in 0 until height) for (x in 0 until width) {
        img.setRGB(x, y, (((x * 7 + seed) % 256) shl 16) or (((y * 5 + seed) % 256) shl 8) or ((x + y) % 256))
    }
    return ByteArrayOutputStream().also { ImageIO.write(img, "png", it) }.toByteArray()
}

fun signature(points: Int, phase: Double): Signature {
    val ink = (0 until points).map { i ->
        InkPoint(x = 20.0 + i * 3.0, y = 100.0 + sin(i * 0.4 + phase) * 60.0, tMs = (i * 10).toULong(), pressure = 0.5)
    }
    return Signature(640u, 240u, listOf(Stroke(ink.subList(0, points / 2)), Stroke(ink.subList(points / 2, points))))
}

class Progress : SyncListener {
    val seen = mutableListOf<SyncProgress>()
    override fun onProgress(progress: SyncProgress) {
        seen.add(progress)
    }
}

// Stands in for the Android Keystore: one secret, made on first use, the same ever after.
class Keystore : StoreKeyProvider {
    private var secret: ByteArray? = null
    override fun storeSecret(): ByteArray = secret ?: newStoreSecret().also { secret = it }
}
val keys = Keystore()

try {
    cli("init").let { (code, out) -> check(code == 0) { "init failed: $out" } }
    addUser("cm-kt", "customer_manager")
    addUser("office-kt", "office_staff")
    startServer()

    val app = FieldApp.open(File(root, "phone").path, keys)
    val user = runBlocking { app.login(url, "cm-kt", password) }
    check(user.role == "customer_manager") { "role ${user.role}" }

    // The whole visit with no network.
    stopServer()
    val accepted = Instant.now().minusSeconds(7200)
    var job = app.createJob(
        NewJobInput(
            kind = JobKind.LOW_VOLTAGE_RESIDENTIAL, unit = "demo", acceptedAt = accepted,
            customer = Customer(name = "钱立新", idNumber = "330102199303030033", contactPhone = "13600000000", address = "杭州市上城区示范路 9 号"),
            application = ApplicationPatch(capacityKva = 6.0, voltage = Voltage.V220, tariff = Tariff.RESIDENTIAL),
        ),
    )
    val jobId = job.id
    job = app.edit(jobId, JobEdit.UpdateSurvey(Survey(surveyedAt = accepted.plusSeconds(600), addressVerified = true, directInstall = true)))
    check(job.survey.directInstall == true)
    try {
        app.edit(jobId, JobEdit.UpdateCustomer(Customer(contactPhone = "not a phone")))
        error("a bad phone number was accepted")
    } catch (e: FieldlineException.InvalidInput) {
        check(e.zh.contains("电话") && e.en.contains("phone")) { "unclear error: ${e.zh} / ${e.en}" }
    }
    val idCard = runBlocking {
        app.addPhoto(jobId, png(320, 240, 1), PhotoCapture(purpose = PhotoPurpose.DOCUMENT_PROOF, checklistGroup = "owner_id", authorName = "张伟"))
    }
    val site = runBlocking { app.addPhoto(jobId, png(320, 240, 2), PhotoCapture(purpose = PhotoPurpose.SURVEY)) }
    val contractId = UUID.randomUUID().toString()
    val signed = app.signContract(
        jobId,
        ContractRequest(
            contractId = contractId, supplier = "国网示范供电公司", inputs = mapOf("manager_name" to "张伟"),
            customerSignature = signature(120, 0.0), managerSignature = signature(80, 1.0),
            photoIds = listOf(idCard.photoId, site.photoId), location = Location(latitude = 30.25, longitude = 120.17),
        ),
    )
    check(signed.job.status == JobStatus.READY_TO_POWER_ON) { "status ${signed.job.status}" }
    app.edit(jobId, JobEdit.UpdateMetering(MeteringPatch(meterAssetNo = "3300007654321", initialReading = 0.0, ctRatio = "直接接入")))
    app.edit(jobId, JobEdit.PutSeal("FY-01", Seal(number = "FY-01", position = "表箱")))
    runBlocking { app.addPhoto(jobId, png(320, 240, 3), PhotoCapture(purpose = PhotoPurpose.METER)) }
    job = app.edit(jobId, JobEdit.RecordPowerOn("power-on", Instant.now()))
    check(job.status == JobStatus.POWERED_ON) { "status ${job.status}" }
    check(app.timeLimits(jobId, LocalDate.now().toString()).any { it.stage == "power_on" })
    check(app.verifyContract(jobId, contractId).valid)

    // Online again: a suspend sync with a Kotlin listener.
    startServer()
    val progress = Progress()
    val result = runBlocking { app.sync(progress) }
    check(result.jobsPushed >= 1u) { "nothing pushed: $result" }
    check(result.photosUploaded == 9u) { "photos uploaded: ${result.photosUploaded}" }
    check(progress.seen.isNotEmpty()) { "the listener heard nothing" }

    val (code, out) = cli("contract", "verify", "--job", jobId)
    check(code == 0) { "server verification failed: $out" }
    runBlocking { app.sync(null) }
    check(app.verifyContract(jobId, contractId).countersigned) { "no receipt came back" }

    val office = FieldApp.open(File(root, "office").path, keys)
    runBlocking {
        office.login(url, "office-kt", password)
        office.sync(null)
    }
    val copy = office.getJob(jobId)
    check(copy.customer.name == "钱立新" && copy.status == JobStatus.POWERED_ON) { "server copy: $copy" }
    check(copy.photos.size == 3 && copy.contracts.getValue(contractId).receipt.receipt != null)
    check(!app.isWorkingDay("2026-10-01") && app.isWorkingDay("2026-10-10"))

    // The phone's data opens only with its key: another secret is FieldlineException.Key.
    class OtherKey : StoreKeyProvider {
        override fun storeSecret(): ByteArray = ByteArray(32) { 7 }
    }
    try {
        FieldApp.open(File(root, "phone").path, OtherKey())
        check(false) { "a wrong key opened the phone's data" }
    } catch (e: FieldlineException.Key) {
        check(e.zh.contains("密钥")) { "key error: ${e.zh}" }
    }
    val photoSha = app.getJob(jobId).photos.values.first().originalSha256!!
    check(app.photoBytes(photoSha).size > 0) { "a photo reads back" }
    println("kotlin visit: ok (job $jobId, ${progress.seen.size} progress reports)")
} finally {
    stopServer()
    root.deleteRecursively()
}
