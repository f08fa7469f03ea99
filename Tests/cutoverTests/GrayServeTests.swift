import CutoverAdmin
import CutoverTestSupport
import Foundation
import Testing

/// The migration itself through `cutover serve`: phases moved with the CLI on two
/// instances sharing one PostgreSQL, and automatic rollback with its webhook.
extension ServeTests {
    static var operatorToken: String { "test-operator-token" }

    func grayConfig(old: String, new: String, store: String, phase: String, extra: String = "") -> String {
        """
        listen: "127.0.0.1:0"
        admin:
          listen: "127.0.0.1:0"
          tokens: [{ name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(Self.operatorToken))" }]
        store: "\(store)"
        backends:
          old: { url: "\(old)" }
          new: { url: "\(new)" }
        routes:
          - name: orders
            match: { path: "/orders/{id}" }
            phase: \(phase)
            id: { from: path, name: id }
            max_id_seen: /id
            gray: { threshold: 1000 }
        \(extra)
        """
    }

    /// A backend answering `{"side": NAME, "id": ID}` with the ID from the path.
    static func sideBackend(_ name: String, status: String = "200 OK") async throws -> TestBackend {
        try await TestBackend.start { request in
            let id = request.uri.split(separator: "/").last.map(String.init) ?? "0"
            return .ok(#"{"side":"\#(name)","id":\#(Int(id) ?? 0)}"#, status: status, headers: ["Content-Type: application/json"])
        }
    }

    func side(_ port: Int, _ target: String) async throws -> String {
        let text = try await get(port, target).text
        return (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["side"] as? String ?? text
    }

    @Test func phasesMovedWithTheCLIReachEveryInstanceSharingPostgres() async throws {
        let old = try await Self.sideBackend("old"), new = try await Self.sideBackend("new")
        let url = try await TestPostgres.shared().createDatabase()
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", grayConfig(old: old.url, new: new.url, store: url, phase: "shadow"))
        let (first, proxyA, adminA) = try await serve(file)
        defer { first.terminate() }
        let (second, proxyB, adminB) = try await serve(file)
        defer { second.terminate() }
        let environment = ["CUTOVER_TOKEN": Self.operatorToken]
        #expect(try await side(proxyA, "/orders/5000") == "old")
        // Both instances have registered (each does once its store is open) before the change.
        try await waitUntil("two live instances", timeout: .seconds(20)) {
            let listed = try await CutoverProcess.run(["instances", "--json", "--admin", "http://127.0.0.1:\(adminA)"], environment: environment)
            return (try? JSONDecoder().decode(InstancesResponse.self, from: Data(listed.stdout.utf8)))?.instances.filter(\.live).count == 2
        }

        // Into gray on instance A; --wait returns once B applies it too.
        let moved = try await CutoverProcess.run(["phase", "orders", "gray", "--force", "--reason", "diffs reviewed", "--wait",
                                                  "--admin", "http://127.0.0.1:\(adminA)"], environment: environment)
        #expect(moved.status == 0, "\(moved.stderr)")
        #expect(moved.stdout.contains("orders: phase shadow → gray (flag version 1)"), "\(moved.stdout)")
        #expect(moved.stdout.contains("applied by every live instance"), "\(moved.stdout)")
        #expect(try await side(proxyB, "/orders/5000") == "new")
        #expect(try await side(proxyB, "/orders/999") == "old")
        #expect(try await side(proxyA, "/orders/1000") == "new")

        // An instance that starts now serves the stored phase from its first request.
        let (third, proxyC, _) = try await serve(file)
        defer { third.terminate() }
        #expect(try await side(proxyC, "/orders/5000") == "new")
        // Stopped gracefully, it leaves the instance list (so waits do not count on it).
        third.signal(SIGTERM)
        #expect(try await third.exitStatus() == 0)

        let listed = try await CutoverProcess.run(["instances", "--json", "--admin", "http://127.0.0.1:\(adminB)"], environment: environment)
        let instances = try JSONDecoder().decode(InstancesResponse.self, from: Data(listed.stdout.utf8))
        #expect(instances.instances.filter(\.live).count == 2)
        #expect(instances.instances.allSatisfy { $0.appliedVersion == 1 })

        // Back to shadow on B: new answered ID 5000 (B's traffic), so IDs from 1000 stay with new, on A too.
        let back = try await CutoverProcess.run(["phase", "orders", "shadow", "--reason", "errors", "--wait",
                                                 "--admin", "http://127.0.0.1:\(adminB)"], environment: environment)
        #expect(back.status == 0, "\(back.stderr)")
        #expect(back.stdout.contains("IDs from 1000 stay with new"), "\(back.stdout)")
        #expect(try await side(proxyA, "/orders/5000") == "new")
        #expect(try await side(proxyA, "/orders/7") == "old")

        let routes = try await CutoverProcess.run(["routes", "--admin", "http://127.0.0.1:\(adminA)"], environment: environment)
        #expect(routes.stdout.contains("flag version 2"), "\(routes.stdout)")
        let audit = try await CutoverProcess.run(["audit", "--admin", "http://127.0.0.1:\(adminA)"], environment: environment)
        #expect(audit.status == 0)
        #expect(audit.stdout.contains("forced past min_compared"), "\(audit.stdout)")
        #expect(audit.stdout.contains("hash chain verified over 2 entries"), "\(audit.stdout)")
        // A viewer-less token is refused with a hint.
        let refused = try await CutoverProcess.run(["phase", "orders", "new", "--admin", "http://127.0.0.1:\(adminA)"],
                                                   environment: ["CUTOVER_TOKEN": "wrong"])
        #expect(refused.status == 1)
        #expect(refused.stderr.contains("answered 401"))
        let badFlag = try await CutoverProcess.run(["flags", "orders", "limit=3", "--admin", "http://127.0.0.1:\(adminA)"], environment: environment)
        #expect(badFlag.status == 2)
        #expect(badFlag.stderr.contains("unknown flag 'limit'"))
        await old.stop()
        await new.stop()
    }

    @Test func newFailingInGrayStepsTheRouteBackAndCallsTheWebhook() async throws {
        let old = try await Self.sideBackend("old"), new = try await Self.sideBackend("new", status: "500 Internal Server Error")
        let hook = try await TestBackend.start { _ in .ok("") }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let extra = """
                auto_rollback: { error_rate: 0.5, window: 30s, min_requests: 5, webhook: "\(hook.url)/hook" }
            """
        let file = try folder.write("cutover.yaml", grayConfig(old: old.url, new: new.url, store: "sqlite:\(folder.path)/cutover.db",
                                                               phase: "gray", extra: extra))
        let (process, proxy, admin) = try await serve(file)
        defer { process.terminate() }
        for _ in 0..<5 {
            #expect(try await get(proxy, "/orders/5000").status == 500)
        }
        // The next check (once a second) steps the route back to shadow and tells the webhook.
        let calls = try await hook.waitForRequests(1, timeout: .seconds(20))
        let event = try #require(try JSONSerialization.jsonObject(with: Data(calls[0].body)) as? [String: Any])
        #expect(event["event"] as? String == "auto_rollback")
        #expect(event["from"] as? String == "gray" && event["to"] as? String == "shadow")
        #expect((event["reason"] as? String)?.contains("new's error rate 100.0% over 5 requests") == true, "\(event)")
        // New never answered an ID of its own, so nothing stays with it: old answers again.
        #expect(try await side(proxy, "/orders/5000") == "old")
        let audit = try await CutoverProcess.run(["audit", "--json", "--admin", "http://127.0.0.1:\(admin)"],
                                                 environment: ["CUTOVER_TOKEN": Self.operatorToken])
        let log = try JSONDecoder().decode(AuditResponse.self, from: Data(audit.stdout.utf8))
        #expect(log.entries.count == 1)
        #expect(log.entries.first?.actor == "cutover" && log.entries.first?.action == "auto_rollback")
        #expect(log.chain.verified)
        await old.stop()
        await new.stop()
        await hook.stop()
    }
}

extension ServeTests {
    @Test func theAdminListenerCanRequireClientCertificates() async throws {
        let certificates = try TestCertificates.make()
        defer { certificates.remove() }
        let client = try certificates.issueClient(named: "operator")
        let stranger = try TestCertificates.make()
        defer { stranger.remove() }
        let foreign = try stranger.issueClient(named: "stranger")
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", """
            listen: "127.0.0.1:0"
            admin:
              listen: "127.0.0.1:0"
              tokens: [{ name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(Self.operatorToken))" }]
              tls: { cert: "\(certificates.certificateFile)", key: "\(certificates.keyFile)", client_ca: "\(certificates.caFile)" }
            store: "sqlite:\(folder.path)/cutover.db"
            backends: { old: { url: "http://127.0.0.1:9" }, new: { url: "http://127.0.0.1:9" } }
            routes: [{ name: orders, match: { prefix: /orders }, phase: old }]
            """)
        let process = try CutoverProcess(["serve", "--config", file])
        defer { process.terminate() }
        let admin = try #require(CutoverProcess.port(in: try await process.waitFor("admin listening on https://")))
        let url = "https://127.0.0.1:\(admin)"
        let environment = ["CUTOVER_TOKEN": Self.operatorToken]
        let trusted = try await CutoverProcess.run(["routes", "--admin", url, "--ca-file", certificates.caFile,
                                                    "--cert-file", client.certificate, "--key-file", client.key], environment: environment)
        #expect(trusted.status == 0, "\(trusted.stderr)")
        #expect(trusted.stdout.contains("orders"))
        // No client certificate, or one another CA issued: the handshake fails before any request.
        let anonymous = try await CutoverProcess.run(["routes", "--admin", url, "--ca-file", certificates.caFile], environment: environment)
        #expect(anonymous.status == 1)
        #expect(anonymous.stderr.contains("cannot reach the admin API"), "\(anonymous.stderr)")
        let untrusted = try await CutoverProcess.run(["routes", "--admin", url, "--ca-file", certificates.caFile,
                                                      "--cert-file", foreign.certificate, "--key-file", foreign.key], environment: environment)
        #expect(untrusted.status == 1)
        // Plain HTTP is not answered as HTTP.
        let plain = try await CutoverProcess.run(["routes", "--admin", "http://127.0.0.1:\(admin)"], environment: environment)
        #expect(plain.status == 1)
        // The certificate does not replace the token.
        let tokenless = try await CutoverProcess.run(["routes", "--admin", url, "--ca-file", certificates.caFile,
                                                      "--cert-file", client.certificate, "--key-file", client.key],
                                                     environment: ["CUTOVER_TOKEN": "wrong"])
        #expect(tokenless.status == 1)
        #expect(tokenless.stderr.contains("answered 401"))
    }
}
