import CutoverAdmin
import CutoverCore
import CutoverStore
import CutoverTestSupport
import Foundation
import Logging
import Testing

/// Phases and flags through the admin API over a real SQLite store: every gate refusing and
/// being forced, data-aware rollback, flag patches, the audit log and its chain, 401/403.
@Suite("Routes API", .timeLimit(.minutes(1)))
struct RoutesAPITests {
    static var config: CutoverConfig {
        try! ConfigLoader.load(yaml: """
        listen: "127.0.0.1:0"
        admin:
          listen: "127.0.0.1:0"
          tokens:
            - { name: reviewer, role: viewer, sha256: "\(TokenAuthenticator.digest(DiffsAPITests.viewerSecret))" }
            - { name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(DiffsAPITests.operatorSecret))" }
        backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
        routes:
          - name: orders
            match: { path: "/orders/{id}" }
            phase: shadow
            id: { from: path, name: id }
            max_id_seen: /id
            gray: { threshold: 1000 }
            gates: { min_compared: 100, max_diff_rate: 0.01, max_error_rate: 0.05, window: 10m }
          - name: order-list
            match: { path: "/orders" }
            phase: old
            aggregate: { array: /items, key: /id }
          - name: plain
            match: { prefix: "/static" }
            phase: old
        """).get()
    }

    static func emptyStore() async throws -> (Store, cleanup: @Sendable () -> Void) {
        let folder = NSTemporaryDirectory() + "cutover-routes-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "routes-store")
        logger.logLevel = .critical
        let store = try await Store.open(.sqlite(path: folder + "/cutover.db"), logger: logger)
        return (store, { try? FileManager.default.removeItem(atPath: folder) })
    }

    /// Records `compared` comparisons of `orders` this minute, `differing` of them really different.
    static func compare(_ store: Store, compared: Int64, differing: Int64, sequence: Int64) async throws {
        let minute = Int64(Date().timeIntervalSince1970 / 60)
        try await store.record(DiffBatch(
            writer: "test", sequence: sequence,
            totals: [DiffTotal(route: "orders", minute: minute, compared: compared, notCompared: 0)],
            fields: differing > 0 ? [DiffFieldCount(route: "orders", minute: minute, field: "/total", raw: differing, noise: 0)] : [],
            fieldSets: differing > 0 ? [DiffFieldSetCount(route: "orders", minute: minute, fields: ["/total"], count: differing)] : [],
            samples: []))
    }

    func withRoutes(_ store: Store, _ body: (Int) async throws -> Void) async throws {
        let environment = AdminEnvironment(
            config: { Self.config }, store: { store },
            health: { HealthReport(status: "ok", version: CutoverVersion.current, routes: 3, backends: 2, uptimeSeconds: 1) })
        try await withAdmin(environment: environment, body)
    }

    func call(_ port: Int, _ method: String, _ target: String, body: String = "", token: String? = DiffsAPITests.operatorSecret) async throws -> TestResponse {
        let client = try await TestConnection.connect(port: port)
        let authorization = token.map { "Authorization: Bearer \($0)\r\n" } ?? ""
        try await client.send("\(method) \(target) HTTP/1.1\r\nHost: admin\r\n\(authorization)Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let response = try await client.response()
        await client.close()
        return response
    }

    struct Change: Decodable {
        var changed: Bool
        var before: RouteFlags
        var after: RouteFlags
        var version: Int64
        var forced: Bool
        var gates: [GateResult]
    }

    struct Refusal: Decodable {
        var error: String
        var status: Int
        var gates: [GateResult]?
    }

    @Test func viewersReadButOnlyOperatorsChange() async throws {
        let (store, cleanup) = try await Self.emptyStore()
        defer { cleanup() }
        try await withRoutes(store) { port in
            #expect(try await call(port, "GET", "/api/v1/routes", token: nil).status == 401)
            let listed = try await call(port, "GET", "/api/v1/routes", token: DiffsAPITests.viewerSecret)
            #expect(listed.status == 200)
            let routes = try JSONDecoder().decode(RoutesResponse.self, from: Data(listed.body))
            #expect(routes.version == 0)
            #expect(routes.routes.map(\.name) == ["orders", "order-list", "plain"])
            #expect(routes.routes.map(\.routedBy) == ["id", "aggregate", "route"])
            #expect(routes.routes[0].flags.phase == .shadow && routes.routes[0].idSource == "path:id")
            let forbidden = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"old"}"#, token: DiffsAPITests.viewerSecret)
            #expect(forbidden.status == 403)
            #expect(try await call(port, "PATCH", "/api/v1/routes/orders", body: #"{"threshold":5}"#, token: DiffsAPITests.viewerSecret).status == 403)
            #expect(try await store.flagSet().version == 0, "nothing was written")
        }
        await store.close()
    }

    @Test func badCallsAreExplained() async throws {
        let (store, cleanup) = try await Self.emptyStore()
        defer { cleanup() }
        try await withRoutes(store) { port in
            let cases: [(String, String, String, Int, String)] = [
                ("PUT", "/api/v1/routes/nope/phase", #"{"phase":"old"}"#, 404, "no route named 'nope'"),
                ("PUT", "/api/v1/routes/orders/phase", #"{"phase":"grey"}"#, 400, "phase 'grey' is not one of old | shadow | gray | drain | new"),
                ("PUT", "/api/v1/routes/orders/phase", #"{"reason":"x"}"#, 400, "the body has no 'phase'"),
                ("PUT", "/api/v1/routes/orders/phase", "not json", 400, "the body is not JSON"),
                ("PUT", "/api/v1/routes/orders/phase", #"{"phase":"gray","force":true}"#, 400, "force needs a reason"),
                ("PUT", "/api/v1/routes/plain/phase", #"{"phase":"gray","force":true,"reason":"x"}"#, 409, "route 'plain' has neither 'id' nor 'aggregate'"),
                ("PUT", "/api/v1/routes/orders/phase", #"{"phase":"old","wait":true,"wait_timeout":"forever"}"#, 400, "wait_timeout 'forever'"),
                ("PATCH", "/api/v1/routes/orders", #"{"compare_sample":2}"#, 400, "compare_sample must be from 0 to 1"),
                ("PATCH", "/api/v1/routes/plain", #"{"threshold":10}"#, 409, "route 'plain' has no id"),
                ("PATCH", "/api/v1/routes/orders", #"{"threshold":"ten"}"#, 400, "'threshold' has the wrong type"),
                ("GET", "/api/v1/audit?limit=0", "", 400, "limit must be a whole number from 1 to 1000"),
            ]
            for (method, target, body, status, message) in cases {
                let response = try await call(port, method, target, body: body)
                #expect(response.status == status, "\(method) \(target) \(body)")
                #expect(response.text.contains(message), "\(response.text) names '\(message)'")
            }
            #expect(try await store.flagSet().version == 0, "nothing was written")
        }
        await store.close()
    }

    @Test func shadowToGrayPassesItsGatesOrIsRefusedWithTheNumbers() async throws {
        let (store, cleanup) = try await Self.emptyStore()
        defer { cleanup() }
        try await withRoutes(store) { port in
            // Too few compared, and no ID seen from old yet.
            try await Self.compare(store, compared: 50, differing: 0, sequence: 1)
            let tooFew = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray","reason":"try"}"#)
            #expect(tooFew.status == 409)
            let refusal = try JSONDecoder().decode(Refusal.self, from: Data(tooFew.body))
            #expect(refusal.error.contains("50 requests compared in the last 10m; at least 100 needed"))
            #expect(refusal.gates?.filter { !$0.passed }.map(\.gate) == ["min_compared", "threshold"])
            // Enough compared but too many differ; old's IDs below the threshold.
            try await Self.compare(store, compared: 100, differing: 5, sequence: 2)
            try await store.recordMaxIDs(["orders": [.old: 999]])
            let differing = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray"}"#)
            #expect(differing.status == 409)
            #expect(differing.text.contains("diff rate 3.333% in the last 10m; at most 1.0% allowed"))
            // Old has answered an ID at the threshold: the split would send its entities to new.
            try await Self.compare(store, compared: 1000, differing: 0, sequence: 3)
            try await store.recordMaxIDs(["orders": [.old: 1000]])
            let overlap = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray"}"#)
            #expect(overlap.status == 409)
            #expect(overlap.text.contains("old already answered ID 1000, at or above the threshold 1000"))
            // Raising the threshold past it (a flag change, audited) opens the gate.
            let raised = try await call(port, "PATCH", "/api/v1/routes/orders", body: #"{"threshold":2000,"reason":"old grew"}"#)
            #expect(raised.status == 200)
            let moved = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray","reason":"diffs clean"}"#)
            #expect(moved.status == 200)
            let change = try JSONDecoder().decode(Change.self, from: Data(moved.body))
            #expect(change.changed && !change.forced && change.after.phase == .gray && change.after.threshold == 2000)
            #expect(change.version == 2)
            #expect(change.gates.allSatisfy { $0.passed })
            // Asking again changes nothing and writes nothing.
            let repeated = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray"}"#)
            let again = try JSONDecoder().decode(Change.self, from: Data(repeated.body))
            #expect(!again.changed && again.version == 2)
        }
        await store.close()
    }

    @Test func forcingNeedsAReasonAndTheAuditLogKeepsIt() async throws {
        let (store, cleanup) = try await Self.emptyStore()
        defer { cleanup() }
        try await withRoutes(store) { port in
            let forced = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray","force":true,"reason":"incident 42"}"#)
            #expect(forced.status == 200)
            let change = try JSONDecoder().decode(Change.self, from: Data(forced.body))
            #expect(change.forced)
            // gray → drain needs new's error rate under the bound.
            try await store.recordNewAnswers(["orders": [Int64(Date().timeIntervalSince1970 / 60): (100, 10)]])
            let drain = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"drain"}"#)
            #expect(drain.status == 409)
            #expect(drain.text.contains("new's error rate 10.0% over 100 answers in the last 10m; at most 5.0% allowed"))
            let audit = try await call(port, "GET", "/api/v1/audit?route=orders", token: DiffsAPITests.viewerSecret)
            #expect(audit.status == 200)
            let log = try JSONDecoder().decode(AuditResponse.self, from: Data(audit.body))
            #expect(log.entries.count == 1)
            #expect(log.entries[0].actor == "ops")
            #expect(log.entries[0].reason == "forced past min_compared, threshold: incident 42")
            #expect(log.entries[0].before?.phase == .shadow && log.entries[0].after?.phase == .gray)
            #expect(log.chain.verified && log.chain.entries == 1)
        }
        await store.close()
    }

    @Test func rollingBackKeepsNewIDsWithNewUnlessAbandoned() async throws {
        let (store, cleanup) = try await Self.emptyStore()
        defer { cleanup() }
        try await withRoutes(store) { port in
            _ = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray","force":true,"reason":"test"}"#)
            // New answered no ID of its own yet: a rollback has nothing to keep.
            let clean = try JSONDecoder().decode(Change.self, from: Data(try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"shadow"}"#).body))
            #expect(clean.after.phase == .shadow && clean.after.newIDsFrom == nil)
            _ = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray","force":true,"reason":"again"}"#)
            // New created order 1005 through another route (the create route): it counts.
            try await store.recordMaxIDs(["order-list": [.new: 1005]])
            // Backward moves pass no gate, even with bad evidence, and keep new's IDs with new.
            try await store.recordNewAnswers(["orders": [Int64(Date().timeIntervalSince1970 / 60): (10, 10)]])
            let kept = try JSONDecoder().decode(Change.self, from: Data(try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"old","reason":"errors"}"#).body))
            #expect(kept.after.phase == .old && kept.after.newIDsFrom == 1000)
            // The pin can be lifted later without moving the route.
            let lifted = try JSONDecoder().decode(Change.self, from: Data(try await call(
                port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"old","abandon_new_ids":true,"reason":"new's orders re-imported into old"}"#).body))
            #expect(lifted.changed && lifted.after.phase == .old && lifted.after.newIDsFrom == nil)
            // Moving forward again clears the pin; abandoning drops new's IDs explicitly.
            _ = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray","force":true,"reason":"fixed"}"#)
            let gray = try await store.flagSet().routes["orders"]
            #expect(gray?.phase == .gray && gray?.newIDsFrom == nil)
            let abandoned = try JSONDecoder().decode(Change.self, from: Data(try await call(
                port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"shadow","abandon_new_ids":true,"reason":"data discarded"}"#).body))
            #expect(abandoned.after.phase == .shadow && abandoned.after.newIDsFrom == nil)
            // Lowering the threshold below an ID new created is refused while gray; so is raising it past new's IDs.
            _ = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray","force":true,"reason":"fixed"}"#)
            let stranding = try await call(port, "PATCH", "/api/v1/routes/orders", body: #"{"threshold":5000}"#)
            #expect(stranding.status == 409)
            #expect(stranding.text.contains("new created IDs up to 1005, which the threshold 5000 would send back to old"))
            let log = try JSONDecoder().decode(AuditResponse.self, from: Data(try await call(port, "GET", "/api/v1/audit?limit=3").body))
            #expect(log.entries.map(\.seq) == [8, 7, 6])
            #expect(log.chain.verified && log.chain.entries == 8)
        }
        await store.close()
    }

    @Test func leavingShadowNeedsACleanReconciliationWhenTheDatabasesAreReconciled() async throws {
        let (store, cleanup) = try await Self.emptyStore()
        defer { cleanup() }
        var config = Self.config
        config.reconcile = try ConfigLoader.loadReconcile(yaml: """
            store: "sqlite:unused.db"
            reconcile:
              old: "postgres://app@127.0.0.1:5432/old"
              new: "postgres://app@127.0.0.1:5432/new"
              tables: [{ name: orders, old: public.orders, new: public.orders, key: [id] }]
            """).get().reconcile
        let configured = config
        try await Self.compare(store, compared: 1000, differing: 0, sequence: 1)
        try await store.recordMaxIDs(["orders": [.old: 10]])
        let environment = AdminEnvironment(
            config: { configured }, store: { store },
            health: { HealthReport(status: "ok", version: CutoverVersion.current, routes: 3, backends: 2, uptimeSeconds: 1) })
        func run(equal: Bool) async throws {
            let run = try await store.startReconcileRun(tables: ["orders"], at: 1)
            try await store.recordReconcileTable(run: run, TableReport(
                table: "orders", old: "public.orders", new: "public.orders", oldRows: 3, newRows: 3, stoppedEarly: false,
                differences: equal ? [] : [RowDifference(key: [KeyValue(column: "id", value: "2")], kind: .missing)], seconds: 0.1))
            try await store.finishReconcileRun(run, status: .finished, error: nil, at: 2)
        }
        try await withAdmin(environment: environment) { port in
            let never = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray"}"#)
            #expect(never.status == 409)
            #expect(never.text.contains("no clean latest reconciliation of orders"))
            try await run(equal: false)
            #expect(try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray"}"#).status == 409)
            try await run(equal: true)
            let moved = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"gray"}"#)
            #expect(moved.status == 200, "\(moved.text)")
            #expect(moved.text.contains("the latest reconciliation of every table pair is clean"))
        }
        await store.close()
    }

    @Test func waitingNamesTheInstancesThatHaveNotApplied() async throws {
        let (store, cleanup) = try await Self.emptyStore()
        defer { cleanup() }
        // One instance keeps up, one is stuck at version 0 (alive, never applying), one is long gone.
        // Its heartbeat is dated a minute ahead, so that it stays live however slowly the test runs.
        try await store.heartbeat(instance: "stuck", address: "proxy 2", appliedVersion: 0, startedMs: 1, now: Date().addingTimeInterval(60))
        try await store.heartbeat(instance: "gone", address: "proxy 3", appliedVersion: 0, startedMs: 1, now: Date().addingTimeInterval(-60))
        let environment = AdminEnvironment(
            config: { Self.config }, store: { store },
            health: { HealthReport(status: "ok", version: CutoverVersion.current, routes: 3, backends: 2, uptimeSeconds: 1) },
            refreshFlags: {
                let version = try? await store.flagSet().version
                try? await store.heartbeat(instance: "this", address: "proxy 1", appliedVersion: version ?? 0, startedMs: 1)
                return version
            })
        try await withAdmin(environment: environment) { port in
            let response = try await call(port, "PUT", "/api/v1/routes/orders/phase", body: #"{"phase":"old","wait":true,"wait_timeout":"200ms"}"#)
            #expect(response.status == 200)
            let change = try JSONDecoder().decode(PhaseChange.self, from: Data(response.body))
            #expect(change.wait == WaitOutcome(complete: false, pending: ["stuck"]))
            let listed = try JSONDecoder().decode(InstancesResponse.self, from: Data(try await call(port, "GET", "/api/v1/instances").body))
            #expect(listed.version == 1)
            #expect(listed.instances.map(\.id) == ["gone", "stuck", "this"])
            #expect(listed.instances.map(\.live) == [false, true, true])
            #expect(listed.instances.map(\.appliedVersion) == [0, 0, 1])
        }
        await store.close()
    }
}
