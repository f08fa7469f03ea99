import CutoverTestSupport
import NIOCore
import Testing

@Suite("Requests refused before they reach a backend", .timeLimit(.minutes(1)))
struct ProxyDefenceTests {
    /// Sends `request` on a new connection and returns the answer; checks that the backend never saw a request.
    func refused(_ request: String, extra: String = "", routes: String = "", head: Bool = false,
                 expectClose: Bool = true) async throws -> (TestResponse, TestGateway) {
        let backend = try await TestBackend.start { _ in .ok("must not happen") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, routes: routes, extra: extra))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send(request)
        let response = try await client.response(head: head)
        if expectClose { try await client.closed() }
        #expect(backend.requests.isEmpty, "the backend must not see a refused request")
        #expect(backend.connections == 0, "the backend must not even be connected to")
        await client.close()
        await gateway.stop()
        await backend.stop()
        return (response, gateway)
    }

    @Test func contentLengthWithTransferEncodingIs400() async throws {
        let (response, gateway) = try await refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
        #expect(response.status == 400)
        #expect(response.text.contains("both Content-Length and Transfer-Encoding"))
        #expect(response.value("content-type") == "application/json")
        #expect(gateway.rejected("framing") == 1)
    }

    @Test func conflictingContentLengthsAre400() async throws {
        let (response, _) = try await refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcd")
        #expect(response.status == 400)
        #expect(response.text.contains("conflicting Content-Length"))
    }

    @Test func invalidChunkIs400BeforeAnythingIsForwarded() async throws {
        let (response, _) = try await refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nnot-hex\r\n")
        #expect(response.status == 400)
        #expect(response.text.contains("invalid chunked encoding"))
    }

    @Test func foreignAbsoluteFormHostIs421() async throws {
        let (response, gateway) = try await refused("GET http://evil.example/steal HTTP/1.1\r\nHost: evil.example\r\n\r\n", expectClose: false)
        #expect(response.status == 421)
        #expect(response.text.contains("not an open proxy"))
        #expect(gateway.rejected("foreign_host") == 1)
    }

    @Test func oversizeHeadersAre431() async throws {
        let big = String(repeating: "x", count: 3000)
        let (response, gateway) = try await refused("GET / HTTP/1.1\r\nHost: a\r\nX-Big: \(big)\r\n\r\n",
                                                    extra: "limits: { max_header_bytes: 2KiB }")
        #expect(response.status == 431)
        #expect(gateway.rejected("header_too_large") == 1)
    }

    @Test func routeHeaderLimitApplies() async throws {
        let big = String(repeating: "x", count: 1500)
        let (response, _) = try await refused("GET /small HTTP/1.1\r\nHost: a\r\nX-Big: \(big)\r\n\r\n",
                                              routes: "  - { name: small, match: { prefix: /small }, phase: old, limits: { max_header_bytes: 1KiB } }",
                                              expectClose: false)
        #expect(response.status == 431)
        #expect(response.text.contains("\"route\":\"small\""))
    }

    @Test func oversizeBodyByContentLengthIs413() async throws {
        let (response, gateway) = try await refused("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2048\r\n\r\n",
                                                    extra: "limits: { max_body_bytes: 1KiB }")
        #expect(response.status == 413)
        #expect(gateway.rejected("body_too_large") == 1)
    }

    @Test func oversizeChunkedBodyIs413() async throws {
        let chunk = String(repeating: "z", count: 600)
        let (response, _) = try await refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n258\r\n\(chunk)\r\n258\r\n\(chunk)\r\n0\r\n\r\n",
                                              extra: "limits: { max_body_bytes: 1KiB }")
        #expect(response.status == 413)
    }

    @Test func missingOrRepeatedHostIs400() async throws {
        let (missing, _) = try await refused("GET / HTTP/1.1\r\n\r\n", expectClose: false)
        #expect(missing.status == 400)
        #expect(missing.text.contains("missing Host"))
        let (twice, _) = try await refused("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", expectClose: false)
        #expect(twice.status == 400)
    }

    @Test func connectIs405() async throws {
        let (response, gateway) = try await refused("CONNECT backend.internal:443 HTTP/1.1\r\nHost: backend.internal:443\r\n\r\n", expectClose: false)
        #expect(response.status == 405)
        #expect(gateway.rejected("method") == 1)
    }

    @Test func unsupportedTransferCodingIs501AndUnknownExpectationIs417() async throws {
        let (coding, _) = try await refused("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n")
        #expect(coding.status == 501)
        let (expect, _) = try await refused("GET / HTTP/1.1\r\nHost: a\r\nExpect: miracles\r\n\r\n", expectClose: false)
        #expect(expect.status == 417)
    }

    @Test func malformedRequestLineAndVersionsAreRefused() async throws {
        let (garbage, _) = try await refused("HELLO THERE\r\n\r\n")
        #expect(garbage.status == 400)
        let (version, _) = try await refused("GET / HTTP/2.0\r\n\r\n")
        #expect(version.status == 505)
    }

    @Test func refusalToHeadRequestHasNoBody() async throws {
        let (response, _) = try await refused("HEAD http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\n", head: true, expectClose: false)
        #expect(response.status == 421)
        #expect(response.body.isEmpty)
        #expect(response.value("content-length") != nil)
    }

    @Test func connectionStaysUsableAfterARefusalWithoutBody() async throws {
        let backend = try await TestBackend.start { _ in .ok("fine") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET http://evil.example/ HTTP/1.1\r\nHost: evil.example\r\n\r\nGET /ok HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().status == 421)
        #expect(try await client.response().text == "fine")
        #expect(backend.requests.map(\.uri) == ["/ok"])
        await client.close()
        await gateway.stop()
        await backend.stop()
    }
}
