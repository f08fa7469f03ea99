import CutoverCore
@testable import CutoverHost
import CutoverTestSupport
import Foundation
import Testing

/// A task that moves its DNS name, run through the runbook against BIND on loopback: the TTL lowered before the
/// first sync pass, the name switched at the float, switched back when the run rolls back after it, and the
/// pre-checks that refuse a missing secret or a wrong key before anything changes.
@Suite("Host cutover with a DNS float", .serialized, .timeLimit(.minutes(2)))
struct DNSRunbookLabTests {
    func runner(_ server: TestDNSServer, verify: String = "", secret: String? = nil) throws -> HostRunner {
        let config = try ConfigLoader.loadHost(yaml: """
            host_cutover:
              hosts:
                old: { executor: local, interface: lo }
                new: { executor: local, interface: lo }
              tasks:
                - name: t
                  from: old
                  to: new
                  service: { stop: "true", start: "true", health: "true" }
                  dns:
                    server: "\(server.server)"
                    zone: example.test
                    name: www.example.test
                    ttl_ahead: 1s
                    keep_old_for: 1d
                    tsig: { name: \(server.keyName), secret_env: CUTOVER_TEST_TSIG }
                    old_addresses: [198.18.0.10]
                    new_addresses: [198.18.0.20]
                  \(verify)
            """).get().hostCutover
        var runner = HostRunner(task: try #require(config.task(named: "t")), from: try #require(config.host(named: "old")),
                                to: try #require(config.host(named: "new")), journal: NoJournalForTests())
        runner.environment = ["CUTOVER_TEST_TSIG": secret ?? server.secret]
        return runner
    }

    func machine(_ runner: HostRunner) -> RunbookMachine {
        RunbookMachine(rules: runner.task.sync, budget: runner.task.downtimeBudget, floats: runner.task.float != nil, lowersTTL: runner.task.floatsDNS)
    }

    @Test func theRunLowersTheTTLAheadAndSwitchesTheNameAtTheFloat() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        // The old TTL is 2 s, so waiting it out is short.
        let server = try await TestDNSServer.start(records: ["www 2 IN A 198.18.0.10"])
        defer { server.stop() }
        let runner = try runner(server)
        var machine = machine(runner)
        let steps = StepLog()
        var traced = runner
        traced.say = { steps.append($0) }
        let first = machine.start()
        let (outcome, _) = try await traced.run(machine, from: first)
        #expect(outcome == .done, "\(steps.all)")
        #expect(steps.all.prefix(4) == ["precheck", "lower ttl", "  TTL of www.example.test. lowered to 1s; caches forget the old TTL of 2s before the stop",
                                         "sync pass 1"], "\(steps.all)")
        // The sync passes ran meanwhile; the stop waited for what was left of the old TTL.
        let stop = try #require(steps.all.firstIndex(of: "stop old"))
        #expect(steps.all[stop - 1].hasPrefix("  waiting ") && steps.all[stop - 1].hasSuffix(" for caches to forget the old TTL before the stop"), "\(steps.all)")
        #expect(try server.dig("www.example.test", "A") == ["198.18.0.20"])
        #expect(try server.digTTL("www.example.test", "A") == 1, "the switched record keeps the low TTL")
        #expect(steps.all.contains { $0.contains("keep old serving for 1d") }, "\(steps.all)")
    }

    @Test func aRunResumedAfterTheTTLWasLoweredStillWaitsBeforeTheStop() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        let server = try await TestDNSServer.start(records: ["www 1 IN A 198.18.0.10"])
        defer { server.stop() }
        var runner = try runner(server)
        // As the journal of a run cut off after lower_ttl has it: caches forget the old TTL a second from now.
        runner.cachesExpireAt = Date().timeIntervalSince1970 + 1
        let steps = StepLog()
        runner.say = { steps.append($0) }
        let (machine, next) = try RunbookMachine.resume(finished: [.init(step: .precheck), .init(step: .lowerTTL)], rules: runner.task.sync,
                                                        budget: runner.task.downtimeBudget, floats: true, lowersTTL: true)
        let (outcome, _) = try await runner.run(machine, from: next)
        #expect(outcome == .done)
        let stop = try #require(steps.all.firstIndex(of: "stop old"))
        #expect(steps.all[stop - 1].hasPrefix("  waiting "), "\(steps.all)")
    }

    @Test func aNameChangedOutsideTheRunIsNotOverwrittenAtTheFloat() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        let server = try await TestDNSServer.start(records: ["www 1 IN A 198.18.0.77"])
        defer { server.stop() }
        let runner = try runner(server)
        var machine = machine(runner)
        let first = machine.start()
        let (outcome, _) = try await runner.run(machine, from: first)
        // Refused at the float; undone, the old service started again, the name left as it was changed.
        guard case .rolledBack(let step, let reason) = outcome else { Issue.record("\(outcome)"); return }
        #expect(step == .float)
        #expect(reason.contains("holds 198.18.0.77, not 198.18.0.10 as the task says"), "\(reason)")
        #expect(try server.dig("www.example.test", "A") == ["198.18.0.77"])
    }

    @Test func aRollbackAfterTheFloatSwitchesTheNameBack() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        // TTL 1 s, already at ttl_ahead: nothing to wait out.
        let server = try await TestDNSServer.start(records: ["www 1 IN A 198.18.0.10"])
        defer { server.stop() }
        // Nothing answers the health URL: verify fails after the float, and the run undoes it.
        let port = try TestDNSServer.freeLoopbackPort()
        let runner = try runner(server, verify: "verify: { url: \"http://127.0.0.1:\(port)/healthz\", timeout: 50ms }")
        var machine = machine(runner)
        let first = machine.start()
        let (outcome, _) = try await runner.run(machine, from: first)
        guard case .rolledBack(let step, _) = outcome else { Issue.record("\(outcome)"); return }
        #expect(step == .verify)
        #expect(try server.dig("www.example.test", "A") == ["198.18.0.10"], "float_back switched the name back")
        #expect(try server.digTTL("www.example.test", "A") == 1, "at the low TTL, as the float left it")
    }

    @Test func theChecksRefuseAMissingSecretAndAWrongKeyBeforeAnythingChanges() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        let server = try await TestDNSServer.start(records: ["www 60 IN A 198.18.0.10"])
        defer { server.stop() }
        var missing = try runner(server)
        missing.environment = [:]
        let refused = await missing.precheck().items.first { $0.name.hasPrefix("TSIG key") }
        #expect(refused?.verdict == .fail)
        #expect(refused?.detail.contains("the environment variable CUTOVER_TEST_TSIG (dns.tsig.secret_env) is not set") == true, "\(refused?.detail ?? "")")

        let wrong = try runner(server, secret: Data(repeating: 3, count: 32).base64EncodedString())
        let items = await wrong.precheck().items
        #expect(items.first { $0.name.hasPrefix("zone example.test.") }?.verdict == .pass)
        let key = items.first { $0.name.hasPrefix("TSIG key") }
        #expect(key?.verdict == .fail && key?.detail.contains("BADSIG") == true, "\(items)")
        var machine = machine(wrong)
        let first = machine.start()
        let (outcome, _) = try await wrong.run(machine, from: first)
        guard case .stopped(let step, _) = outcome else { Issue.record("\(outcome)"); return }
        #expect(step == .precheck)
        #expect(try server.digTTL("www.example.test", "A") == 60, "nothing changed, not even the TTL")

        let right = try runner(server)
        let good = await right.precheck().items
        #expect(good.first { $0.name.hasPrefix("TSIG key") }?.verdict == .pass, "\(good)")
        #expect(good.first { $0.name == "www.example.test. points at old" }?.verdict == .pass, "\(good)")
    }
}

/// The progress lines a run said.
final class StepLog: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}
