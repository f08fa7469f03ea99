import CutoverAdmin
import CutoverCore
import CutoverStore
import CutoverTestSupport
import Foundation
import Logging
import Testing

/// The diff report endpoints over a real SQLite store, with real bearer tokens.
@Suite("Diffs API", .timeLimit(.minutes(1)))
struct DiffsAPITests {
    static var viewerSecret: String { "viewer-secret-1" }
    static var operatorSecret: String { "operator-secret-1" }

    static var config: CutoverConfig {
        try! ConfigLoader.load(yaml: """
        listen: "127.0.0.1:0"
        admin:
          listen: "127.0.0.1:0"
          tokens:
            - { name: reviewer, role: viewer, sha256: "\(TokenAuthenticator.digest(viewerSecret))" }
            - { name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(operatorSecret))" }
        backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
        routes:
          - { name: orders, match: { prefix: /orders }, phase: shadow }
          - { name: users, match: { prefix: /users }, phase: shadow }
        plan:
          steps:
            - { name: comparator, kind: gate }
            - { name: new-service, kind: manual, owner: service }
        """).get()
    }

    /// A store holding a report for `orders`: 1,000 compared now (and 7 in 1970), `/total` really
    /// differs in 50 requests, `/rand` differs in 40 but also in 38 between two old instances.
    static func filledStore() async throws -> (Store, cleanup: @Sendable () -> Void) {
        let folder = NSTemporaryDirectory() + "cutover-admin-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "admin-store")
        logger.logLevel = .critical
        let store = try await Store.open(.sqlite(path: folder + "/cutover.db"), logger: logger)
        let now = Int64(Date().timeIntervalSince1970 / 60)
        func sample(_ id: String, _ fields: [String]) -> DiffSample {
            DiffSample(route: "orders", time: now * 60_000, requestID: id,
                       request: SampleRequest(method: "GET", target: "/orders/\(id)", headers: []),
                       old: SampleResponse(status: 200, headers: [], body: "{\"total\":10}", base64: false, truncated: false),
                       new: SampleResponse(status: 200, headers: [], body: "{\"total\":11}", base64: false, truncated: false),
                       newError: nil,
                       differences: fields.map { FieldDifference(field: $0, path: $0, kind: .value, old: "10", new: "11") })
        }
        try await store.record(DiffBatch(
            writer: "test", sequence: 1,
            totals: [DiffTotal(route: "orders", minute: now, compared: 1_000, notCompared: 0),
                     DiffTotal(route: "orders", minute: 1, compared: 7, notCompared: 0)],
            fields: [DiffFieldCount(route: "orders", minute: now, field: "/total", raw: 50, noise: 0),
                     DiffFieldCount(route: "orders", minute: now, field: "/rand", raw: 40, noise: 38)],
            fieldSets: [DiffFieldSetCount(route: "orders", minute: now, fields: ["/total"], count: 30),
                        DiffFieldSetCount(route: "orders", minute: now, fields: ["/rand", "/total"], count: 20),
                        DiffFieldSetCount(route: "orders", minute: now, fields: ["/rand"], count: 20)],
            samples: [sample("1", ["/total"]), sample("2", ["/rand"]), sample("3", ["/rand", "/total"])]))
        // A reconciliation run (run 1) that found two differences in orders.
        let run = try await store.startReconcileRun(tables: ["orders"], at: now * 60_000)
        try await store.recordReconcileTable(run: run, TableReport(
            table: "orders", old: "public.orders", new: "public.orders_v2", oldRows: 10, newRows: 9, stoppedEarly: false,
            differences: [RowDifference(key: [KeyValue(column: "id", value: "3")], kind: .missing),
                          RowDifference(key: [KeyValue(column: "id", value: "7")], kind: .changed,
                                        columns: [ColumnDifference(column: "total", newColumn: "amount", old: "10.5", new: nil)])],
            seconds: 0.5))
        try await store.finishReconcileRun(run, status: .finished, error: nil, at: now * 60_000 + 500)
        // A host run (run 1) that is done.
        let hostRun = try await store.startHostRun(task: "shop", hosts: ["shop-old", "shop-new"], at: now * 60_000)
        let step = try await store.beginHostStep(run: hostRun, step: "precheck", pass: 0, at: now * 60_000)
        try await store.finishHostStep(run: hostRun, seq: step, result: .ok, figures: ["passed": 7], commands: [], failure: nil, at: now * 60_000 + 10)
        try await store.finishHostRun(hostRun, status: .done, reason: nil, figures: ["migration_seconds": 3.2], at: now * 60_000 + 3_200)
        return (store, { try? FileManager.default.removeItem(atPath: folder) })
    }

    struct Summary: Decodable {
        var since: String?
        var routes: [RouteSummary]
    }

    struct Samples: Decodable {
        var route: String
        var field: String?
        var samples: [DiffSample]
    }

    /// Runs `body` against an admin listener over the filled store (or none).
    func withDiffs(store: Store?, _ body: (Int) async throws -> Void) async throws {
        let environment = AdminEnvironment(
            config: { Self.config }, store: { store },
            health: { HealthReport(status: "ok", version: CutoverVersion.current, routes: 2, backends: 2, uptimeSeconds: 1) })
        try await withAdmin(environment: environment, body)
    }

    func call(_ port: Int, _ method: String, _ target: String, token: String? = viewerSecret) async throws -> TestResponse {
        let client = try await TestConnection.connect(port: port)
        let authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        try await client.send("\(method) \(target) HTTP/1.1\r\nHost: admin\r\n\(authorization)Content-Length: 0\r\n\r\n")
        let response = try await client.response()
        await client.close()
        return response
    }

    @Test func callsWithoutAValidTokenAre401() async throws {
        let (store, cleanup) = try await Self.filledStore()
        defer { cleanup() }
        try await withDiffs(store: store) { port in
            for token in [nil, "wrong-secret"] {
                let response = try await call(port, "GET", "/api/v1/diffs/summary", token: token)
                #expect(response.status == 401)
                #expect(response.value("www-authenticate") == "Bearer")
                #expect(response.text.contains("\"status\":401"))
            }
            let client = try await TestConnection.connect(port: port)
            try await client.send("GET /api/v1/diffs/summary HTTP/1.1\r\nHost: admin\r\nAuthorization: Basic dXNlcjpwYXNz\r\n\r\n")
            let basic = try await client.response()
            #expect(basic.status == 401)
            #expect(basic.text.contains("Bearer TOKEN"))
            await client.close()
        }
        await store.close()
    }

    @Test func theSummarySeparatesRealDifferencesFromNoise() async throws {
        let (store, cleanup) = try await Self.filledStore()
        defer { cleanup() }
        try await withDiffs(store: store) { port in
            let response = try await call(port, "GET", "/api/v1/diffs/summary?route=orders&since=1h")
            #expect(response.status == 200)
            #expect(response.value("content-type") == "application/json")
            let summary = try JSONDecoder().decode(Summary.self, from: Data(response.body))
            let orders = try #require(summary.routes.first)
            #expect(summary.routes.count == 1)
            #expect(orders.route == "orders")
            #expect(orders.compared == 1_000)
            #expect(orders.differing == 50, "requests with /total, alone or with /rand")
            #expect(orders.noise == 20, "requests that differ only in /rand")
            #expect(orders.diffRate == 0.05)
            #expect(orders.fields.map(\.path) == ["/total", "/rand"])
            #expect(orders.fields.map(\.verdict) == [.difference, .noise])
            #expect(orders.fields[0].differing == 50 && orders.fields[0].noise == 0)
            #expect(orders.fields[1].differing == 40 && orders.fields[1].noise == 38)
            #expect(orders.fields[0].example?.old == "10")
            #expect(orders.fields[0].example?.new == "11")
            for key in ["\"compared\":1000", "\"differing\":50", "\"noise\":20", "\"diff_rate\":0.05", "\"path\":\"\\/total\"", "\"example\":"] {
                #expect(response.text.contains(key), "summary JSON has \(key)")
            }

            let everything = try JSONDecoder().decode(Summary.self, from: Data(try await call(port, "GET", "/api/v1/diffs/summary").body))
            #expect(everything.since == nil)
            #expect(everything.routes.map(\.compared) == [1_007], "without since, 1970's minute counts too")
        }
        await store.close()
    }

    @Test func samplesCarryBothSidesNewestFirstAndFilterByField() async throws {
        let (store, cleanup) = try await Self.filledStore()
        defer { cleanup() }
        try await withDiffs(store: store) { port in
            let response = try await call(port, "GET", "/api/v1/diffs/samples?route=orders&field=/rand&limit=1")
            #expect(response.status == 200)
            let samples = try JSONDecoder().decode(Samples.self, from: Data(response.body))
            #expect(samples.field == "/rand")
            #expect(samples.samples.map(\.requestID) == ["3"])
            #expect(samples.samples.first?.old.body == "{\"total\":10}")
            #expect(samples.samples.first?.new?.body == "{\"total\":11}")
            let all = try JSONDecoder().decode(Samples.self, from: Data(try await call(port, "GET", "/api/v1/diffs/samples?route=orders").body))
            #expect(all.samples.map(\.requestID) == ["3", "2", "1"])
        }
        await store.close()
    }

    @Test(arguments: [
        ("/api/v1/diffs/samples", 400, "'route' is required"),
        ("/api/v1/diffs/samples?route=orders&limit=0", 400, "limit must be a whole number from 1 to 200, not '0'"),
        ("/api/v1/diffs/samples?route=orders&limit=many", 400, "not 'many'"),
        ("/api/v1/diffs/summary?since=yesterday", 400, "since 'yesterday' is not a duration"),
        // Numbers that are not finite or are out of range once trapped in the minute arithmetic and stopped the process.
        ("/api/v1/diffs/summary?since=nan", 400, "since 'nan' is out of range"),
        ("/api/v1/diffs/summary?since=inf", 400, "since 'inf' is out of range"),
        ("/api/v1/diffs/summary?since=-inf", 400, "since '-inf' is out of range"),
        ("/api/v1/diffs/summary?since=1e300", 400, "since '1e300' is out of range"),
        ("/api/v1/diffs/summary?since=-1e300", 400, "since '-1e300' is out of range"),
        ("/api/v1/diffs/summary?since=253402300800", 400, "from 0 to 253402300799"),
        ("/api/v1/diffs/summary?route=nope", 404, "no route named 'nope'"),
        ("/api/v1/diffs/samples?route=nope", 404, "no route named 'nope'; configured: orders, users"),
    ])
    func badQueriesSayWhatIsWrong(target: String, status: Int, reason: String) async throws {
        let (store, cleanup) = try await Self.filledStore()
        defer { cleanup() }
        try await withDiffs(store: store) { port in
            let response = try await call(port, "GET", target)
            #expect(response.status == status)
            #expect(response.text.contains(reason), "\(response.text)")
        }
        await store.close()
    }

    @Test func clearingNeedsAnOperatorAndForgetsTheRoute() async throws {
        let (store, cleanup) = try await Self.filledStore()
        defer { cleanup() }
        try await withDiffs(store: store) { port in
            let refused = try await call(port, "DELETE", "/api/v1/diffs?route=orders")
            #expect(refused.status == 403)
            #expect(refused.text.contains("token 'reviewer' has role viewer; this call needs role operator"))
            #expect(try await store.diffCounts(route: "orders", sinceMinute: 0).count == 1, "a refused call changes nothing")

            let unknown = try await call(port, "DELETE", "/api/v1/diffs?route=nope", token: Self.operatorSecret)
            #expect(unknown.status == 404)

            let cleared = try await call(port, "DELETE", "/api/v1/diffs?route=orders", token: Self.operatorSecret)
            #expect(cleared.status == 200)
            #expect(cleared.text == "{\"cleared\":true,\"route\":\"orders\"}")
            let summary = try JSONDecoder().decode(Summary.self, from: Data(try await call(port, "GET", "/api/v1/diffs/summary").body))
            #expect(summary.routes.isEmpty)
        }
        await store.close()
    }

    @Test func aStoreNotYetOpenIs503() async throws {
        try await withDiffs(store: nil) { port in
            let response = try await call(port, "GET", "/api/v1/diffs/summary")
            #expect(response.status == 503)
            #expect(response.text.contains("the store cannot be reached yet"))
        }
    }
}
