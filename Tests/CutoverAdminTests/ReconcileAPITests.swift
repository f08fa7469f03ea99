import CutoverAdmin
import CutoverCore
import CutoverTestSupport
import Foundation
import Testing

/// The reconciliation endpoints over a real SQLite store holding run 1 (orders: one row missing on new, one changed).
@Suite("Reconcile API", .timeLimit(.minutes(1)))
struct ReconcileAPITests {
    func withRun(_ body: (Int) async throws -> Void) async throws {
        let (store, cleanup) = try await DiffsAPITests.filledStore()
        defer { cleanup() }
        let environment = AdminEnvironment(config: { DiffsAPITests.config }, store: { store },
                                           health: { HealthReport(status: "ok", version: "0", routes: 2, backends: 2, uptimeSeconds: 1) })
        try await withAdmin(environment: environment, body)
        await store.close()
    }

    @Test func runsAndTheirDifferencesReadBack() async throws {
        try await withRun { port in
            let runs = try JSONDecoder().decode(ReconcileRunsResponse.self,
                                                from: Data(try await OpenAPITests.call(port, "get", "/api/v1/reconcile/runs", token: DiffsAPITests.viewerSecret).body))
            let run = try #require(runs.runs.first)
            #expect(run.id == 1)
            #expect(run.status == .finished)
            #expect(run.results.map(\.table) == ["orders"])
            #expect(run.results.first?.missingOnNew == 1 && run.results.first?.changed == 1)
            #expect(!run.isClean)

            let page = try await OpenAPITests.call(port, "get", "/api/v1/reconcile/runs/1/differences?table=orders&limit=1&offset=1",
                                                   token: DiffsAPITests.viewerSecret)
            #expect(page.status == 200)
            let differences = try JSONDecoder().decode(ReconcileDifferencesResponse.self, from: Data(page.body))
            #expect(differences.differences.map(\.difference.keyText) == ["id=7"])
            #expect(differences.differences.first?.difference.columns.first?.newColumn == "amount")
            #expect(!page.text.contains(#""new":"#), "a NULL is left out")
        }
    }

    @Test(arguments: [
        ("/api/v1/reconcile/runs/9", 404, "no reconcile run 9"),
        ("/api/v1/reconcile/runs/x", 400, "run id must be a positive whole number, not 'x'"),
        ("/api/v1/reconcile/runs/1/differences?table=nope", 404, "run 1 has no table pair 'nope'; it compared: orders"),
        ("/api/v1/reconcile/runs/1/differences?limit=0", 400, "limit must be a whole number from 1 to 10000, not '0'"),
        ("/api/v1/reconcile/runs?limit=many", 400, "limit must be a whole number from 1 to 500, not 'many'"),
    ])
    func badCallsSayWhatIsWrong(target: String, status: Int, reason: String) async throws {
        try await withRun { port in
            let response = try await OpenAPITests.call(port, "get", target, token: DiffsAPITests.viewerSecret)
            #expect(response.status == status)
            #expect(response.text.contains(reason), "\(response.text)")
        }
    }
}
