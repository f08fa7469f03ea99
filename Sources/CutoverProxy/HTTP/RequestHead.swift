import CutoverCore
import NIOCore

/// The head of a client's request, validated and kept as raw bytes with the
/// positions of what the proxy needs; headers are never decoded into strings
/// on the hot path.
struct RequestHead {
    /// The methods the proxy treats specially (classified in Core, where routing and copying policy read them).
    typealias Method = RequestMethod

    /// How the body is framed.
    enum Framing: Equatable {
        case none
        case contentLength(Int)
        case chunked
    }

    /// Request line, header lines and the blank line, as received.
    var raw: ByteBuffer
    /// The method token.
    var methodRange: Range<Int>
    /// The request target.
    var targetRange: Range<Int>
    /// The method, classified.
    var method: Method
    /// 0 for HTTP/1.0, 1 for HTTP/1.1.
    var minorVersion: Int
    /// The body's framing.
    var framing: Framing
    /// Whether the client wants the connection kept open after the response.
    var keepAlive: Bool
    /// How many `Host` headers there are.
    var hostCount: Int
    /// The value of the `Expect` header, if any.
    var expect: Range<Int>?
    /// The value of the first `X-Request-Id` header, if any.
    var requestID: Range<Int>?
    /// How many `X-Forwarded-For` headers there are.
    var forwardedForCount: Int
    /// Whether the request asks for a protocol upgrade.
    var upgrade: Bool
    /// Lower-case header names the `Connection` header lists, hop-by-hop too.
    var connectionTokens: [[UInt8]]

    /// The bytes of the request line and headers.
    var byteCount: Int { raw.readableBytes }

    /// The value of a range in `raw` as text (diagnostics and error paths only).
    func text(_ range: Range<Int>) -> String {
        raw.withUnsafeReadableBytes { String(decoding: $0[range], as: UTF8.self) }
    }

    /// The method as text.
    var methodText: String { text(methodRange) }
    /// The target as text.
    var targetText: String { text(targetRange) }

    /// The value of the first header with this (lower-case) name, as text. For tests and diagnostics.
    func header(_ lowercaseName: StaticString) -> String? {
        HeaderLines.firstValue(named: lowercaseName, in: raw)
    }

    /// The value of the first header with this name (any case), as text.
    func header(named name: String) -> String? {
        let wanted = Array(name.lowercased().utf8)
        var found: String?
        raw.withUnsafeReadableBytes { bytes in
            HeaderLines.forEach(in: bytes) { line in
                guard found == nil, line.name.count == wanted.count else { return }
                let matches = zip(bytes[line.name], wanted).allSatisfy { byte, lower in
                    (byte >= 65 && byte <= 90 ? byte + 32 : byte) == lower
                }
                if matches { found = String(decoding: bytes[line.value], as: UTF8.self) }
            }
        }
        return found
    }
}
