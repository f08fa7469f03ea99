import CutoverTestSupport
import NIOCore
import Testing

@Suite("Forwarding over real loopback sockets", .timeLimit(.minutes(1)))
struct ProxyForwardingTests {
    @Test func getIsForwardedAndTheAnswerStreamsBack() async throws {
        let backend = try await TestBackend.start { _ in .ok("{\"id\":7}", headers: ["Content-Type: application/json", "X-Backend: old"]) }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /orders/7?expand=items HTTP/1.1\r\nHost: shop.example\r\nAccept: application/json\r\n\r\n")
        let response = try await client.response()
        #expect(response.status == 200)
        #expect(response.text == "{\"id\":7}")
        #expect(response.value("x-backend") == "old")
        let request = try #require(backend.requests.first)
        #expect(request.method == "GET")
        #expect(request.uri == "/orders/7?expand=items")
        #expect(request.value("host") == "shop.example")
        #expect(request.value("accept") == "application/json")
        #expect(request.value("x-forwarded-for") == "127.0.0.1")
        #expect(request.value("x-forwarded-proto") == "http")
        let id = try #require(request.value("x-request-id"))
        #expect(id.count == 32)
        #expect(request.version.minor == 1)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func clientRequestIDAndForwardedForAreKeptAndExtended() async throws {
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\nX-Request-Id: trace-42\r\nX-Forwarded-For: 203.0.113.9\r\nX-Forwarded-Proto: gopher\r\n\r\n")
        _ = try await client.response()
        let request = try #require(backend.requests.first)
        #expect(request.values("x-request-id") == ["trace-42"])
        #expect(request.values("x-forwarded-for") == ["203.0.113.9, 127.0.0.1"])
        #expect(request.values("x-forwarded-proto") == ["http"])
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func hopByHopHeadersAreStrippedBothWays() async throws {
        let backend = try await TestBackend.start { _ in
            .send("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Backend-Hop\r\nKeep-Alive: timeout=5\r\nX-Backend-Hop: secret\r\n"
                + "Proxy-Authenticate: Basic\r\nUpgrade: h2c\r\nX-Kept: yes\r\nContent-Length: 2\r\n\r\nok")
        }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\nConnection: X-Client-Hop\r\nX-Client-Hop: 1\r\nKeep-Alive: 300\r\n"
            + "TE: trailers\r\nTrailer: X-T\r\nProxy-Authorization: Basic eA==\r\nProxy: http://evil\r\nX-Kept: yes\r\n\r\n")
        let response = try await client.response()
        #expect(response.text == "ok")
        #expect(response.value("x-kept") == "yes")
        for name in ["connection", "keep-alive", "x-backend-hop", "proxy-authenticate", "upgrade"] {
            #expect(response.value(name) == nil, "response header \(name) must not reach the client")
        }
        let request = try #require(backend.requests.first)
        #expect(request.value("x-kept") == "yes")
        for name in ["connection", "x-client-hop", "keep-alive", "te", "trailer", "proxy-authorization", "proxy"] {
            #expect(request.value(name) == nil, "request header \(name) must not reach the backend")
        }
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func hostHeaderComesFromTheBackendConfigWhenSet() async throws {
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, oldSettings: "host_header: \"orders.internal\""))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n")
        _ = try await client.response()
        #expect(backend.requests.first?.values("host") == ["orders.internal"])
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func keepAliveReusesOneUpstreamConnection() async throws {
        let backend = try await TestBackend.start { request in .ok("answer to \(request.uri)") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        for index in 0..<5 {
            try await client.send("GET /\(index) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.response().text == "answer to /\(index)")
        }
        #expect(backend.connections == 1)
        #expect(backend.requests.map(\.uri) == ["/0", "/1", "/2", "/3", "/4"])
        #expect(!client.isClosed)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func pipelinedRequestsAreAnsweredInOrder() async throws {
        let backend = try await TestBackend.start { request in .ok("answer to \(request.uri)") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        var pipeline = ""
        for index in 0..<10 {
            pipeline += index == 4
                ? "POST /\(index) HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\n\r\nbody"
                : "GET /\(index) HTTP/1.1\r\nHost: a\r\n\r\n"
        }
        try await client.send(pipeline)
        for index in 0..<10 {
            #expect(try await client.response().text == "answer to /\(index)")
        }
        #expect(backend.requests.map(\.uri) == (0..<10).map { "/\($0)" })
        #expect(backend.requests[4].body == Array("body".utf8))
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func routesSendEachPhaseToItsSideAndUnmatchedToOld() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let gateway = try await TestGateway.start(gatewayConfig(old: old.url, new: new.url, routes: """
              - { name: order-by-id, match: { methods: [GET], path: "/orders/{id}" }, phase: new }
              - { name: orders, match: { prefix: "/orders" }, phase: old }
            """))
        let client = try await TestConnection.connect(port: gateway.port)
        for (target, expected) in [("/orders/7", "new"), ("/orders", "old"), ("/orders/7/items", "old"), ("/other", "old")] {
            try await client.send("GET \(target) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.response().text == expected, "\(target)")
        }
        try await client.send("DELETE /orders/7 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "old")
        #expect(gateway.requests(route: "order-by-id", backend: "new", code: "2xx") == 1)
        #expect(gateway.requests(route: "orders", backend: "old", code: "2xx") == 3)
        #expect(gateway.requests(route: "_unmatched", backend: "old", code: "2xx") == 1)
        await client.close()
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func absoluteFormForOurOwnHostIsServedInOriginForm() async throws {
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, extra: "server_names: [shop.example]"))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET http://shop.example:8080/orders?x=1 HTTP/1.1\r\nHost: ignored\r\n\r\n")
        #expect(try await client.response().status == 200)
        let request = try #require(backend.requests.first)
        #expect(request.uri == "/orders?x=1")
        #expect(request.values("host") == ["shop.example:8080"])
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func requestBodyWithContentLengthReachesTheBackendIntact() async throws {
        let backend = try await TestBackend.start { request in .ok("got \(request.body.count)") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        let body = String(repeating: "0123456789", count: 10_000)
        try await client.send("PUT /doc HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
        #expect(try await client.response().text == "got 100000")
        #expect(backend.requests.first?.body == Array(body.utf8))
        #expect(backend.requests.first?.value("content-length") == "100000")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func chunkedRequestBodyIsDecodedAndSentChunkedAgain() async throws {
        let backend = try await TestBackend.start { request in .ok(String(decoding: request.body, as: UTF8.self)) }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n")
        #expect(try await client.response().text == "hello world")
        #expect(backend.requests.first?.value("transfer-encoding") == "chunked")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }
}
