import CutoverAdmin
import CutoverCore
import CutoverProxy
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
    let logger: Logger
    let configPath: String?
    let started = ContinuousClock.now
    /// Completed with the admin listener's address once it is bound.
    let adminAddress: EventLoopPromise<SocketAddress>

    /// Binds the proxy for a validated configuration.
    init(config: CutoverConfig, configPath: String?, logger: Logger) async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: config.threads ?? System.coreCount)
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        factory.durationHistogramBuckets[ProxyMetrics.Name.requestDuration] = [
            .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5), .milliseconds(10), .milliseconds(25),
            .milliseconds(50), .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .milliseconds(2500),
            .seconds(5), .seconds(10), .seconds(30),
        ]
        let metrics = ProxyMetrics(factory: factory)
        self.group = group
        self.registry = registry
        self.metrics = metrics
        self.logger = logger
        self.configPath = configPath
        self.adminAddress = group.next().makePromise()
        do {
            self.proxy = try await ProxyServer(config: config, group: group, metrics: metrics, logger: logger)
            try await proxy.start()
        } catch {
            adminAddress.fail(error)
            try? await group.shutdownGracefully()
            throw error
        }
    }

    /// The services that make up the running gateway.
    func services() -> [any Service] {
        let config = proxy.config
        let proxy = self.proxy
        let started = self.started
        let adminAddress = self.adminAddress
        let admin = AdminServer.makeApplication(
            settings: config.admin, registry: registry, eventLoopGroup: group, logger: logger,
            health: {
                let current = proxy.config
                let elapsed = ContinuousClock.now - started
                return HealthReport(status: "ok", version: CutoverVersion.current, routes: current.routes.count,
                                    backends: current.backends.count, uptimeSeconds: Int(elapsed.components.seconds))
            },
            onListening: { [logger] address in
                logger.info("admin listening on http://\(ProxyServer.hostPort(address))")
                adminAddress.succeed(address)
            }
        )
        var services: [any Service] = [ProxyService(proxy: proxy, logger: logger), admin]
        if let configPath {
            services.append(ReloadService(path: configPath, proxy: proxy, metrics: metrics, logger: logger))
        }
        return services
    }

    /// Runs the gateway until SIGTERM or SIGINT (or the group is told to stop), then drains.
    func run(extraServices: [any Service] = [], extraConfigurations: [ServiceGroupConfiguration.ServiceConfiguration] = []) async throws {
        var configurations = services().map { ServiceGroupConfiguration.ServiceConfiguration(service: $0) }
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

/// Keeps the proxy serving until graceful shutdown, then drains it.
struct ProxyService: Service {
    let proxy: ProxyServer
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("draining", metadata: ["timeout": "\(Quantities.format(proxy.config.drainTimeout))"])
        await proxy.shutdown(drainTimeout: proxy.config.drainTimeout)
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
