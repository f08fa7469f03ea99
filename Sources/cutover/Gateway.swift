import CutoverAdmin
import CutoverCore
import CutoverProxy
import CutoverStore
import Foundation
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle
import UnixSignals

/// A running gateway: the proxy listeners bound, the admin application and the
/// SIGHUP reloader ready to run in a service group.
final class Gateway: Sendable {
    let proxy: ProxyServer
    let group: MultiThreadedEventLoopGroup
    let registry: PrometheusCollectorRegistry
    let metrics: ProxyMetrics
    let comparatorMetrics: ComparatorMetrics
    let metricsFactory: PrometheusMetricsFactory
    let store: StoreService
    let pipeline: DiffPipeline
    let logger: Logger
    let configPath: String?
    let started = ContinuousClock.now
    /// Completed with the admin listener's address once it is bound.
    let adminAddress: EventLoopPromise<SocketAddress>
    /// Keeps the flags in step with the store.
    let flagSync: FlagSyncService

    /// Binds the proxy for a validated configuration.
    init(config: CutoverConfig, configPath: String?, logger: Logger) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.threads ?? System.coreCount)
        let registry = PrometheusCollectorRegistry()
        let factory = PrometheusMetricsFactory(registry: registry)
        let metrics = ProxyMetrics(factory: factory)
        let comparatorMetrics = ComparatorMetrics(factory: factory)
        self.group = group
        self.registry = registry
        self.metrics = metrics
        self.comparatorMetrics = comparatorMetrics
        self.metricsFactory = factory
        self.store = StoreService(location: config.store, logger: logger)
        self.logger = logger
        self.configPath = configPath
        self.adminAddress = group.next().makePromise()
        do {
            try await store.openIfEmbedded()
            let proxy = try await ProxyServer(config: config, group: group, metrics: metrics, comparatorMetrics: comparatorMetrics, logger: logger)
            if let opened = store.current {
                // The store is open already: serve the stored flags from the first request on.
                await proxy.apply(flags: try await opened.flagSet())
            }
            self.proxy = proxy
            self.flagSync = FlagSyncService(proxy: proxy, store: store, instanceID: Self.writerName(config),
                                            address: "proxy \(config.listen), admin \(config.admin.listen)", logger: logger)
            self.pipeline = DiffPipeline(queue: proxy.diffQueue, recorder: store, writer: Self.writerName(config), metrics: comparatorMetrics,
                                         logger: logger)
            // Bound now (so a port in use fails the start), accepting once the store had its chance (ProxyService).
            try await proxy.start(accepting: store.current != nil || !Self.waitsForStore(config))
        } catch {
            adminAddress.fail(error)
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// Whether the proxy waits (up to ``storeWait``) for the store before taking connections: a PostgreSQL store
    /// holds the flags other instances set, which a joining instance should serve from its first request.
    static func waitsForStore(_ config: CutoverConfig) -> Bool {
        if case .postgres = config.store { return true }
        return false
    }

    /// How long a joining instance waits for a PostgreSQL store before serving the configured phases.
    static let storeWait: Duration = .seconds(3)

    /// This instance's name in the comparator's batches: host and proxy address.
    static func writerName(_ config: CutoverConfig) -> String {
        "\(ProcessInfo.processInfo.hostName)/\(config.listen)/\(ProcessInfo.processInfo.processIdentifier)"
    }

    /// The services that make up the running gateway, in start order (they stop in reverse:
    /// the proxy drains and closes the comparator's queue, the comparator flushes, the store closes).
    func services() throws -> [any Service] {
        let config = proxy.config
        let proxy = self.proxy
        let started = self.started
        let adminAddress = self.adminAddress
        let store = self.store
        let flagSync = self.flagSync
        var environment = AdminEnvironment(
            config: { proxy.config },
            store: { store.current },
            health: {
                let current = proxy.config
                let elapsed = ContinuousClock.now - started
                let status = store.status
                return HealthReport(status: status.state == .up ? "ok" : "degraded", version: CutoverVersion.current,
                                    routes: current.routes.count, backends: current.backends.count,
                                    uptimeSeconds: Int(elapsed.components.seconds), store: status)
            },
            storeStatus: { store.status },
            refreshFlags: { await flagSync.refresh() },
            flushSignals: { await flagSync.flushSignals() })
        let rollbacks = HostRollbackService(logger: logger)
        environment.hostRollback = GatewayHostRollback.make(config: { proxy.config }, rollbacks: rollbacks, logger: logger)
        environment.hostTask = GatewayHostRun.make(config: { proxy.config }, runs: rollbacks, logger: logger)
        let webhooks = PlanWebhooks(config: { proxy.config }, logger: logger)
        environment.planNotify = { webhooks.send($0) }
        let limiter = AuthFailureLimiter(burst: config.admin.failedAuthBurst, refillPerSecond: config.admin.failedAuthPerSecond)
        let admin = try AdminServer.makeApplication(
            settings: config.admin, registry: registry, environment: environment, eventLoopGroup: group, logger: logger, limiter: limiter,
            moreMetrics: { [metrics] in metrics.emitDurations(into: &$0) },
            onListening: { [logger] address in
                logger.info("admin listening on \(config.admin.tls == nil ? "http" : "https")://\(ProxyServer.hostPort(address))")
                adminAddress.succeed(address)
            }
        )
        let proxyService = ProxyService(proxy: proxy, store: Self.waitsForStore(config) ? store : nil, logger: logger)
        var services: [any Service] = [store, ComparatorService(pipeline: pipeline), proxyService, flagSync, admin]
        if let configPath {
            services.append(ReloadService(path: configPath, proxy: proxy, metrics: metrics, logger: logger))
        }
        if config.reconcile?.every != nil {
            services.append(ReconcileService(proxy: proxy, store: store, factory: metricsFactory, logger: logger))
        }
        services.append(HostRunMetricsService(store: store, factory: metricsFactory, logger: logger))
        // Last, so that it stops first: rollbacks under way end while the admin listener and the store still run.
        services.append(rollbacks)
        return services
    }

    /// Runs the gateway until SIGTERM or SIGINT (or the group is told to stop), then drains.
    func run(extraServices: [any Service] = [], extraConfigurations: [ServiceGroupConfiguration.ServiceConfiguration] = []) async throws {
        var configurations = try services().map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        configurations += extraServices.map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
        configurations += extraConfigurations
        var groupConfiguration = ServiceGroupConfiguration(services: configurations, logger: logger)
        groupConfiguration.gracefulShutdownSignals = [.sigterm, .sigint]
        let serviceGroup = ServiceGroup(configuration: groupConfiguration)
        do {
            try await serviceGroup.run()
        } catch {
            adminAddress.fail(CancellationError())
            try? await group.shutdownGracefully()
            throw error
        }
        adminAddress.fail(CancellationError())
        try await group.shutdownGracefully()
    }
}

/// Starts the proxy taking connections (after up to ``Gateway/storeWait`` for a PostgreSQL store, so the stored
/// flags apply from the first request), keeps it serving until graceful shutdown, then drains it.
struct ProxyService: Service {
    let proxy: ProxyServer
    /// The store to wait for before accepting, if any.
    let store: StoreService?
    let logger: Logger

    func run() async throws {
        if let store {
            if let opened = await cancelWhenGracefulShutdown({ await store.ready(within: Gateway.storeWait) }) {
                if let flags = try? await opened.flagSet() { await proxy.apply(flags: flags) }
            } else {
                logger.warning("the store is not reachable yet: serving the configured phases until it is",
                               metadata: ["store": "\(store.location.redacted)"])
            }
            // A stop that came while waiting leaves the backlog to be closed, not served.
            if !Task.isShuttingDownGracefully { await proxy.startAccepting() }
        }
        try? await gracefulShutdown()
        logger.info("draining", metadata: ["timeout": "\(Quantities.format(proxy.config.drainTimeout))"])
        await proxy.shutdown(drainTimeout: proxy.config.drainTimeout)
        proxy.diffQueue.close()
    }
}

/// Reloads the configuration file on SIGHUP: a valid file applies to new requests,
/// an invalid one is refused with its errors logged and the running configuration kept.
struct ReloadService: Service {
    let path: String
    let proxy: ProxyServer
    let metrics: ProxyMetrics
    let logger: Logger

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            await reload()
        }
    }

    func reload() async {
        switch ConfigLoader.load(file: path) {
        case .failure(let error):
            metrics.reload(applied: false)
            for issue in error.issues {
                logger.error("reload refused: \(issue.formatted(source: path))")
            }
            logger.error("reload refused: \(error.issues.count) error(s) in \(path); the running configuration is kept")
        case .success(let config):
            do {
                let notes = try await proxy.reload(config)
                metrics.reload(applied: true)
                logger.info("configuration reloaded", metadata: ["file": "\(path)", "routes": "\(config.routes.count)"])
                for note in notes { logger.warning("\(note)") }
            } catch {
                metrics.reload(applied: false)
                logger.error("reload refused: \(error); the running configuration is kept")
            }
        }
    }
}
