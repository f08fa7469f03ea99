import Foundation
import HTTPTypes
import Hummingbird
import NIOConcurrencyHelpers
import NIOCore

/// An order as the demo's orders API serves it.
struct DemoOrder: Codable, Sendable, Equatable {
    var id: Int64
    var customer: String
    var total: Double
    var status: String
}

/// A new order as clients post it.
struct DemoNewOrder: Codable, Sendable {
    var customer: String
    var total: Double
}

/// One page of `GET /orders`.
struct DemoOrderPage: Codable, Sendable {
    var items: [DemoOrder]
    var nextCursor: Int64?

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor = "next_cursor"
    }
}

/// The demo's small orders API, in two flavours: the old service and its
/// rewrite. They hold the same seed orders; the new one assigns IDs far above
/// the old one's, as a rewrite does when it starts its own sequence.
/// Every response says who answered in `X-Demo-Backend`, and every backend counts what it received.
final class OrdersBackend: Sendable {
    /// Which service this is.
    enum Flavor: String, Sendable {
        case old, new
    }

    let flavor: Flavor
    private let orders: NIOLockedValueBox<[Int64: DemoOrder]>
    private let nextID: NIOLockedValueBox<Int64>
    private let received = NIOLockedValueBox(0)

    /// The number of seed orders both services hold.
    static let seedCount: Int64 = 50

    init(flavor: Flavor) {
        self.flavor = flavor
        var seed: [Int64: DemoOrder] = [:]
        let customers = ["ada", "grace", "linus", "barbara", "ken", "margaret"]
        for id in 1...Self.seedCount {
            seed[id] = DemoOrder(id: id, customer: customers[Int(id) % customers.count], total: Double(id * 7 % 100) + 0.5,
                                 status: id % 3 == 0 ? "shipped" : "open")
        }
        self.orders = NIOLockedValueBox(seed)
        self.nextID = NIOLockedValueBox(flavor == .old ? Self.seedCount + 1 : 1_000_001)
    }

    /// Requests received so far.
    var requestCount: Int { received.withLockedValue { $0 } }

    func makeRouter() -> Router<BasicRequestContext> {
        let router = Router()
        let name = flavor.rawValue
        router.get("/orders/{id}") { _, context -> Response in
            self.count()
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return Self.json(status: .badRequest, ["error": "order id must be a number"], backend: name)
            }
            guard let order = self.orders.withLockedValue({ $0[id] }) else {
                return Self.json(status: .notFound, ["error": "no order \(id)"], backend: name)
            }
            return Self.json(status: .ok, order, backend: name)
        }
        router.get("/orders") { request, _ -> Response in
            self.count()
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 10, 1), 100)
            let cursor = request.uri.queryParameters.get("cursor", as: Int64.self) ?? Int64.max
            let all = self.orders.withLockedValue { Array($0.values) }
            let page = all.filter { $0.id < cursor }.sorted { $0.id > $1.id }.prefix(limit)
            let next = page.count == limit ? page.last?.id : nil
            return Self.json(status: .ok, DemoOrderPage(items: Array(page), nextCursor: next), backend: name)
        }
        router.post("/orders") { request, context -> Response in
            self.count()
            guard let new = try? await request.decode(as: DemoNewOrder.self, context: context) else {
                return Self.json(status: .badRequest, ["error": "expected {\"customer\": text, \"total\": number}"], backend: name)
            }
            let id = self.nextID.withLockedValue { next in
                defer { next += 1 }
                return next
            }
            let order = DemoOrder(id: id, customer: new.customer, total: new.total, status: "open")
            self.orders.withLockedValue { $0[id] = order }
            return Self.json(status: .created, order, backend: name)
        }
        return router
    }

    private func count() {
        received.withLockedValue { $0 += 1 }
    }

    static func json(status: HTTPResponse.Status, _ value: some Encodable, backend: String) -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = (try? encoder.encode(value)) ?? Data()
        return Response(status: status,
                        headers: [.contentType: "application/json", HTTPField.Name("X-Demo-Backend")!: backend],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
    }
}
