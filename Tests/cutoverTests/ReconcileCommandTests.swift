import CutoverCore
import CutoverStore
import CutoverTestSupport
import Foundation
import Logging
import Testing

/// `cutover reconcile` as a process, against two databases of the test suite's PostgreSQL.
@Suite("cutover reconcile", .timeLimit(.minutes(1)))
struct ReconcileCommandTests {
    struct Setup {
        let server: TestPostgres
        let old: String
        let new: String
        let folder: TemporaryFolder
        let file: String

        func database(_ url: String) -> String { String(url.split(separator: "/").last!) }
        var store: String { folder.path + "/cutover.db" }

        func openStore() async throws -> Store {
            var logger = Logger(label: "reconcile-command-test")
            logger.logLevel = .critical
            return try await Store.open(.sqlite(path: store), logger: logger)
        }
    }

    func setup(tables: String = "[{ name: orders, old: orders, new: orders, key: [id] }]") async throws -> Setup {
        let server = try await TestPostgres.shared()
        let (old, new) = (try server.createDatabase(), try server.createDatabase())
        let folder = try TemporaryFolder()
        for url in [old, new] {
            try server.execute("""
                CREATE TABLE orders (id int PRIMARY KEY, total numeric(10,2), note text);
                INSERT INTO orders SELECT g, g * 1.5, 'n' || g FROM generate_series(1, 5000) g;
                """, database: String(url.split(separator: "/").last!))
        }
        let file = try folder.write("cutover.yaml", """
            store: "sqlite:\(folder.path)/cutover.db"
            reconcile:
              old: "\(old)"
              new: "\(new)"
              tables: \(tables)
            """)
        return Setup(server: server, old: old, new: new, folder: folder, file: file)
    }

    @Test func equalTablesExit0AndDifferencesExit1WithTheReportKept() async throws {
        let setup = try await setup()
        defer { setup.folder.remove() }
        let equal = try await CutoverProcess.run(["reconcile", "--config", setup.file])
        #expect(equal.status == 0, "\(equal.stderr)")
        #expect(equal.stdout.contains("orders (orders -> orders): 5000 rows on old, 5000 on new"))
        #expect(equal.stdout.contains("  equal"))

        try setup.server.execute("UPDATE orders SET note = NULL WHERE id = 42; DELETE FROM orders WHERE id = 4000", database: setup.database(setup.new))
        let different = try await CutoverProcess.run(["reconcile", "--config", setup.file])
        #expect(different.status == 1)
        #expect(different.stdout.contains("1 missing on new, 0 extra on new, 1 changed"))
        let lines = different.stdout.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ") }
        #expect(lines.contains("changed id=42 note n42 NULL"))
        #expect(lines.contains("missing id=4000"))
        #expect(different.stdout.contains("Run 2"))
        // Stopped at a limit with key ranges left unread (the limit reached exactly), it says so.
        let limited = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--max-differences", "1"])
        #expect(limited.status == 1)
        #expect(limited.stdout.contains("1 changed (stopped at --max-differences; there may be more)"), "\(limited.stdout)")
        // Read in chunks (--chunk-time, the configuration's chunk_time on the command line), or at once: the same report.
        for chunks in ["1ms", "0"] {
            let throttled = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--chunk-time", chunks])
            #expect(throttled.status == 1, "\(throttled.stderr)")
            #expect(throttled.stdout.contains("1 missing on new, 0 extra on new, 1 changed"), "\(chunks): \(throttled.stdout)")
        }

        let json = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--json"])
        #expect(json.status == 1)
        let document = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
        let table = try #require((document?["tables"] as? [[String: Any]])?.first)
        #expect(table["missing_on_new"] as? Int == 1)
        #expect(table["changed"] as? Int == 1)

        let store = try await setup.openStore()
        let runs = try await store.reconcileRuns()
        #expect(runs.map(\.id) == [6, 5, 4, 3, 2, 1])
        #expect(runs.allSatisfy { $0.status == .finished })
        #expect(runs.last?.isClean == true)
        #expect(try await store.reconcileDifferences(run: 2, table: nil, limit: 10, offset: 0).map(\.difference.keyText) == ["id=42", "id=4000"])
        await store.close()
    }

    @Test func badInputExits2AndWritesNothing() async throws {
        let setup = try await setup(tables: "[{ name: orders, old: orders, new: orders_v2, key: [id] }]")
        defer { setup.folder.remove() }
        let missing = try await CutoverProcess.run(["reconcile", "--config", setup.file])
        #expect(missing.status == 2)
        #expect(missing.stderr.contains("table orders_v2 does not exist in the new database; nothing was compared"))
        let store = try await setup.openStore()
        #expect(try await store.reconcileRuns().isEmpty, "nothing written")
        await store.close()

        let badConfig = try setup.folder.write("bad.yaml", """
            reconcile:
              old: "mysql://x/y"
              new: "postgres://a@127.0.0.1/b"
              tables: [{ name: t, old: "bad name", new: t, key: [id], compare: { x: { timestamp_precision: ns } } }]
            """)
        let invalid = try await CutoverProcess.run(["reconcile", "--config", badConfig])
        #expect(invalid.status == 2)
        #expect(invalid.stderr.contains("bad.yaml:2:8: reconcile.old: 'mysql://x/y' is not a PostgreSQL URL"))
        #expect(invalid.stderr.contains("reconcile.tables[0].old: 'bad name' is not a table name"))
        #expect(invalid.stderr.contains("reconcile.tables[0].compare.x.timestamp_precision"))

        let refusing = try RefusingPort()
        let unreachable = try setup.folder.write("down.yaml", """
            store: "sqlite:\(setup.folder.path)/down.db"
            reconcile:
              old: "\(setup.old)"
              new: "postgres://app@127.0.0.1:\(refusing.port)/shop"
              tables: [{ name: orders, old: orders, new: orders, key: [id] }]
            """)
        let down = try await CutoverProcess.run(["reconcile", "--config", unreachable])
        #expect(down.status == 2)
        #expect(down.stderr.contains("the new database: cannot connect to postgres://app@127.0.0.1:\(refusing.port)/shop"))
        withExtendedLifetime(refusing) {}

        let badChunks = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--chunk-time", "soon"])
        #expect(badChunks.status == 2 && badChunks.stderr.contains("--chunk-time 'soon' is not a duration (as 500ms or 2s)"), "\(badChunks.stderr)")

        let noSection = try setup.folder.write("none.yaml", "store: \"sqlite:x.db\"\n")
        let none = try await CutoverProcess.run(["reconcile", "--config", noSection])
        #expect(none.status == 2)
        #expect(none.stderr.contains("no reconcile section"))
    }

    /// `kill -9` of `cutover reconcile` while it compares its second table pair (held there by a lock the test
    /// owns): the first pair's finished result is kept, and `--resume` compares only what was not finished.
    @Test func aRunKilledMidwayResumesWithWhatItFinished() async throws {
        let setup = try await setup(tables: """
            [{ name: orders, old: orders, new: orders, key: [id] },
             { name: later, old: later, new: later, key: [id],
               where: { new: "(SELECT count(*) FROM pg_advisory_lock_shared(4242)) = 1" } }]
            """)
        defer { setup.folder.remove() }
        for url in [setup.old, setup.new] {
            try setup.server.execute("CREATE TABLE later (id int PRIMARY KEY, v text); INSERT INTO later SELECT g, 'v' FROM generate_series(1, 100) g",
                                     database: setup.database(url))
        }
        try setup.server.execute("UPDATE orders SET note = 'changed' WHERE id = 7; UPDATE later SET v = 'w' WHERE id = 9",
                                 database: setup.database(setup.new))
        let lock = try setup.server.holdAdvisoryLock(4242, database: setup.database(setup.new))
        let process = try CutoverProcess(["reconcile", "--config", setup.file])
        // The first pair finishes and is kept; the second waits for the lock.
        try await waitUntil("the first pair's result to be kept") {
            let store = try await setup.openStore()
            let results = try await store.reconcileRuns(id: 1).first?.results.map(\.table) ?? []
            await store.close()
            return results == ["orders"]
        }
        process.signal(SIGKILL)
        _ = try await process.exitStatus()
        try lock.release()
        let store = try await setup.openStore()
        #expect(try await store.reconcileRuns(id: 1).first?.status == .running, "a killed run is left as it was")
        await store.close()

        let resumed = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--resume", "1", "--json"])
        #expect(resumed.status == 1, "\(resumed.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any]
        let tables = try #require(document?["tables"] as? [[String: Any]])
        #expect(tables.compactMap { $0["table"] as? String } == ["orders", "later"])
        #expect(tables.map { $0["changed"] as? Int } == [1, 1], "each pair's one change, the first from the kept result")
        let reopened = try await setup.openStore()
        let run = try #require(try await reopened.reconcileRuns(id: 1).first)
        #expect(run.status == .finished)
        #expect(run.results.map(\.table).sorted() == ["later", "orders"])
        await reopened.close()
    }

    /// A checkpoint inside a pair (written as an interrupted run leaves it): its settled buckets are not compared again.
    @Test func aCheckpointsSettledBucketsAreNotComparedAgain() async throws {
        let setup = try await setup()
        defer { setup.folder.remove() }
        // Differences in both halves of the key range; the first half is already settled in run 1.
        try setup.server.execute("UPDATE orders SET total = 0 WHERE id IN (100, 4900)", database: setup.database(setup.new))
        let store = try await setup.openStore()
        let run = try await store.startReconcileRun(tables: ["orders"], at: 0)
        let settled = RowDifference(key: [KeyValue(column: "id", value: "100")], kind: .changed,
                                    columns: [ColumnDifference(column: "total", newColumn: nil, old: "150.00", new: "0.00")])
        try await store.saveReconcileCheckpoint(run: run, table: "orders",
                                                ReconcileCheckpoint(thresholds: [.integer(2500)], settledThrough: 0, differences: [settled]))
        await store.close()

        let resumed = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--resume", "\(run)", "--json"])
        #expect(resumed.status == 1, "\(resumed.stderr)")
        let document = try JSONSerialization.jsonObject(with: Data(resumed.stdout.utf8)) as? [String: Any]
        let differences = try #require((document?["tables"] as? [[String: Any]])?.first?["differences"] as? [[String: Any]])
        let keys = differences.compactMap { (($0["key"] as? [[String: Any]])?.first?["value"]) as? String }
        #expect(keys == ["100", "4900"], "the settled bucket's difference is kept, the rest compared now")
        #expect(differences.first?["columns"].map { "\($0)" }?.contains("150.00") == true)

        let reopened = try await setup.openStore()
        #expect(try await reopened.reconcileRuns(id: run).first?.status == .finished)
        #expect(try await reopened.reconcileCheckpoints(run: run).isEmpty)
        await reopened.close()

        let again = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--resume", "\(run)"])
        #expect(again.status == 2)
        #expect(again.stderr.contains("run \(run) finished; there is nothing to resume"))
        let unknown = try await CutoverProcess.run(["reconcile", "--config", setup.file, "--resume", "99"])
        #expect(unknown.status == 2)
        #expect(unknown.stderr.contains("there is no run 99 in the store to resume"))
    }

    @Test func servePeriodicallyReconcilesAndExportsTheResults() async throws {
        let setup = try await setup()
        defer { setup.folder.remove() }
        try setup.server.execute("UPDATE orders SET note = 'x' WHERE id IN (7, 8)", database: setup.database(setup.new))
        let file = try setup.folder.write("serve.yaml", """
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            store: "sqlite:\(setup.folder.path)/serve.db"
            backends: { old: { url: "http://127.0.0.1:9" } }
            reconcile:
              old: "\(setup.old)"
              new: "\(setup.new)"
              every: 1h
              tables: [{ name: orders, old: orders, new: orders, key: [id] }]
            """)
        let process = try CutoverProcess(["serve", "--config", file])
        defer { process.terminate() }
        let admin = try #require(CutoverProcess.port(in: try await process.waitFor("admin listening on http://")))
        try await process.waitFor("reconcile run finished")
        let client = try await TestConnection.connect(port: admin)
        try await client.send("GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        let metrics = try await client.response().text
        await client.close()
        #expect(metrics.contains(#"cutover_reconcile_differences{table="orders",kind="changed"} 2"#), "\(metrics.suffix(3000))")
        #expect(metrics.contains(#"cutover_reconcile_differences{table="orders",kind="missing"} 0"#))
        #expect(metrics.contains(#"cutover_reconcile_rows{table="orders",side="old"} 5000"#))
        #expect(metrics.contains(#"cutover_reconcile_runs_total{result="different"} 1"#))
        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0)

        let store = try await Store.open(.sqlite(path: setup.folder.path + "/serve.db"), logger: Logger(label: "test"))
        let run = try #require(try await store.reconcileRuns().first)
        #expect(run.status == .finished)
        #expect(run.results.first?.changed == 2)
        await store.close()
    }
}
