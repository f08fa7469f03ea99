import CutoverTestSupport
import NIOCore
import Testing

/// RFC 9112 both ways, over real loopback sockets: what a hostile client sends is refused before a backend sees a
/// byte, and what a broken or hostile backend answers never reaches the client as it came (a 502, the backend
/// connection closed and not reused).
@Suite("HTTP/1 strictness", .timeLimit(.minutes(1)))
struct ProxyStrictnessTests {
    // MARK: - What clients send

    func refused(_ request: String, extra: String = "") async throws -> TestResponse {
        let backend = try await TestBackend.start { _ in .ok("must not happen") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, extra: extra))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send(request)
        let response = try await client.response()
        #expect(backend.requests.isEmpty && backend.connections == 0, "the backend must not even be connected to")
        await client.close()
        await gateway.stop()
        await backend.stop()
        return response
    }

    @Test func transferEncodingInAnHTTP10RequestIs400AndTheConnectionCloses() async throws {
        let backend = try await TestBackend.start { _ in .ok("must not happen") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.0\r\n\r\n")
        let response = try await client.response()
        #expect(response.status == 400)
        #expect(response.text.contains("Transfer-Encoding in an HTTP/1.0 request"))
        _ = try await client.closed()
        #expect(backend.requests.isEmpty)
        await gateway.stop()
        await backend.stop()
    }

    @Test(arguments: ["a b", "a/b", "user@a", "a,b", "a:99999", "[::1"])
    func aHostThatIsNotHostAndPortIs400(host: String) async throws {
        let response = try await refused("GET / HTTP/1.1\r\nHost: \(host)\r\n\r\n")
        #expect(response.status == 400)
        #expect(response.text.contains("invalid Host"))
    }

    @Test func connectionHostDoesNotStripHost() async throws {
        let backend = try await TestBackend.start { request in .ok(request.value("host") ?? "no host") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: shop.example\r\nConnection: host\r\n\r\n")
        #expect(try await client.response().text == "shop.example")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func anHTTP10ClientsExpectIsIgnored() async throws {
        let backend = try await TestBackend.start { request in .ok("got \(String(decoding: request.body, as: UTF8.self))") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi")
        let response = try await client.response()
        #expect(response.status == 200)
        #expect(response.informational.isEmpty, "no 100 Continue to an HTTP/1.0 client")
        #expect(response.text == "got hi")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func anOverLongRequestTargetIs414() async throws {
        let response = try await refused("GET /" + String(repeating: "a", count: 3000) + " HTTP/1.1\r\nHost: a\r\n\r\n",
                                         extra: "limits: { max_header_bytes: 2KiB }")
        #expect(response.status == 414)
    }

    /// A head with bare-LF line ends is answered at once, not after the client timeout.
    @Test func aBareLineFeedHeadIsRefusedAtOnce() async throws {
        let response = try await refused("GET / HTTP/1.1\nHost: a\n\n", extra: "client_timeout: 1h")
        #expect(response.status == 400)
        #expect(response.text.contains("bare LF"))
    }

    @Test func chunkExtensionsAreBounded() async throws {
        let response = try await refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n2;" + String(repeating: "e", count: 5000) + "\r\nhi\r\n0\r\n\r\n")
        #expect(response.status == 400)
    }

    /// Found by the differential fuzzing against llhttp: chunk lines and trailers llhttp refuses, and a coding list
    /// with an empty element, are refused before a backend sees a byte.
    @Test(arguments: [
        "Transfer-Encoding: chunked\r\n\r\n0;er: x\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\n2 \r\nhi\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\n2;a=\"b\r\nhi\r\n0\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nContent-Length: 5\r\n\r\nhello",
        "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nConnection: close\r\n\r\nGET /b HTTP/1.1\r\nHost: a\r\n\r\n",
        "Transfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\nnot a field\r\n\r\n",
        "Transfer-Encoding: chunked,\r\n\r\n2\r\nhi\r\n0\r\n\r\n",
    ])
    func aChunkedBodyLlhttpWouldReadOtherwiseIs400(rest: String) async throws {
        let response = try await refused("POST / HTTP/1.1\r\nHost: a\r\n" + rest)
        #expect(response.status == 400, "\(response)")
    }

    @Test func aContentLengthListWithAnEmptyElementIs400() async throws {
        let response = try await refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, , 2\r\n\r\nhi")
        #expect(response.status == 400)
        #expect(response.text.contains("invalid Content-Length"))
    }

    // MARK: - What backends answer

    /// Sends two requests on one client connection; the backend's first answer is `bad`, its second a good one.
    /// Returns the client's first answer and how many connections the backend saw.
    func afterABadAnswer(_ bad: String) async throws -> (TestResponse, connections: Int) {
        let backend = try await TestBackend.start { request in request.uri == "/bad" ? .send(bad) : .ok("good") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /bad HTTP/1.1\r\nHost: a\r\n\r\n")
        let first = try await client.response()
        try await client.send("GET /good HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "good")
        let connections = backend.connections
        await client.close()
        await gateway.stop()
        await backend.stop()
        return (first, connections)
    }

    @Test(arguments: [
        "HTTP/1.1 200 OK\r\nX-Echo: a\rSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nX-Echo: a\u{0}b\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 O\u{0}K\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\rSet-Cookie: injected=1\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
        "HTTP/1.1 600 Beyond\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 2, , 2\r\n\r\nok",
        // Found by the differential fuzzing against llhttp.
        "HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ])
    func aBadBackendAnswerIs502AndItsConnectionIsNotReused(bad: String) async throws {
        let (response, connections) = try await afterABadAnswer(bad)
        #expect(response.status == 502, "\(response)")
        #expect(response.text.contains("invalid upstream response"))
        #expect(!response.headers.contains { $0.name.lowercased() == "set-cookie" }, "nothing of the bad answer reaches the client")
        #expect(connections == 2, "the connection that carried the bad answer was closed, not reused")
    }

    /// A body that ends with the connection, cut by a reset: the client must not be told it is complete (no final
    /// chunk); its connection closes.
    @Test func aCloseDelimitedBodyCutByAResetIsNotPresentedAsComplete() async throws {
        let backend = try await TestBackend.start { _ in .sendAndReset("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\npartial") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        let rest = try await client.closed()
        #expect(rest.contains("partial") || rest.hasPrefix("HTTP/1.1 502"), "\(rest)")
        #expect(!rest.hasSuffix("0\r\n\r\n"), "a cut body must not end with the final chunk: \(rest)")
        await gateway.stop()
        await backend.stop()
    }

    /// The same body ended by an orderly close is complete: re-chunked to the HTTP/1.1 client, final chunk included.
    @Test func aCloseDelimitedBodyEndedByACloseIsComplete() async throws {
        let backend = try await TestBackend.start { _ in .sendAndClose("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nwhole") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "whole")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }
}
