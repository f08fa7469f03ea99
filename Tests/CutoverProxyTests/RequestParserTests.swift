@testable import CutoverProxy
import NIOCore
import Testing

/// What a parser produced, in a form tests compare easily.
enum Parsed: Equatable {
    case head(method: String, target: String, minor: Int, keepAlive: Bool)
    case body(String)
    case end
}

/// Runs the request parser over `text` cut into pieces of `chunk` bytes, merging adjacent body events.
func parseRequests(_ text: String, chunk: Int = Int.max, maxHead: Int = 8192) throws(RequestParseError) -> [Parsed] {
    var parser = RequestParser(maxHeadBytes: maxHead)
    var events: [Parsed] = []
    let bytes = Array(text.utf8)
    var offset = 0
    while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        var input = ByteBuffer(bytes: bytes[offset..<end])
        offset = end
        loop: while true {
            switch try parser.next(&input) {
            case .head(let head):
                events.append(.head(method: head.methodText, target: head.targetText, minor: head.minorVersion, keepAlive: head.keepAlive))
            case .body(let body):
                let text = String(buffer: body)
                if case .body(let previous)? = events.last {
                    events[events.count - 1] = .body(previous + text)
                } else {
                    events.append(.body(text))
                }
            case .end:
                events.append(.end)
            case .needMoreData:
                break loop
            }
        }
    }
    // A message whose last part completed exactly at the end still owes its `.end`.
    var empty = ByteBuffer()
    if case .end = try parser.next(&empty) { events.append(.end) }
    return events
}

func parseError(_ text: String) -> RequestParseError? {
    do {
        _ = try parseRequests(text)
        return nil
    } catch {
        return error
    }
}

@Suite("Request parser", .timeLimit(.minutes(1)))
struct RequestParserTests {
    @Test func simpleGetHasNoBody() throws {
        #expect(try parseRequests("GET /orders/7?x=1 HTTP/1.1\r\nHost: a\r\n\r\n")
            == [.head(method: "GET", target: "/orders/7?x=1", minor: 1, keepAlive: true), .end])
    }

    @Test func keepAliveFollowsVersionAndConnection() throws {
        #expect(try parseRequests("GET / HTTP/1.0\r\n\r\n").first == .head(method: "GET", target: "/", minor: 0, keepAlive: false))
        #expect(try parseRequests("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n").first
            == .head(method: "GET", target: "/", minor: 0, keepAlive: true))
        #expect(try parseRequests("GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n").first
            == .head(method: "GET", target: "/", minor: 1, keepAlive: false))
    }

    @Test func contentLengthBodyIsDeliveredAndEnds() throws {
        let text = "POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 11\r\n\r\nhello world"
        let expected: [Parsed] = [.head(method: "POST", target: "/orders", minor: 1, keepAlive: true), .body("hello world"), .end]
        #expect(try parseRequests(text) == expected)
    }

    @Test func chunkedBodyIsDecoded() throws {
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6;note=x\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n"
        let expected: [Parsed] = [.head(method: "POST", target: "/", minor: 1, keepAlive: true), .body("hello world"), .end]
        #expect(try parseRequests(text) == expected)
    }

    @Test func chunkExtensionsOfTheGrammarAreRead() throws {
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "5;a;b=c;q=\"x y\\\"z;\"\r\nhello\r\n6;n=\"\"\r\n world\r\n0;last\r\n\r\n"
        let expected: [Parsed] = [.head(method: "POST", target: "/", minor: 1, keepAlive: true), .body("hello world"), .end]
        #expect(try parseRequests(text) == expected)
    }

    @Test func trailersNamedLikeFramingFieldsAreRead() throws {
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
            + "2\r\nhi\r\n0\r\nContent-Lengths: 1\r\nTransfer-Encodin: x\r\nContent: y\r\nConnections: z\r\nConnectio: z\r\n\r\n"
        let expected: [Parsed] = [.head(method: "POST", target: "/", minor: 1, keepAlive: true), .body("hi"), .end]
        #expect(try parseRequests(text) == expected)
    }

    @Test func trailerBytesAreBoundedWhateverTheirLines() {
        // 4,200 four-byte lines (`a:` CR LF) are 16,800 bytes, past the 16 KiB bound: every byte counts, line ends too.
        let text = "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n"
            + String(repeating: "a:\r\n", count: 4200) + "\r\n"
        #expect(parseError(text) == .invalidChunk)
    }

    @Test func pipelinedRequestsComeOutInOrder() throws {
        let text = "GET /a HTTP/1.1\r\nHost: a\r\n\r\nPOST /b HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nokGET /c HTTP/1.1\r\nHost: a\r\n\r\n"
        let expected: [Parsed] = [
            .head(method: "GET", target: "/a", minor: 1, keepAlive: true), .end,
            .head(method: "POST", target: "/b", minor: 1, keepAlive: true), .body("ok"), .end,
            .head(method: "GET", target: "/c", minor: 1, keepAlive: true), .end,
        ]
        #expect(try parseRequests(text) == expected)
    }

    @Test func everySplitOfTheInputParsesTheSame() throws {
        let text = "\r\nPOST /x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n10\r\n0123456789abcdef\r\n0\r\n\r\n"
            + "PUT /y HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz"
        let whole = try parseRequests(text)
        #expect(whole.count == 6)
        for chunk in 1...12 {
            #expect(try parseRequests(text, chunk: chunk) == whole, "split every \(chunk) bytes")
        }
    }

    @Test func headFieldsNeededByTheProxyAreFound() throws {
        var input = ByteBuffer(string: "PUT /o HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\nX-Request-Id: abc\r\n"
            + "X-Forwarded-For: 10.0.0.1\r\nx-forwarded-for: 10.0.0.2\r\nConnection: keep-alive, X-Hop\r\nContent-Length: 0\r\n\r\n")
        var parser = RequestParser(maxHeadBytes: 8192)
        guard case .head(let head) = try parser.next(&input) else {
            Issue.record("expected a head")
            return
        }
        #expect(head.method == .put)
        #expect(head.method.isIdempotent)
        #expect(head.hostCount == 1)
        #expect(head.expect.map(head.text) == "100-continue")
        #expect(head.requestID.map(head.text) == "abc")
        #expect(head.forwardedForCount == 2)
        #expect(head.connectionTokens == [Array("x-hop".utf8)])
        #expect(head.framing == .contentLength(0))
        #expect(head.header("x-request-id") == "abc")
    }

    @Test func identicalContentLengthsAreOneLength() throws {
        let events = try parseRequests("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nContent-Length: 2, 2\r\n\r\nok")
        #expect(events.contains(.body("ok")))
    }

    @Test(arguments: [
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", RequestParseError.contentLengthWithTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n", .contentLengthWithTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", .conflictingContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3, 4\r\n\r\n", .conflictingContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: -1\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: \r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 99999999999999999999\r\n\r\n", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\n\r\n", .invalidTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", .invalidTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a\nb\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n", .invalidChunk),
        ("GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n", .obsoleteLineFolding),
        ("GET / HTTP/1.1\r\nHost : a\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nNoColon\r\n\r\n", .malformedHeader),
        ("GET / HTTP/1.1\r\nHost: a\nX: b\r\n\r\n", .bareLineFeed),
        // Found on a live gateway (the data-plane issue): each refused at once, before a backend sees a byte.
        ("GET / HTTP/1.1\nHost: a\n\n", .bareLineFeed),
        ("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", .transferEncodingInHTTP10),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5, , 5\r\n\r\nhello", .invalidContentLength),
        ("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: ,\r\n\r\n", .invalidContentLength),
        ("GET / HTTP/1.1\r\nHost: a b\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: user@a\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a,b\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a:99999\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: a:8x\r\n\r\n", .invalidHost),
        ("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n", .invalidHost),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;" + String(repeating: "x", count: 5000) + "\r\nabc\r\n", .invalidChunk),
        ("GET / HTTP/1.1\r\nHost: a\u{1}b\r\n\r\n", .malformedHeader),
        // Chunk extensions follow the grammar exactly (`;name[=token or "quoted"]`, no whitespace).
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0;er: x\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3 \r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3; a\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a =b\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=b=c\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"b\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"b\"c\r\nabc\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n3;a=\"\u{1}\"\r\nabc\r\n", .invalidChunk),
        // Trailer fields are `token: value` (found by request-diff and response-diff).
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nhello\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTrail\u{9b}: x\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX Y: z\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n: z\r\n\r\n", .invalidChunk),
        // Framing and connection fields in trailers (RFC 9110 §6.5.1), as llhttp refuses or obeys them.
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nTransfer-Encoding: chunked\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\ncontent-LENGTH: 5\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nConnection: close\r\n\r\n", .invalidChunk),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked,\r\n\r\n0\r\n\r\n", .invalidTransferEncoding),
        ("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: , chunked\r\n\r\n0\r\n\r\n", .invalidTransferEncoding),
        ("GET  / HTTP/1.1\r\n\r\n", .malformedRequestLine),
        ("GET /a b HTTP/1.1\r\n\r\n", .malformedRequestLine),
        ("G(T / HTTP/1.1\r\n\r\n", .malformedRequestLine),
        ("GET / HTTP/1.1 \r\n\r\n", .malformedRequestLine),
        ("GET / FTP/1.1\r\n\r\n", .malformedRequestLine),
        ("GET / HTTP/2.0\r\n\r\n", .unsupportedVersion),
        ("GET / HTTP/1.2\r\n\r\n", .unsupportedVersion),
    ])
    func malformedRequestsAreRefused(text: String, expected: RequestParseError) {
        #expect(parseError(text) == expected)
    }

    @Test func refusalStatusesFollowTheKindOfError() {
        #expect(RequestParseError.headTooLarge(limit: 1).status == 431)
        #expect(RequestParseError.unsupportedVersion.status == 505)
        #expect(RequestParseError.unsupportedTransferEncoding.status == 501)
        #expect(RequestParseError.contentLengthWithTransferEncoding.status == 400)
        #expect(RequestParseError.invalidChunk.status == 400)
    }

    @Test func oversizeHeadIsRefusedWhetherOrNotItIsComplete() {
        let big = "GET / HTTP/1.1\r\nHost: a\r\nX-Big: " + String(repeating: "b", count: 2000) + "\r\n\r\n"
        #expect(throws: RequestParseError.headTooLarge(limit: 1024)) { try parseRequests(big, maxHead: 1024) }
        let endless = "GET / HTTP/1.1\r\nX-Big: " + String(repeating: "b", count: 2000)
        #expect(throws: RequestParseError.headTooLarge(limit: 1024)) { try parseRequests(endless, chunk: 100, maxHead: 1024) }
    }

    @Test func anOverLongRequestLineIs414AndOverLongHeadersAre431() {
        let longTarget = "GET /" + String(repeating: "a", count: 2000) + " HTTP/1.1\r\nHost: a\r\n\r\n"
        #expect(throws: RequestParseError.targetTooLong(limit: 1024)) { try parseRequests(longTarget, maxHead: 1024) }
        #expect(throws: RequestParseError.targetTooLong(limit: 1024)) { try parseRequests(longTarget, chunk: 100, maxHead: 1024) }
        #expect(RequestParseError.targetTooLong(limit: 1).status == 414)
    }

    @Test(arguments: ["Host: [::1]:8080", "Host: shop.example-1_a~b:80", "Host: 127.0.0.1", "Host:", "Host: xn--bcher-kva.example"])
    func wellFormedHostsAreAccepted(host: String) throws {
        let events = try parseRequests("GET / HTTP/1.1\r\n\(host)\r\n\r\n")
        #expect(events.count == 2)
    }

    /// `Connection: host` would have Host stripped on the way to the backend.
    @Test func hostIsNeverAConnectionOption() throws {
        var input = ByteBuffer(string: "GET / HTTP/1.1\r\nHost: a\r\nConnection: host, x-secret\r\nX-Secret: 1\r\n\r\n")
        var parser = RequestParser(maxHeadBytes: 1024)
        guard case .head(let head) = try parser.next(&input) else {
            Issue.record("no head")
            return
        }
        #expect(head.connectionTokens == [Array("x-secret".utf8)])
    }

    @Test func methodsAreClassified() throws {
        for (text, method) in [("GET", RequestHead.Method.get), ("HEAD", .head), ("POST", .post), ("PUT", .put), ("DELETE", .delete),
                               ("OPTIONS", .options), ("PATCH", .patch), ("TRACE", .trace), ("CONNECT", .connect), ("PURGE", .other)] {
            var input = ByteBuffer(string: "\(text) / HTTP/1.1\r\nHost: a\r\n\r\n")
            var parser = RequestParser(maxHeadBytes: 1024)
            guard case .head(let head) = try parser.next(&input) else {
                Issue.record("no head for \(text)")
                continue
            }
            #expect(head.method == method)
        }
    }
}
