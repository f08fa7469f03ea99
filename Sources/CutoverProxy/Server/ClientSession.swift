/// Where a client connection stands between and within its exchanges, as a value: whether an exchange is under way
/// and its request complete, whether the connection must close after the current answer, whether it still takes
/// requests, whether it is draining. The handler asks it at each turn what to do (parse on, hold a pipelined request
/// back, frame an answer for keep-alive or not, take the next request or close) and does that; every decision is
/// tested without a socket.
struct ClientSession {
    /// Where the client's request stands.
    enum RequestSide: Equatable {
        case receiving
        case complete
    }

    /// What to do with request bytes that arrived.
    enum Turn: Equatable {
        /// Parse them: there is no exchange, or its request is still coming.
        case parse
        /// Keep them: they are a pipelined request, which waits until the current one is answered.
        case holdPipelined
        /// Drop them: the connection takes no more requests.
        case discard
    }

    /// How an exchange ends.
    enum Finish: Equatable {
        /// The connection waits for (or parses) the next request.
        case nextRequest
        /// The connection closes once the answer's bytes are out.
        case close
    }

    /// What a drain (graceful shutdown) means for the connection now.
    enum Quiesce: Equatable {
        /// Nothing is under way or waiting: close at once.
        case closeNow
        /// Close after the answer under way (or the request being read).
        case afterResponse
    }

    /// An exchange is under way.
    private(set) var active = false
    private(set) var requestSide = RequestSide.receiving
    /// The client wants the connection kept after this request (its `Connection` field, its HTTP version's default).
    private(set) var clientKeepAlive = true
    /// The connection closes after the current answer: a body is still to come, an upgrade was refused, the request
    /// could not be read.
    private(set) var closeAfterResponse = false
    /// The connection takes further requests.
    private(set) var acceptingRequests = true
    /// The gateway drains: no further request on this connection.
    private(set) var quiescing = false
    /// The client's side of the connection is gone.
    private(set) var closed = false

    /// What to do with request bytes now.
    var turn: Turn {
        if active, requestSide == .complete { return .holdPipelined }
        return acceptingRequests ? .parse : .discard
    }

    /// Whether request body bytes belong to the exchange (they are dropped otherwise: it was answered already).
    var takesBody: Bool { active && requestSide == .receiving }

    /// Whether an answer written now leaves the connection open for the next request.
    var keepsAlive: Bool { clientKeepAlive && !closeAfterResponse && !quiescing }

    /// An exchange starts; `keepAlive` is what the client asked for.
    mutating func begin(keepAlive: Bool) {
        active = true
        requestSide = .receiving
        clientKeepAlive = keepAlive
    }

    /// The request has been read whole (or nothing follows its head).
    mutating func requestCompleted() {
        requestSide = .complete
    }

    /// The connection must close after the current answer.
    mutating func closeAfterAnswer() {
        closeAfterResponse = true
    }

    /// The backend's answer starts: if the request is still coming, the connection closes after it (the rest of the
    /// request would otherwise be read as the next one). Whether the answer keeps the connection.
    mutating func answerStarts() -> Bool {
        if requestSide != .complete { closeAfterResponse = true }
        return keepsAlive
    }

    /// The exchange ends; `close` when its answer's framing needs the connection closed.
    mutating func finish(close: Bool) -> Finish {
        active = false
        guard close || closeAfterResponse || requestSide != .complete || quiescing || closed else { return .nextRequest }
        acceptingRequests = false
        return .close
    }

    /// The client went away; whether an exchange was under way (to be abandoned).
    mutating func clientClosed() -> Bool {
        closed = true
        defer { active = false }
        return active
    }

    /// The connection was refused at once (beyond the gateway's connection limit): it reads nothing.
    mutating func refused() {
        acceptingRequests = false
    }

    /// The gateway drains. `partialRequest`: bytes of a request not yet an exchange are held (parsed or pending).
    mutating func quiesce(partialRequest: Bool) -> Quiesce {
        quiescing = true
        if !active, !partialRequest { return .closeNow }
        closeAfterResponse = true
        return .afterResponse
    }
}
