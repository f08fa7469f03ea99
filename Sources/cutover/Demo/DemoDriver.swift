import AsyncHTTPClient
import CutoverCore
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// The demo's scripted part, run beside the gateway: traffic, then the report.
final class DemoDriver: Service, Sendable {
    let gateway: Gateway
    let config: CutoverConfig
    let backends: [OrdersBackend]
    let requests: Int
    let concurrency: Int
    let once: Bool
    /// What went wrong, if the traffic could not be sent.
    let failure = NIOLockedValueBox<String?>(nil)

    init(gateway: Gateway, config: CutoverConfig, backends: [OrdersBackend], requests: Int, concurrency: Int, once: Bool) {
        self.gateway = gateway
        self.config = config
        self.backends = backends
        self.requests = requests
        self.concurrency = concurrency
        self.once = once
    }

    func run() async throws {
        let admin = try await gateway.adminAddress.futureResult.get()
        let proxyPort = gateway.proxy.addresses.first?.port ?? config.listen.port
        let gatewayURL = "http://\(Self.hostText(config.listen.host)):\(proxyPort)"
        let adminURL = "http://\(Self.hostText(config.admin.listen.host)):\(admin.port ?? config.admin.listen.port)"
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            print("Cutover demo: old service at \(config.backend(named: "old")!.url), new service at \(config.backend(named: "new")!.url), gateway at \(gatewayURL)")
            print("Routes: " + config.routes.map { "\($0.name) (\($0.phase.rawValue))" }.joined(separator: ", "))
            print("")
            let traffic = DemoTraffic(gateway: gatewayURL, routing: RoutingTable(config: config), requests: requests, concurrency: concurrency)
            let exchanges = try await traffic.run(client: client)
            let report = DemoReport(exchanges)
            print("Sent \(exchanges.count) requests through the gateway, \(concurrency) at a time:")
            print("")
            print(report.text)
            print("")
            let counts = backends.map { "\($0.flavor.rawValue) \($0.requestCount)" }.joined(separator: ", ")
            print("Backends received: \(counts). Answered by a backend other than the route's phase names: \(report.misrouted).")
            print("")
            print("Admin:  \(adminURL)/healthz  \(adminURL)/metrics")
            print("Try:    curl -s \(gatewayURL)/orders/7    curl -s '\(gatewayURL)/orders?limit=3'")
        } catch {
            failure.withLockedValue { $0 = "demo traffic failed: \(error)" }
        }
        try? await client.shutdown()
        if once || failure.withLockedValue({ $0 }) != nil { return }
        print("Serving until Ctrl-C (use --once to exit after the report).")
        try? await gracefulShutdown()
    }

    static func hostText(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }
}
