import NIOCore
import NIOPosix
import NIOSSL

/// The connections of one event loop to one backend: idle ones are reused
/// (most recently used first), at most `poolSize` are open, and exchanges
/// wait in line when all are busy (or, in a pool that does not queue, are
/// refused at once). What it holds and decides is ``UpstreamPoolState``; this
/// class carries the state's answers out on sockets. Confined to its event loop.
final class UpstreamPool {
    /// What an exchange's request for a connection came to.
    enum Acquisition {
        /// A pooled connection, leased to the exchange now.
        case leased(UpstreamConnection)
        /// A connection is being made for the exchange: `upstreamAcquired` or `upstreamAcquireFailed` follows.
        case connecting
        /// Every connection is busy: the exchange waits in line for one.
        case queued
        /// No connection for the exchange: why.
        case refused(Refusal)
    }

    /// Why a pool refused an exchange.
    enum Refusal: Equatable {
        /// Every connection is busy and the pool does not queue, or its line is full (`max_queue`).
        case busy
        /// The backend keeps failing the copies this pool sends (``CopyBreaker``).
        case failing
    }

    /// An exchange waiting for a connection, for the acquisition its ticket names: stale once the exchange moved on.
    struct Waiter: PoolLineEntry {
        let exchange: any UpstreamExchange
        let ticket: UInt64
        var isCurrent: Bool { exchange.upstreamTicket == ticket }
    }

    /// The backend the pool connects to.
    let target: BackendTarget
    /// Whether exchanges wait in line when every connection is busy. Shadow copies' pools do not: a copy that
    /// cannot have a connection at once is dropped (and counted), so a slow new backend never builds a queue.
    var queuesWaiters: Bool { state.queues }
    private let eventLoop: any EventLoop
    private let metrics: ProxyMetrics.BackendMetrics
    private var state: UpstreamPoolState<UpstreamConnection, Waiter>
    /// A pool of shadow copies stops sending to a backend that keeps failing them.
    private var breaker: CopyBreaker?
    /// Connections open or being opened.
    var openCount: Int { state.open }
    /// Set when a reload replaced this pool: connections close instead of returning.
    var isRetired: Bool { state.isRetired }
    /// Replaces the socket connect, for tests that wire connections to `EmbeddedChannel`s:
    /// it receives the new connection handler and must put it in a channel that becomes active.
    var connector: ((UpstreamConnection) -> Void)?

    init(target: BackendTarget, eventLoop: any EventLoop, metrics: ProxyMetrics.BackendMetrics, queuesWaiters: Bool = true) {
        self.target = target
        self.state = UpstreamPoolState(size: target.backend.poolSize, maxQueue: target.backend.maxQueue, queues: queuesWaiters)
        self.breaker = queuesWaiters ? nil : CopyBreaker()
        self.eventLoop = eventLoop
        self.metrics = metrics
    }

    /// Gets a connection for `exchange`: a pooled one at once, a new one (reported later through
    /// `upstreamAcquired` / `upstreamAcquireFailed`), a place in line, or a refusal when the pool does not queue.
    /// With `fresh`, an idle connection is not reused (a retry after a stale one failed).
    func acquire(for exchange: any UpstreamExchange, fresh: Bool = false) -> Acquisition {
        if breaker != nil {
            let loop = eventLoop
            guard breaker!.admits(now: { loop.now }) else { return .refused(.failing) }
        }
        let waiter = Waiter(exchange: exchange, ticket: exchange.upstreamTicket)
        while true {
            switch state.acquire(for: waiter, fresh: fresh) {
            case .lease(let connection):
                guard connection.isUsable else {
                    // Closed under the pool (its close is on the way): it still counts as open until then.
                    connection.close()
                    continue
                }
                connection.lease(to: exchange)
                return .leased(connection)
            case .connect:
                connect(for: waiter)
                return .connecting
            case .queue:
                return .queued
            case .refuse:
                // A trial the breaker let go that finds no connection is no trial: the next copy may be one.
                copyEndedWithoutOutcome()
                return .refused(.busy)
            }
        }
    }

    /// An exchange that was in line stopped waiting (its client went away or its deadline passed) and its
    /// ticket has moved on. Its entry is dropped lazily: O(1) now, the line compacted once half of it is stale.
    func withdraw() {
        state.withdraw()
    }

    /// A copy this pool sent ended, answered or failed by the backend (the copies' breaker counts it).
    func copyEnded(answered: Bool) {
        guard breaker != nil else { return }
        let loop = eventLoop
        breaker!.record(success: answered, now: { loop.now })
    }

    /// A copy this pool admitted ended without an outcome (abandoned with its request, or refused a connection).
    func copyEndedWithoutOutcome() {
        guard breaker != nil else { return }
        let loop = eventLoop
        breaker!.recordNoOutcome(now: { loop.now })
    }

    /// Sets the copies' breaker's first pause (tests make it long, so that their copies never race its clock).
    func setCopyPause(first: TimeAmount) {
        breaker?.firstPause = first
    }

    /// Ends the copies' pause under way: the next copy is the trial.
    func endCopyPause() {
        let loop = eventLoop
        breaker?.endPause(now: { loop.now })
    }

    /// Whether the copies' breaker holds copies back now.
    var isHoldingCopiesBack: Bool { breaker?.isOpen ?? false }

    /// How many entries the line holds, stale ones included (for tests).
    var lineLength: Int { state.lineLength }

    /// The metrics failures of this backend are counted in.
    var metricsForFailures: ProxyMetrics.BackendMetrics { metrics }

    /// Takes back a connection whose exchange completed cleanly.
    func release(_ connection: UpstreamConnection) {
        hand(connection, state.release(connection))
    }

    /// A connection finished setting up.
    func connectionReady(_ connection: UpstreamConnection) {
        let initial = connection.initialWaiter
        connection.initialWaiter = nil
        hand(connection, state.ready(connection, initial: initial))
    }

    /// A connection failed while being set up. The failure is counted once, for the exchange still
    /// waiting on it; an exchange whose own deadline passed first has counted it already.
    func connectionFailed(_ connection: UpstreamConnection, _ failure: UpstreamFailure) {
        let initial = connection.initialWaiter
        connection.initialWaiter = nil
        if let waiter = state.setupFailed(initial: initial) {
            metrics.upstreamError(failure)
            waiter.exchange.upstreamAcquireFailed(failure)
        }
    }

    /// A connection closed, for whatever reason.
    func connectionClosed(_ connection: UpstreamConnection) {
        metrics.connectionClosed()
        if let next = state.closed(connection) {
            next.exchange.upstreamLeftLine()
            connect(for: next)
        }
    }

    /// Stops the pool: idle connections close now, busy ones when released.
    func retire() {
        let (closing, stranded) = state.retire()
        for connection in closing { connection.close() }
        for waiter in stranded { waiter.exchange.upstreamAcquireFailed(.poolExhausted) }
    }

    private func hand(_ connection: UpstreamConnection, _ handover: UpstreamPoolState<UpstreamConnection, Waiter>.Handover) {
        switch handover {
        case .lease(let waiter, let fromLine):
            if fromLine { waiter.exchange.upstreamLeftLine() }
            connection.lease(to: waiter.exchange)
            waiter.exchange.upstreamAcquired(connection)
        case .park:
            break
        case .close:
            connection.close()
        }
    }

    /// Opens a connection for `waiter` (the state counted it open already).
    private func connect(for waiter: Waiter) {
        metrics.connectionOpened()
        if let connector {
            let connection = UpstreamConnection(pool: self, usesTLS: false)
            connection.initialWaiter = waiter
            connector(connection)
            return
        }
        let target = self.target
        let waiter = NIOLoopBound(waiter, eventLoop: eventLoop)
        let pool = NIOLoopBound(self, eventLoop: eventLoop)
        let bootstrap = ClientBootstrap(group: eventLoop)
            .connectTimeout(target.connectTimeout)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                do {
                    let connection = UpstreamConnection(pool: pool.value, usesTLS: target.tlsContext != nil)
                    connection.initialWaiter = waiter.value
                    if let tlsContext = target.tlsContext {
                        let tls = try NIOSSLClientHandler(context: tlsContext, serverHostname: target.serverHostname)
                        try channel.pipeline.syncOperations.addHandler(tls)
                    }
                    try channel.pipeline.syncOperations.addHandler(connection)
                    if target.tlsContext != nil {
                        // The connect timeout covers the TLS handshake too.
                        channel.eventLoop.assumeIsolated().scheduleTask(in: target.connectTimeout) {
                            connection.abandonSetup()
                        }
                    }
                    return channel.eventLoop.makeSucceededVoidFuture()
                } catch {
                    return channel.eventLoop.makeFailedFuture(error)
                }
            }
        let future: EventLoopFuture<any Channel>
        if let address = target.address {
            future = bootstrap.connect(to: address)
        } else {
            future = bootstrap.connect(host: target.backend.url.host, port: target.backend.url.port)
        }
        future.assumeIsolated().whenFailure { error in
            let pool = pool.value
            pool.metrics.connectionClosed()
            let failure: UpstreamFailure
            if let error = error as? ChannelError, case .connectTimeout = error {
                failure = .connectTimeout
            } else {
                failure = .connectFailed(Self.describe(error))
            }
            pool.metrics.upstreamError(failure)
            pool.state.connectFailed(initial: waiter.value)?.exchange.upstreamAcquireFailed(failure)
            if let next = pool.state.nextToConnect() {
                next.exchange.upstreamLeftLine()
                pool.connect(for: next)
            }
        }
    }

    private static func describe(_ error: any Error) -> String {
        if let error = error as? NIOConnectionError {
            if let first = error.connectionErrors.first { return describe(first.error) }
            if let dns = error.dnsAAAAError ?? error.dnsAError { return "cannot resolve host: \(dns)" }
            return "cannot connect to \(error.host):\(error.port)"
        }
        if let error = error as? IOError { return error.description }
        return String(describing: error)
    }
}
