/// Why a backend's response could not be framed.
enum ResponseParseError: Error, Equatable, CustomStringConvertible {
    case headTooLarge(limit: Int)
    case malformedStatusLine
    case malformedHeader
    case conflictingContentLength
    case invalidContentLength
    case invalidChunk
    case upgradeNotRequested
    case contentLengthWithTransferEncoding
    case unsupportedTransferEncoding
    case invalidStatus
    case invalidReasonPhrase
    /// A 1xx status from a server that says it speaks HTTP/1.0, which has no 1xx (RFC 9110 §15.2): llhttp reads such a
    /// response as the connection's last, so neither framing of what follows it can be trusted.
    case informationalFromHTTP10

    var description: String {
        switch self {
        case .headTooLarge(let limit): return "response head larger than \(limit) bytes"
        case .malformedStatusLine: return "malformed status line"
        case .malformedHeader: return "malformed header line"
        case .conflictingContentLength: return "conflicting Content-Length headers"
        case .invalidContentLength: return "invalid Content-Length"
        case .invalidChunk: return "invalid chunked encoding"
        case .upgradeNotRequested: return "101 Switching Protocols without an upgrade request"
        case .contentLengthWithTransferEncoding: return "both Content-Length and Transfer-Encoding"
        case .unsupportedTransferEncoding: return "a Transfer-Encoding other than chunked"
        case .invalidStatus: return "a status code outside 100-599"
        case .invalidReasonPhrase: return "a reason phrase with control characters"
        case .informationalFromHTTP10: return "a 1xx status from an HTTP/1.0 server"
        }
    }
}
