import AsyncHTTPClient
import CutoverCore
import Foundation
import NIOCore
import NIOHTTP1

/// One request the demo sent through the gateway and what came back.
struct DemoExchange: Sendable {
    var method: String
    var route: String
    var phase: Phase?
    var expectedBackend: String
    var answeredBy: String
    var status: Int
    var seconds: Double
}

/// Drives a mix of orders-API requests through the gateway: reads by ID (some
/// missing), list pages, and creates, a few at a time.
struct DemoTraffic {
    let gateway: String
    let routing: RoutingTable
    let requests: Int
    let concurrency: Int

    /// The request number `index` of the mix: method, target and body. Reads touch
    /// only the seed orders (and one that exists nowhere), so what they compare does
    /// not depend on when the creates ran.
    static func request(_ index: Int) -> (method: HTTPMethod, target: String, body: String?) {
        switch index % 10 {
        case 0, 1, 2, 3, 4:
            return (.GET, "/orders/\((index * 37) % Int(OrdersBackend.seedCount) + 1)", nil)
        case 5:
            return (.GET, "/orders/\(missingOrder)", nil)
        case 6, 7:
            return (.GET, "/orders?limit=\(5 + index % 10)&cursor=\(OrdersBackend.seedCount + 1 - Int64(index % 20))", nil)
        default:
            return (.POST, "/orders", "{\"customer\":\"demo-\(index)\",\"total\":\(Double(index % 90) + 0.25)}")
        }
    }

    /// An order ID no demo service holds.
    static let missingOrder = 404_404

    func run(client: HTTPClient) async throws -> [DemoExchange] {
        try await withThrowingTaskGroup(of: [DemoExchange].self) { group in
            for worker in 0..<concurrency {
                group.addTask {
                    var results: [DemoExchange] = []
                    var index = worker
                    while index < requests {
                        results.append(try await send(index, client: client))
                        index += concurrency
                    }
                    return results
                }
            }
            var all: [DemoExchange] = []
            for try await part in group { all += part }
            return all
        }
    }

    private func send(_ index: Int, client: HTTPClient) async throws -> DemoExchange {
        let (method, target, body) = Self.request(index)
        var request = HTTPClientRequest(url: gateway + target)
        request.method = method
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let decision = routing.decide(method: method.rawValue, target: Substring(target)).target
        let config = routing.config
        let route = decision.route.map { config.routes[$0].name } ?? "(unmatched)"
        let started = ContinuousClock.now
        let response = try await client.execute(request, timeout: .seconds(10))
        _ = try await response.body.collect(upTo: 1 << 20)
        let elapsed = ContinuousClock.now - started
        return DemoExchange(method: method.rawValue, route: route, phase: decision.route.map { config.routes[$0].phase },
                            expectedBackend: config.backends[decision.backend].name,
                            answeredBy: response.headers.first(name: "X-Demo-Backend") ?? "gateway",
                            status: Int(response.status.code),
                            seconds: Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
    }
}

extension DemoExchange {
    /// Whether the gateway compares this exchange: a route in shadow mirrors reads, and
    /// writes where it says `writes: mirror` (after old's 2xx with `order: after-primary`).
    func isCompared(in config: CutoverConfig) -> Bool {
        guard phase == .shadow, let settings = config.routes.first(where: { $0.name == route })?.shadow else { return false }
        if RequestMethod(method).isSafe { return true }
        guard settings.writes == .mirror else { return false }
        return settings.order == .parallel || (200..<300).contains(status)
    }
}
