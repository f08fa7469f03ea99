import CutoverTestSupport
import Foundation
import Testing

@Suite("cutover serve as a process", .timeLimit(.minutes(1)))
struct ServeTests {
    func config(old: String, new: String, phase: String, folder: TemporaryFolder) -> String {
        """
        listen: "127.0.0.1:0"
        admin: { listen: "127.0.0.1:0" }
        store: "sqlite:\(folder.path)/cutover.db"
        shutdown: { drain_timeout: 10s }
        backends:
          old: { url: "\(old)" }
          new: { url: "\(new)" }
        routes:
          - { name: orders, match: { prefix: /orders }, phase: \(phase) }
        """
    }

    /// Starts `cutover serve`; returns the process and its proxy and admin ports.
    func serve(_ file: String) async throws -> (CutoverProcess, proxy: Int, admin: Int) {
        let process = try CutoverProcess(["serve", "--config", file])
        let proxy = try #require(CutoverProcess.port(in: try await process.waitFor("proxy listening on http://")))
        let admin = try #require(CutoverProcess.port(in: try await process.waitFor("admin listening on http://")))
        return (process, proxy, admin)
    }

    func get(_ port: Int, _ target: String) async throws -> TestResponse {
        let client = try await TestConnection.connect(port: port)
        try await client.send("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try await client.response()
        await client.close()
        return response
    }

    @Test func sighupAppliesAValidConfigurationAndRefusesAnInvalidOne() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", config(old: old.url, new: new.url, phase: "old", folder: folder))
        let (process, proxy, admin) = try await serve(file)
        defer { process.terminate() }
        let kept = try await TestConnection.connect(port: proxy)
        try await kept.send("GET /orders HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await kept.response().text == "old")

        try folder.write("cutover.yaml", config(old: old.url, new: new.url, phase: "new", folder: folder))
        process.signal(SIGHUP)
        try await process.waitFor("configuration reloaded")
        #expect(try await get(proxy, "/orders").text == "new")
        try await kept.send("GET /orders HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await kept.response().text == "new", "an open client connection survives the reload")

        try folder.write("cutover.yaml", config(old: old.url, new: new.url, phase: "sideways", folder: folder))
        process.signal(SIGHUP)
        let refusal = try await process.waitFor("reload refused: \(file):9:")
        #expect(refusal.contains("routes[0].phase"))
        try await process.waitFor("the running configuration is kept")
        #expect(try await get(proxy, "/orders").text == "new")

        let metrics = try await get(admin, "/metrics").text
        #expect(metrics.contains("cutover_config_reloads_total{result=\"applied\"} 1"))
        #expect(metrics.contains("cutover_config_reloads_total{result=\"refused\"} 1"))
        process.signal(SIGTERM)
        let status = try await process.exitStatus()
        if status != 0 { try? process.stderr.write(toFile: "/tmp/crash.txt", atomically: true, encoding: .utf8) }
        #expect(status == 0, "stderr: \(process.stderr.suffix(3000))")
        await kept.close()
        await old.stop()
        await new.stop()
    }

    @Test func sigtermFinishesTheRequestInFlightThenExits() async throws {
        let backend = try await TestBackend.start { _ in .hold }
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", config(old: backend.url, new: backend.url, phase: "old", folder: folder))
        let (process, proxy, _) = try await serve(file)
        defer { process.terminate() }
        let client = try await TestConnection.connect(port: proxy)
        try await client.send("GET /orders/slow HTTP/1.1\r\nHost: a\r\n\r\n")
        try await backend.waitForRequests(1)
        process.signal(SIGTERM)
        try await process.waitFor("draining")
        backend.releaseHeld(with: "HTTP/1.1 200 OK\r\nContent-Length: 8\r\n\r\nfinished")
        let response = try await client.response()
        #expect(response.text == "finished")
        #expect(try await process.exitStatus() == 0)
        await client.close()
        await backend.stop()
    }
}
