import CutoverAdmin
import CutoverCore
import CutoverTestSupport
import Foundation
import Testing

/// The migration plan walked end to end over `cutover serve` with the CLI: a manual step refused until confirmed, an
/// action step moving a route, a gate refusing with its numbers until the comparison has seen enough, a route's own
/// gate applied to an action, a rollback putting the route back — every transition audited, and a webhook receiver
/// on loopback told of each event in order.
extension ServeTests {
    /// A backend answering `{"id": ID}` (old and new agree).
    static func idBackend() async throws -> TestBackend {
        try await TestBackend.start { request in
            let id = request.uri.split(separator: "/").last.map(String.init) ?? "0"
            return .ok(#"{"id":\#(Int(id) ?? 0)}"#, headers: ["Content-Type: application/json"])
        }
    }

    @Test func aPlanIsWalkedStepByStepWithItsGatesConfirmationsActionsAndWebhooks() async throws {
        let old = try await Self.idBackend(), new = try await Self.idBackend()
        let hook = try await TestBackend.start { _ in .ok("") }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", """
            listen: "127.0.0.1:0"
            admin:
              listen: "127.0.0.1:0"
              tokens: [{ name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(Self.operatorToken))" }]
            store: "sqlite:\(folder.path)/cutover.db"
            backends: { old: { url: "\(old.url)" }, new: { url: "\(new.url)" } }
            routes:
              - name: orders
                match: { path: "/orders/{id}" }
                phase: old
                id: { from: path, name: id }
                gray: { threshold: 1000 }
                gates: { min_compared: 5, max_diff_rate: 0.01, window: 10m }
            plan:
              notify: ["\(hook.url)/plan"]
              steps:
                - { name: new-service, kind: manual, owner: service, description: "the new service's jobs run on its own hosts" }
                - { name: shadow, kind: action, action: { phase: shadow } }
                - name: clean-diffs
                  kind: gate
                  requires: [{ diff_rate: 0.001, min_compared: 5, window: 5m }]
                - { name: gray, kind: action, action: { phase: gray, routes: [orders] } }
            """)
        let (process, proxy, admin) = try await serve(file)
        defer { process.terminate() }
        let environment = ["CUTOVER_TOKEN": Self.operatorToken]
        @Sendable func cli(_ arguments: String...) async throws -> (status: Int32, stdout: String, stderr: String) {
            try await CutoverProcess.run(arguments + ["--admin", "http://127.0.0.1:\(admin)"], environment: environment)
        }

        // A manual step waits for its confirmation.
        let waiting = try await cli("plan", "advance")
        #expect(waiting.status == 1)
        #expect(waiting.stdout.contains("FAIL  confirmed: waiting for service's confirmation (cutover plan confirm new-service --note …)"), "\(waiting.stdout)")
        let confirmed = try await cli("plan", "confirm", "new-service", "--note", "jobs run on the new hosts only")
        #expect(confirmed.status == 0, "\(confirmed.stderr)")
        #expect(try await cli("plan", "advance").stdout.contains("new-service done"))

        // An action step moves the route, through the same gated path as the API.
        let shadow = try await cli("plan", "advance")
        #expect(shadow.status == 0 && shadow.stdout.contains("shadow done: moved orders"), "\(shadow.stdout) \(shadow.stderr)")

        // A gate refuses with its numbers until the comparison has seen enough.
        let refused = try await cli("plan", "advance")
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("FAIL  min_compared: route orders: 0 compared in the last 5m; at least 5 needed"), "\(refused.stdout)")
        for id in 1...10 { #expect(try await get(proxy, "/orders/\(id)").status == 200) }
        try await waitUntil("the comparison counted in the store", timeout: .seconds(20)) {
            let status = try await cli("plan", "status", "--json")
            let plan = try? JSONDecoder().decode(PlanStatus.self, from: Data(status.stdout.utf8))
            return plan?.steps.first { $0.name == "clean-diffs" }?.gates?.allSatisfy(\.passed) == true
        }
        #expect(try await cli("plan", "advance").status == 0)

        // The next action is judged by the route's own gates too (5 compared, none differing: it passes).
        let gray = try await cli("plan", "advance", "--json")
        #expect(gray.status == 0, "\(gray.stdout) \(gray.stderr)")
        let advanced = try JSONDecoder().decode(PlanAdvance.self, from: Data(gray.stdout.utf8))
        #expect(advanced.done && advanced.moved == ["orders"] && advanced.audit?.action == "plan_advance")
        let done = try await cli("plan", "advance")
        #expect(done.status == 1 && done.stderr.contains("every step of the plan is done"), "\(done.stderr)")

        // Rolled back: the route returns to the phase it had before the step.
        let back = try await cli("plan", "rollback", "gray", "--reason", "diff report regressed")
        #expect(back.status == 0 && back.stdout.contains("gray rolled back: moved back orders"), "\(back.stdout) \(back.stderr)")
        let status = try JSONDecoder().decode(PlanStatus.self, from: Data(try await cli("plan", "status", "--json").stdout.utf8))
        #expect(status.next == "gray" && status.steps.map(\.status) == ["done", "done", "done", "pending"])

        // Every transition in the audit log's hash chain.
        let audit = try JSONDecoder().decode(AuditResponse.self, from: Data(try await cli("audit", "--json").stdout.utf8))
        #expect(audit.chain.verified)
        #expect(audit.entries.reversed().map(\.action) == ["plan_confirm", "plan_advance", "phase", "plan_advance", "plan_advance", "phase",
                                                           "plan_advance", "plan_rollback", "phase"], "\(audit.entries.map(\.action))")
        #expect(audit.entries.first { $0.action == "plan_confirm" }.map { ($0.route, $0.reason) } ?? ("", "") == ("plan:new-service", "jobs run on the new hosts only"))

        // The webhook heard each event, in order.
        let calls = try await hook.waitForRequests(13, timeout: .seconds(20))
        let events = calls.compactMap { call -> String? in
            guard let event = try? JSONSerialization.jsonObject(with: Data(call.body)) as? [String: Any] else { return nil }
            return "\(event["event"] ?? "?") \(event["step"] ?? "?")"
        }
        // The first calls (nothing stored yet) each start the plan's first step.
        #expect(events == ["started new-service", "blocked new-service", "started new-service", "confirmed new-service", "done new-service", "started shadow", "done shadow",
                                             "started clean-diffs", "blocked clean-diffs", "done clean-diffs", "started gray", "done gray",
                                             "rolled_back gray"], "\(events)")
        await old.stop()
        await new.stop()
        await hook.stop()
    }
}

extension ServeTests {
    @Test func aHostTaskStepBeginsItsRunInTheGatewayAndIsDoneOnceTheRunIs() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        let old = try await Self.idBackend()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", """
            listen: "127.0.0.1:0"
            admin:
              listen: "127.0.0.1:0"
              tokens: [{ name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(Self.operatorToken))" }]
            store: "sqlite:\(folder.path)/cutover.db"
            backends: { old: { url: "\(old.url)" } }
            routes: []
            host_cutover:
              hosts: { shop-old: { executor: local, interface: lo }, shop-new: { executor: local, interface: lo } }
              tasks: [{ name: shop, from: shop-old, to: shop-new, service: { stop: "true", start: "true", health: "true" } }]
            plan:
              steps: [{ name: ip-float, kind: action, action: { host_task: shop } }]
            """)
        let (process, _, admin) = try await serve(file)
        defer { process.terminate() }
        let environment = ["CUTOVER_TOKEN": Self.operatorToken]
        let begun = try await CutoverProcess.run(["plan", "advance", "--json", "--admin", "http://127.0.0.1:\(admin)"], environment: environment)
        #expect(begun.status == 0, "\(begun.stdout) \(begun.stderr)")
        let advance = try JSONDecoder().decode(PlanAdvance.self, from: Data(begun.stdout.utf8))
        let run = try #require(advance.hostRun, "\(begun.stdout)")
        #expect(!advance.done && advance.message.contains("run \(run) of shop begun"))
        try await waitUntil("run \(run) done", timeout: .seconds(30)) {
            let status = try await CutoverProcess.run(["host", "status", "--config", file, String(run), "--json"])
            return (try? JSONDecoder().decode([HostRun].self, from: Data(status.stdout.utf8)))?.first?.status == .done
        }
        let done = try await CutoverProcess.run(["plan", "advance", "--admin", "http://127.0.0.1:\(admin)"], environment: environment)
        #expect(done.status == 0 && done.stdout.contains("ip-float done"), "\(done.stdout) \(done.stderr)")
        await old.stop()
    }
}
