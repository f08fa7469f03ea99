import CutoverAdmin
import CutoverCore
import CutoverTestSupport
import Foundation
import NIOCore
import Prometheus
import Testing

/// What a client guessing tokens, or sending what the API does not take, gets: rate limits, counts, and JSON
/// answers that name the problem and nothing of the gateway's insides.
@Suite("Admin API security", .timeLimit(.minutes(1)))
struct AdminSecurityTests {
    static var operatorSecret: String { "operator-secret-1" }

    static var config: CutoverConfig {
        try! ConfigLoader.load(yaml: """
        listen: "127.0.0.1:0"
        admin:
          listen: "127.0.0.1:0"
          tokens: [{ name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(operatorSecret))" }]
        backends: { old: { url: "http://127.0.0.1:9001" }, new: { url: "http://127.0.0.1:9002" } }
        routes: [{ name: orders, match: { prefix: /orders }, phase: shadow }]
        """).get()
    }

    func withGuardedAdmin(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), limiter: AuthFailureLimiter,
                          _ body: (Int) async throws -> Void) async throws {
        let environment = AdminEnvironment(
            config: { Self.config }, store: { nil },
            health: { HealthReport(status: "ok", version: CutoverVersion.current, routes: 1, backends: 1, uptimeSeconds: 1) })
        try await withAdmin(registry: registry, environment: environment, limiter: limiter, body)
    }

    func call(_ port: Int, _ head: String, body: String = "") async throws -> TestResponse {
        let client = try await TestConnection.connect(port: port)
        try await client.send(head + "Content-Length: \(body.utf8.count)\r\n\r\n" + body)
        let response = try await client.response()
        await client.close()
        return response
    }

    @Test func anAddressThatKeepsGuessingIsRefusedEvenWithTheRightTokenAndEveryFailureIsCounted() async throws {
        let registry = PrometheusCollectorRegistry()
        let limiter = AuthFailureLimiter(burst: 3, refillPerSecond: 0.001)
        try await withGuardedAdmin(registry: registry, limiter: limiter) { port in
            for _ in 0..<3 {
                let wrong = try await call(port, "GET /api/v1/routes HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer guess\r\n")
                #expect(wrong.status == 401)
            }
            let limited = try await call(port, "GET /api/v1/routes HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer guess\r\n")
            #expect(limited.status == 429)
            #expect(Int(limited.value("retry-after") ?? "") ?? 0 > 0)
            #expect(limited.text.contains("too many failed authentications from 127.0.0.1"))
            let right = try await call(port, "GET /api/v1/routes HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer \(Self.operatorSecret)\r\n")
            #expect(right.status == 429, "while the address is refused, a right token waits too")
            let metrics = try await call(port, "GET /metrics HTTP/1.1\r\nHost: a\r\n").text
            #expect(metrics.contains("\(AdminServer.authFailuresMetric){reason=\"unknown\"} 3"), "\(metrics)")
            #expect(metrics.contains("\(AdminServer.authFailuresMetric){reason=\"rate_limited\"} 2"))
            #expect(try await call(port, "GET /healthz HTTP/1.1\r\nHost: a\r\n").status == 200, "only the API is guarded")
        }
    }

    @Test func failuresAreForgivenAtTheRefillRate() {
        let limiter = AuthFailureLimiter(burst: 2, refillPerSecond: 1)
        let start = NIODeadline.uptimeNanoseconds(1_000_000_000)
        limiter.failed("198.18.0.1", now: start)
        limiter.failed("198.18.0.1", now: start)
        #expect(limiter.retryAfter("198.18.0.1", now: start) == 1)
        #expect(limiter.retryAfter("198.18.0.2", now: start) == nil, "other addresses are not held back")
        #expect(limiter.retryAfter("198.18.0.1", now: start + .milliseconds(1_100)) == nil)
    }

    @Test func theTableOfAddressesStaysWithinItsCapacity() {
        let limiter = AuthFailureLimiter(burst: 5, refillPerSecond: 0.001, capacity: 100)
        let now = NIODeadline.uptimeNanoseconds(1_000_000_000)
        for index in 0..<10_000 {
            limiter.failed("198.18.\(index / 256).\(index % 256)", now: now + .milliseconds(Int64(index)))
        }
        #expect(limiter.count <= 100)
    }

    @Test func everyAPIErrorIsJSONNamingTheProblemWithoutInternals() async throws {
        try await withGuardedAdmin(limiter: AuthFailureLimiter()) { port in
            let token = "Authorization: Bearer \(Self.operatorSecret)\r\n"
            let cases: [(String, String, Int, String)] = [
                ("GET /api/v1/nope HTTP/1.1\r\nHost: a\r\n\(token)", "", 404, "no such API path"),
                ("GET /api/v1/nope HTTP/1.1\r\nHost: a\r\n", "", 401, "Authorization: Bearer TOKEN"),
                ("PUT /api/v1/routes/orders/phase HTTP/1.1\r\nHost: a\r\n\(token)", "{\"phase\":", 400, "the body is not"),
                ("PUT /api/v1/routes/orders/phase HTTP/1.1\r\nHost: a\r\n\(token)", "{\"phase\":\"gray\",\"force\":\"yes\"}", 400, "'force' has the wrong type"),
                ("PUT /api/v1/routes/orders/phase HTTP/1.1\r\nHost: a\r\n\(token)", "{\"phase\":\"" + String(repeating: "x", count: 70_000) + "\"}", 413, "larger than the 64 KiB"),
                ("GET /api/v1/routes HTTP/1.1\r\nHost: a\r\n\(token)", "", 503, "the store cannot be reached yet"),
            ]
            for (head, body, status, reason) in cases {
                let response = try await call(port, head, body: body)
                #expect(response.status == status, "\(head): \(response)")
                #expect(response.value("content-type") == "application/json", "\(head)")
                let object = try JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any]
                #expect(object?["status"] as? Int == status)
                let error = object?["error"] as? String ?? ""
                #expect(error.contains(reason), "\(head): \(error)")
                for leak in ["Swift.", "DecodingError", "PSQLError", "Optional(", "CodingKeys", "Context("] {
                    #expect(!error.contains(leak), "\(head): '\(error)' shows \(leak)")
                }
            }
        }
    }

    /// The router ignores empty path segments; the guard must too, or `//api/v1/…` would skip it.
    @Test(arguments: ["//api/v1/routes", "/api//v1/routes", "/api/v1//routes", "//api//v1//audit"])
    func everySpellingOfAnAPIPathNeedsAToken(path: String) async throws {
        try await withGuardedAdmin(limiter: AuthFailureLimiter()) { port in
            let read = try await call(port, "GET \(path) HTTP/1.1\r\nHost: a\r\n")
            #expect(read.status == 401, "\(path): \(read)")
        }
    }

    @Test func aChangeWithoutATokenIsRefusedHoweverItsPathIsSpelled() async throws {
        try await withGuardedAdmin(limiter: AuthFailureLimiter()) { port in
            let change = try await call(port, "PUT //api/v1/routes/orders/phase HTTP/1.1\r\nHost: a\r\n",
                                        body: "{\"phase\":\"new\",\"force\":true,\"reason\":\"x\"}")
            #expect(change.status == 401, "\(change)")
        }
    }
}
