import CoreMetrics
import CutoverAdmin
import CutoverCore
import CutoverTestSupport
import Foundation
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import Testing

@Suite("Admin listener", .timeLimit(.minutes(1)))
struct AdminServerTests {
    static var config: CutoverConfig {
        try! ConfigLoader.load(yaml: """
        listen: "127.0.0.1:0"
        admin: { listen: "127.0.0.1:0" }
        backends: { old: { url: "http://127.0.0.1:9001" } }
        """).get()
    }

    /// Runs the admin application with a fixed health report and no store.
    func withAdmin(registry: PrometheusCollectorRegistry, _ body: (Int) async throws -> Void) async throws {
        let environment = AdminEnvironment(
            config: { Self.config }, store: { nil },
            health: { HealthReport(status: "ok", version: CutoverVersion.current, routes: 3, backends: 2, uptimeSeconds: 7) })
        try await CutoverAdminTests.withAdmin(registry: registry, environment: environment, body)
    }

    @Test func healthzReportsStatusAndVersion() async throws {
        try await withAdmin(registry: PrometheusCollectorRegistry()) { port in
            let client = try await TestConnection.connect(port: port)
            try await client.send("GET /healthz HTTP/1.1\r\nHost: admin\r\n\r\n")
            let response = try await client.response()
            #expect(response.status == 200)
            #expect(response.value("content-type") == "application/json")
            let report = try JSONDecoder().decode(HealthReport.self, from: Data(response.body))
            #expect(report == HealthReport(status: "ok", version: CutoverVersion.current, routes: 3, backends: 2, uptimeSeconds: 7))
            #expect(response.text.contains("\"uptime_seconds\":7"))
            await client.close()
        }
    }

    @Test func metricsAreServedInPrometheusTextFormat() async throws {
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        Counter(label: "cutover_requests_total", dimensions: [("route", "orders"), ("backend", "old"), ("code", "2xx")], factory: factory)
            .increment(by: 3)
        try await withAdmin(registry: registry) { port in
            let client = try await TestConnection.connect(port: port)
            try await client.send("GET /metrics HTTP/1.1\r\nHost: admin\r\n\r\n")
            let response = try await client.response()
            #expect(response.status == 200)
            #expect(response.value("content-type") == AdminServer.metricsContentType)
            #expect(response.text.contains("# TYPE cutover_requests_total counter"))
            #expect(response.text.contains("cutover_requests_total{route=\"orders\",backend=\"old\",code=\"2xx\"} 3"))
            await client.close()
        }
    }

    @Test func theReviewPageIsServedWithoutDataAndReadsTheDiffsAPI() async throws {
        try await withAdmin(registry: PrometheusCollectorRegistry()) { port in
            let client = try await TestConnection.connect(port: port)
            try await client.send("GET /review HTTP/1.1\r\nHost: admin\r\n\r\n")
            let response = try await client.response()
            #expect(response.status == 200)
            #expect(response.value("content-type") == "text/html; charset=utf-8")
            #expect(response.value("content-security-policy")?.contains("connect-src 'self'") == true)
            #expect(response.text.hasPrefix("<!doctype html>"))
            #expect(response.text.contains("/api/v1/diffs/summary"))
            #expect(response.text.contains("/api/v1/diffs/samples"))
            #expect(response.text.contains("\"Authorization\": \"Bearer \""))
            #expect(!response.text.contains("innerHTML"), "text from the API is put into the page as text only")
            await client.close()
        }
    }

    @Test func unknownPathsAre404() async throws {
        try await withAdmin(registry: PrometheusCollectorRegistry()) { port in
            let client = try await TestConnection.connect(port: port)
            try await client.send("GET /nope HTTP/1.1\r\nHost: admin\r\n\r\n")
            #expect(try await client.response().status == 404)
            await client.close()
        }
    }
}
