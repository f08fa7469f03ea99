import CutoverCore
import CutoverStore
import CutoverTestSupport
import Foundation
import Logging
import Testing

/// The store kinds every store test runs against.
enum StoreKind: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case sqlite, postgres
    var testDescription: String { rawValue }

    /// Runs `body` with a new, empty store of this kind (a PostgreSQL store's pool served beside it), then closes it.
    func withStore<T: Sendable>(samplesPerField: Int = 20, _ body: @Sendable (Store) async throws -> T) async throws -> T {
        var logger = Logger(label: "store-test")
        logger.logLevel = .critical
        switch self {
        case .sqlite:
            let folder = NSTemporaryDirectory() + "cutover-store-" + UUID().uuidString
            try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(atPath: folder) }
            let store = try await Store.open(.sqlite(path: folder + "/cutover.db"), logger: logger, samplesPerField: samplesPerField)
            do {
                let result = try await body(store)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        case .postgres:
            let url = try await TestPostgres.shared().createDatabase()
            return try await Store.withStore(.postgres(url: url), logger: logger, samplesPerField: samplesPerField, body)
        }
    }
}

func sample(route: String, id: String, fields: [String], time: Int64 = 1_000) -> DiffSample {
    DiffSample(route: route, time: time, requestID: id,
               request: SampleRequest(method: "GET", target: "/orders/1", headers: [.init(name: "accept", value: "*/*")]),
               old: SampleResponse(status: 200, headers: [.init(name: "content-type", value: "application/json")], body: "{\"a\":1}", base64: false, truncated: false),
               new: SampleResponse(status: 200, headers: [], body: "{\"a\":2}", base64: false, truncated: false),
               newError: nil,
               differences: fields.map { FieldDifference(field: $0, path: $0, kind: .value, old: "1", new: "2") })
}

@Suite("Store", .timeLimit(.minutes(1)))
struct StoreTests {
    @Test(arguments: StoreKind.allCases)
    func schemaIsMigratedAtOpenAndAgainIsHarmless(kind: StoreKind) async throws {
        try await kind.withStore { store in
            #expect(try await store.schemaVersion() == 6)
            // Preparing a store already at the newest version changes nothing (every gateway prepares at start).
            let entry = try await store.changeRoute("orders", expected: RouteFlags(phase: .old, threshold: nil, creates: .new, compareSample: 0),
                                                   after: RouteFlags(phase: .shadow, threshold: nil, creates: .new, compareSample: 0),
                                                   actor: "ops", action: "phase", reason: "before preparing again")
            try await store.prepare()
            try await store.prepare()
            #expect(try await store.schemaVersion() == 6)
            #expect(try await store.flagSet().version == entry.seq, "what was stored survives")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func reconcileRunsKeepCheckpointsResultsAndDifferences(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let first = try await store.startReconcileRun(tables: ["orders", "users"], at: 1_000)
            let missing = RowDifference(key: [KeyValue(column: "id", value: "1")], kind: .missing)
            let changed = RowDifference(key: [KeyValue(column: "id", value: "2")], kind: .changed,
                                        columns: [ColumnDifference(column: "total", newColumn: "amount", old: "1.5", new: nil)])
            let checkpoint = ReconcileCheckpoint(thresholds: [.integer(10), .integer(20)], settledThrough: 1, differences: [missing])
            try await store.saveReconcileCheckpoint(run: first, table: "orders", checkpoint)
            try await store.saveReconcileCheckpoint(run: first, table: "orders", checkpoint)
            #expect(try await store.reconcileCheckpoints(run: first) == ["orders": checkpoint])
            let report = TableReport(table: "orders", old: "o", new: "n", oldRows: 3, newRows: 2,
                                     stoppedEarly: false, differences: [missing, changed], seconds: 0.25)
            try await store.recordReconcileTable(run: first, report)
            #expect(try await store.reconcileCheckpoints(run: first).isEmpty, "a finished pair needs no checkpoint")
            var run = try #require(try await store.reconcileRuns(id: first).first)
            #expect(run.status == .running)
            #expect(run.results == [TableSummary(report)])
            try await store.recordReconcileTable(run: first, TableReport(table: "users", old: "u", new: "u", oldRows: 5, newRows: 5, stoppedEarly: false, differences: [], seconds: 0.1))
            try await store.finishReconcileRun(first, status: .finished, error: nil, at: 2_000)
            run = try #require(try await store.reconcileRuns(id: first).first)
            #expect(run.status == .finished && run.finishedAt == 2_000)
            #expect(run.tables == ["orders", "users"])
            #expect(try await store.reconcileDifferences(run: first, table: "orders", limit: 10, offset: 0).map(\.difference) == [missing, changed])
            #expect(try await store.reconcileDifferences(run: first, table: nil, limit: 1, offset: 1).map(\.difference) == [changed])
            #expect(try await store.latestCleanReconcile(table: "users")?.id == first)
            #expect(try await store.latestCleanReconcile(table: "orders") == nil, "the latest run found orders different")

            let second = try await store.startReconcileRun(tables: ["orders"], at: 3_000)
            try await store.finishReconcileRun(second, status: .failed, error: "the old database: gone", at: 3_500)
            #expect(try await store.reconcileRuns().map(\.id) == [second, first])
            #expect(try await store.reconcileRuns(id: second).first?.error == "the old database: gone")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func countsAddUpPerRouteFieldAndFieldSetFromAMinuteOn(kind: StoreKind) async throws {
        try await kind.withStore { store in
            try await store.record(DiffBatch(
                writer: "gw-1", sequence: 1,
                totals: [DiffTotal(route: "orders", minute: 100, compared: 10, notCompared: 1), DiffTotal(route: "users", minute: 100, compared: 4, notCompared: 0)],
                fields: [DiffFieldCount(route: "orders", minute: 100, field: "/total", raw: 3, noise: 0),
                         DiffFieldCount(route: "orders", minute: 100, field: "/nonce", raw: 9, noise: 8)],
                fieldSets: [DiffFieldSetCount(route: "orders", minute: 100, fields: ["/nonce", "/total"], count: 3),
                            DiffFieldSetCount(route: "orders", minute: 100, fields: ["/nonce"], count: 6)]))
            try await store.record(DiffBatch(
                writer: "gw-1", sequence: 2,
                totals: [DiffTotal(route: "orders", minute: 101, compared: 5, notCompared: 0)],
                fields: [DiffFieldCount(route: "orders", minute: 101, field: "/total", raw: 1, noise: 0)],
                fieldSets: [DiffFieldSetCount(route: "orders", minute: 101, fields: ["/total"], count: 1)]))

            let all = try await store.diffCounts(route: nil, sinceMinute: 0)
            #expect(all.map(\.route) == ["orders", "users"])
            let orders = all[0]
            #expect(orders.compared == 15)
            #expect(orders.notCompared == 1)
            #expect(orders.fields["/total"] == .init(raw: 4, noise: 0))
            #expect(orders.fields["/nonce"] == .init(raw: 9, noise: 8))
            #expect(orders.fieldSets == [["/nonce", "/total"]: 3, ["/nonce"]: 6, ["/total"]: 1])

            let recent = try await store.diffCounts(route: "orders", sinceMinute: 101)
            #expect(recent.count == 1)
            #expect(recent[0].compared == 5)
            #expect(recent[0].fields == ["/total": .init(raw: 1, noise: 0)])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRetriedBatchCountsOnce(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let batch = DiffBatch(writer: "gw-1", sequence: 7, totals: [DiffTotal(route: "r", minute: 1, compared: 2, notCompared: 0)],
                                  samples: [sample(route: "r", id: "a", fields: ["/x"])])
            try await store.record(batch)
            try await store.record(batch)
            #expect(try await store.diffCounts(route: "r", sinceMinute: 0).first?.compared == 2)
            #expect(try await store.diffSamples(route: "r", field: nil, limit: 10).count == 1)
            try await store.record(DiffBatch(writer: "gw-2", sequence: 7, totals: [DiffTotal(route: "r", minute: 1, compared: 1, notCompared: 0)]))
            #expect(try await store.diffCounts(route: "r", sinceMinute: 0).first?.compared == 3, "another writer's batch 7 is its own")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func samplesReadBackWholeNewestFirstAndByField(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let first = sample(route: "orders", id: "req-1", fields: ["/total"])
            var second = sample(route: "orders", id: "req-2", fields: ["/status", "/total"])
            second.new = nil
            second.newError = "upstream connect timeout"
            try await store.record(DiffBatch(writer: "w", sequence: 1, samples: [first, second]))
            let all = try await store.diffSamples(route: "orders", field: nil, limit: 10)
            #expect(all.map(\.requestID) == ["req-2", "req-1"])
            #expect(all[1].request == first.request)
            #expect(all[1].old == first.old)
            #expect(all[1].new == first.new)
            #expect(all[1].differences == first.differences)
            #expect(all[0].newError == "upstream connect timeout")
            #expect(all[0].new == nil)
            #expect(try await store.diffSamples(route: "orders", field: "/status", limit: 10).map(\.requestID) == ["req-2"])
            #expect(try await store.diffSamples(route: "orders", field: "/total", limit: 1).map(\.requestID) == ["req-2"])
            #expect(try await store.diffSamples(route: "other", field: nil, limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func clearingARouteForgetsItsCountsAndSamplesOnly(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let batch = DiffBatch(writer: "w", sequence: 1,
                                  totals: [DiffTotal(route: "a", minute: 1, compared: 2, notCompared: 0),
                                           DiffTotal(route: "b", minute: 1, compared: 5, notCompared: 0)],
                                  samples: [sample(route: "a", id: "a1", fields: ["/x"]), sample(route: "b", id: "b1", fields: ["/y"])])
            try await store.record(batch)
            try await store.clearDiffs(route: "a")
            #expect(try await store.diffCounts(route: nil, sinceMinute: 0).map(\.route) == ["b"])
            #expect(try await store.diffSamples(route: "a", field: nil, limit: 10).isEmpty)
            #expect(try await store.diffSamples(route: "b", field: nil, limit: 10).map(\.requestID) == ["b1"])
            try await store.record(batch)
            #expect(try await store.diffCounts(route: nil, sinceMinute: 0).map(\.route) == ["b"], "a batch recorded before stays counted once")
            try await store.clearDiffs(route: nil)
            #expect(try await store.diffCounts(route: nil, sinceMinute: 0).isEmpty)
            #expect(try await store.diffSamples(route: "b", field: nil, limit: 10).isEmpty)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func onlyTheMostRecentSamplesPerFieldAreKept(kind: StoreKind) async throws {
        try await kind.withStore(samplesPerField: 3) { store in
            for index in 0..<5 {
                try await store.record(DiffBatch(writer: "w", sequence: Int64(index),
                                                 samples: [sample(route: "r", id: "a\(index)", fields: ["/a"])]))
            }
            try await store.record(DiffBatch(writer: "w", sequence: 9, samples: [sample(route: "r", id: "b", fields: ["/b"])]))
            #expect(try await store.diffSamples(route: "r", field: "/a", limit: 10).map(\.requestID) == ["a4", "a3", "a2"])
            #expect(try await store.diffSamples(route: "r", field: nil, limit: 10).map(\.requestID) == ["b", "a4", "a3", "a2"],
                    "pairs no field keeps are gone")
        }
    }

    /// A server that accepts connections and never answers (a PostgreSQL that hangs): an operation gives up
    /// with ``StoreError/timeout`` at its bound instead of waiting for ever.
    @Test func aPostgresThatNeverAnswersFailsAtTheOperationTimeout() async throws {
        var logger = Logger(label: "store-test")
        logger.logLevel = .critical
        let silent = try await SilentServer.start()
        let store = try await Store.make(.postgres(url: "postgres://postgres@127.0.0.1:\(silent.port)/nowhere"), logger: logger,
                                         operationTimeout: .milliseconds(300))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            do {
                try await store.prepare()
                Issue.record("preparing against a server that never answers must fail")
            } catch let error as StoreError {
                guard case .timeout(let bound) = error else {
                    Issue.record("expected the operation timeout, got \(error)")
                    return
                }
                #expect(bound == .milliseconds(300))
            }
            // The connection attempt runs beside the operation and may reach the server after the bound passed.
            try await waitUntil("the store to reach the server") { silent.connections >= 1 }
            group.cancelAll()
        }
        await silent.stop()
    }

    /// `Store.open` is for SQLite; a PostgreSQL store needs its pool served (`withStore`, a service group).
    @Test func openRefusesAPostgresStoreWithAReason() async throws {
        var logger = Logger(label: "store-test")
        logger.logLevel = .critical
        await #expect(throws: StoreError.self) {
            _ = try await Store.open(.postgres(url: "postgres://postgres@127.0.0.1:5432/db"), logger: logger)
        }
    }

    @Test func invalidPostgresURLIsRefused() async throws {
        var logger = Logger(label: "store-test")
        logger.logLevel = .critical
        await #expect(throws: StoreError.self) {
            _ = try await Store.make(.postgres(url: "postgres://u@h:5432/db?sslmode=sometimes"), logger: logger)
        }
    }
}
