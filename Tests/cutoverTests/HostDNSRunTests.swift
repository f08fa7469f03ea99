import CutoverTestSupport
import Foundation
import Testing

/// `cutover host run` of a task that moves its DNS name, against BIND on loopback: the name switched at the server,
/// and `host status` saying until when the old host must keep serving.
@Suite("cutover host with a DNS float", .serialized, .timeLimit(.minutes(1)))
struct HostDNSRunTests {
    @Test func aRunSwitchesTheNameAndStatusSaysHowLongTheOldHostServes() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        let server = try await TestDNSServer.start(records: ["www 1 IN A 198.18.0.10"])
        defer { server.stop() }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let config = try folder.write("cutover.yaml", """
            store: "sqlite:\(folder.path)/cutover.db"
            host_cutover:
              hosts:
                shop-old: { executor: local, interface: lo }
                shop-new: { executor: local, interface: lo }
              tasks:
                - name: shop
                  from: shop-old
                  to: shop-new
                  service: { stop: "true", start: "true", health: "true" }
                  float: dns
                  dns:
                    server: "\(server.server)"
                    zone: example.test
                    name: www.example.test
                    ttl_ahead: 1s
                    keep_old_for: 7d
                    tsig: { name: \(server.keyName), secret_env: SHOP_TSIG }
                    old_addresses: [198.18.0.10]
                    new_addresses: [198.18.0.20]
            """)
        let missing = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"])
        #expect(missing.status == 1, "\(missing.stdout) \(missing.stderr)")
        #expect((missing.stdout + missing.stderr).contains("SHOP_TSIG (dns.tsig.secret_env) is not set"), "\(missing.stdout) \(missing.stderr)")
        #expect(try server.dig("www.example.test", "A") == ["198.18.0.10"])

        let before = Date()
        let result = try await CutoverProcess.run(["host", "run", "--config", config, "--task", "shop"], environment: ["SHOP_TSIG": server.secret])
        #expect(result.status == 0, "\(result.stdout) \(result.stderr)")
        #expect(try server.dig("www.example.test", "A") == ["198.18.0.20"])
        let status = try await CutoverProcess.run(["host", "status", "--config", config])
        let steps = status.stdout.split(separator: "\n").prefix { !$0.hasPrefix("run 1") }.compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(steps == ["run", "precheck", "lower_ttl", "sync", "stop_old", "final_sync", "start_new", "health", "float", "verify", "keep"], "\(status.stdout)")
        #expect(status.stdout.contains("run 1: shop stopped (precheck: TSIG key cutover-test-key.: the environment variable SHOP_TSIG"), "\(status.stdout)")
        let line = try #require(status.stdout.split(separator: "\n").first { $0.contains("keep shop-old serving until ") }, "\(status.stdout)")
        let stamp = try #require(line.split(separator: " ").dropFirst(4).first.map { String($0.dropLast()) })
        let until = try #require(ISO8601DateFormatter().date(from: stamp), "\(line)")
        #expect(abs(until.timeIntervalSince(before) - 7 * 86_400) < 120, "\(line)")
    }
}
