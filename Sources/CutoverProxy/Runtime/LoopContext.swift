import CutoverCore
import NIOCore

/// The state one event loop keeps for the proxy: the configuration it applies,
/// its connection pools (one per backend), request metrics, request IDs and
/// deadlines. Touched only on its event loop, so it needs no locks.
final class LoopContext {
    let eventLoop: any EventLoop
    let metrics: ProxyMetrics
    /// Where shadow pairs go for comparison.
    let diffQueue: DiffQueue
    let comparatorMetrics: ComparatorMetrics
    /// The comparator's counters as this loop counts them (no lock per request).
    let shadowCounts: LoopComparatorCounters
    /// What new requests apply: the configuration and each route's flags, published together.
    private(set) var snapshot: LoopSnapshot
    /// The configuration new requests use.
    var runtime: RuntimeConfig { snapshot.runtime }
    /// Connection pools, indexed like the backends.
    private(set) var pools: [UpstreamPool] = []
    /// Separate pools for shadow copies, so a slow new backend never takes a live request's connections; they do not
    /// queue: a copy without a free connection is dropped and counted.
    private(set) var mirrorPools: [UpstreamPool] = []
    /// Request metrics by `(route + 1) * backends + backend`, created on first use.
    private var routeMetrics: [ProxyMetrics.RouteMetrics?] = []
    /// Makes request IDs.
    var requestIDs = RequestIDGenerator()
    /// Watches the deadlines of in-flight exchanges.
    let sweeper: DeadlineSweeper
    /// Open client connections, for closing stragglers at the end of a drain.
    var clients: [ObjectIdentifier: any LoopClient] = [:]
    /// What the control plane learns from traffic (IDs seen, new's answers).
    let signals: RouteSignals
    /// The switch flags from the store, if any were applied; else the configuration's.
    var flagSet: FlagSet? { snapshot.flagSet }
    /// Each route's flags, in route order, for `runtime`.
    var flags: [RouteFlags] { snapshot.flags }
    /// How many event loops share the gateway's limits (each loop takes its share).
    let loopCount: Int
    /// Request-body bytes held in memory by this loop's exchanges (read ahead of a connection, or waiting for one).
    var heldBodyBytes = 0
    /// New's answers gathered on this loop since the last hand-over to `signals` (one lock per hand-over, not per answer).
    private var newAnswers: [String: RouteSignals.Second] = [:]
    /// How long answers gather before they are handed over.
    static let handOverDelay = TimeAmount.milliseconds(250)

    init(eventLoop: any EventLoop, runtime: RuntimeConfig, metrics: ProxyMetrics, backendMetrics: [ProxyMetrics.BackendMetrics],
         diffQueue: DiffQueue, comparatorMetrics: ComparatorMetrics, signals: RouteSignals, flagSet: FlagSet?, loopCount: Int = 1) {
        self.eventLoop = eventLoop
        self.loopCount = max(1, loopCount)
        self.signals = signals
        self.snapshot = LoopSnapshot(runtime: runtime, flagSet: flagSet)
        self.metrics = metrics
        self.diffQueue = diffQueue
        self.comparatorMetrics = comparatorMetrics
        self.shadowCounts = LoopComparatorCounters(comparatorMetrics)
        self.sweeper = DeadlineSweeper(eventLoop: eventLoop, tick: Self.tick(for: runtime))
        self.pools = Self.makePools(runtime, eventLoop: eventLoop, backendMetrics: backendMetrics, queuing: true)
        self.mirrorPools = Self.makePools(runtime, eventLoop: eventLoop, backendMetrics: backendMetrics, queuing: false)
        self.routeMetrics = Self.emptyMetricsCache(runtime)
    }

    private static func emptyMetricsCache(_ runtime: RuntimeConfig) -> [ProxyMetrics.RouteMetrics?] {
        Array(repeating: nil, count: (runtime.routeNames.count + 1) * runtime.targets.count)
    }

    /// Switches new requests to another configuration. In-flight exchanges keep
    /// their connections; the old pools close them as they come back.
    func apply(_ runtime: RuntimeConfig, backendMetrics: [ProxyMetrics.BackendMetrics]) {
        let retired = pools + mirrorPools
        self.snapshot = LoopSnapshot(runtime: runtime, flagSet: snapshot.flagSet)
        self.pools = Self.makePools(runtime, eventLoop: eventLoop, backendMetrics: backendMetrics, queuing: true)
        self.mirrorPools = Self.makePools(runtime, eventLoop: eventLoop, backendMetrics: backendMetrics, queuing: false)
        self.routeMetrics = Self.emptyMetricsCache(runtime)
        self.sweeper.tick = Self.tick(for: runtime)
        for pool in retired { pool.retire() }
    }

    /// This loop's share of `limits.max_client_connections`.
    var maxClientConnections: Int { Self.share(runtime.config.gatewayLimits.maxClientConnections, of: loopCount) }

    /// This loop's share of `limits.buffer_memory`.
    var bufferBudget: Int { Self.share(runtime.config.gatewayLimits.bufferMemory, of: loopCount) }

    /// An even share of a gateway-wide bound, rounded up: accepted connections are spread over the loops in turn.
    static func share(_ total: Int, of loops: Int) -> Int {
        (total + loops - 1) / loops
    }

    /// New answered a request of `route`; handed to `signals` within ``handOverDelay``.
    func newAnswer(route: String, error: Bool, latency: Duration) {
        if newAnswers.isEmpty {
            eventLoop.assumeIsolated().scheduleTask(in: Self.handOverDelay) { [self] in handOverNewAnswers() }
        }
        newAnswers[route, default: RouteSignals.Second()].add(error: error, latency: latency)
    }

    /// Hands the gathered answers to `signals`.
    func handOverNewAnswers() {
        guard !newAnswers.isEmpty else { return }
        signals.add(newAnswers)
        newAnswers.removeAll(keepingCapacity: true)
    }

    /// Switches new requests to another version of the switch flags.
    func apply(_ flagSet: FlagSet) {
        if let current = self.flagSet, current.version > flagSet.version { return }
        snapshot = LoopSnapshot(runtime: runtime, flagSet: flagSet)
    }

    /// The metrics for requests of a route (nil: unmatched) answered by a backend,
    /// indexes taken from `runtime` (cached while it is the configuration in force).
    func routeMetrics(runtime: RuntimeConfig, route: Int?, backend: Int) -> ProxyMetrics.RouteMetrics {
        let key = ((route ?? -1) + 1) * runtime.targets.count + backend
        let current = runtime === self.runtime
        if current, let existing = routeMetrics[key] { return existing }
        let name = route.map { runtime.routeNames[$0] } ?? unmatchedRouteLabel
        let created = metrics.route(name, backend: runtime.targets[backend].backend.name, loop: ObjectIdentifier(eventLoop))
        if current { routeMetrics[key] = created }
        return created
    }

    private static func makePools(_ runtime: RuntimeConfig, eventLoop: any EventLoop, backendMetrics: [ProxyMetrics.BackendMetrics],
                                  queuing: Bool) -> [UpstreamPool] {
        zip(runtime.targets, backendMetrics).map { UpstreamPool(target: $0, eventLoop: eventLoop, metrics: $1, queuesWaiters: queuing) }
    }

    /// Deadlines are checked ten times per shortest timeout, between 5 ms and 100 ms apart.
    private static func tick(for runtime: RuntimeConfig) -> TimeAmount {
        let tenth = runtime.shortestTimeout.nanoseconds / 10
        return .nanoseconds(min(max(tenth, 5_000_000), 100_000_000))
    }
}

/// A client connection its event loop keeps track of: counted against `limits.max_client_connections`, and closed
/// if it is still open when a drain ends.
protocol LoopClient: AnyObject {
    func forceClose()
}

/// What one event loop applies to new requests: a configuration and each of its routes' flags, resolved together
/// and published as one immutable value whenever either changes. An exchange takes the snapshot in force when it
/// starts and keeps it to its end, so a reload or a flag change never shows it half of each.
final class LoopSnapshot: Sendable {
    let runtime: RuntimeConfig
    /// The switch flags from the store, if any were applied.
    let flagSet: FlagSet?
    /// Each route's flags, in route order: the store's when there are any, else the configuration's.
    let flags: [RouteFlags]

    init(runtime: RuntimeConfig, flagSet: FlagSet?) {
        self.runtime = runtime
        self.flagSet = flagSet
        self.flags = flagSet?.resolved(for: runtime.config) ?? runtime.routing.configuredFlags
    }
}
