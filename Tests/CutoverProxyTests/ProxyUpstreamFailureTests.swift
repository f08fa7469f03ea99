import CutoverTestSupport
import NIOCore
import Testing

@Suite("Backend failures", .timeLimit(.minutes(1)))
struct ProxyUpstreamFailureTests {
    @Test func refusedConnectionIs502NamingRouteAndReason() async throws {
        let refusing = try RefusingPort()
        let port = refusing.port
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(port)", routes: """
              - { name: orders, match: { prefix: /orders }, phase: old }
            """))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /orders HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try await client.response()
        #expect(response.status == 502)
        #expect(response.text.contains("\"route\":\"orders\""))
        #expect(response.text.contains("\"backend\":\"old\""))
        #expect(response.text.contains("upstream connect failed"))
        #expect(response.value("x-request-id")?.count == 32)
        #expect(gateway.upstreamErrors(backend: "old", kind: "connect_error") == 1)
        #expect(gateway.requests(route: "orders", backend: "old", code: "5xx") == 1)
        #expect(!client.isClosed, "a 502 for a request without body keeps the connection")
        await client.close()
        await gateway.stop()
        withExtendedLifetime(refusing) {}
    }

    @Test func connectTimeoutIs502() async throws {
        // TCP connects, but the TLS handshake never gets an answer: the connect timeout covers it.
        let silent = try await SilentServer.start()
        let gateway = try await TestGateway.start(gatewayConfig(old: "https://127.0.0.1:\(silent.port)", oldSettings: "connect_timeout: 200ms"))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try await client.response()
        #expect(response.status == 502)
        #expect(response.text.contains("upstream connect timeout"))
        #expect(gateway.upstreamErrors(backend: "old", kind: "connect_timeout") == 1)
        await client.close()
        await gateway.stop()
        await silent.stop()
    }

    @Test func responseTimeoutIs504() async throws {
        let backend = try await TestBackend.start { _ in .hang }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, oldSettings: "response_timeout: 200ms"))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try await client.response()
        #expect(response.status == 504)
        #expect(response.text.contains("upstream response timeout"))
        #expect(gateway.upstreamErrors(backend: "old", kind: "response_timeout") == 1)
        // The backend got the request (its loop may record it after the gateway has already timed out).
        try await backend.waitForRequests(1)
        #expect(backend.requests.count == 1)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test(arguments: [BackendReply.sendAndReset(""), .close])
    func aResetOrACloseBeforeTheAnswerIs502(_ reply: BackendReply) async throws {
        let backend = try await TestBackend.start { _ in reply }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
        let response = try await client.response()
        #expect(response.status == 502)
        #expect(response.text.contains("closed the connection before the response was complete"))
        #expect(gateway.upstreamErrors(backend: "old", kind: "reset") == 1)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test(arguments: [BackendReply.sendAndReset("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part"),
                      .sendAndClose("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly part")])
    func aResetOrACloseMidBodyClosesTheClientConnection(_ reply: BackendReply) async throws {
        let backend = try await TestBackend.start { _ in reply }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let rest = try await client.closed()
        #expect(rest.hasPrefix("HTTP/1.1 200 OK"))
        #expect(rest.hasSuffix("only part"))
        await gateway.stop()
        await backend.stop()
    }

    @Test func invalidBackendResponseIs502() async throws {
        let backend = try await TestBackend.start { _ in .send("SMTP READY\r\n\r\n") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try await client.response()
        #expect(response.status == 502)
        #expect(response.text.contains("invalid upstream response"))
        #expect(gateway.upstreamErrors(backend: "old", kind: "protocol") == 1)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func backendClosingKeepAliveConnectionsLosesNoRequest() async throws {
        // The backend closes every connection after answering without announcing it.
        let backend = try await TestBackend.start { request in .sendAndClose("HTTP/1.1 200 OK\r\nContent-Length: \(request.uri.utf8.count)\r\n\r\n\(request.uri)") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        for index in 0..<20 {
            try await client.send("GET /\(index) HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try await client.response()
            #expect(response.status == 200)
            #expect(response.text == "/\(index)")
        }
        #expect(backend.requests.count == 20)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    /// A pooled connection the backend closed while it sat idle: the next request meets the dead connection (its
    /// write is reset), and is retried once on a new connection, so the client never sees it. The backend's first
    /// connection answers the first request and then resets on whatever comes next.
    @Test func aRequestMeetingAStalePooledConnectionIsRetriedOnceOnANewOne() async throws {
        let backend = try await TestBackend.start { request in
            request.connection == 0 && request.uri != "/first" ? .sendAndReset("") : .ok("answered \(request.uri) on \(request.connection)")
        }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /first HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "answered /first on 0")
        try await client.send("GET /second HTTP/1.1\r\nHost: a\r\n\r\n")
        let second = try await client.response()
        #expect(second.status == 200, "\(second)")
        #expect(second.text == "answered /second on 1", "retried on a new connection")
        #expect(backend.requests.map(\.uri) == ["/first", "/second", "/second"])
        #expect(gateway.upstreamErrors(backend: "old", kind: "reset") == 1, "the stale connection's failure is counted")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func poolBoundMakesRequestsWaitThenFailWith503() async throws {
        let backend = try await TestBackend.start { request in request.uri == "/hang" ? .hang : .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, oldSettings: "pool_size: 1, connect_timeout: 200ms, response_timeout: 5s"))
        let first = try await TestConnection.connect(port: gateway.port)
        try await first.send("GET /hang HTTP/1.1\r\nHost: a\r\n\r\n")
        // Wait until the backend holds the hanging request, so the pool's one connection is busy.
        try await backend.waitForRequests(1)
        let second = try await TestConnection.connect(port: gateway.port)
        try await second.send("GET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
        let response = try await second.response()
        #expect(response.status == 503)
        #expect(gateway.upstreamErrors(backend: "old", kind: "pool_exhausted") == 1)
        #expect(backend.connections == 1)
        await first.close()
        await second.close()
        await gateway.stop(drain: .milliseconds(100))
        await backend.stop()
    }
}
