@testable import CutoverProxy
import NIOCore
import NIOEmbedded
import NIOHTTP1

/// The request parser against NIOHTTP1's decoder (llhttp) on the same bytes: the messages each completes (method,
/// target, version, body) must agree, and where one refuses what the other takes, the difference must be one of
/// the intended ones written below. Anything else is a framing disagreement: a request-smuggling hazard.
enum RequestDifferential {
    /// One complete message as a parser saw it.
    struct Message: Equatable {
        var method: String
        var target: String
        var minor: Int
        var body: [UInt8]
    }

    /// What a parser made of the input: the messages it completed, and whether it refused the rest.
    struct Outcome {
        var messages: [Message] = []
        var refused = false
        /// Our parser's reason, when it refused.
        var error: RequestParseError?
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

    /// The methods llhttp knows; others (extension methods, RFC 9110 §9.1) are ours to take and llhttp's to refuse.
    static let llhttpMethods: Set<String> = [
        "DELETE", "GET", "HEAD", "POST", "PUT", "CONNECT", "OPTIONS", "TRACE", "COPY", "LOCK", "MKCOL", "MOVE", "PROPFIND",
        "PROPPATCH", "SEARCH", "UNLOCK", "BIND", "REBIND", "UNBIND", "ACL", "REPORT", "MKACTIVITY", "CHECKOUT", "MERGE",
        "M-SEARCH", "NOTIFY", "SUBSCRIBE", "UNSUBSCRIBE", "PATCH", "PURGE", "MKCALENDAR", "LINK", "UNLINK", "SOURCE", "QUERY",
    ]

    /// Whether the input names a length more than once (`Content-Length: 3, 3`, or the field twice): identical lengths
    /// are one length to us (RFC 9110 §8.6 allows it), an error to llhttp.
    static func repeatsContentLength(_ bytes: [UInt8]) -> Bool {
        let lower = String(decoding: bytes, as: UTF8.self).lowercased()
        let fields = lower.components(separatedBy: "content-length").count - 1
        return fields > 1 || (fields == 1 && lower.contains(","))
    }

    static func ours(_ bytes: [UInt8]) -> Outcome {
        var outcome = Outcome()
        var parser = RequestParser(maxHeadBytes: 16 * 1024)
        var input = ByteBuffer(bytes: bytes)
        var current: Message?
        do {
            loop: while true {
                switch try parser.next(&input) {
                case .head(let head):
                    current = Message(method: head.methodText, target: head.targetText, minor: head.minorVersion, body: [])
                case .body(let body):
                    current?.body += body.readableBytesView
                case .end:
                    if let current { outcome.messages.append(current) }
                    current = nil
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
        }
        var current: Message?
        while let part = try? channel.readInbound(as: HTTPServerRequestPart.self) {
            switch part {
            case .head(let head):
                current = Message(method: head.method.rawValue, target: head.uri, minor: head.version.minor, body: [])
            case .body(let body):
                current?.body += body.readableBytesView
            case .end:
                if let current { outcome.messages.append(current) }
                current = nil
            }
        }
        return outcome
    }

    /// Runs both parsers and fails (a finding) on a disagreement that is not an intended one.
    static func check(_ bytes: [UInt8]) {
        // Only what a client could send: the head limits of both are far apart, so inputs stay small.
        let mine = ours(bytes), theirs = llhttp(bytes)
        let common = min(mine.messages.count, theirs.messages.count)
        for index in 0..<common {
            let a = mine.messages[index], b = theirs.messages[index]
            // NIO reads an unknown method as RAW(name); the name is what matters.
            guard a.target == b.target, a.minor == b.minor, a.body == b.body,
                  a.method == b.method || b.method == "RAW(\(a.method))" || b.method.hasSuffix("(\(a.method))")
            else { preconditionFailure("framing disagreement in message \(index): ours \(a) llhttp \(b)") }
        }
        if mine.messages.count > common {
            // We completed a message llhttp did not: only when llhttp refused it for an extension method or a length list.
            let extra = mine.messages[common]
            precondition(theirs.refused, "we completed a message llhttp is still reading: \(extra)")
            let intended = !llhttpMethods.contains(extra.method) || repeatsContentLength(bytes)
            precondition(intended, "we took a message llhttp refused: \(extra)")
        } else if theirs.messages.count > common {
            let extra = theirs.messages[common]
            precondition(mine.refused, "llhttp completed a message we are still reading: \(extra)")
            precondition(mine.error.map(isIntendedStricter) ?? false, "we refused (\(String(describing: mine.error))) a message llhttp took: \(extra)")
        }
    }
}
