@testable import CutoverProxy
import NIOCore
import Testing

@Suite("Head writers", .timeLimit(.minutes(1)))
struct HeadWriterTests {
    func requestHead(_ text: String) throws -> RequestHead {
        var input = ByteBuffer(string: text)
        var parser = RequestParser(maxHeadBytes: 8192)
        guard case .head(let head) = try parser.next(&input) else { throw RequestParseError.malformedRequestLine }
        return head
    }

    func written(_ head: RequestHead, hostOverride: String? = nil, targetOverride: String? = nil) -> (String, String) {
        let writer = RequestHeadWriter(targetOverride: targetOverride, hostOverride: hostOverride, defaultHost: "backend:9001",
                                       forwarding: ForwardingLines(clientAddress: "192.0.2.7", scheme: "https"))
        var buffer = ByteBuffer()
        var ids = RequestIDGenerator()
        let location = writer.write(head, into: &buffer, ids: &ids)
        return (String(buffer: buffer), location.read(from: buffer))
    }

    @Test func backendRequestLosesHopByHopHeadersAndGainsForwardingOnes() throws {
        let head = try requestHead("GET /orders?x=1 HTTP/1.1\r\nHost: shop.example\r\nConnection: keep-alive, X-Secret-Hop\r\n"
            + "Keep-Alive: timeout=5\r\nX-Secret-Hop: 1\r\nTE: trailers\r\nTrailer: X\r\nProxy-Authorization: Basic x\r\nProxy: evil\r\n"
            + "Upgrade: h2c\r\nExpect: 100-continue\r\nX-Forwarded-Proto: ftp\r\nAccept: */*\r\nX-Request-Id: req-1\r\n\r\n")
        let (text, id) = written(head)
        #expect(text == "GET /orders?x=1 HTTP/1.1\r\nHost: shop.example\r\nAccept: */*\r\nX-Request-Id: req-1\r\n"
            + "X-Forwarded-For: 192.0.2.7\r\nX-Forwarded-Proto: https\r\n\r\n")
        #expect(id == "req-1")
    }

    @Test func requestIDIsGeneratedWhenAbsent() throws {
        let (text, id) = written(try requestHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(id.count == 32)
        #expect(id.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(text.contains("X-Request-Id: \(id)\r\n"))
        let (_, other) = written(try requestHead("GET / HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(other != id)
    }

    @Test func existingForwardedForValuesAreKeptAndExtended() throws {
        let (text, _) = written(try requestHead("GET / HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 10.0.0.1\r\nX-Forwarded-For: 10.0.0.2, 10.0.0.3\r\n\r\n"))
        #expect(text.contains("X-Forwarded-For: 10.0.0.1, 10.0.0.2, 10.0.0.3, 192.0.2.7\r\n"))
        #expect(text.components(separatedBy: "X-Forwarded-For").count == 2)
    }

    @Test func hostIsKeptOverriddenOrSupplied() throws {
        let (kept, _) = written(try requestHead("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n"))
        #expect(kept.contains("Host: shop.example\r\n"))
        let (overridden, _) = written(try requestHead("GET / HTTP/1.1\r\nHost: shop.example\r\n\r\n"), hostOverride: "internal")
        #expect(overridden.contains("Host: internal\r\n"))
        #expect(!overridden.contains("shop.example"))
        let (supplied, _) = written(try requestHead("GET / HTTP/1.0\r\n\r\n"))
        #expect(supplied.hasPrefix("GET / HTTP/1.1\r\n"))
        #expect(supplied.contains("Host: backend:9001\r\n"))
    }

    @Test func framingIsDeclaredAgain() throws {
        let (fixed, _) = written(try requestHead("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2, 2\r\n\r\n"))
        #expect(fixed.hasSuffix("Content-Length: 2\r\n\r\n"))
        #expect(fixed.components(separatedBy: "Content-Length").count == 2)
        let (chunked, _) = written(try requestHead("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"))
        #expect(chunked.hasSuffix("Transfer-Encoding: chunked\r\n\r\n"))
    }

    @Test func absoluteFormTargetIsSentInOriginForm() throws {
        let (text, _) = written(try requestHead("GET http://gw.example/a?b HTTP/1.1\r\nHost: other\r\n\r\n"),
                                hostOverride: "gw.example", targetOverride: "/a?b")
        #expect(text.hasPrefix("GET /a?b HTTP/1.1\r\nHost: gw.example\r\n"))
    }

    func responseHead(_ text: String) throws -> ResponseHead {
        try ResponseParser.parse(head: ByteBuffer(string: text), requestIsHEAD: false)
    }

    func written(_ head: ResponseHead, clientMinor: Int = 1, keepAlive: Bool = true) -> String {
        let framing = ClientFraming.decide(head.framing, clientMinor: clientMinor, clientKeepAlive: keepAlive)
        var buffer = ByteBuffer()
        ResponseHeadWriter.write(head, framing: framing, clientMinor: clientMinor, into: &buffer)
        return String(buffer: buffer)
    }

    @Test func clientResponseLosesHopByHopHeaders() throws {
        let head = try responseHead("HTTP/1.1 200 Fine\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\n"
            + "Proxy-Authenticate: Basic\r\nUpgrade: h2\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n")
        #expect(written(head) == "HTTP/1.1 200 Fine\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n")
    }

    @Test func chunkedResponsesKeepTheirEncodingForHTTP11Clients() throws {
        let head = try responseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Kept: 1\r\n\r\n")
        #expect(written(head) == "HTTP/1.1 200 OK\r\nX-Kept: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
    }

    @Test func http10ClientsGetCloseDelimitedOrKeepAliveAnswers() throws {
        let chunked = try responseHead("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(written(chunked, clientMinor: 0) == "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n")
        let sized = try responseHead("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n")
        #expect(written(sized, clientMinor: 0) == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: keep-alive\r\n\r\n")
        #expect(written(sized, clientMinor: 0, keepAlive: false) == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\n")
    }

    @Test func closeDelimitedResponsesAreRechunkedForHTTP11Clients() throws {
        let head = try responseHead("HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n")
        #expect(written(head) == "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(ClientFraming.decide(head.framing, clientMinor: 1, clientKeepAlive: true).body == .rechunk)
    }

    @Test func statusLineFromHTTP10BackendIsRewrittenTo11() throws {
        let head = try responseHead("HTTP/1.0 404 Not Found\nContent-Length: 0\n\n")
        #expect(written(head) == "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n")
    }
}

@Suite("Chunked framing on the way out")
struct ChunkWriterTests {
    @Test func sizeLinesAreLowerCaseHexWithoutLeadingZeros() {
        let allocator = ByteBufferAllocator()
        for count in [1, 9, 10, 15, 16, 255, 256, 4095, 65_536, 1 << 20, 123_456_789, Int(Int32.max)] {
            #expect(String(buffer: ChunkWriter.sizeLine(count, allocator: allocator)) == String(count, radix: 16) + "\r\n", "\(count)")
        }
    }

    @Test func aChunkIsItsSizeLineDataAndCRLFAndEmptyDataWritesNothing() {
        var written: [String] = []
        ChunkWriter.write(ByteBuffer(string: "hello world"), allocator: ByteBufferAllocator()) { written.append(String(buffer: $0)) }
        #expect(written == ["b\r\n", "hello world", "\r\n"])
        written = []
        ChunkWriter.write(ByteBuffer(), allocator: ByteBufferAllocator()) { written.append(String(buffer: $0)) }
        #expect(written.isEmpty, "a zero-size chunk would end the body")
        #expect(String(buffer: ChunkWriter.lastChunk) == "0\r\n\r\n")
    }
}
