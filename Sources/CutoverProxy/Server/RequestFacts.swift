import CutoverCore

/// What an exchange keeps of its request's head, taken once when the request is admitted: the method's kind, the
/// client's HTTP version, and how its body is framed. A bare exchange (a request that could not be read) has the
/// defaults: a bodyless HTTP/1.1 GET.
struct RequestFacts: Equatable {
    private(set) var method = RequestMethod.get
    /// The client's HTTP/1 minor version.
    private(set) var minorVersion = 1
    private(set) var framing = RequestHead.Framing.none

    init() {}

    init(_ head: RequestHead) {
        method = head.method
        minorVersion = head.minorVersion
        framing = head.framing
    }

    var isHEAD: Bool { method == .head }
    /// Whether the request may be sent again (RFC 9110 §9.2.2).
    var isIdempotent: Bool { method.isIdempotent }
    /// Whether a body follows the head (a zero length is no body).
    var hasBody: Bool { framing.hasBody }

    var isChunked: Bool { framing == .chunked }
}

extension RequestHead.Framing {
    /// Whether a body follows the head (a zero length is no body).
    var hasBody: Bool {
        switch self {
        case .none: return false
        case .contentLength(let length): return length > 0
        case .chunked: return true
        }
    }
}
