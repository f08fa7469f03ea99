import CutoverAdmin
import CutoverCore
import CutoverTestSupport
import Foundation
import Testing

/// The host cutover journal through the admin API, over a real SQLite store holding a run.
@Suite("Host runs API", .timeLimit(.minutes(1)))
struct HostRunsAPITests {
    func withRun(_ body: (Int) async throws -> Void) async throws {
        let (store, cleanup) = try await DiffsAPITests.filledStore()
        defer { cleanup() }
        // The filled store holds run 1, done; this is run 2, cut off during its first sync pass.
        let run = try await store.startHostRun(task: "shop", hosts: ["old", "new"], at: 1_000)
        let seq = try await store.beginHostStep(run: run, step: "precheck", pass: 0, at: 1_001)
        try await store.finishHostStep(run: run, seq: seq, result: .ok, figures: ["passed": 7],
                                       commands: [.init(host: "new", command: "rsync --version", status: 0, timedOut: false, stdout: "rsync 3", stderr: "", seconds: 0.01)],
                                       failure: nil, at: 1_002)
        _ = try await store.beginHostStep(run: run, step: "sync", pass: 1, at: 1_003)
        let environment = AdminEnvironment(config: { DiffsAPITests.config }, store: { store },
                                           health: { HealthReport(status: "ok", version: "0", routes: 2, backends: 2, uptimeSeconds: 1) })
        try await withAdmin(environment: environment, body)
        await store.close()
    }

    @Test func runsReadBackWithTheirSteps() async throws {
        try await withRun { port in
            let answer = try await OpenAPITests.call(port, "get", "/api/v1/host/runs", token: DiffsAPITests.viewerSecret)
            #expect(answer.status == 200)
            let runs = try JSONDecoder().decode(HostRunsResponse.self, from: Data(answer.body))
            #expect(runs.runs.count == 2, "the filled store's run and this one")
            let run = try #require(runs.runs.first)
            #expect(run.task == "shop" && run.status == .running && run.hosts == ["old", "new"])
            #expect(run.steps.map(\.step) == ["precheck", "sync"])
            #expect(run.steps[0].commands.first?.command == "rsync --version")
            #expect(run.steps[1].result == .running)
            #expect(answer.text.contains(#""started_at":1000"#) && answer.text.contains(#""timed_out":false"#))
            let one = try await OpenAPITests.call(port, "get", "/api/v1/host/runs/\(run.id)", token: DiffsAPITests.viewerSecret)
            #expect(one.status == 200)
            #expect(try JSONDecoder().decode(HostRun.self, from: Data(one.body)) == run)
        }
    }

    @Test(arguments: [
        ("/api/v1/host/runs/9", 404, "no host run 9"),
        ("/api/v1/host/runs/x", 400, "run id must be a positive whole number, not 'x'"),
        ("/api/v1/host/runs?limit=0", 400, "limit must be a whole number from 1 to 500, not '0'"),
    ])
    func badCallsSayWhatIsWrong(target: String, status: Int, reason: String) async throws {
        try await withRun { port in
            let response = try await OpenAPITests.call(port, "get", target, token: DiffsAPITests.viewerSecret)
            #expect(response.status == status)
            #expect(response.text.contains(reason), "\(response.text)")
        }
    }
}
