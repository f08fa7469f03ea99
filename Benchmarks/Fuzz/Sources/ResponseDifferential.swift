@testable import CutoverProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// The response parser against NIOHTTP1's response decoder (llhttp) on the same bytes, as answers to pipelined GET
/// requests: the responses both complete (status, body) must agree; where we refuse what llhttp takes, the reason must
/// be one of the intended ones below (a backend answer refused is a 502, never a smuggled response); we must never
/// take what llhttp refuses, except as written.
enum ResponseDifferential {
    struct Message: Equatable {
        var status: Int
        var body: [UInt8]
    }

    struct Outcome {
        var messages: [Message] = []
        var refused = false
        var error: ResponseParseError?
        var llhttpError: (any Error)?
        /// Where the heads we framed lie in the input (start, end): for the bare-LF excuse.
        var headRanges: [Range<Int>] = []
    }

    /// Responses we refuse on purpose where llhttp is lenient: each would reach the client changed or unsafe.
    static func isIntendedStricter(_ error: ResponseParseError) -> Bool {
        switch error {
        case .invalidReasonPhrase, .malformedHeader, .contentLengthWithTransferEncoding, .unsupportedTransferEncoding,
             .invalidStatus, .informationalFromHTTP10, .headTooLarge, .invalidContentLength, .upgradeNotRequested, .malformedStatusLine, .invalidChunk:
            return true
        case .conflictingContentLength:
            return false
        }
    }

    static let requests = 4

    static func ours(_ bytes: [UInt8]) -> Outcome {
        var outcome = Outcome()
        var parser = ResponseParser(maxHeadBytes: 16 * 1024)
        parser.expectResponse(toHEAD: false, chunkMode: .decoded)
        var input = ByteBuffer(bytes: bytes)
        var current: Message?
        var keepAlive = true
        do {
            loop: while outcome.messages.count < requests {
                let start = input.readerIndex
                switch try parser.next(&input) {
                case .head(let head):
                    outcome.headRanges.append(start..<input.readerIndex)
                    if !head.isInformational {
                        current = Message(status: head.status, body: [])
                        keepAlive = head.keepAlive
                    }
                case .body(let body):
                    current?.body += body.readableBytesView
                case .end:
                    if let current { outcome.messages.append(current) }
                    current = nil
                    // The gateway closes a connection whose response said so and reads nothing more from it.
                    if !keepAlive { break loop }
                    parser.expectResponse(toHEAD: false, chunkMode: .decoded)
                case .needMoreData:
                    // The backend closes after the bytes: a body that reads until then ends.
                    if case .end? = parser.inputClosed(), let current { outcome.messages.append(current) }
                    break loop
                }
            }
        } catch {
            outcome.refused = true
            outcome.error = error
        }
        return outcome
    }

    static func llhttp(_ bytes: [UInt8]) -> Outcome {
        var outcome = Outcome()
        let channel = EmbeddedChannel()
        defer { _ = try? channel.finish() }
        do {
            try channel.pipeline.syncOperations.addHTTPClientHandlers()
            for index in 0..<requests {
                let head = HTTPRequestHead(version: .http1_1, method: .GET, uri: "/\(index)", headers: ["Host": "a"])
                try channel.writeOutbound(HTTPClientRequestPart.head(head))
                try channel.writeOutbound(HTTPClientRequestPart.end(nil))
            }
            while (try channel.readOutbound(as: ByteBuffer.self)) != nil {}
            try channel.writeInbound(ByteBuffer(bytes: bytes))
            // The backend closes after the bytes.
            channel.pipeline.fireChannelInactive()
        } catch {
            outcome.refused = true
            outcome.llhttpError = error
        }
        var current: Message?
        while let part = try? channel.readInbound(as: HTTPClientResponsePart.self) {
            switch part {
            case .head(let head):
                current = Message(status: Int(head.status.code), body: [])
            case .body(let body):
                current?.body += body.readableBytesView
            case .end:
                if let current { outcome.messages.append(current) }
                current = nil
            }
        }
        return outcome
    }

    static func check(_ bytes: [UInt8]) {
        let mine = ours(bytes), theirs = llhttp(bytes)
        // HTAB as optional whitespace in Content-Length or Transfer-Encoding (``IntendedDifferences``): the input is
        // judged with those HTABs written as SP, which we frame exactly the same.
        let untabbed = IntendedDifferences.framingTabsAsSpaces(bytes, heads: mine.headRanges)
        if untabbed != bytes {
            let again = ours(untabbed)
            finding(again.messages == mine.messages && again.error == mine.error,
                    "writing HTAB as SP in framing fields changed our framing: \(mine.messages) then \(again.messages)")
            return check(untabbed)
        }
        let common = min(mine.messages.count, theirs.messages.count)
        for index in 0..<common {
            finding(mine.messages[index] == theirs.messages[index],
                         "framing disagreement in response \(index): ours \(mine.messages[index]) llhttp \(theirs.messages[index])")
        }
        if mine.messages.count > common {
            // We took a response llhttp refused or did not finish: a smuggling hazard, unless the only difference is
            // the one intended: a head line ending in a bare LF, which we accept from backends (as nginx does) and
            // llhttp's strict mode refuses. The same for a length named twice alike (``IntendedDifferences``), alone
            // or together. We frame the input rewritten without them exactly as the original, so it is judged again
            // so rewritten.
            var rewritten = IntendedDifferences.singleLength(bytes, heads: mine.headRanges)
            if mine.headRanges.contains(where: { hasBareLineFeed(bytes[$0]) }) { rewritten = crlfHeads(rewritten, mine.headRanges) }
            if rewritten != bytes {
                let again = ours(rewritten)
                finding(again.messages == mine.messages && again.error == mine.error,
                        "undoing the intended differences changed our framing: \(mine.messages) then \(again.messages)")
                return check(rewritten)
            }
            findingFailure("we took a response llhttp did not (\(String(describing: theirs.llhttpError))): \(mine.messages[common])")
        } else if theirs.messages.count > common {
            finding(mine.refused, "llhttp completed a response we are still reading: \(theirs.messages[common])")
            finding(mine.error.map(isIntendedStricter) ?? false,
                         "we refused (\(String(describing: mine.error))) a response llhttp took: \(theirs.messages[common])")
        }
    }

    static func hasBareLineFeed(_ bytes: ArraySlice<UInt8>) -> Bool {
        zip(bytes.indices, bytes).contains { index, byte in byte == 0x0A && (index == bytes.startIndex || bytes[index - 1] != 0x0D) }
    }

    /// The input with every bare LF inside the given head ranges written as CRLF.
    static func crlfHeads(_ bytes: [UInt8], _ heads: [Range<Int>]) -> [UInt8] {
        var result: [UInt8] = []
        result.reserveCapacity(bytes.count + 64)
        for (index, byte) in bytes.enumerated() {
            if byte == 0x0A, index == 0 || bytes[index - 1] != 0x0D, heads.contains(where: { $0.contains(index) }) {
                result.append(0x0D)
            }
            result.append(byte)
        }
        return result
    }
}
