/// Why a client's request was refused while parsing; each maps to a status.
enum RequestParseError: Error, Equatable, CustomStringConvertible {
    case headTooLarge(limit: Int)
    case malformedRequestLine
    case unsupportedVersion
    case malformedHeader
    case obsoleteLineFolding
    case invalidContentLength
    case conflictingContentLength
    case contentLengthWithTransferEncoding
    case unsupportedTransferEncoding
    case invalidTransferEncoding
    case invalidChunk
    /// `Transfer-Encoding` in an HTTP/1.0 request: its framing cannot be trusted (RFC 9112 §6.1).
    case transferEncodingInHTTP10
    /// A `Host` value that is not `host[:port]`.
    case invalidHost
    /// The request line alone is longer than the head may be.
    case targetTooLong(limit: Int)
    /// A line of the head ends in a bare LF.
    case bareLineFeed

    /// The status the client gets.
    var status: Int {
        switch self {
        case .headTooLarge: return 431
        case .targetTooLong: return 414
        case .unsupportedVersion: return 505
        case .unsupportedTransferEncoding: return 501
        default: return 400
        }
    }

    /// The label of `cutover_rejected_requests_total{reason}`.
    var metricReason: String {
        switch self {
        case .headTooLarge: return "header_too_large"
        case .targetTooLong: return "target_too_long"
        case .unsupportedVersion: return "version"
        case .invalidHost: return "host"
        case .malformedRequestLine, .malformedHeader, .obsoleteLineFolding, .bareLineFeed: return "malformed"
        default: return "framing"
        }
    }

    var description: String {
        switch self {
        case .headTooLarge(let limit): return "request header fields larger than \(limit) bytes"
        case .malformedRequestLine: return "malformed request line"
        case .unsupportedVersion: return "unsupported HTTP version"
        case .malformedHeader: return "malformed header line"
        case .obsoleteLineFolding: return "obsolete line folding in headers"
        case .invalidContentLength: return "invalid Content-Length"
        case .conflictingContentLength: return "conflicting Content-Length headers"
        case .contentLengthWithTransferEncoding: return "request has both Content-Length and Transfer-Encoding"
        case .unsupportedTransferEncoding: return "unsupported Transfer-Encoding: only chunked is accepted"
        case .invalidTransferEncoding: return "invalid Transfer-Encoding: chunked must be the last coding"
        case .invalidChunk: return "invalid chunked encoding"
        case .transferEncodingInHTTP10: return "Transfer-Encoding in an HTTP/1.0 request"
        case .invalidHost: return "invalid Host: it must be host[:port]"
        case .targetTooLong(let limit): return "request line longer than \(limit) bytes"
        case .bareLineFeed: return "a header line ends in a bare LF (CRLF is required)"
        }
    }
}
