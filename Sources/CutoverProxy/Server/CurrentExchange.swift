import CutoverCore
import NIOCore

/// What a client connection keeps of the exchange under way: where it is routed, its request's facts, what it waits
/// for (its body read ahead, its ID from the body), the copies and merged reads it started, the answer as it goes
/// out. A new exchange starts from a new value, so nothing of the previous one can leak into it.
struct CurrentExchange {
    /// Where the request goes; until it is routed, the default backend.
    var plan: RoutingPlan
    /// What the exchange keeps of its request's head.
    var request = RequestFacts()
    /// When the exchange began (the loop's time).
    var startTime = NIODeadline.uptimeNanoseconds(0)
    /// A request whose body (up to the route's `request_buffer`) is being read before a backend connection is taken.
    var awaitingBody: PendingLaunch?
    /// A request whose route's ID is in its body: held until the body (or its first 64 KiB) is in.
    var awaitingID: HeldRequest?
    /// The copies of the request (routes in phase shadow, gray read comparisons).
    var shadowRun: ShadowRun?
    /// The two sides' pages of a list request being merged (list routes in `gray`).
    var aggregateRun: AggregateRun?
    /// The answer's body, kept to find the highest ID it names (routes with `max_id_seen`).
    var evidence: AnswerCapture?
    /// Where the request ID is in the head written for the backend.
    var requestIDLocation: RequestIDLocation?
    /// The client's request ID when the request was refused before its head was written for a backend.
    var clientRequestID: String?
    /// The pool the exchange takes its connection from (fixed at admission, so a reload mid-exchange changes nothing).
    var pool: UpstreamPool?
    /// The answer to the client as it goes out: its framing, status, and the head waiting for body bytes.
    var response = ResponseSide()

    init(defaultBackend: Int) {
        plan = .forward(RoutingTarget(route: nil, backend: defaultBackend, side: .old))
    }
}
