import CutoverCore
import CutoverStore
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOSSL
import NIOCore
import Prometheus

/// What `/healthz` reports about the running gateway.
public struct HealthReport: Sendable, Codable, Equatable {
    /// `ok` while the gateway serves with its store up; `degraded` while it serves with its store opening or down
    /// (the proxy still serves; diffs wait, flag changes are refused).
    public var status: String
    /// The running version.
    public var version: String
    /// Configured routes.
    public var routes: Int
    /// Configured backends.
    public var backends: Int
    /// Seconds since start.
    public var uptimeSeconds: Int
    /// Whether the store answers.
    public var store: StoreStatus?

    public init(status: String, version: String, routes: Int, backends: Int, uptimeSeconds: Int, store: StoreStatus? = nil) {
        self.status = status
        self.version = version
        self.routes = routes
        self.backends = backends
        self.uptimeSeconds = uptimeSeconds
        self.store = store
    }

    enum CodingKeys: String, CodingKey {
        case status, version, routes, backends, store
        case uptimeSeconds = "uptime_seconds"
    }
}

extension AdminServer {
    /// The admin listener's TLS: its certificate, and with a client CA, client certificates required and checked
    /// against that CA (no host name check: clients are not named by address).
    static func tlsConfiguration(_ tls: AdminTLS) throws -> TLSConfiguration {
        var configuration = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(tls.certificateFile).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: tls.keyFile, format: .pem)))
        if let clientCA = tls.clientCAFile {
            configuration.certificateVerification = .noHostnameVerification
            configuration.trustRoots = .file(clientCA)
        }
        return configuration
    }
}

/// The admin listener: `GET /healthz`, `GET /metrics` (Prometheus text), the
/// diff-review page at `GET /review` and the API under `/api/v1/`, where every
/// call needs a bearer token.
public enum AdminServer {
    /// Content type of the Prometheus text exposition format.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The name of the failed-authentication counter (`reason`: missing, malformed, unknown, rate_limited).
    public static let authFailuresMetric = "cutover_admin_auth_failures_total"

    /// Builds the admin router.
    /// `moreMetrics` appends series the registry does not hold (the lock-free request-duration histograms).
    public static func makeRouter(registry: PrometheusCollectorRegistry, environment: AdminEnvironment,
                                  limiter: AuthFailureLimiter = AuthFailureLimiter(),
                                  moreMetrics: @escaping @Sendable (inout [UInt8]) -> Void = { _ in }) -> Router<AdminRequestContext> {
        let router = Router(context: AdminRequestContext.self)
        let failures = Dictionary(uniqueKeysWithValues: ["missing", "malformed", "unknown", "rate_limited"].map { reason in
            (reason, registry.makeCounter(descriptor: MetricNameDescriptor(namespace: "cutover", subsystem: "admin", metricName: "auth_failures",
                                                                  unitName: "total", helpText: "Failed admin authentications by reason"),
                                 labels: [("reason", reason)]))
        })
        router.add(middleware: TokenAuthenticator(tokens: { environment.config().admin.tokens }, limiter: limiter,
                                                  onFailure: { failures[$0]?.increment() }))
        router.get("/healthz") { _, _ -> Response in
            try json(environment.health())
        }
        router.get("/metrics") { _, _ -> Response in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            registry.emit(into: &bytes)
            moreMetrics(&bytes)
            return Response(status: .ok, headers: [.contentType: metricsContentType],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        ReviewPage.register(on: router)
        let api = router.group("/api/v1")
        DiffsAPI.register(on: api, environment: environment)
        ReconcileAPI.register(on: api, environment: environment)
        HostRunsAPI.register(on: api, environment: environment)
        RoutesAPI.register(on: api, environment: environment)
        PlanAPI.register(on: api, environment: environment)
        return router
    }

    /// Builds the admin application, a `Service` to run in the gateway's service group.
    /// `onListening` receives the bound address (useful with port 0). Throws when the TLS files cannot be loaded.
    public static func makeApplication(settings: AdminSettings,
                                       registry: PrometheusCollectorRegistry,
                                       environment: AdminEnvironment,
                                       eventLoopGroup: any EventLoopGroup,
                                       logger: Logger,
                                       limiter: AuthFailureLimiter = AuthFailureLimiter(),
                                       moreMetrics: @escaping @Sendable (inout [UInt8]) -> Void = { _ in },
                                       onListening: @escaping @Sendable (SocketAddress) async -> Void = { _ in }) throws -> some ApplicationProtocol {
        let router = makeRouter(registry: registry, environment: environment, limiter: limiter, moreMetrics: moreMetrics)
        var server: HTTPServerBuilder = .http1()
        if let tls = settings.tls { server = try .tls(.http1(), tlsConfiguration: try tlsConfiguration(tls)) }
        return Application(
            router: router,
            server: server,
            configuration: .init(address: .hostname(settings.listen.host, port: settings.listen.port), serverName: "cutover-admin"),
            onServerRunning: { channel in
                if let address = channel.localAddress { await onListening(address) }
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger
        )
    }
}
