import CutoverCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus

/// What `/healthz` reports about the running gateway.
public struct HealthReport: Sendable, Codable, Equatable {
    /// `ok` while the gateway serves.
    public var status: String
    /// The running version.
    public var version: String
    /// Configured routes.
    public var routes: Int
    /// Configured backends.
    public var backends: Int
    /// Seconds since start.
    public var uptimeSeconds: Int

    public init(status: String, version: String, routes: Int, backends: Int, uptimeSeconds: Int) {
        self.status = status
        self.version = version
        self.routes = routes
        self.backends = backends
        self.uptimeSeconds = uptimeSeconds
    }

    enum CodingKeys: String, CodingKey {
        case status, version, routes, backends
        case uptimeSeconds = "uptime_seconds"
    }
}

/// The admin listener: `GET /healthz` and `GET /metrics` (Prometheus text).
/// The API under `/api/v1/` joins it with the issues that build it.
public enum AdminServer {
    /// Content type of the Prometheus text exposition format.
    public static let metricsContentType = "text/plain; version=0.0.4; charset=utf-8"

    /// Builds the admin router.
    public static func makeRouter(registry: PrometheusCollectorRegistry,
                                  health: @escaping @Sendable () -> HealthReport) -> Router<BasicRequestContext> {
        let router = Router()
        router.get("/healthz") { _, _ -> Response in
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            let body = (try? encoder.encode(health())) ?? Data("{\"status\":\"ok\"}".utf8)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        }
        router.get("/metrics") { _, _ -> Response in
            var bytes: [UInt8] = []
            bytes.reserveCapacity(16 * 1024)
            registry.emit(into: &bytes)
            return Response(status: .ok, headers: [.contentType: metricsContentType],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        }
        return router
    }

    /// Builds the admin application, a `Service` to run in the gateway's service group.
    /// `onListening` receives the bound address (useful with port 0).
    public static func makeApplication(settings: AdminSettings,
                                       registry: PrometheusCollectorRegistry,
                                       eventLoopGroup: any EventLoopGroup,
                                       logger: Logger,
                                       health: @escaping @Sendable () -> HealthReport,
                                       onListening: @escaping @Sendable (SocketAddress) async -> Void = { _ in }) -> some ApplicationProtocol {
        let router = makeRouter(registry: registry, health: health)
        return Application(
            router: router,
            configuration: .init(address: .hostname(settings.listen.host, port: settings.listen.port), serverName: "cutover-admin"),
            onServerRunning: { channel in
                if let address = channel.localAddress { await onListening(address) }
            },
            eventLoopGroupProvider: .shared(eventLoopGroup),
            logger: logger
        )
    }
}
