import NIOCore

/// What a ``SideExchange`` reports to: a shadow run, or a list aggregation.
protocol SideExchangeOwner: AnyObject {
    func sideExchangeFailed(_ exchange: SideExchange, kind: String)
    func sideExchangeFinished(_ exchange: SideExchange, _ outcome: SideOutcome)
}

/// A request a run sends beside the client's own exchange, to one backend: a shadow copy (to new, or to old in a
/// gray read comparison), the noise baseline's copy to a second old instance, or one side's page of a list
/// aggregation. It takes a connection from the pool it is given (a copies' pool never queues it), sends the head and
/// body, captures the answer, and reports to its owner (``ShadowRun``, ``AggregateRun``). Its own deadline bounds it;
/// a copy never holds up the client's exchange. Confined to the event loop.
final class SideExchange: UpstreamExchange, DeadlineTracked {
    /// What the exchange is for.
    enum Role {
        /// A shadow copy, to the side that does not answer the client (new in shadow).
        case copy
        /// The noise baseline's copy, to the second old instance.
        case noise
        /// One side of a list aggregation.
        case old, new
    }

    let role: Role
    /// Held until the copy finishes (the run is kept alive by its copies once old has answered).
    private var run: (any SideExchangeOwner)?
    private let loop: LoopContext
    private let pool: UpstreamPool
    private let head: ByteBuffer
    private let chunked: Bool
    private let isHEAD: Bool
    private let timeout: TimeAmount
    private var body = CircularBuffer<ByteBuffer>()
    private var requestComplete = false
    private var connection: UpstreamConnection?
    private var capture: AnswerCapture
    private var finished = false
    /// Whether the copy waits in its pool's line for a connection.
    private var inLine = false
    private(set) var upstreamTicket: UInt64 = 0
    var deadline = NIODeadline.distantFuture
    var sweepIndex = -1

    init(role: Role, run: any SideExchangeOwner, loop: LoopContext, pool: UpstreamPool, head: ByteBuffer, chunked: Bool, isHEAD: Bool,
         timeout: TimeAmount, cap: Int) {
        self.role = role
        self.run = run
        self.loop = loop
        self.pool = pool
        self.head = head
        self.chunked = chunked
        self.isHEAD = isHEAD
        self.timeout = timeout
        self.capture = AnswerCapture(cap: cap)
    }

    /// Asks the pool for a connection; the copy's deadline starts now. Returns why the pool refused, when it did
    /// (a shadow copy's pool has no connection free, or holds copies back from a failing backend): the copy is then
    /// dropped, and nothing is reported to the owner.
    func start(now: NIODeadline) -> UpstreamPool.Refusal? {
        guard !pool.isRetired else {
            finish(.failed("gateway reloading"), countsForBreaker: false)
            return nil
        }
        upstreamTicket &+= 1
        switch pool.acquire(for: self) {
        case .refused(let refusal):
            finished = true
            run = nil
            return refusal
        case .leased(let connection):
            upstreamAcquired(connection)
        case .queued:
            inLine = true
        case .connecting:
            break
        }
        guard !finished else { return nil }
        deadline = now + timeout
        loop.sweeper.register(self)
        return nil
    }

    /// Request body bytes for the copy.
    func send(body part: ByteBuffer) {
        guard !finished else { return }
        if let connection {
            write(part, on: connection)
            connection.flush()
        } else {
            body.append(part)
        }
    }

    /// The request body is complete.
    func endOfRequest() {
        guard !finished else { return }
        requestComplete = true
        if let connection {
            writeEnd(on: connection)
            connection.flush()
        }
    }

    /// Gives up on the copy (its request outgrew the body cap, or old failed).
    func abandon() {
        guard !finished else { return }
        finished = true
        run = nil
        pool.copyEndedWithoutOutcome()
        loop.sweeper.unregister(self)
        if let connection {
            self.connection = nil
            connection.close()
        } else {
            stopWaiting()
        }
    }

    /// A connection still to arrive for the current ticket is not taken, and a place in line is given up.
    private func stopWaiting() {
        upstreamTicket &+= 1
        if inLine { pool.withdraw() }
        inLine = false
    }

    private func write(_ part: ByteBuffer, on connection: UpstreamConnection) {
        guard part.readableBytes > 0 else { return }
        if chunked {
            ChunkWriter.write(part, allocator: ByteBufferAllocator()) { connection.write($0) }
        } else {
            connection.write(part)
        }
    }

    private func writeEnd(on connection: UpstreamConnection) {
        if chunked { connection.write(ChunkWriter.lastChunk) }
    }

    private func finish(_ outcome: SideOutcome, countsForBreaker: Bool = true) {
        guard !finished else { return }
        finished = true
        if countsForBreaker { pool.copyEnded(answered: outcome.answer != nil) }
        loop.sweeper.unregister(self)
        let run = self.run
        self.run = nil
        run?.sideExchangeFinished(self, outcome)
    }

    // MARK: - UpstreamExchange

    func upstreamAcquired(_ connection: UpstreamConnection) {
        guard !finished else {
            connection.release(reusable: true)
            return
        }
        self.connection = connection
        inLine = false
        connection.expectResponse(toHEAD: isHEAD, chunkMode: .decoded)
        connection.write(head)
        while let part = body.popFirst() { write(part, on: connection) }
        if requestComplete { writeEnd(on: connection) }
        connection.flush()
    }

    func upstreamLeftLine() {
        inLine = false
    }

    func upstreamAcquireFailed(_ failure: UpstreamFailure) {
        inLine = false
        run?.sideExchangeFailed(self, kind: failure.metricKind)
        finish(.failed(failure.description))
    }

    func upstream(_ connection: UpstreamConnection, didReceive head: ResponseHead) {
        guard !head.isInformational else { return }
        capture.head(head)
    }

    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer) {
        capture.body(body)
    }

    func upstreamDidFinishResponse(_ connection: UpstreamConnection) {
        self.connection = nil
        connection.release(reusable: requestComplete)
        finish(.answered(capture.answer))
    }

    func upstreamDidCompleteRead(_ connection: UpstreamConnection) {}

    func upstream(_ connection: UpstreamConnection, didFail failure: UpstreamFailure) {
        self.connection = nil
        run?.sideExchangeFailed(self, kind: failure.metricKind)
        finish(.failed(failure.description))
    }

    func upstreamWritabilityDidChange(_ connection: UpstreamConnection) {}

    // MARK: - DeadlineTracked

    func deadlinePassed() {
        guard !finished else { return }
        let connection = self.connection
        self.connection = nil
        if let connection {
            connection.close()
        } else {
            stopWaiting()
        }
        run?.sideExchangeFailed(self, kind: "timeout")
        finish(.failed("no answer within \(timeout.nanoseconds / 1_000_000)ms"))
    }
}
