import CutoverTestSupport
import NIOCore
import Testing

@Suite("Message framing and HTTP semantics", .timeLimit(.minutes(1)))
struct ProxyFramingTests {
    func withGateway(_ reply: @escaping @Sendable (ReceivedRequest) -> BackendReply,
                     _ body: (TestGateway, TestBackend, TestConnection) async throws -> Void) async throws {
        let backend = try await TestBackend.start(reply: reply)
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await body(gateway, backend, client)
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func http10ClientWithoutKeepAliveGetsTheAnswerThenClose() async throws {
        try await withGateway({ _ in .ok("hello") }) { _, backend, client in
            try await client.send("GET /x HTTP/1.0\r\n\r\n")
            let response = try await client.response()
            #expect(response.text == "hello")
            #expect(response.value("connection") == "close")
            try await client.closed()
            #expect(backend.requests.first?.version.minor == 1)
            #expect(backend.requests.first?.value("host") != nil)
        }
    }

    @Test func http10ClientWithKeepAliveKeepsItsConnection() async throws {
        try await withGateway({ request in .ok("answer to \(request.uri)") }) { _, _, client in
            for index in 0..<3 {
                try await client.send("GET /\(index) HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                let response = try await client.response()
                #expect(response.text == "answer to /\(index)")
                #expect(response.value("connection") == "keep-alive")
            }
            #expect(!client.isClosed)
        }
    }

    @Test func chunkedAnswerToHTTP10ClientIsDecodedAndCloseDelimited() async throws {
        try await withGateway({ _ in .send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") }) { _, _, client in
            try await client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let response = try await client.response()
            #expect(response.value("transfer-encoding") == nil)
            #expect(response.value("connection") == "close")
            #expect(response.text == "hello world")
            try await client.closed()
        }
    }

    @Test func chunkedAnswerPassesThroughToHTTP11Client() async throws {
        try await withGateway({ _ in .send("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n") }) { _, _, client in
            for _ in 0..<2 {
                try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                let response = try await client.response()
                #expect(response.value("transfer-encoding") == "chunked")
                #expect(response.text == "hello world")
            }
        }
    }

    @Test func closeDelimitedAnswerIsRechunkedAndTheClientKeepsItsConnection() async throws {
        try await withGateway({ _ in .sendAndClose("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end") }) { _, backend, client in
            for _ in 0..<2 {
                try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
                let response = try await client.response()
                #expect(response.value("transfer-encoding") == "chunked")
                #expect(response.text == "until the end")
            }
            #expect(!client.isClosed)
            #expect(backend.connections == 2)
        }
    }

    @Test func headAnswerHasNoBodyAndTheConnectionStaysUsable() async throws {
        try await withGateway({ request in
            request.method == "HEAD"
                ? .send("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")
                : .ok("after head")
        }) { _, _, client in
            try await client.send("HEAD /doc HTTP/1.1\r\nHost: a\r\n\r\n")
            let head = try await client.response(head: true)
            #expect(head.status == 200)
            #expect(head.value("content-length") == "1000")
            #expect(head.body.isEmpty)
            try await client.send("GET /next HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.response().text == "after head")
        }
    }

    @Test func noContentAndNotModifiedCarryNoBody() async throws {
        try await withGateway({ request in
            request.uri == "/204"
                ? .send("HTTP/1.1 204 No Content\r\nX-A: 1\r\n\r\n")
                : .send("HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\n\r\n")
        }) { _, _, client in
            try await client.send("GET /204 HTTP/1.1\r\nHost: a\r\n\r\nGET /304 HTTP/1.1\r\nHost: a\r\n\r\n")
            let first = try await client.response()
            #expect(first.status == 204)
            #expect(first.value("x-a") == "1")
            let second = try await client.response()
            #expect(second.status == 304)
            #expect(second.value("etag") == "\"x\"")
            #expect(client.pendingBytes == 0)
        }
    }

    @Test func interimResponsesReachHTTP11ClientsOnly() async throws {
        let reply: @Sendable (ReceivedRequest) -> BackendReply = { _ in
            .send("HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        }
        try await withGateway(reply) { _, _, client in
            try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
            let response = try await client.response()
            #expect(response.informational == [103])
            #expect(response.text == "ok")
            try await client.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            let old = try await client.response()
            #expect(old.informational.isEmpty)
            #expect(old.text == "ok")
        }
    }

    @Test func expectContinueIsAnsweredByTheGatewayAndNotForwarded() async throws {
        try await withGateway({ request in .ok("got \(String(decoding: request.body, as: UTF8.self))") }) { _, backend, client in
            try await client.send("PUT /doc HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")
            let interim = try await client.interimResponse()
            #expect(interim == 100)
            try await client.send("hello")
            let response = try await client.response()
            #expect(response.text == "got hello")
            #expect(backend.requests.first?.value("expect") == nil)
        }
    }
}
