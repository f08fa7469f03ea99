import AsyncHTTPClient
import CutoverAdmin
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
            let services = backends.map { "\($0.name) at \(config.backend(named: $0.name)!.url)" }.joined(separator: ", ")
            print("Cutover demo: \(services); gateway at \(gatewayURL)")
            print("Routes: " + config.routes.map { "\($0.name) (\($0.phase.rawValue))" }.joined(separator: ", "))
            print("")
            // Every run reports on its own traffic, and starts from the configured phases.
            try await gateway.store.current?.clearDiffs(route: nil)
            try await resetPhases()
            let traffic = DemoTraffic(gateway: gatewayURL, routing: RoutingTable(config: config), requests: requests, concurrency: concurrency)
            let exchanges = try await traffic.run(client: client)
            let report = DemoReport(exchanges)
            print("Sent \(exchanges.count) requests through the gateway, \(concurrency) at a time:")
            print("")
            print(report.text)
            print("")
            let expected = exchanges.filter { $0.isCompared(in: config) }.count
            let compared = await waitForComparisons(expected)
            let counts = backends.map { "\($0.name) \($0.requestCount)" }.joined(separator: ", ")
            print("Backends received: \(counts). Answered by a backend other than the route's phase names: \(report.misrouted).")
            print("")
            if expected > 0 {
                if compared < expected {
                    print("Compared \(compared) of \(expected) shadowed requests (new did not answer the rest in time).")
                }
                print("Diff report (old against new; noise measured against a second old instance):")
                print("")
                if let store = gateway.store.current {
                    let summary = try await DiffReports.summary(store: store, config: config, route: nil, since: nil)
                    print(DiffReportText.summary(summary))
                } else {
                    print("(the store is not open; the report is not available)")
                }
                print("")
                print("Review: \(adminURL)/review (token: demo-viewer-token)")
                print("        CUTOVER_TOKEN=demo-viewer-token cutover diffs summary --admin \(adminURL)")
                print("        CUTOVER_TOKEN=demo-viewer-token cutover diffs show --admin \(adminURL) --route order-by-id --field /total")
                print("        curl -s -H 'Authorization: Bearer demo-viewer-token' \(adminURL)/api/v1/diffs/summary")
            }
            if config.routes.contains(where: { $0.id != nil || $0.aggregate != nil }) {
                let lines = try await DemoGray(gateway: gatewayURL, admin: adminURL, client: client).run()
                print(lines.joined(separator: "\n"))
                print("")
            }
            print("Admin:  \(adminURL)/healthz  \(adminURL)/metrics")
            print("Try:    curl -s \(gatewayURL)/orders/7    curl -s '\(gatewayURL)/orders?limit=3'")
        } catch {
            failure.withLockedValue { $0 = "demo traffic failed: \(error)" }
        }
        try? await client.shutdown()
        if once || failure.withLockedValue({ $0 }) != nil { return }
        print("Serving until Ctrl-C (use --once to exit after the report).")
        FileHandleWriter.flushStandardOutput()
        try? await gracefulShutdown()
    }

    /// Moves every route the store has elsewhere back to its configured phase (a previous run left it in gray).
    func resetPhases() async throws {
        guard let store = gateway.store.current else { return }
        let control = RouteControl(store: store, config: config)
        let stored = try await store.flagSet()
        for route in config.routes where stored.routes[route.name].map({ $0.phase != route.phase || $0.newIDsFrom != nil }) == true {
            _ = try await control.changePhase(route: route.name, to: route.phase, reason: "demo: start over", force: true,
                                              abandonNewIDs: true, actor: "demo")
        }
        await gateway.flagSync.refresh()
    }

    /// Waits (at most 15 s, or 3 s without progress) until the comparator has compared
    /// `expected` pairs, then writes its counts to the store; returns how many it compared.
    func waitForComparisons(_ expected: Int) async -> Int {
        let start = ContinuousClock.now
        var last = gateway.pipeline.comparedPairs
        var lastProgress = start
        while gateway.pipeline.comparedPairs < expected, ContinuousClock.now - start < .seconds(15),
              ContinuousClock.now - lastProgress < .seconds(3) {
            try? await Task.sleep(for: .milliseconds(20))
            let now = gateway.pipeline.comparedPairs
            if now != last {
                last = now
                lastProgress = ContinuousClock.now
            }
        }
        await gateway.pipeline.flush()
        return gateway.pipeline.comparedPairs
    }

    static func hostText(_ host: String) -> String {
        host.contains(":") ? "[\(host)]" : host
    }
}
