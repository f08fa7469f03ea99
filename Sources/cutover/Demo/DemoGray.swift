import AsyncHTTPClient
import CutoverAdmin
import CutoverCore
import Foundation
import NIOCore
import NIOHTTP1

/// The demo's second act: the routes move from shadow to gray through the admin
/// API (the gate refuses first, on the real difference the report shows, and the
/// move is then forced with a reason), and requests on either side of the ID
/// threshold, a create and a merged list show where each goes.
struct DemoGray {
    let gateway: String
    let admin: String
    let client: HTTPClient
    static let operatorToken = "demo-operator-token"

    /// An answer: status, who answered (`X-Demo-Backend`) and the body.
    struct Answer {
        var status: Int
        var backend: String
        var body: String
        var headers: HTTPHeaders
    }

    func send(_ method: HTTPMethod, _ url: String, body: String? = nil, token: String? = nil) async throws -> Answer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await client.execute(request, timeout: .seconds(10))
        let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
        return Answer(status: Int(response.status.code), backend: response.headers.first(name: "X-Demo-Backend") ?? "gateway (merged)",
                      body: text, headers: response.headers)
    }

    func movePhase(_ route: String, to phase: String, force: Bool, reason: String) async throws -> Answer {
        let body = #"{"phase":"\#(phase)","force":\#(force),"reason":"\#(reason)"}"#
        return try await send(.PUT, "\(admin)/api/v1/routes/\(route)/phase", body: body, token: Self.operatorToken)
    }

    /// Runs the act; returns its lines.
    func run() async throws -> [String] {
        var lines = ["Gray release: order-by-id, order-create and order-list move from shadow to gray (threshold 1000000: new's IDs start above it)."]
        let refused = try await movePhase("order-by-id", to: "gray", force: false, reason: "shadow looked fine")
        let reason = (try? JSONDecoder().decode(ErrorBody.self, from: Data(refused.body.utf8)))?.error ?? refused.body
        lines.append("  PUT /api/v1/routes/order-by-id/phase {gray} -> \(refused.status): \(reason)")
        for route in ["order-by-id", "order-create", "order-list"] {
            let forced = try await movePhase(route, to: "gray", force: true, reason: "demo: the wrong total is a known bug in new")
            guard forced.status == 200 else { throw DemoFailure(description: "moving \(route) to gray answered \(forced.status): \(forced.body)") }
        }
        lines.append("  forced with a reason (the audit log keeps it): all three routes are in gray")
        lines.append("")
        let below = try await send(.GET, "\(gateway)/orders/7")
        lines.append("  GET /orders/7                  -> \(below.status) from \(below.backend)   (below the threshold)")
        let created = try await send(.POST, "\(gateway)/orders", body: #"{"customer":"gray-demo","total":12.5}"#)
        let createdID = (try? JSONDecoder().decode(DemoServedOrder.self, from: Data(created.body.utf8)))?.id ?? 0
        lines.append("  POST /orders                   -> \(created.status) from \(created.backend)   (creates go to new: order \(createdID))")
        let above = try await send(.GET, "\(gateway)/orders/\(createdID)")
        lines.append("  GET /orders/\(createdID)            -> \(above.status) from \(above.backend)   (at or above the threshold)")
        let first = try await send(.GET, "\(gateway)/orders?limit=4")
        let firstPage = try JSONDecoder().decode(DemoMergedPage.self, from: Data(first.body.utf8))
        lines.append("  GET /orders?limit=4            -> \(first.status) merged from old and new: ids \(firstPage.items.map(\.id))")
        if let cursor = firstPage.nextCursor {
            let second = try await send(.GET, "\(gateway)/orders?limit=4&cursor=\(cursor)")
            let secondPage = try JSONDecoder().decode(DemoMergedPage.self, from: Data(second.body.utf8))
            lines.append("  GET /orders?limit=4&cursor=…   -> \(second.status) next page: ids \(secondPage.items.map(\.id))")
        }
        lines.append("")
        lines.append("Flags:  CUTOVER_TOKEN=demo-viewer-token cutover routes --admin \(admin)")
        lines.append("        CUTOVER_TOKEN=demo-viewer-token cutover audit --admin \(admin)")
        lines.append("        CUTOVER_TOKEN=demo-operator-token cutover phase order-by-id shadow --reason 'roll back' --admin \(admin)")
        return lines
    }

    struct ErrorBody: Decodable {
        var error: String
    }

    struct DemoMergedPage: Decodable {
        struct Item: Decodable {
            var id: Int64
        }
        var items: [Item]
        var nextCursor: String?

        enum CodingKeys: String, CodingKey {
            case items
            case nextCursor = "next_cursor"
        }
    }

    struct DemoFailure: Error, CustomStringConvertible {
        var description: String
    }
}
