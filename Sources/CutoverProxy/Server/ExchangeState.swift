/// What a client exchange waits for and what its failures come to, as a value: the wait its deadline belongs to,
/// whether it stands in a pool's line, whether its one retry was spent, and the body progress that extends a response
/// deadline. The decisions the handler used to make inline — retry or fail when a backend connection breaks, what a
/// passed deadline means, how a failure is answered — are made here and tested without a socket; the channel handler
/// carries them out.
struct ExchangeState {
    /// What the connection is waiting for, which decides what its deadline means.
    enum Waiting: Equatable {
        case nothing
        /// The client: its next request, the rest of a head, or a held chunked body.
        case client
        /// A backend connection from the pool.
        case connection
        /// The backend's response.
        case response
    }

    /// What to do about a backend connection that failed the exchange.
    enum FailureAction: Equatable {
        /// The request goes again, once, on a new connection.
        case retryOnFreshConnection
        /// The exchange fails with this failure (answered with ``answer(for:responseStarted:requestComplete:)``).
        case fail(UpstreamFailure)
    }

    /// What a passed deadline means.
    enum DeadlineAction: Equatable {
        /// Nothing was waited for.
        case none
        /// The client started a request and stopped sending it: 408, and the connection closes.
        case requestTimedOut
        /// The client sent nothing more on an idle connection: close it.
        case closeIdle
        /// The exchange fails (no connection in time, or no response in time).
        case fail(UpstreamFailure)
        /// The body moved since the deadline was set: it is set again.
        case extend
    }

    /// How a failed exchange is answered.
    enum Answer: Equatable {
        /// Part of the response has reached the client: the only way to tell it is to close the connection.
        case cutResponse
        /// The gateway answers `status` itself; `retryAfter` for a passing condition, `close` when the rest of the
        /// request body is still to come.
        case respond(status: Int, retryAfter: Bool, close: Bool)
    }

    var waiting = Waiting.nothing
    /// While waiting for a connection: whether the exchange is in the pool's line (rather than having one made for it).
    var inLine = false
    /// The exchange's one retry on a fresh connection was used.
    private(set) var retried = false
    /// Counts request and response body progress; a response deadline that passes while this moved is extended
    /// instead (a stalled body is cut after one to two response timeouts, without reading the clock per read).
    private(set) var activity: UInt32 = 0
    private var activitySeen: UInt32 = 0

    /// A new exchange begins.
    mutating func reset() {
        waiting = .nothing
        inLine = false
        retried = false
    }

    /// Body bytes moved (either way).
    @inline(__always)
    mutating func moved() {
        activity &+= 1
    }

    /// A response deadline is set now: progress from here on extends it.
    mutating func responseDeadlineSet() {
        activitySeen = activity
    }

    /// The backend connection failed the exchange. Only a connection from the pool (`reused`) that the backend had
    /// closed meanwhile (a reset), before any of the response, for an idempotent request without a body, is worth
    /// a second try — once.
    mutating func upstreamFailed(_ failure: UpstreamFailure, reused: Bool, responseStarted: Bool, idempotent: Bool,
                                 hasBody: Bool) -> FailureAction {
        if !responseStarted, failure == .reset, reused, !retried, idempotent, !hasBody {
            retried = true
            return .retryOnFreshConnection
        }
        return .fail(failure)
    }

    /// The exchange's deadline passed. `active`: a request is under way; `inMessage`: the parser holds part of one.
    mutating func deadlinePassed(active: Bool, inMessage: Bool) -> DeadlineAction {
        switch waiting {
        case .nothing:
            return .none
        case .client:
            waiting = .nothing
            return active || inMessage ? .requestTimedOut : .closeIdle
        case .connection:
            guard active else { return .none }
            // In line: no connection came free in time; otherwise the one being made did not connect in time.
            return .fail(inLine ? .poolExhausted : .connectTimeout)
        case .response:
            guard active else { return .none }
            if activity != activitySeen {
                activitySeen = activity
                return .extend
            }
            return .fail(.responseTimeout)
        }
    }

    /// How a failed exchange is answered: a busy backend (503) says when to try again; a request whose body is still
    /// coming closes the connection after the answer.
    static func answer(for failure: UpstreamFailure, responseStarted: Bool, requestComplete: Bool) -> Answer {
        guard !responseStarted else { return .cutResponse }
        let status = failure.clientStatus
        return .respond(status: status, retryAfter: status == 503, close: !requestComplete)
    }
}
