@testable import CutoverProxy
import NIOCore
import Testing

/// What the response parser produced.
enum ParsedResponse: Equatable {
    case head(status: Int, framing: ResponseHead.Framing, keepAlive: Bool)
    case body(String)
    case end
}

func parseResponse(_ text: String, head isHEAD: Bool = false, mode: ChunkedDecoder.Mode = .raw, chunk: Int = Int.max,
                   closeAtEnd: Bool = false) throws(ResponseParseError) -> [ParsedResponse] {
    var parser = ResponseParser(maxHeadBytes: 4096)
    parser.expectResponse(toHEAD: isHEAD, chunkMode: mode)
    var events: [ParsedResponse] = []
    let bytes = Array(text.utf8)
    var offset = 0
    outer: while offset < bytes.count {
        let end = min(bytes.count, offset + chunk)
        var input = ByteBuffer(bytes: bytes[offset..<end])
        offset = end
        while true {
            switch try parser.next(&input) {
            case .head(let head):
                events.append(.head(status: head.status, framing: head.framing, keepAlive: head.keepAlive))
            case .body(let body):
                let text = String(buffer: body)
                if case .body(let previous)? = events.last { events[events.count - 1] = .body(previous + text) } else { events.append(.body(text)) }
            case .end:
                events.append(.end)
                break outer
            case .needMoreData:
                continue outer
            }
        }
    }
    if events.last != .end {
        var empty = ByteBuffer()
        if case .end = try parser.next(&empty) { events.append(.end) }
    }
    if closeAtEnd, events.last != .end, case .end? = parser.inputClosed() { events.append(.end) }
    return events
}

@Suite("Response parser", .timeLimit(.minutes(1)))
struct ResponseParserTests {
    @Test func contentLengthBody() throws {
        let events = try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
        #expect(events == [.head(status: 200, framing: .contentLength(5), keepAlive: true), .body("hello"), .end])
    }

    @Test func chunkedBodyPassesThroughAsWireBytes() throws {
        let body = "5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n"
        let events = try parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body)
        #expect(events == [.head(status: 200, framing: .chunked, keepAlive: true), .body(body), .end])
    }

    @Test func chunkedBodyDecodesForHTTP10Clients() throws {
        let events = try parseResponse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", mode: .decoded)
        #expect(events == [.head(status: 200, framing: .chunked, keepAlive: true), .body("hello world"), .end])
    }

    @Test func bodyWithoutLengthEndsAtClose() throws {
        let events = try parseResponse("HTTP/1.0 200 OK\r\n\r\nall of it", closeAtEnd: true)
        #expect(events == [.head(status: 200, framing: .untilClose, keepAlive: false), .body("all of it"), .end])
    }

    @Test func responsesWithoutBodies() throws {
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", head: true)
            == [.head(status: 200, framing: .none, keepAlive: true), .end])
        #expect(try parseResponse("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n")
            == [.head(status: 204, framing: .none, keepAlive: true), .end])
        #expect(try parseResponse("HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n")
            == [.head(status: 304, framing: .none, keepAlive: true), .end])
    }

    @Test func interimResponsesPrecedeTheFinalOne() throws {
        let events = try parseResponse("HTTP/1.1 103 Early Hints\r\nLink: </a.css>\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        #expect(events == [.head(status: 103, framing: .none, keepAlive: true),
                           .head(status: 200, framing: .contentLength(2), keepAlive: true), .body("ok"), .end])
    }

    @Test func keepAliveFollowsVersionAndConnection() throws {
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n").first
            == .head(status: 200, framing: .contentLength(0), keepAlive: false))
        #expect(try parseResponse("HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n").first
            == .head(status: 200, framing: .contentLength(0), keepAlive: true))
        #expect(try parseResponse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n").first
            == .head(status: 200, framing: .contentLength(0), keepAlive: false))
    }

    @Test func bareLineFeedsFromBackendsAreAccepted() throws {
        #expect(try parseResponse("HTTP/1.1 200 OK\nContent-Length: 2\n\nok")
            == [.head(status: 200, framing: .contentLength(2), keepAlive: true), .body("ok"), .end])
    }

    @Test func everySplitParsesTheSame() throws {
        let text = "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n11\r\n0123456789abcdefg\r\n0\r\n\r\n"
        for mode in [ChunkedDecoder.Mode.raw, .decoded] {
            let whole = try parseResponse(text, mode: mode)
            for chunk in 1...9 {
                #expect(try parseResponse(text, mode: mode, chunk: chunk) == whole, "split every \(chunk) bytes")
            }
        }
    }

    @Test(arguments: [
        ("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", ResponseParseError.conflictingContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 2000 OK\r\n\r\n", .malformedStatusLine),
        ("HTTP/2 200 OK\r\n\r\n", .malformedStatusLine),
        ("HTTP/1.1 200 OK\r\nBad Header: x\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nq\r\n", .invalidChunk),
        ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", .upgradeNotRequested),
        // Smuggling and splitting through a backend: every one is a 502, the connection closed.
        ("HTTP/1.1 200 OK\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\n", .contentLengthWithTransferEncoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 9\r\n\r\n", .contentLengthWithTransferEncoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n", .unsupportedTransferEncoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n", .unsupportedTransferEncoding),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", .unsupportedTransferEncoding),
        ("HTTP/1.1 200 OK\r\nContent-Length: 5, , 5\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 200 OK\r\nContent-Length: ,\r\n\r\n", .invalidContentLength),
        ("HTTP/1.1 099 Odd\r\n\r\n", .invalidStatus),
        ("HTTP/1.1 600 Odd\r\n\r\n", .invalidStatus),
        // HTTP/1.0 has no 1xx: llhttp takes such a response as the connection's last (found by response-diff).
        ("HTTP/1.0 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx", .informationalFromHTTP10),
        ("HTTP/1.0 103 Early Hints\r\n\r\n", .informationalFromHTTP10),
        ("HTTP/1.1 200 O\u{0}K\r\n\r\n", .invalidReasonPhrase),
        ("HTTP/1.1 200 OK\rInjected: yes\r\n\r\n", .invalidReasonPhrase),
        ("HTTP/1.1 200\rSet-Cookie: a=b\r\n\r\n", .invalidReasonPhrase),
        ("HTTP/1.1 200 OK\r\nX-Echo: a\rInjected: yes\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\nX-Echo: a\u{0}b\r\n\r\n", .malformedHeader),
        ("HTTP/1.1 200 OK\r\nX-Echo: a\u{7f}b\r\n\r\n", .malformedHeader),
    ])
    func invalidResponsesAreRefused(text: String, expected: ResponseParseError) {
        #expect(throws: expected) { try parseResponse(text) }
    }

    /// A broken status line is refused as soon as it is in, not when (or if) the rest of the head comes: llhttp reads
    /// `\r\r\r\n` after a reason phrase as the whole head of a 204 (found by response-diff).
    @Test(arguments: [
        ("HTTP/1.1 204 No Content\r\r\r\n", ResponseParseError.invalidReasonPhrase),
        ("HTTP/1.1 2x4 No Content\r\nX-A: b\r\n", .malformedStatusLine),
        ("HTTP/1.0 100 Continue\r\n", .informationalFromHTTP10),
        // The final head's status line after an interim answer is checked as soon as it is in, too.
        ("HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 2x0 OK\r\nX-A: b\r\n", .malformedStatusLine),
    ])
    func brokenStatusLineIsRefusedBeforeTheHeadEnds(text: String, expected: ResponseParseError) {
        for split in [Int.max, 5] {
            #expect(throws: expected, "split every \(split) bytes") { try parseResponse(text, chunk: split) }
        }
    }

    @Test func partOfAGoodHeadWaitsForTheRest() throws {
        #expect(try parseResponse("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n", chunk: 7).isEmpty)
    }

    @Test func oversizeHeadIsRefused() {
        let text = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: 5000) + "\r\n\r\n"
        #expect(throws: ResponseParseError.headTooLarge(limit: 4096)) { try parseResponse(text, chunk: 1000) }
    }
}
