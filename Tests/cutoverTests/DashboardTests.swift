import CutoverTestSupport
import Foundation
import Testing

@Suite("Grafana dashboard", .timeLimit(.minutes(1)))
struct DashboardTests {
    static var root: URL { URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent() }

    /// Every PromQL expression in the dashboard: panel targets and variable queries.
    static func expressions() throws -> [String] {
        let data = try Data(contentsOf: root.appendingPathComponent("Dashboards/cutover-overview.json"))
        var found: [String] = []
        func walk(_ value: Any) {
            if let object = value as? [String: Any] {
                for (key, child) in object {
                    if (key == "expr" || key == "query"), let text = child as? String { found.append(text) } else { walk(child) }
                }
            } else if let array = value as? [Any] {
                array.forEach(walk)
            }
        }
        walk(try JSONSerialization.jsonObject(with: data))
        return found
    }

    /// Metric names a set of expressions use, with histogram series mapped to their family.
    static func metricNames(in expressions: [String]) throws -> Set<String> {
        let pattern = try NSRegularExpression(pattern: "cutover_[a-z0-9_]+")
        var names: Set<String> = []
        for expression in expressions {
            let range = NSRange(expression.startIndex..., in: expression)
            for match in pattern.matches(in: expression, range: range) {
                var name = String(expression[Range(match.range, in: expression)!])
                for suffix in ["_bucket", "_sum", "_count"] where name.hasSuffix(suffix) && name.contains("duration") {
                    name.removeLast(suffix.count)
                }
                names.insert(name)
            }
        }
        return names
    }

    @Test func everyMetricTheDashboardQueriesIsExportedByARunningGateway() async throws {
        // A gateway with traffic of every kind: answered, failed upstream, refused, and a reload.
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let refusing = try RefusingPort()
        let deadPort = refusing.port
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", """
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            store: "sqlite:\(folder.path)/cutover.db"
            backends:
              old: { url: "\(backend.url)" }
              new: { url: "http://127.0.0.1:\(deadPort)" }
            routes:
              - { name: broken, match: { prefix: /broken }, phase: new }
              - { name: shadowed, match: { prefix: /shadowed }, phase: shadow }
              - { name: by-id, match: { path: "/by-id/{id}" }, phase: gray, id: { from: path, name: id }, gray: { threshold: 10 } }
              - { name: listed, match: { path: "/listed" }, phase: gray, aggregate: { array: /items, key: /id } }
            """)
        let process = try CutoverProcess(["serve", "--config", file])
        defer { process.terminate() }
        let proxy = try #require(CutoverProcess.port(in: try await process.waitFor("proxy listening on http://")))
        let admin = try #require(CutoverProcess.port(in: try await process.waitFor("admin listening on http://")))
        let client = try await TestConnection.connect(port: proxy)
        for request in ["GET /fine HTTP/1.1\r\nHost: a\r\n\r\n", "GET /broken HTTP/1.1\r\nHost: a\r\n\r\n",
                        "GET /shadowed HTTP/1.1\r\nHost: a\r\n\r\n", "GET /by-id/none HTTP/1.1\r\nHost: a\r\n\r\n",
                        "GET /listed HTTP/1.1\r\nHost: a\r\n\r\n",
                        "GET http://elsewhere.example/ HTTP/1.1\r\nHost: elsewhere.example\r\n\r\n"] {
            try await client.send(request)
            _ = try await client.response()
        }
        process.signal(SIGHUP)
        try await process.waitFor("configuration reloaded")
        let scrape = try await TestConnection.connect(port: admin)
        var metrics = ""
        // The comparator counts the shadow pair within its flush interval.
        for _ in 0..<200 where !metrics.contains("cutover_diffs_total") {
            try await scrape.send("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n")
            metrics = try await scrape.response().text
            if !metrics.contains("cutover_diffs_total") { try await Task.sleep(for: .milliseconds(50)) }
        }
        let exported = Set(metrics.split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            return parts.count >= 3 && parts[0] == "#" && parts[1] == "TYPE" ? String(parts[2]) : nil
        })
        #expect(!exported.isEmpty)

        let queried = try Self.metricNames(in: Self.expressions())
        #expect(!queried.isEmpty)
        #expect(queried.subtracting(exported).isEmpty, "queried but not exported: \(queried.subtracting(exported).sorted())")
        let cutoverFamilies = exported.filter { $0.hasPrefix("cutover_") }
        #expect(cutoverFamilies.subtracting(queried).isEmpty, "exported but on no panel: \(cutoverFamilies.subtracting(queried).sorted())")

        process.signal(SIGTERM)
        #expect(try await process.exitStatus() == 0)
        await client.close()
        await scrape.close()
        await backend.stop()
        withExtendedLifetime(refusing) {}
    }
}
