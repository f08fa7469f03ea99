import NIOCore

/// What one backend connection is and knows, as a value: being set up, idle in its pool, leased to an exchange or
/// closed; whether its reads are held (the client is not keeping up) and a read is owed; whether the response in
/// hand lets the connection be reused; the last error seen; and the parser framing the responses. Each event
/// returns what ``UpstreamConnection`` (the channel handler) must do, so every transition is tested without a socket.
struct UpstreamConnectionState {
    enum Phase: Equatable {
        /// TCP (and TLS) not yet ready.
        case connecting
        /// Ready, in the pool.
        case idle
        /// Leased to an exchange.
        case leased
        /// Closed or closing.
        case closed
    }

    /// What a release comes to.
    enum Release: Equatable {
        /// Back to the pool; `read` when a read held back for the last response is owed now.
        case toPool(read: Bool)
        /// The connection must close.
        case close
        /// Not leased: nothing to do.
        case none
    }

    /// What the channel's end means.
    enum Ending: Equatable {
        /// It closed while being set up: the pool is told why.
        case setupFailed(UpstreamFailure)
        /// A response read until the connection closed is complete (the backend closed it cleanly).
        case responseComplete
        /// The leased exchange fails: why.
        case failed(UpstreamFailure)
        /// Idle or already closed: only the pool's count changes.
        case quiet
    }

    private(set) var phase: Phase = .connecting
    private(set) var parser = ResponseParser()
    /// Reads are held: the exchange's client is not keeping up.
    private(set) var readHeld = false
    /// A read was asked for while reads were held.
    private(set) var readPending = false
    /// The response in hand allows another request on the connection (keep-alive, nothing after it).
    private(set) var responseReusable = false
    /// Responses completed on this connection; above zero means it came from the pool.
    private(set) var completedResponses = 0
    /// The last failure seen (TLS, reset, protocol, timeout), reported when the channel ends.
    private(set) var lastError: UpstreamFailure?
    /// The backend reset the connection (ECONNRESET): a body that ends with the connection was cut, not ended.
    private(set) var sawReset = false
    /// The gateway closed the connection before it was set up: its end is still a setup failure for the pool.
    private var closedDuringSetup = false

    /// Whether the connection can take a request now.
    var isUsable: Bool { phase == .idle }

    /// The connection is ready (TCP connected, TLS handshake done when there is one). True when the pool is to be told.
    mutating func ready() -> Bool {
        guard phase == .connecting else { return false }
        phase = .idle
        return true
    }

    /// The pool leases the connection to an exchange.
    mutating func lease() {
        precondition(phase == .idle, "only an idle connection can be leased")
        phase = .leased
    }

    /// The exchange is about to write a request: frame its response.
    mutating func expectResponse(toHEAD isHEAD: Bool, chunkMode: ChunkedDecoder.Mode) {
        parser.expectResponse(toHEAD: isHEAD, chunkMode: chunkMode)
        responseReusable = false
    }

    /// Frames the next piece of the response from `input`, noting whether the connection may be reused after it.
    mutating func next(_ input: inout ByteBuffer) throws(ResponseParseError) -> ResponseParser.Event {
        let event = try parser.next(&input)
        switch event {
        case .head(let head): responseReusable = head.keepAlive
        case .end where input.readableBytes > 0: responseReusable = false  // bytes nobody asked for follow the response
        default: break
        }
        return event
    }

    /// The exchange ends its lease: back to the pool when it completed cleanly and the backend allows reuse.
    mutating func release(reusable: Bool) -> Release {
        guard phase == .leased else { return .none }
        readHeld = false
        guard reusable, responseReusable else { return .close }
        completedResponses += 1
        phase = .idle
        let owed = readPending
        readPending = false
        return .toPool(read: owed)
    }

    /// The connection is to close. True when the channel must be closed now (false: it is closed or closing).
    mutating func close() -> Bool {
        guard phase != .closed else { return false }
        if phase == .connecting { closedDuringSetup = true }
        phase = .closed
        return true
    }

    /// The connection's setup outlived its deadline. True when the channel must be closed now.
    mutating func abandonSetup() -> Bool {
        guard phase == .connecting else { return false }
        lastError = .connectTimeout
        return true
    }

    /// The response could not be framed (or something else went wrong that fails the exchange).
    mutating func failed(_ failure: UpstreamFailure) {
        lastError = failure
    }

    /// The channel reported an error; `reset` when it was ECONNRESET. A TLS error names itself; another error is a
    /// reset unless something more precise was seen first.
    mutating func errorCaught(tls: String?, reset: Bool) {
        if let tls {
            lastError = .tls(tls)
        } else if lastError == nil {
            lastError = .reset
        }
        if reset { sawReset = true }
    }

    /// The exchange's client is not keeping up: reads wait.
    mutating func pauseReading() {
        readHeld = true
    }

    /// Reads may go on. True when a read held back is owed now.
    mutating func resumeReading() -> Bool {
        guard readHeld else { return false }
        readHeld = false
        guard readPending else { return false }
        readPending = false
        return true
    }

    /// The pipeline asks for a read. True to pass it on now; false when reads are held (it is owed until resumed).
    mutating func readRequested() -> Bool {
        guard readHeld else { return true }
        readPending = true
        return false
    }

    /// The channel ended. A response read until the close is complete when the backend closed the connection (a TLS
    /// backend that skips close_notify included, as browsers and nginx take it); a reset cut it.
    mutating func channelEnded() -> Ending {
        let previous = phase
        phase = .closed
        switch previous {
        case .connecting:
            return .setupFailed(lastError ?? .connectFailed("connection closed during setup"))
        case .leased:
            if parser.readsUntilClose, !sawReset, case .end? = parser.inputClosed() {
                responseReusable = false
                return .responseComplete
            }
            return .failed(lastError ?? .reset)
        case .closed where closedDuringSetup:
            closedDuringSetup = false
            return .setupFailed(lastError ?? .connectFailed("connection closed during setup"))
        case .idle, .closed:
            return .quiet
        }
    }
}
