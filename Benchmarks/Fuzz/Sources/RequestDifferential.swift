@testable import CutoverProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// The request parser against NIOHTTP1's decoder (llhttp) on the same bytes: the messages each completes (method,
/// target, version, body) must agree, and where one refuses what the other takes, the difference must be one of
/// the intended ones written below. Anything else is a framing disagreement: a request-smuggling hazard.
enum RequestDifferential {
    /// One message as a parser saw it (complete, or the last one under way).
    struct Message: Equatable {
        var method: String
        var target: String
        var minor: Int
        var body: [UInt8]
        /// llhttp only: whether the connection stays open after it (llhttp refuses what follows a closing message).
        var keepAlive = true
        /// Ours only: the head named its length more than once, all the same (`Content-Length: 3, 3`, or twice).
        var repeatsLength = false

        static func == (a: Message, b: Message) -> Bool {
            a.method == b.method && a.target == b.target && a.minor == b.minor && a.body == b.body
        }
    }

    /// What a parser made of the input: the messages it completed, the one under way, and whether it refused.
    struct Outcome {
        var messages: [Message] = []
        var current: Message?
        var refused = false
        var error: RequestParseError?
        var llhttpError: HTTPParserError?
        /// Ours only: where the input stood when the parser refused it.
        var refusedAt = 0
        /// Ours only: where the heads we read lie in the input.
        var headRanges: [Range<Int>] = []
    }

    /// Refusals of ours that llhttp does not make, on purpose (each is RFC 9112 or a bound of ours):
    static func isIntendedStricter(_ error: RequestParseError) -> Bool {
        switch error {
        case .bareLineFeed,                 // CRLF required (llhttp takes a bare LF in places)
             .invalidHost,                  // Host must be host[:port]
             .transferEncodingInHTTP10,     // faulty framing, RFC 9112 §6.1
             .headTooLarge, .targetTooLong, // our bounds on heads
             .unsupportedVersion,           // HTTP/1.0 and 1.1 only
             .unsupportedTransferEncoding,  // only chunked
             .invalidTransferEncoding,      // chunked last, once
             .obsoleteLineFolding,          // obs-fold refused (RFC 9112 §5.2 allows refusing)
             .invalidChunk,                 // strict chunk lines, bounded extensions and trailers
             .invalidContentLength:         // a length list with an empty element
            return true
        case .malformedRequestLine, .malformedHeader, .conflictingContentLength, .contentLengthWithTransferEncoding:
            return false
        }
    }

    /// A request line refused that llhttp read leniently: its bytes are not the line llhttp's message spells with
    /// single spaces (`GET  /a HTTP/1.1`, `GET /a HTTP%1.1`…). RFC 9112 §3 has exactly one SP between the parts and
    /// says to answer an invalid request line with 400, which the gateway does and closes.
    static func isLenientRequestLine(_ bytes: [UInt8], at start: Int, read message: Message) -> Bool {
        var index = start
        while index < bytes.count, bytes[index] == 0x0D || bytes[index] == 0x0A { index += 1 }
        let line = Array("\(message.method) \(message.target) HTTP/1.\(message.minor)\r\n".utf8)
        return !bytes[index...].starts(with: line)
    }

    /// Refusals of llhttp for what we take, on purpose: extension methods (RFC 9110 §9.1), request targets llhttp's URL
    /// parser refuses (the gateway answers any target that is not origin, absolute or `*` form with 400 itself), and
    /// a length named twice, identically (RFC 9110 §8.6).
    static func isIntendedLaxer(_ error: HTTPParserError?, _ message: Message) -> Bool {
        switch error {
        case .invalidMethod?: return true
        case .invalidURL?, .invalidPath?, .invalidHost?, .invalidPort?, .invalidQueryString?, .invalidFragment?:
            return !(message.target.hasPrefix("/") && !message.target.hasPrefix("//"))
        case .invalidContentLength?, .unexpectedContentLength?: return message.repeatsLength
        default: return false
        }
    }

    /// Whether a raw head names its length more than once.
    static func repeatsLength(_ head: RequestHead) -> Bool {
        let lines = head.raw.getString(at: head.raw.readerIndex, length: head.raw.readableBytes)?.split(separator: "\r\n") ?? []
        let lengths = lines.filter { $0.lowercased().hasPrefix("content-length:") }
        return lengths.count > 1 || lengths.contains { $0.contains(",") }
    }

    static func ours(_ bytes: [UInt8]) -> Outcome {
        var outcome = Outcome()
        var parser = RequestParser(maxHeadBytes: 16 * 1024)
        var input = ByteBuffer(bytes: bytes)
        do {
            loop: while true {
                outcome.refusedAt = input.readerIndex
                switch try parser.next(&input) {
                case .head(let head):
                    outcome.headRanges.append(outcome.refusedAt..<input.readerIndex)
                    outcome.current = Message(method: head.methodText, target: head.targetText, minor: head.minorVersion, body: [],
                                              repeatsLength: repeatsLength(head))
                case .body(let body):
                    outcome.current?.body += body.readableBytesView
                case .end:
                    if let current = outcome.current { outcome.messages.append(current) }
                    outcome.current = nil
                case .needMoreData:
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
        let channel = EmbeddedChannel(handler: ByteToMessageHandler(HTTPRequestDecoder(leftOverBytesStrategy: .dropBytes)))
        defer { _ = try? channel.finish() }
        do {
            try channel.writeInbound(ByteBuffer(bytes: bytes))
        } catch {
            outcome.refused = true
            outcome.llhttpError = error as? HTTPParserError
        }
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head):
                // NIO names M-SEARCH without its dash; an unknown method keeps its own name.
                let method = head.method == .MSEARCH ? "M-SEARCH" : head.method.rawValue
                outcome.current = Message(method: method, target: head.uri, minor: head.version.minor, body: [], keepAlive: head.isKeepAlive)
            case .body(let body):
                outcome.current?.body += body.readableBytesView
            case .end:
                if let current = outcome.current { outcome.messages.append(current) }
                outcome.current = nil
            }
        }
        return outcome
    }

    /// Runs both parsers and fails (a finding) on a disagreement that is not an intended one.
    static func check(_ bytes: [UInt8]) {
        let mine = ours(bytes), theirs = llhttp(bytes)
        // HTAB as optional whitespace in Content-Length or Transfer-Encoding (``IntendedDifferences``): the input is
        // judged with those HTABs written as SP, which we frame exactly the same.
        let untabbed = IntendedDifferences.framingTabsAsSpaces(bytes, heads: mine.headRanges)
        if untabbed != bytes {
            let again = ours(untabbed)
            finding(again.messages == mine.messages && again.current == mine.current && again.error == mine.error,
                    "writing HTAB as SP in framing fields changed our framing: \(mine.messages) then \(again.messages)")
            return check(untabbed)
        }
        var common = min(mine.messages.count, theirs.messages.count)
        // llhttp stops at a message after which the connection closes, upgrades or tunnels (CONNECT): what follows
        // is not a request to it, and the gateway closes, upgrades nothing, and refuses CONNECT there too.
        if let stop = theirs.messages.firstIndex(where: { !$0.keepAlive || $0.method == "CONNECT" }), stop < common {
            common = stop + 1
        }
        for index in 0..<common {
            let a = mine.messages[index], b = theirs.messages[index]
            // A CONNECT's body is the tunnel to llhttp; the gateway refuses CONNECT before reading a body.
            let same = a.method == "CONNECT" ? (a.target == b.target && a.minor == b.minor) : a == b
            finding(same, "framing disagreement in message \(index): ours \(a) llhttp \(b)")
        }
        if let stop = theirs.messages.prefix(common).last, !stop.keepAlive || stop.method == "CONNECT" { return }
        if mine.messages.count > common {
            // We completed a message llhttp did not.
            let extra = mine.messages[common]
            finding(theirs.refused || theirs.current == nil, "we completed a message llhttp is still reading: \(extra)")
            // llhttp stopped without an error after an upgrade request: what follows is not parsed by it.
            if !theirs.refused { return }
            finding(isIntendedLaxer(theirs.llhttpError, extra),
                         "we took a message llhttp refused (\(String(describing: theirs.llhttpError))): \(extra)")
        } else if theirs.messages.count > common {
            let extra = theirs.messages[common]
            // llhttp completes a CONNECT at its head (what follows is the tunnel); the gateway refuses CONNECT there.
            if extra.method == "CONNECT", let under = mine.current, under.method == "CONNECT", under.target == extra.target,
               under.minor == extra.minor {
                return
            }
            finding(mine.refused, "llhttp completed a message we are still reading: \(extra)")
            let excused = mine.error.map(isIntendedStricter) ?? false
                || (mine.error == .malformedRequestLine && isLenientRequestLine(bytes, at: mine.refusedAt, read: extra))
            finding(excused, "we refused (\(String(describing: mine.error))) a message llhttp took: \(extra)")
        } else if let a = mine.current, let b = theirs.current, !mine.refused, !theirs.refused {
            // Both still reading the same message: they must agree on it so far.
            let agree = a.method == b.method || b.method.isEmpty
            finding(agree && a.target == b.target && a.minor == b.minor,
                         "the message under way differs: ours \(a) llhttp \(b)")
        }
    }
}
