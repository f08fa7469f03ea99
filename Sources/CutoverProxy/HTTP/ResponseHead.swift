import NIOCore

/// The head of a backend's response, parsed just enough to forward it: status,
/// framing and keep-alive, plus the raw bytes so headers can be copied through
/// without being decoded into strings.
struct ResponseHead {
    /// How the body that follows the head is delimited.
    enum Framing: Equatable {
        /// No body (HEAD request, 1xx, 204, 304).
        case none
        /// Exactly this many bytes.
        case contentLength(Int)
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// The body ends when the backend closes the connection.
        case untilClose
    }

    /// The raw head: status line, header lines and the blank line.
    var raw: ByteBuffer
    /// The status code.
    var status: Int
    /// 0 for an HTTP/1.0 response, 1 for HTTP/1.1.
    var minorVersion: Int
    /// The body's framing.
    var framing: Framing
    /// Whether the backend lets the connection be reused after this response.
    var keepAlive: Bool
    /// Header names the `Connection` header listed (lower case), which are hop-by-hop too.
    var connectionTokens: [[UInt8]]

    /// Whether this is an interim (1xx) response that another head follows.
    var isInformational: Bool { status >= 100 && status < 200 }

    /// The value of the first header with this (lower-case) name, decoded as text. For tests and diagnostics, not the hot path.
    func header(_ lowercaseName: StaticString) -> String? {
        HeaderLines.firstValue(named: lowercaseName, in: raw)
    }
}
