import CutoverAdmin
import CutoverCore
import Logging
import NIOCore
import NIOPosix
import Prometheus
import ServiceLifecycle

/// Runs the admin application on a free loopback port for the duration of `body`.
func withAdmin(registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry(), environment: AdminEnvironment,
               limiter: AuthFailureLimiter = AuthFailureLimiter(), _ body: (Int) async throws -> Void) async throws {
    let settings = AdminSettings(listen: ListenAddress(host: "127.0.0.1", port: 0), tokens: [])
    let bound = MultiThreadedEventLoopGroup.singleton.next().makePromise(of: SocketAddress.self)
    var logger = Logger(label: "admin-test")
    logger.logLevel = .critical
    let app = try AdminServer.makeApplication(
        settings: settings, registry: registry, environment: environment, eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
        logger: logger, limiter: limiter, onListening: { bound.succeed($0) })
    let group = ServiceGroup(services: [app], logger: logger)
    try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        let port = try await bound.futureResult.get().port!
        do {
            try await body(port)
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
    }
}
