import CoreMetrics
import NIOConcurrencyHelpers

/// The gateway's metrics, created through an injected swift-metrics factory so
/// that each gateway (and each test) has its own registry.
///
/// Names (the contract the dashboards use):
/// - `cutover_requests_total{route,backend,code}`: answered requests, `code` is the status class (`2xx`…).
/// - `cutover_request_duration_seconds{route,backend}`: histogram from request head to response end (kept per event
///   loop without a lock, see ``RequestDurations``; its exposition is ``emitDurations(into:)``).
/// - `cutover_upstream_errors_total{backend,kind}`: failed upstream exchanges by kind.
/// - `cutover_rejected_requests_total{reason}`: requests refused before reaching a backend.
/// - `cutover_client_connections`: open client connections.
/// - `cutover_upstream_connections{backend}`: open connections to each backend.
/// - `cutover_config_reloads_total{result}`: reloads applied or refused.
/// - `cutover_missing_id_total{route}`: requests of an ID-routed route with no usable ID (sent per `on_missing`).
/// - `cutover_aggregated_requests_total{route,result}`: list requests merged from both sides (`merged`, `partial`, `failed`).
/// - `cutover_flag_version`: the switch-flag version this instance applies.
public final class ProxyMetrics: Sendable {
    /// Metric names, shared with the admin API and the dashboard test.
    public enum Name {
        public static let requests = "cutover_requests_total"
        public static let requestDuration = "cutover_request_duration_seconds"
        public static let upstreamErrors = "cutover_upstream_errors_total"
        public static let rejectedRequests = "cutover_rejected_requests_total"
        public static let clientConnections = "cutover_client_connections"
        public static let upstreamConnections = "cutover_upstream_connections"
        public static let configReloads = "cutover_config_reloads_total"
        public static let missingID = "cutover_missing_id_total"
        public static let aggregated = "cutover_aggregated_requests_total"
        public static let flagVersion = "cutover_flag_version"
        /// Every name above.
        public static let all = [requests, requestDuration, upstreamErrors, rejectedRequests, clientConnections, upstreamConnections, configReloads,
                                 missingID, aggregated, flagVersion]
    }

    let factory: any MetricsFactory
    let clientConnections: Meter
    /// The request-duration histograms.
    let durations = RequestDurations()
    private let rejected: NIOLockedValueBox<[String: Counter]> = NIOLockedValueBox([:])

    /// Creates the metrics on a factory (a `PrometheusMetricsFactory` in production).
    public init(factory: any MetricsFactory) {
        self.factory = factory
        self.clientConnections = Meter(label: Name.clientConnections, dimensions: [], factory: factory)
    }

    /// Counts a request refused before it reached a backend.
    func rejected(_ reason: String) {
        let counter = rejected.withLockedValue { counters in
            if let counter = counters[reason] { return counter }
            let counter = Counter(label: Name.rejectedRequests, dimensions: [("reason", reason)], factory: factory)
            counters[reason] = counter
            return counter
        }
        counter.increment()
    }

    /// Counts a request whose route routes by ID but which had no usable one.
    func missingID(route: String) {
        Counter(label: Name.missingID, dimensions: [("route", route)], factory: factory).increment()
    }

    /// Counts a merged list request.
    func aggregated(route: String, result: String) {
        Counter(label: Name.aggregated, dimensions: [("route", route), ("result", result)], factory: factory).increment()
    }

    /// Records the switch-flag version in force.
    func flagVersion(_ version: Int64) {
        Gauge(label: Name.flagVersion, dimensions: [], factory: factory).record(version)
    }

    /// Counts a configuration reload.
    public func reload(applied: Bool) {
        Counter(label: Name.configReloads, dimensions: [("result", applied ? "applied" : "refused")], factory: factory).increment()
    }

    /// The metrics of one backend.
    func backend(_ name: String) -> BackendMetrics {
        BackendMetrics(name: name, factory: factory)
    }

    /// The metrics of requests on one route answered by one backend, as one event loop records them.
    func route(_ route: String, backend: String, loop: ObjectIdentifier) -> RouteMetrics {
        RouteMetrics(route: route, backend: backend, factory: factory, duration: durations.shard(route: route, backend: backend, loop: loop))
    }

    /// Appends `cutover_request_duration_seconds` in the Prometheus text format (the registry holds the other metrics).
    public func emitDurations(into output: inout [UInt8]) {
        durations.emit(into: &output)
    }

    /// Per-backend metrics: connection gauge and error counters.
    final class BackendMetrics: Sendable {
        let name: String
        private let factory: any MetricsFactory
        private let connections: Meter

        init(name: String, factory: any MetricsFactory) {
            self.name = name
            self.factory = factory
            self.connections = Meter(label: Name.upstreamConnections, dimensions: [("backend", name)], factory: factory)
        }

        func connectionOpened() { connections.increment() }
        func connectionClosed() { connections.decrement() }

        /// Counts a failure of the backend by its kind (``UpstreamFailure/metricKind``).
        func upstreamError(kind: String) {
            Counter(label: Name.upstreamErrors, dimensions: [("backend", name), ("kind", kind)], factory: factory).increment()
        }
    }

    /// Per route and backend: request counters by status class and the latency histogram.
    final class RouteMetrics: Sendable {
        private let byClass: [Counter]
        private let duration: RequestDurations.Shard

        init(route: String, backend: String, factory: any MetricsFactory, duration: RequestDurations.Shard) {
            self.byClass = (1...5).map { digit in
                Counter(label: Name.requests, dimensions: [("route", route), ("backend", backend), ("code", "\(digit)xx")], factory: factory)
            }
            self.duration = duration
        }

        /// Records one answered request.
        func record(status: Int, nanoseconds: Int64) {
            let index = min(max(status / 100, 1), 5) - 1
            byClass[index].increment()
            duration.record(nanoseconds: nanoseconds)
        }
    }
}
