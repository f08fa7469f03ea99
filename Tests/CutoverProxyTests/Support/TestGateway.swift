@testable import CutoverProxy
import CutoverCore
import Logging
import MetricsTestKit
import NIOCore
import NIOPosix
import CutoverTestSupport

/// A real gateway on loopback for tests: its own event loop, a free port, and
/// test metrics to read back.
final class TestGateway: Sendable {
    let server: ProxyServer
    let metrics: TestMetrics
    /// The gateway's own metrics, for what the test factory does not see (the request-duration histograms).
    let proxyMetrics: ProxyMetrics
    let group: MultiThreadedEventLoopGroup
    let port: Int
    let addresses: [SocketAddress]

    /// Starts a gateway for `yaml` (its listen address should use port 0).
    static func start(_ yaml: String, threads: Int = 1) async throws -> TestGateway {
        let config = try ConfigLoader.load(yaml: yaml, source: "test.yaml").get()
        let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
        let metrics = TestMetrics()
        var logger = Logger(label: "test-gateway")
        logger.logLevel = .critical
        let proxyMetrics = ProxyMetrics(factory: metrics)
        let server = try await ProxyServer(config: config, group: group, metrics: proxyMetrics,
                                           comparatorMetrics: ComparatorMetrics(factory: metrics), logger: logger)
        let addresses = try await server.start()
        return TestGateway(server: server, metrics: metrics, proxyMetrics: proxyMetrics, group: group, addresses: addresses)
    }

    private init(server: ProxyServer, metrics: TestMetrics, proxyMetrics: ProxyMetrics, group: MultiThreadedEventLoopGroup,
                 addresses: [SocketAddress]) {
        self.server = server
        self.metrics = metrics
        self.proxyMetrics = proxyMetrics
        self.group = group
        self.addresses = addresses
        self.port = addresses[0].port!
    }

    /// Stops the gateway, draining for at most `drain`.
    func stop(drain: Duration = .seconds(5)) async {
        await server.shutdown(drainTimeout: drain)
        try? await group.shutdownGracefully()
    }

    /// The value of `cutover_requests_total` for a route, backend and status class.
    func requests(route: String, backend: String, code: String) -> Int64 {
        metrics.counterTotal(label: ProxyMetrics.Name.requests, dimensions: [("route", route), ("backend", backend), ("code", code)])
    }

    /// The request-duration histograms as `/metrics` shows them.
    func durationsExposition() -> String {
        var bytes: [UInt8] = []
        proxyMetrics.emitDurations(into: &bytes)
        return String(decoding: bytes, as: UTF8.self)
    }

    /// The value of `cutover_upstream_errors_total` for a backend and kind.
    func upstreamErrors(backend: String, kind: String) -> Int64 {
        metrics.counterTotal(label: ProxyMetrics.Name.upstreamErrors, dimensions: [("backend", backend), ("kind", kind)])
    }

    /// The value of `cutover_shadow_requests_total` for a route, result and reason.
    func shadowRequests(route: String, result: String, reason: String = "") -> Int64 {
        metrics.counterTotal(label: ComparatorMetrics.Name.shadowRequests, dimensions: [("route", route), ("result", result), ("reason", reason)])
    }

    /// Waits for the next shadow pair (at most `timeout`).
    func nextPair(timeout: Duration = .seconds(10)) async throws -> ShadowPair {
        try await withThrowingTaskGroup(of: ShadowPair?.self) { group in
            group.addTask { await self.server.diffQueue.next() }
            group.addTask {
                try await Task.sleep(for: timeout)
                // The queue's wait ignores cancellation: closing the queue ends it, so the test fails instead of hanging.
                self.server.diffQueue.close()
                return nil
            }
            defer { group.cancelAll() }
            guard let pair = try await group.next()! else { throw TimedOut(what: "a shadow pair") }
            return pair
        }
    }

    /// The value of `cutover_rejected_requests_total` for a reason.
    func rejected(_ reason: String) -> Int64 {
        metrics.counterTotal(label: ProxyMetrics.Name.rejectedRequests, dimensions: [("reason", reason)])
    }
}

/// A configuration for tests: one gateway on a free port in front of the given backends.
func gatewayConfig(old: String, new: String? = nil, routes: String = "", extra: String = "",
                   oldSettings: String = "", newSettings: String = "") -> String {
    """
    listen: "127.0.0.1:0"
    admin: { listen: "127.0.0.1:0" }
    \(extra)
    backends:
      old: { url: "\(old)" \(oldSettings.isEmpty ? "" : ", " + oldSettings) }
      new: { url: "\(new ?? old)" \(newSettings.isEmpty ? "" : ", " + newSettings) }
    routes:
    \(routes.isEmpty ? "  []" : routes)
    """
}
