import CutoverCore
import NIOCore

/// One request of a route in phase shadow with the answers to compare: old's
/// (which the client got), new's (or why new gave none), and, where a second
/// old instance is configured, its answer for the noise baseline. Built on the
/// event loop from captured bytes; parsed and compared off it.
public struct ShadowPair: Sendable {
    /// The route's name.
    public var route: String
    /// How the route compares.
    public var rules: CompareRules
    /// The request ID both backends saw.
    public var requestID: String
    /// The client's request line and headers, as received.
    public var requestHead: ByteBuffer
    /// Old's answer.
    public var old: CapturedAnswer
    /// New's answer, or why there is none.
    public var new: SideOutcome
    /// The second old instance's answer (noise baseline), if one was asked and answered.
    public var noise: CapturedAnswer?

    /// The bytes the pair holds, for the queue's bound.
    var byteCount: Int {
        requestHead.readableBytes + old.byteCount + (new.answer?.byteCount ?? 0) + (noise?.byteCount ?? 0)
    }
}

/// A backend's answer as captured on the event loop: the raw head and the body
/// bytes as they came (chunk framing included when `chunked`), up to a cap.
public struct CapturedAnswer: Sendable {
    /// The raw response head.
    public var head: ByteBuffer
    /// The status code.
    public var status: Int
    /// The body bytes kept.
    public var body: ByteBuffer
    /// Whether the body holds chunked transfer coding (to be removed before comparing).
    public var chunked: Bool
    /// Whether the body was longer than the cap.
    public var truncated: Bool

    var byteCount: Int { head.readableBytes + body.readableBytes }
}

/// What became of a side exchange (a shadow copy, a page of one side): its answer, or why there is none.
public enum SideOutcome: Sendable {
    case answered(CapturedAnswer)
    /// New failed: connect error, timeout, reset… (the reason, as the client would read it).
    case failed(String)

    var answer: CapturedAnswer? {
        if case .answered(let answer) = self { return answer }
        return nil
    }
}
