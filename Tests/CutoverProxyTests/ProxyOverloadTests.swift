@testable import CutoverProxy
import CutoverTestSupport
import Glibc
import NIOCore
import Testing

/// Clients that hold connections or send their bodies slowly, and more clients than the gateway takes:
/// load is shed with clear answers, and other clients are still served.
@Suite("Overload and slow clients", .timeLimit(.minutes(1)))
struct ProxyOverloadTests {
    /// Raises this process's descriptor limit to its hard limit: a test that opens hundreds of sockets (and the
    /// gateway's side of each) must not depend on the shell's soft limit.
    static func raiseDescriptorLimit() {
        var limit = rlimit()
        guard getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
    }

    /// 500 clients announce a 100,000-byte upload and send 10 bytes of it. Before, each held a backend connection
    /// while it sent (so every other request got 503 once the pools were taken) and nothing ever ended them.
    @Test func fiveHundredSlowUploadersNeitherHoldBackendConnectionsNorStarveOtherClients() async throws {
        Self.raiseDescriptorLimit()
        let backend = try await TestBackend.start { request in .ok("served \(request.uri)") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, extra: "limits: { body_timeout: 10s }",
                                                                oldSettings: "pool_size: 8"))
        var uploaders: [TestConnection] = []
        for _ in 0..<500 {
            let client = try await TestConnection.connect(port: gateway.port)
            try await client.send("POST /upload HTTP/1.1\r\nHost: a\r\nContent-Length: 100000\r\n\r\n0123456789")
            uploaders.append(client)
        }
        // While all 500 are in the middle of their bodies (none has reached its body_timeout yet: the test would
        // prove nothing otherwise), other clients are answered by the backend.
        #expect(gateway.rejected("body_timeout") == 0)
        for index in 0..<20 {
            let client = try await TestConnection.connect(port: gateway.port)
            try await client.send("GET /orders/\(index) HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try await client.response()
            #expect(response.status == 200, "\(response)")
            #expect(response.text == "served /orders/\(index)")
            await client.close()
        }
        #expect(gateway.rejected("body_timeout") == 0, "every uploader was still sending while the others were served")
        #expect(backend.requests.allSatisfy { $0.method == "GET" }, "no upload reached the backend")
        #expect(backend.connections <= 8)
        // The uploads stop: each is ended with 408 once its body_timeout passes, and its connection closed.
        for client in uploaders {
            let response = try await client.response()
            #expect(response.status == 408)
            _ = try await client.closed()
        }
        #expect(gateway.rejected("body_timeout") == 500)
        await gateway.stop()
        await backend.stop()
    }

    @Test func aConnectionBeyondMaxClientConnectionsIsAnswered503AndClosed() async throws {
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, extra: "limits: { max_client_connections: 3 }"))
        var held: [TestConnection] = []
        for _ in 0..<3 {
            let client = try await TestConnection.connect(port: gateway.port)
            try await client.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.response().status == 200)
            held.append(client)
        }
        // The answer comes before any request is read (a request sent after it may meet a closed connection).
        let extra = try await TestConnection.connect(port: gateway.port)
        let refused = try await extra.response()
        #expect(refused.status == 503)
        #expect(refused.value("retry-after") == "1")
        #expect(refused.text.contains("as many client connections as it takes"))
        _ = try await extra.closed()
        #expect(gateway.rejected("too_many_connections") == 1)
        #expect(backend.requests.count == 3)
        // Once one of the three leaves, a new client is taken again.
        await held.removeFirst().close()
        try await waitUntil("the gateway to see the client go") {
            (try? await gateway.server.onEveryLoop { $0.clients.count }.reduce(0, +)) == 2
        }
        let next = try await TestConnection.connect(port: gateway.port)
        try await next.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await next.response().status == 200)
        await next.close()
        for client in held { await client.close() }
        await gateway.stop()
        await backend.stop()
    }

    /// A chunked body whose framing breaks after its first bytes: the copy to new must not have left already.
    @Test func aShadowCopyLeavesOnlyOnceTheHeldBodyPassedItsChecks() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let gateway = try await TestGateway.start(gatewayConfig(old: old.url, new: new.url, routes: """
              - { name: orders, match: { prefix: /orders }, phase: shadow, shadow: { writes: mirror } }
            """))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("POST /orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\nzz-not-hex\r\n")
        let response = try await client.response()
        #expect(response.status == 400)
        _ = try await client.closed()
        // The same exchange with a valid body reaches both: so new's silence above is the check, not a broken copy.
        let valid = try await TestConnection.connect(port: gateway.port)
        try await valid.send("POST /orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        #expect(try await valid.response().text == "old")
        try await new.waitForRequests(1)
        #expect(new.requests.count == 1 && new.requests[0].body == Array("hello".utf8))
        #expect(new.connections == 1, "new was never even connected to for the refused request")
        #expect(old.requests.count == 1 && old.connections == 1)
        await valid.close()
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func beyondTheBackendsMaxQueueARequestIsShedAtOnceWithRetryAfter() async throws {
        let backend = try await TestBackend.start { _ in .hold }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, oldSettings: "pool_size: 1, max_queue: 1, connect_timeout: 30s"))
        let first = try await TestConnection.connect(port: gateway.port)
        try await first.send("GET /1 HTTP/1.1\r\nHost: a\r\n\r\n")
        try await waitUntil("the first request to reach the backend") { backend.heldCount == 1 }
        let second = try await TestConnection.connect(port: gateway.port)
        try await second.send("GET /2 HTTP/1.1\r\nHost: a\r\n\r\n")
        try await waitUntil("the second request to wait in line") {
            (try? await gateway.server.onEveryLoop { $0.pools[0].lineLength }.reduce(0, +)) == 1
        }
        let third = try await TestConnection.connect(port: gateway.port)
        try await third.send("GET /3 HTTP/1.1\r\nHost: a\r\n\r\n")
        let shed = try await third.response()
        #expect(shed.status == 503)
        #expect(shed.value("retry-after") == "1")
        #expect(shed.text.contains("max_queue"))
        #expect(gateway.upstreamErrors(backend: "old", kind: "queue_full") == 1)
        backend.releaseHeld(with: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try await first.response().text == "ok")
        try await waitUntil("the second request to reach the backend") { backend.heldCount == 1 }
        backend.releaseHeld(with: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(try await second.response().text == "ok")
        for client in [first, second, third] { await client.close() }
        await gateway.stop()
        await backend.stop()
    }
}
