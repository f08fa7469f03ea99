import CutoverCore
import Logging
import NIOConcurrencyHelpers
import NIOCore
import NIOExtras
import NIOPosix
import NIOSSL

/// The data plane: the proxy listeners (plain and optional TLS), one
/// ``LoopContext`` per event loop, graceful drain and live reload.
public final class ProxyServer: Sendable {
    private let group: any EventLoopGroup
    private let metrics: ProxyMetrics
    private let logger: Logger
    private let contexts: [ObjectIdentifier: NIOLoopBound<LoopContext>]
    private let state: NIOLockedValueBox<State>
    /// Shadow pairs waiting for the comparator.
    public let diffQueue: DiffQueue
    /// What traffic tells the control plane: IDs seen, new's answers.
    public let signals: RouteSignals

    private struct State {
        var config: CutoverConfig
        /// The client TLS listener's certificate and key, loaded at start and again at each reload.
        var tlsContext: NIOSSLContext?
        var flagSet: FlagSet?
        var listeners: [(channel: any Channel, quiescing: ServerQuiescingHelper)] = []
        var addresses: [SocketAddress] = []
    }

    /// Prepares the proxy for a configuration on an event-loop group. Throws when a backend's TLS settings cannot be loaded.
    /// Shadow pairs go to `diffQueue` (one is made from the configuration when none is given).
    public init(config: CutoverConfig, group: any EventLoopGroup, metrics: ProxyMetrics, comparatorMetrics: ComparatorMetrics,
                diffQueue: DiffQueue? = nil, logger: Logger) async throws {
        let runtime = try RuntimeConfig(config)
        let backendMetrics = config.backends.map { metrics.backend($0.name) }
        let queue = diffQueue ?? DiffQueue(settings: config.diffQueue, metrics: comparatorMetrics)
        let signals = RouteSignals()
        var contexts: [ObjectIdentifier: NIOLoopBound<LoopContext>] = [:]
        let loopCount = Array(group.makeIterator()).count
        for loop in group.makeIterator() {
            let bound = try await loop.submit {
                NIOLoopBound(LoopContext(eventLoop: loop, runtime: runtime, metrics: metrics, backendMetrics: backendMetrics,
                                         diffQueue: queue, comparatorMetrics: comparatorMetrics, signals: signals, flagSet: nil,
                                         loopCount: loopCount),
                            eventLoop: loop)
            }.get()
            contexts[ObjectIdentifier(loop)] = bound
        }
        self.group = group
        self.metrics = metrics
        self.logger = logger
        self.contexts = contexts
        self.state = NIOLockedValueBox(State(config: config))
        self.diffQueue = queue
        self.signals = signals
    }

    /// The version of the switch flags every event loop applies (nil: the configuration's).
    public var flagVersion: Int64? { state.withLockedValue { $0.flagSet?.version } }

    /// Each route's flags in force, in route order.
    public var flags: [RouteFlags] {
        state.withLockedValue { state in state.flagSet?.resolved(for: state.config) ?? state.config.routes.map(RouteFlags.init(route:)) }
    }

    /// Switches new requests to a version of the switch flags; returns once every event loop applies it.
    /// An older version than the one in force is ignored (notifications may arrive out of order).
    public func apply(flags flagSet: FlagSet) async {
        let newer = state.withLockedValue { state -> Bool in
            if let current = state.flagSet, current.version > flagSet.version { return false }
            state.flagSet = flagSet
            return true
        }
        guard newer else { return }
        for (_, bound) in contexts {
            try? await bound.eventLoop.submit { bound.value.apply(flagSet) }.get()
        }
        metrics.flagVersion(flagSet.version)
    }

    /// The configuration in force.
    public var config: CutoverConfig { state.withLockedValue { $0.config } }

    /// Runs `body` on every event loop with its context and returns what each gave (for tests and figures).
    func onEveryLoop<T: Sendable>(_ body: @escaping @Sendable (LoopContext) -> T) async throws -> [T] {
        var results: [T] = []
        for (_, bound) in contexts {
            results.append(try await bound.eventLoop.submit { body(bound.value) }.get())
        }
        return results
    }

    /// The listening channels (for tests that watch them close).
    var listenerChannels: [any Channel] { state.withLockedValue { $0.listeners.map(\.channel) } }

    /// The addresses the listeners are bound to (plain first), once started.
    public var addresses: [SocketAddress] { state.withLockedValue { $0.addresses } }

    /// Binds the listeners; returns their addresses (port 0 in the config gets a free port). With `accepting: false`
    /// connections wait in the listen backlog until ``startAccepting()`` (the gateway waits for its store that way).
    @discardableResult
    public func start(accepting: Bool = true) async throws -> [SocketAddress] {
        let config = self.config
        var listeners: [(any Channel, ServerQuiescingHelper)] = []
        do {
            listeners.append(try await bind(config.listen, tls: false, accepting: accepting))
            if let tls = config.tls {
                let context = try Self.tlsContext(tls)
                state.withLockedValue { $0.tlsContext = context }
                listeners.append(try await bind(tls.listen, tls: true, accepting: accepting))
            }
        } catch {
            for (channel, _) in listeners { try? await channel.close() }
            throw error
        }
        let addresses = listeners.compactMap { $0.0.localAddress }
        state.withLockedValue {
            $0.listeners = listeners.map { (channel: $0.0, quiescing: $0.1) }
            $0.addresses = addresses
        }
        for (index, address) in addresses.enumerated() {
            logger.info("proxy listening on \(index == 0 ? "http" : "https")://\(Self.hostPort(address))")
        }
        return addresses
    }

    /// Starts taking the connections waiting in the listeners' backlog, and new ones.
    public func startAccepting() async {
        for channel in listenerChannels {
            try? await channel.setOption(.autoRead, value: true).get()
        }
    }

    /// The TLS context of the client listener, from its PEM files.
    static func tlsContext(_ tls: ListenerTLS) throws -> NIOSSLContext {
        let certificates = try NIOSSLCertificate.fromPEMFile(tls.certificateFile)
        let key = try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: certificates.map { .certificate($0) }, privateKey: .privateKey(key))
        configuration.applicationProtocols = ["http/1.1"]
        return try NIOSSLContext(configuration: configuration)
    }

    private func bind(_ address: ListenAddress, tls: Bool, accepting: Bool) async throws -> (any Channel, ServerQuiescingHelper) {
        let quiescing = ServerQuiescingHelper(group: group)
        let contexts = self.contexts
        let state = self.state
        let scheme: StaticString = tls ? "https" : "http"
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 1024)
            .serverChannelOption(.autoRead, value: accepting)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(quiescing.makeServerChannelHandler(channel: channel))
                }
            }
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    guard let context = contexts[ObjectIdentifier(channel.eventLoop)] else {
                        preconditionFailure("every event loop of the group has a context")
                    }
                    let pipeline = channel.pipeline.syncOperations
                    if tls, context.value.clients.count >= context.value.maxClientConnections {
                        // One connection too many on the TLS listener: nothing can be said before a handshake, and
                        // a client that never sends one must not hold the connection: closed at once.
                        context.value.metrics.rejected("too_many_connections")
                        channel.close(promise: nil)
                        return
                    }
                    // Each connection takes the certificate in force when it arrives (a reload swaps it).
                    if tls, let context = state.withLockedValue({ $0.tlsContext }) {
                        try pipeline.addHandler(NIOSSLServerHandler(context: context))
                    }
                    try pipeline.addHandler(ClientConnectionHandler(loop: context.value, scheme: scheme))
                }
            }
            .bind(host: address.host, port: address.port)
            .get()
        return (channel, quiescing)
    }

    /// `host:port` of a bound address, IPv6 in brackets.
    public static func hostPort(_ address: SocketAddress) -> String {
        let host = address.ipAddress ?? "?"
        return host.contains(":") ? "[\(host)]:\(address.port ?? 0)" : "\(host):\(address.port ?? 0)"
    }

    /// Applies a new configuration to new requests; in-flight requests finish on
    /// the old one and no client connection is dropped. Returns notes on settings
    /// that need a restart to change (listen addresses, threads, header limits of open connections).
    @discardableResult
    public func reload(_ config: CutoverConfig) async throws -> [String] {
        let runtime = try RuntimeConfig(config)
        // The client listener's certificate is read again (a renewed certificate applies to new connections);
        // one that cannot be loaded refuses the whole reload.
        let tlsContext = try config.tls.map(Self.tlsContext)
        let backendMetrics = config.backends.map { metrics.backend($0.name) }
        for (_, bound) in contexts {
            try await bound.eventLoop.submit {
                bound.value.apply(runtime, backendMetrics: backendMetrics)
            }.get()
        }
        let previous = state.withLockedValue { state in
            let previous = state.config
            state.config = config
            if let tlsContext, state.tlsContext != nil { state.tlsContext = tlsContext }
            return previous
        }
        var notes: [String] = []
        if previous.listen != config.listen || previous.tls?.listen != config.tls?.listen {
            notes.append("listen addresses changed: the running listeners stay until restart")
        }
        if previous.threads != config.threads {
            notes.append("threads changed: takes effect at restart")
        }
        return notes
    }

    /// Stops accepting, lets in-flight requests finish for up to `drainTimeout`,
    /// then closes what is left and the idle backend connections.
    public func shutdown(drainTimeout: Duration) async {
        let listeners = state.withLockedValue { state in
            let listeners = state.listeners
            state.listeners = []
            return listeners
        }
        var drained: [EventLoopFuture<Void>] = []
        for (_, quiescing) in listeners {
            let promise = group.next().makePromise(of: Void.self)
            quiescing.initiateShutdown(promise: promise)
            drained.append(promise.futureResult)
        }
        let all = EventLoopFuture.andAllComplete(drained, on: group.next())
        // If the drain outlasts its bound, whatever is still open is closed.
        let contexts = self.contexts
        let logger = self.logger
        let deadline = group.next().scheduleTask(in: .nanoseconds(drainTimeout.nanoseconds)) {
            logger.warning("drain timeout reached: closing remaining client connections")
            for (_, bound) in contexts {
                bound.eventLoop.execute {
                    for client in bound.value.clients.values { client.forceClose() }
                }
            }
        }
        try? await all.get()
        deadline.cancel()
        for (_, bound) in contexts {
            try? await bound.eventLoop.submit {
                for pool in bound.value.pools + bound.value.mirrorPools { pool.retire() }
            }.get()
        }
        logger.info("proxy stopped")
    }
}
