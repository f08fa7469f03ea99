import CutoverCore
import CutoverStore
import CutoverTestSupport
import Foundation
import Logging
import Testing

/// `cutover report` over a store holding a migration: its figures checked against the audit log, the stored diffs,
/// the host journal and the reconciliation put there; and the HTML file opened in headless Chromium.
@Suite("cutover report", .serialized, .timeLimit(.minutes(5)))
struct ReportCommandTests {
    static let hour: Int64 = 3_600_000

    /// A configuration with one route, and its store filled with a migration that ended `now`: shadow, gray (with
    /// 5 of 1,000 compared differing in the gate window), an automatic rollback, gray again (2,000 compared, none
    /// differing), drain, new; a host run with its downtime; one clean reconciliation.
    func migration(in folder: TemporaryFolder, now: Date) async throws -> (config: String, start: Int64, end: Int64) {
        let config = try folder.write("cutover.yaml", """
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            store: "sqlite:\(folder.path)/cutover.db"
            backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
            routes:
              - { name: orders, match: { path: "/orders" }, phase: old }
            """)
        let loaded = try ConfigLoader.load(file: config).get()
        let route = try #require(loaded.routes.first)
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        let start = nowMs - 3 * Self.hour, end = nowMs - Self.hour / 6
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        try await Store.withStore(loaded.store, logger: logger) { store in
            var flags = RouteFlags(route: route)
            func move(to phase: Phase, at ms: Int64, actor: String = "ops", action: String = "phase", reason: String) async throws {
                var after = flags
                after.phase = phase
                _ = try await store.changeRoute("orders", expected: flags, after: after, actor: actor, action: action, reason: reason,
                                                now: Date(timeIntervalSince1970: Double(ms) / 1000))
                flags = after
            }
            func diffs(at ms: Int64, compared: Int64, differing: Int64, sequence: Int64) async throws {
                let minute = ms / 60_000
                try await store.record(DiffBatch(writer: "gw", sequence: sequence, totals: [DiffTotal(route: "orders", minute: minute, compared: compared, notCompared: 0)],
                                                 fields: differing > 0 ? [DiffFieldCount(route: "orders", minute: minute, field: "total", raw: differing, noise: 0)] : [],
                                                 fieldSets: differing > 0 ? [DiffFieldSetCount(route: "orders", minute: minute, fields: ["total"], count: differing)] : []))
            }
            try await move(to: .shadow, at: start, reason: "start comparing")
            try await diffs(at: start + 2 * Self.hour - 60_000, compared: 1000, differing: 5, sequence: 1)
            try await move(to: .gray, at: start + 2 * Self.hour, reason: "diffs look fine")
            try await move(to: .shadow, at: start + 2 * Self.hour + 60_000, actor: "cutover", action: "auto_rollback",
                           reason: "new's error rate 7.0% over 60 answers in the last 60s; at most 5.0% allowed")
            try await diffs(at: start + 2 * Self.hour + 30 * 60_000, compared: 2000, differing: 0, sequence: 2)
            try await move(to: .gray, at: start + 2 * Self.hour + 31 * 60_000, reason: "fixed the rounding")
            try await move(to: .drain, at: start + 2 * Self.hour + 40 * 60_000, reason: "list aggregation off")
            try await move(to: .new, at: start + 2 * Self.hour + 45 * 60_000, reason: "every request on new")
            let run = try await store.startHostRun(task: "shop", hosts: ["shop-old", "shop-new"], at: end - 600_000)
            try await store.finishHostRun(run, status: .done, reason: nil,
                                          figures: ["downtime_seconds": 0.76, "migration_seconds": 11.1, "ip_outage_seconds": 0.002,
                                                    "latency_before_p50_seconds": 0.0012, "latency_before_p99_seconds": 0.004,
                                                    "latency_after_p50_seconds": 0.0011, "latency_after_p99_seconds": 0.0035],
                                          at: end)
            let reconcile = try await store.startReconcileRun(tables: ["orders"], at: end - 900_000)
            try await store.recordReconcileTable(run: reconcile, TableReport(table: "orders", old: "orders", new: "orders", oldRows: 2_000_000,
                                                                             newRows: 2_000_000, stoppedEarly: false, differences: [], seconds: 2.3))
            try await store.finishReconcileRun(reconcile, status: .finished, error: nil, at: end - 800_000)
        }
        return (config, start, end)
    }

    @Test func theReportsFiguresAreThoseOfTheJournalAndTheStoredDiffs() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (config, start, end) = try await migration(in: folder, now: Date())
        let result = try await CutoverProcess.run(["report", "--config", config, "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let report = try JSONDecoder().decode(MigrationReport.self, from: Data(result.stdout.utf8))
        #expect(report.migration.startedAt == start && report.migration.finishedAt == end)
        #expect(report.migration.seconds == Double(end - start) / 1000)
        #expect(report.downtimeSeconds == 0.76)
        let orders = try #require(report.routes.first)
        #expect(orders.phase == "new" && orders.compared == 3000 && orders.differing == 5)
        #expect(orders.timeline.map(\.to) == ["shadow", "gray", "shadow", "gray", "drain", "new"])
        // The gate window before each promotion out of shadow: what the gate saw then.
        #expect(orders.timeline[1].compared == 1000 && orders.timeline[1].diffRate == 0.005)
        #expect(orders.timeline[3].compared == 2000 && orders.timeline[3].diffRate == 0)
        #expect(orders.rollbacks.map(\.action) == ["auto_rollback"])
        #expect(orders.rollbacks.first?.reason.hasPrefix("new's error rate 7.0%") == true)
        #expect(report.hostTasks.map(\.task) == ["shop"] && report.hostTasks.first?.figures["ip_outage_seconds"] == 0.002)
        #expect(report.reconciliations.first?.clean == true && report.reconciliations.first?.tables.first?.oldRows == 2_000_000)

        let text = try await CutoverProcess.run(["report", "--config", config])
        #expect(text.status == 0)
        #expect(text.stdout.contains("downtime: 760 ms over 1 host cutover"), "\(text.stdout)")
        #expect(text.stdout.contains("rollback orders gray -> shadow"), "\(text.stdout)")
    }

    @Test func badInputIsNamedAndExits2() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let missing = try await CutoverProcess.run(["report", "--config", folder.path + "/absent.yaml"])
        #expect(missing.status == 2 && missing.stderr.contains("absent.yaml"), "\(missing.stderr)")
        let both = try await CutoverProcess.run(["report", "--config", "x.yaml", "--json", "--html", "r.html"])
        #expect(both.status == 2 && both.stderr.contains("--json and --html are exclusive"), "\(both.stderr)")
        let (config, _, _) = try await migration(in: folder, now: Date())
        let unwritable = try await CutoverProcess.run(["report", "--config", config, "--html", folder.path + "/no/such/folder/r.html"])
        #expect(unwritable.status == 2 && unwritable.stderr.contains("cannot write"), "\(unwritable.stderr)")
    }

    @Test func theHTMLReportOpensInChromiumWithItsHeadlineFigures() async throws {
        let chromium = try TestTools.executable("chromium", debianPackage: "chromium")
        let driver = try TestTools.executable("chromedriver", debianPackage: "chromium-driver")
        let python = try TestTools.pythonTool("python", requirement: "selenium==4.27.1")
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let (config, _, _) = try await migration(in: folder, now: Date())
        let page = folder.path + "/report.html"
        let result = try await CutoverProcess.run(["report", "--config", config, "--html", page])
        #expect(result.status == 0, "\(result.stderr)")
        let html = try String(contentsOfFile: page, encoding: .utf8)
        #expect(!html.contains("http://") && !html.contains("https://"), "self-contained: nothing fetched")
        let script = try folder.write("check.py", Self.browserCheck)
        let screenshot = folder.path + "/report.png"
        let output = try Spawn.run([python, script, page, screenshot, chromium, driver], environment: ["SE_AVOID_STATS=true"])
        let seen = try #require(try JSONSerialization.jsonObject(with: Data(output.utf8)) as? [String: Any], "\(output)")
        #expect(seen["title"] as? String == "Migration report")
        let figures = try #require(seen["figures"] as? [String: String])
        #expect(figures["downtime"] == "760 ms")
        #expect(figures["migration-time"] == "2.8 h")
        #expect(figures["routes"] == "1 of 1 on new")
        #expect(seen["svgs"] as? [String] == ["timeline", "latency"])
        #expect((seen["errors"] as? [String])?.isEmpty == true, "\(seen["errors"] ?? "")")
        #expect((seen["requests"] as? [String])?.isEmpty == true, "the page fetched nothing: \(seen["requests"] ?? "")")
        let png = try Data(contentsOf: URL(fileURLWithPath: screenshot))
        #expect(png.count > 10_000 && png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]), "a PNG screenshot of the page")
        try? FileManager.default.removeItem(atPath: TestTools.packageRoot + "/.build/test-tools/report.png")
        try? FileManager.default.copyItem(atPath: screenshot, toPath: TestTools.packageRoot + "/.build/test-tools/report.png")
    }

    /// Opens the page in headless Chromium through chromedriver (named explicitly: selenium's own driver manager
    /// would try the network) and prints what it saw as JSON.
    static let browserCheck = """
        import json, sys
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
        from selenium.webdriver.common.by import By
        page, shot, chromium, driver = sys.argv[1:5]
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for argument in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,1800"]:
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
        try:
            browser.get("file://" + page)
            seen = {
                "title": browser.title,
                "figures": {e.get_attribute("id"): e.find_element(By.CLASS_NAME, "value").text for e in browser.find_elements(By.CLASS_NAME, "figure")},
                "svgs": [e.get_attribute("id") for e in browser.find_elements(By.TAG_NAME, "svg")],
                "errors": [entry["message"] for entry in browser.get_log("browser") if entry["level"] == "SEVERE"],
                "requests": browser.execute_script("return performance.getEntriesByType('resource').map(e => e.name)"),
            }
            browser.save_screenshot(shot)
        finally:
            browser.quit()
        print(json.dumps(seen))
        """
}
