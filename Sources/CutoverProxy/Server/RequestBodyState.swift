import CutoverCore

/// The client's request body as its exchange reads it, as a value: how much arrived against the route's
/// `max_body_bytes`, how much is held in memory and what for. Each part that arrives returns where it goes, so the
/// body's paths (held for an ID in it, read ahead before a connection is taken, written to the backend, held while a
/// connection is made) are tested without a socket.
struct RequestBodyState {
    /// Body bytes held while no connection is ready, before client reads pause.
    static let maxBufferedBody = 256 * 1024

    /// Where a part of the body goes.
    enum Part: Equatable {
        /// The body is over the route's `max_body_bytes`.
        case tooLarge
        /// Held until the route's ID is read from the body; `resolve` once the ID's bound is reached (routing
        /// decides now, with what it has).
        case holdForID(resolve: Bool)
        /// To the backend (and the copies): a connection is attached.
        case forward
        /// Held (and given to the copies) until a connection takes it; `launch` when the read-ahead is full (the
        /// request goes on now), `pauseReads` when held bytes reached ``maxBufferedBody`` while a connection is made.
        case hold(launch: Bool, pauseReads: Bool)
    }

    /// Body bytes that arrived.
    private(set) var received = 0
    /// Body bytes held in memory.
    private(set) var held = 0
    /// The route's `max_body_bytes`.
    private(set) var limit = 0
    /// The route's `request_buffer`: read before a backend connection is taken.
    private(set) var readAhead = 0
    /// The client asked to be told to send its body (`Expect: 100-continue`, HTTP/1.1 only).
    private(set) var expectsContinue = false
    /// `100 Continue` was written.
    private(set) var continueSent = false

    /// A new exchange begins (its held bytes were let go).
    mutating func reset() {
        precondition(held == 0, "a new exchange starts with nothing held")
        received = 0
        expectsContinue = false
        continueSent = false
    }

    /// The client waits for `100 Continue` before it sends its body.
    mutating func clientExpectsContinue() {
        expectsContinue = true
    }

    /// The body is wanted now (read ahead, read for its ID, or sent on to a backend). True when `100 Continue` is to
    /// be written: the client asked for it and was not told yet (once per exchange).
    mutating func bodyWanted() -> Bool {
        guard expectsContinue, !continueSent else { return false }
        continueSent = true
        return true
    }

    /// The route's bounds, once the request is routed.
    mutating func bound(limit: Int, readAhead: Int) {
        self.limit = limit
        self.readAhead = readAhead
    }

    /// Whether the body is still to be read ahead before the request goes on.
    var readsAhead: Bool { held < readAhead }

    /// `count` bytes of body arrived. `holdingForID`: the route's ID is in the body and not read yet; `readingAhead`:
    /// the request waits for its read-ahead; `connected`: a backend connection is attached.
    mutating func arrived(_ count: Int, holdingForID: Bool, readingAhead: Bool, connected: Bool) -> Part {
        received += count
        if received > limit { return .tooLarge }
        if holdingForID {
            held += count
            return .holdForID(resolve: held > IDSource.maxBodyBytes)
        }
        if connected { return .forward }
        held += count
        if readingAhead { return .hold(launch: held >= readAhead, pauseReads: false) }
        return .hold(launch: false, pauseReads: held >= Self.maxBufferedBody)
    }

    /// The held bytes are let go (written to the backend, or no longer wanted); returns how many.
    mutating func release() -> Int {
        defer { held = 0 }
        return held
    }
}
