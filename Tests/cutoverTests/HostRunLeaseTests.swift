import CutoverAdmin
import CutoverCore
import CutoverHost
import CutoverStore
import CutoverTestSupport
import Foundation
import Logging
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A run cut off between any two of its steps (its journal ending there, as a runner killed with `kill -9` leaves
/// it), then resumed or rolled back: each ends with exactly one owner of the service address and the right service
/// running. A living runner keeps its run.
extension HostRunTests {
    /// Journals in the store and is cut off (as by `kill -9`) when `at` begins; nil: after the last step, before
    /// the run's end is written.
    struct CutOffJournal: HostJournal {
        struct Killed: Error {}
        let store: Store
        let run: Int64
        let at: RunbookMachine.Step?

        func beginStep(_ step: RunbookMachine.Step, pass: Int) async throws -> Int64 {
            if step == at { throw Killed() }
            return try await store.beginHostStep(run: run, step: step.rawValue, pass: pass, at: 1)
        }

        func finishStep(_ seq: Int64, result: HostStepRecord.Result, figures: [String: Double], commands: [HostStepRecord.Command], failure: String?) async throws {
            try await store.finishHostStep(run: run, seq: seq, result: result, figures: figures, commands: commands, failure: failure, at: 2)
        }

        func finishRun(status: HostRun.Status, reason: String?, figures: [String: Double]) async throws {
            if at == nil { throw Killed() }
            try await store.finishHostRun(run, status: status, reason: reason, figures: figures, at: 3)
        }
    }

    /// Runs the task's runbook in this process until it is cut off before `at`; the store holds the journal.
    func runUntil(_ at: RunbookMachine.Step?, config: String) async throws {
        let loaded = try ConfigLoader.loadHost(file: config).get()
        let task = try #require(loaded.hostCutover.task(named: "shop"))
        var logger = Logger(label: "test")
        logger.logLevel = .critical
        try await Store.withStore(loaded.store, logger: logger) { store in
            // Held by a holder that gives nothing up, as a runner killed with `kill -9` leaves its run.
            let run = try await store.startHostRun(task: "shop", hosts: ["old", "new"], at: 0, holder: try RunHolder.ofAnEndedProcess(), lease: 3_600_000)
            let runner = HostRunner(task: task, from: try #require(loaded.hostCutover.host(named: "old")),
                                    to: try #require(loaded.hostCutover.host(named: "new")), journal: CutOffJournal(store: store, run: run, at: at))
            var machine = RunbookMachine(rules: task.sync, budget: task.downtimeBudget, floats: true)
            let first = machine.start()
            await #expect(throws: CutOffJournal.Killed.self) { _ = try await runner.run(machine, from: first) }
        }
    }

    /// Every boundary between two steps, named by the step that was about to begin (nil: after the last).
    static let boundaries: [RunbookMachine.Step?] = [.sync, .stopOld, .finalSync, .startNew, .health, .float, .verify, nil]

    @Test(.enabled(if: Lab.available, Lab.unavailableReason), arguments: boundaries)
    func aRunCutOffBetweenTwoStepsIsResumedToTheEnd(at: RunbookMachine.Step?) async throws {
        try await withRunbook(files: 10) { lab, config, folder in
            try await runUntil(at, config: config)
            let resumed = try await CutoverProcess.run(["host", "resume", "--config", config, "1"], timeout: .seconds(90))
            #expect(resumed.status == 0, "\(resumed.stdout)\n\(resumed.stderr)")
            #expect(resumed.stdout.contains(at.map { "resuming shop at \($0.rawValue)" } ?? "its journal ended done; recorded so"), "\(resumed.stdout)")
            #expect(try lab.holds(lab.vip.address, .new) && !lab.holds(lab.vip.address, .old), "exactly one owner: the new host")
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(lab.new).pid"), "the new service runs")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid"), "the old service is stopped")
            #expect(HTTPProbe(url: "http://\(lab.vip.address):8080/items/9.txt")?.get(timeout: .seconds(1)) == 200)
            let status = try await CutoverProcess.run(["host", "status", "--config", config, "--json"])
            #expect(try JSONDecoder().decode([HostRun].self, from: Data(status.stdout.utf8)).first?.status == .done)
        }
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason), arguments: boundaries)
    func aRunCutOffBetweenTwoStepsIsRolledBack(at: RunbookMachine.Step?) async throws {
        try await withRunbook(files: 10) { lab, config, folder in
            try await runUntil(at, config: config)
            let rolledBack = try await CutoverProcess.run(["host", "rollback", "--config", config, "1", "--reason", "cut off"], timeout: .seconds(90))
            #expect(rolledBack.status == 0, "\(rolledBack.stdout)\n\(rolledBack.stderr)")
            #expect(rolledBack.stdout.contains("rolled back after"), "\(rolledBack.stdout)")
            #expect(try lab.holds(lab.vip.address, .old) && !lab.holds(lab.vip.address, .new), "exactly one owner: the old host")
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid"), "the old service runs")
            #expect(!FileManager.default.fileExists(atPath: "\(folder)/\(lab.new).pid"), "the new service is stopped")
            #expect(HTTPProbe(url: "http://\(lab.vip.address):8080/index.html")?.get(timeout: .seconds(1)) == 200)
            let status = try await CutoverProcess.run(["host", "status", "--config", config, "--json"])
            let run = try #require(try JSONDecoder().decode([HostRun].self, from: Data(status.stdout.utf8)).first)
            #expect(run.status == .rolledBack && run.holder == nil)
            #expect(run.steps.contains { $0.step == "rollback" && $0.failure == "cut off" }, "the request is journaled")
        }
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func aLivingRunnerKeepsItsRun() async throws {
        try await withRunbook(files: 10, stopFirst: Self.stopWaits) { lab, config, folder in
            let runner = try CutoverProcess(["host", "run", "--config", config, "--task", "shop"])
            defer { runner.terminate() }
            for _ in 0..<1200 where !FileManager.default.fileExists(atPath: folder + "/stopping") { try await Task.sleep(for: .milliseconds(50)) }
            #expect(FileManager.default.fileExists(atPath: folder + "/stopping"), "the run reached the stop")
            let holder = "run 1 is being carried out by cutover (pid \(runner.pid) on \(RunHolder.current().machine)): let it end, or stop that process first"
            for command in ["resume", "rollback"] {
                let refused = try await CutoverProcess.run(["host", command, "--config", config, "1"])
                #expect(refused.status == 2, "\(command): \(refused.stdout)")
                #expect(refused.stderr.contains("cutover host \(command): \(holder)"), "\(refused.stderr)")
            }
            let journal = try await CutoverProcess.run(["host", "status", "--config", config, "--json"])
            let run = try #require(try JSONDecoder().decode([HostRun].self, from: Data(journal.stdout.utf8)).first)
            #expect(run.holder == "cutover (pid \(runner.pid) on \(RunHolder.current().machine))" && run.holderAlive == true)
            #expect(run.steps.last?.step == "stop_old", "the refused commands wrote nothing")
            let text = try await CutoverProcess.run(["host", "status", "--config", config])
            #expect(text.stdout.contains("run 1: shop running — carried out by cutover (pid \(runner.pid) on "), "\(text.stdout)")
            // The runner goes on to the end, undisturbed.
            FileManager.default.createFile(atPath: folder + "/go", contents: nil)
            #expect(try await runner.exitStatus(timeout: .seconds(90)) == 0, "\(runner.stdout)\n\(runner.stderr)")
            #expect(try lab.holds(lab.vip.address, .new) && !lab.holds(lab.vip.address, .old))
        }
    }
}

/// `POST /api/v1/host/runs/{id}/rollback` on `cutover serve`: an operator undoes a done run, audited in the hash
/// chain; bad calls are refused with the reason.
extension HostRunTests {
    static let viewerToken = "host-viewer-token", operatorToken = "host-operator-token"

    func call(_ admin: Int, _ method: String, _ target: String, token: String, body: String = "") async throws -> TestResponse {
        let client = try await TestConnection.connect(port: admin)
        try await client.send("\(method) \(target) HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(token)\r\nContent-Type: application/json\r\n"
                              + "Content-Length: \(body.utf8.count)\r\n\r\n\(body)")
        let response = try await client.response()
        await client.close()
        return response
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason)) func anOperatorRollsADoneRunBackThroughTheAdminAPI() async throws {
        try await withRunbook(files: 10) { lab, config, folder in
            let done = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"], timeout: .seconds(90))
            #expect(done.status == 0, "\(done.stdout)\n\(done.stderr)")
            let serve = folder + "/serve.yaml"
            try ("""
                listen: "127.0.0.1:0"
                admin:
                  listen: "127.0.0.1:0"
                  tokens:
                    - { name: reviewer, role: viewer, sha256: "\(TokenAuthenticator.digest(Self.viewerToken))" }
                    - { name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(Self.operatorToken))" }
                backends: { old: { url: "http://127.0.0.1:9" } }

                """ + (try String(contentsOfFile: config, encoding: .utf8))).write(toFile: serve, atomically: true, encoding: .utf8)
            let first = try CutoverProcess(["serve", "--config", serve])
            defer { first.terminate() }
            var admin = try #require(CutoverProcess.port(in: try await first.waitFor("admin listening on http://")))
            let body = #"{"reason": "new host answers 500s"}"#
            let viewer = try await call(admin, "POST", "/api/v1/host/runs/1/rollback", token: Self.viewerToken, body: body)
            #expect(viewer.status == 403, "\(viewer.text)")
            for (target, text, status, message) in [
                ("/api/v1/host/runs/1/rollback", #"{"reason": "  "}"#, 400, "reason is empty"),
                ("/api/v1/host/runs/1/rollback", "{", 400, "the body is not JSON"),
                ("/api/v1/host/runs/1/rollback", "{}", 400, "the body has no 'reason'"),
                ("/api/v1/host/runs/99/rollback", body, 404, "there is no host run 99"),
                ("/api/v1/host/runs/x/rollback", body, 400, "run id must be a positive whole number"),
            ] {
                let refused = try await call(admin, "POST", target, token: Self.operatorToken, body: text)
                #expect(refused.status == status && refused.text.contains(message), "\(target) \(text): \(refused.status) \(refused.text)")
            }
            #expect(try lab.holds(lab.vip.address, .new), "no refused call changed anything")

            let accepted = try await call(admin, "POST", "/api/v1/host/runs/1/rollback", token: Self.operatorToken, body: body)
            #expect(accepted.status == 202, "\(accepted.text)")
            #expect(accepted.value("Location") == "/api/v1/host/runs/1")
            let answer = try JSONDecoder().decode(HostRollbackAccepted.self, from: Data(accepted.body))
            #expect(answer.run.status == .running && answer.run.steps.last?.step == "rollback" && answer.run.steps.last?.failure == "new host answers 500s")
            #expect(answer.audit?.route == "host_run:1" && answer.audit?.action == "host_rollback" && answer.audit?.actor == "ops")
            // Told to stop at once, the gateway lets the rollback end first.
            first.signal(SIGTERM)
            #expect(try await first.exitStatus(timeout: .seconds(90)) == 0, "\(first.stderr.suffix(2000))")
            #expect(first.stderr.contains("waiting for host run rollbacks to end"), "the rollback was under way at the stop: \(first.stderr.suffix(2000))")
            #expect(first.stderr.contains("host run rollback ended"), "\(first.stderr.suffix(2000))")
            let second = try CutoverProcess(["serve", "--config", serve])
            defer { second.terminate() }
            admin = try #require(CutoverProcess.port(in: try await second.waitFor("admin listening on http://")))
            let run = try JSONDecoder().decode(HostRun.self, from: Data(try await call(admin, "GET", "/api/v1/host/runs/1", token: Self.viewerToken).body))
            #expect(run.status == .rolledBack && run.reason == "verify: new host answers 500s", "\(run)")
            #expect(run.steps.drop { $0.step != "rollback" }.map(\.step) == ["rollback", "float_back", "stop_new", "start_old", "verify_old"])
            #expect(try lab.holds(lab.vip.address, .old) && !lab.holds(lab.vip.address, .new), "exactly one owner: the old host")
            #expect(FileManager.default.fileExists(atPath: "\(folder)/\(lab.old).pid") && !FileManager.default.fileExists(atPath: "\(folder)/\(lab.new).pid"))
            // Nothing is left to undo; the audit log holds the request in its checked chain.
            let again = try await call(admin, "POST", "/api/v1/host/runs/1/rollback", token: Self.operatorToken, body: body)
            #expect(again.status == 409 && again.text.contains("run 1 is rolled_back; there is nothing to undo"), "\(again.text)")
            let audit = try JSONDecoder().decode(AuditResponse.self, from: Data(try await call(admin, "GET", "/api/v1/audit", token: Self.viewerToken).body))
            #expect(audit.chain.verified && audit.entries.map(\.action) == ["host_rollback"])
        }
    }
}
