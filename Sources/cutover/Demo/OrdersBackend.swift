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

/// An order as a response carries it: the stored order, when the answer was
/// generated and a trace ID that is random on every answer.
struct DemoServedOrder: Codable, Sendable {
    var id: Int64
    var customer: String
    var total: Double
    var status: String
    var generatedAt: String?
    var traceID: String

    enum CodingKeys: String, CodingKey {
        case id, customer, total, status
        case generatedAt = "generated_at"
        case traceID = "trace_id"
    }
}

/// A new order as clients post it.
struct DemoNewOrder: Codable, Sendable {
    var customer: String
    var total: Double
}

/// One page of `GET /orders`.
struct DemoOrderPage: Codable, Sendable {
    var items: [DemoServedOrder]
    var nextCursor: Int64?
    var generatedAt: String

    enum CodingKeys: String, CodingKey {
        case items
        case nextCursor = "next_cursor"
        case generatedAt = "generated_at"
    }
}

/// The demo's small orders API, in two flavours: the old service and its
/// rewrite. They hold the same seed orders and disagree on purpose, as a
/// rewrite does: new rounds the total of every fifth order wrongly (a real
/// difference), writes `generated_at` with milliseconds where old writes
/// seconds (always different, so the demo configuration ignores it), and both
/// put a random `trace_id` in every answer (noise: two old instances differ in
/// it too). New assigns IDs far above old's unless a shadowed create brings
/// old's ID in `X-Cutover-Primary-Id`.
/// Every response says who answered in `X-Demo-Backend`, and every backend counts what it received.
final class OrdersBackend: Sendable {
    /// Which service this is.
    enum Flavor: String, Sendable {
        case old, new
    }

    let flavor: Flavor
    /// The backend's name in the configuration (`old`, `old-secondary`, `new`).
    let name: String
    private let orders: NIOLockedValueBox<[Int64: DemoOrder]>
    private let nextID: NIOLockedValueBox<Int64>
    private let received = NIOLockedValueBox(0)

    /// The number of seed orders both services hold.
    static let seedCount: Int64 = 50

    init(flavor: Flavor, name: String? = nil) {
        self.flavor = flavor
        self.name = name ?? flavor.rawValue
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
        let name = self.name
        router.get("/orders/{id}") { _, context -> Response in
            self.count()
            guard let id = context.parameters.get("id", as: Int64.self) else {
                return Self.json(status: .badRequest, ["error": "order id must be a number"], backend: name)
            }
            guard let order = self.orders.withLockedValue({ $0[id] }) else {
                return Self.json(status: .notFound, ["error": "no order \(id)"], backend: name)
            }
            return Self.json(status: .ok, self.served(order, generatedAt: true), backend: name)
        }
        router.get("/orders") { request, _ -> Response in
            self.count()
            let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 10, 1), 100)
            let cursor = request.uri.queryParameters.get("cursor", as: Int64.self) ?? Int64.max
            let all = self.orders.withLockedValue { Array($0.values) }
            let page = all.filter { $0.id < cursor }.sorted { $0.id > $1.id }.prefix(limit)
            let next = page.count == limit ? page.last?.id : nil
            let items = page.map { self.served($0, generatedAt: false) }
            return Self.json(status: .ok, DemoOrderPage(items: items, nextCursor: next, generatedAt: self.now()), backend: name)
        }
        router.post("/orders") { request, context -> Response in
            self.count()
            guard let new = try? await request.decode(as: DemoNewOrder.self, context: context) else {
                return Self.json(status: .badRequest, ["error": "expected {\"customer\": text, \"total\": number}"], backend: name)
            }
            let primaryID = request.headers[HTTPField.Name("X-Cutover-Primary-Id")!].flatMap { Int64($0) }
            let id = self.nextID.withLockedValue { next in
                defer { next += 1 }
                return primaryID ?? next
            }
            let order = DemoOrder(id: id, customer: new.customer, total: new.total, status: "open")
            self.orders.withLockedValue { $0[id] = order }
            return Self.json(status: .created, self.served(order, generatedAt: true), backend: name)
        }
        return router
    }

    /// An order as this flavour serves it.
    private func served(_ order: DemoOrder, generatedAt: Bool) -> DemoServedOrder {
        var total = order.total
        if flavor == .new, order.id % 5 == 0 { total = (total * 1.1 * 100).rounded() / 100 }
        return DemoServedOrder(id: order.id, customer: order.customer, total: total, status: order.status,
                               generatedAt: generatedAt ? now() : nil, traceID: String(UInt64.random(in: 0...UInt64.max), radix: 16))
    }

    /// The time of an answer: seconds for old, milliseconds for new.
    private func now() -> String {
        let formatter = ISO8601DateFormatter()
        if flavor == .new { formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds] }
        return formatter.string(from: Date())
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
