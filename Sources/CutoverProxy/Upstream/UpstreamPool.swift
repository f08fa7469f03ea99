import NIOCore
import NIOPosix
import NIOSSL

/// The connections of one event loop to one backend: idle ones are reused
/// (most recently used first), at most `poolSize` are open, and exchanges
/// wait in line when all are busy (or, in a pool that does not queue, are
/// refused at once). Confined to its event loop.
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

    /// The backend the pool connects to.
    let target: BackendTarget
    /// Whether exchanges wait in line when every connection is busy. Shadow copies' pools do not: a copy that
    /// cannot have a connection at once is dropped (and counted), so a slow new backend never builds a queue.
    let queuesWaiters: Bool
    private let eventLoop: any EventLoop
    private let metrics: ProxyMetrics.BackendMetrics
    private var idle: [UpstreamConnection] = []
    /// Exchanges waiting for a connection, oldest first. An entry whose exchange has moved on (its ticket
    /// changed) is stale: it is skipped when reached, and the line is compacted once stale entries are half of it.
    private var waiters = CircularBuffer<(exchange: any UpstreamExchange, ticket: UInt64)>()
    /// Entries of `waiters` known to be stale.
    private var withdrawn = 0
    /// A pool of shadow copies stops sending to a backend that keeps failing them.
    private var breaker: CopyBreaker?
    /// Connections open or being opened.
    private(set) var openCount = 0
    /// Set when a reload replaced this pool: connections close instead of returning.
    private(set) var isRetired = false
    /// Replaces the socket connect, for tests that wire connections to `EmbeddedChannel`s:
    /// it receives the new connection handler and must put it in a channel that becomes active.
    var connector: ((UpstreamConnection) -> Void)?

    init(target: BackendTarget, eventLoop: any EventLoop, metrics: ProxyMetrics.BackendMetrics, queuesWaiters: Bool = true) {
        self.target = target
        self.queuesWaiters = queuesWaiters
        self.breaker = queuesWaiters ? nil : CopyBreaker()
        self.eventLoop = eventLoop
        self.metrics = metrics
    }

    /// Gets a connection for `exchange`: a pooled one at once, a new one (reported later through
    /// `upstreamAcquired` / `upstreamAcquireFailed`), a place in line, or a refusal when the pool does not queue.
    /// With `fresh`, an idle connection is not reused (a retry after a stale one failed).
    func acquire(for exchange: any UpstreamExchange, fresh: Bool = false) -> Acquisition {
        precondition(!isRetired, "a retired pool takes no new requests")
        if breaker != nil {
            let loop = eventLoop
            guard breaker!.admits(now: { loop.now }) else { return .refused(.failing) }
        }
        if !fresh {
            while let connection = idle.popLast() {
                if connection.isUsable {
                    connection.lease(to: exchange)
                    return .leased(connection)
                }
                connection.close()
            }
        }
        if openCount < target.backend.poolSize {
            connect(for: exchange, ticket: exchange.upstreamTicket)
            return .connecting
        }
        // Shed load at once rather than let the line grow: beyond `max_queue` waiting exchanges, or in a pool that does not queue.
        guard queuesWaiters, waiters.count - withdrawn < target.backend.maxQueue else {
            // A trial the breaker let go that finds no connection is no trial: the next copy may be one.
            copyEndedWithoutOutcome()
            return .refused(.busy)
        }
        waiters.append((exchange, exchange.upstreamTicket))
        return .queued
    }

    /// An exchange that was in line stopped waiting (its client went away or its deadline passed) and its
    /// ticket has moved on. Its entry is dropped lazily: O(1) now, the line compacted once half of it is stale.
    func withdraw() {
        withdrawn += 1
        guard withdrawn >= 64, withdrawn * 2 >= waiters.count else { return }
        var live = CircularBuffer<(exchange: any UpstreamExchange, ticket: UInt64)>(initialCapacity: waiters.count - withdrawn)
        for waiter in waiters where waiter.exchange.upstreamTicket == waiter.ticket { live.append(waiter) }
        waiters = live
        withdrawn = 0
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
    var lineLength: Int { waiters.count }

    /// The metrics failures of this backend are counted in.
    var metricsForFailures: ProxyMetrics.BackendMetrics { metrics }

    /// Takes back a connection whose exchange completed cleanly.
    func release(_ connection: UpstreamConnection) {
        if isRetired {
            connection.close()
            return
        }
        if let waiter = nextWaiter() {
            connection.lease(to: waiter)
            waiter.upstreamAcquired(connection)
        } else {
            idle.append(connection)
        }
    }

    /// A connection finished setting up.
    func connectionReady(_ connection: UpstreamConnection) {
        let initial = connection.initialWaiter
        connection.initialWaiter = nil
        if let initial, initial.exchange.upstreamTicket == initial.ticket {
            connection.lease(to: initial.exchange)
            initial.exchange.upstreamAcquired(connection)
        } else {
            release(connection)
        }
    }

    /// A connection failed while being set up. The failure is counted once, for the exchange still
    /// waiting on it; an exchange whose own deadline passed first has counted it already.
    func connectionFailed(_ connection: UpstreamConnection, _ failure: UpstreamFailure) {
        let initial = connection.initialWaiter
        connection.initialWaiter = nil
        if let initial, initial.exchange.upstreamTicket == initial.ticket {
            metrics.upstreamError(failure)
            initial.exchange.upstreamAcquireFailed(failure)
        }
    }

    /// A connection closed, for whatever reason.
    func connectionClosed(_ connection: UpstreamConnection) {
        openCount -= 1
        metrics.connectionClosed()
        if let index = idle.firstIndex(where: { $0 === connection }) {
            idle.remove(at: index)
        }
        if !isRetired, openCount < target.backend.poolSize, let waiter = nextWaiter() {
            connect(for: waiter, ticket: waiter.upstreamTicket)
        }
    }

    /// Stops the pool: idle connections close now, busy ones when released.
    func retire() {
        isRetired = true
        let closing = idle
        idle.removeAll()
        for connection in closing { connection.close() }
        let stranded = waiters
        waiters.removeAll()
        withdrawn = 0
        for waiter in stranded where waiter.exchange.upstreamTicket == waiter.ticket {
            waiter.exchange.upstreamAcquireFailed(.poolExhausted)
        }
    }

    private func nextWaiter() -> (any UpstreamExchange)? {
        while let waiter = waiters.popFirst() {
            if waiter.exchange.upstreamTicket == waiter.ticket {
                waiter.exchange.upstreamLeftLine()
                return waiter.exchange
            }
            if withdrawn > 0 { withdrawn -= 1 }
        }
        return nil
    }

    private func connect(for exchange: any UpstreamExchange, ticket: UInt64) {
        openCount += 1
        metrics.connectionOpened()
        if let connector {
            let connection = UpstreamConnection(pool: self, usesTLS: false)
            connection.initialWaiter = (exchange, ticket)
            connector(connection)
            return
        }
        let target = self.target
        let waiter = NIOLoopBound((exchange, ticket), eventLoop: eventLoop)
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
            pool.openCount -= 1
            pool.metrics.connectionClosed()
            let failure: UpstreamFailure
            if let error = error as? ChannelError, case .connectTimeout = error {
                failure = .connectTimeout
            } else {
                failure = .connectFailed(Self.describe(error))
            }
            pool.metrics.upstreamError(failure)
            let (exchange, ticket) = waiter.value
            if exchange.upstreamTicket == ticket {
                exchange.upstreamAcquireFailed(failure)
            }
            if !pool.isRetired, pool.openCount < pool.target.backend.poolSize, let next = pool.nextWaiter() {
                pool.connect(for: next, ticket: next.upstreamTicket)
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
