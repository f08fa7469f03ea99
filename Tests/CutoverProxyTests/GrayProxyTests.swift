@testable import CutoverProxy
import CutoverCore
import CutoverTestSupport
import Foundation
import Testing

/// The gray release through a real gateway and real loopback backends: each ID source, the
/// threshold split, list merging across both sides, partial failures, and the evidence kept.
@Suite("Gray release through the proxy", .timeLimit(.minutes(1)))
struct GrayProxyTests {
    /// A backend that names itself and echoes the target it got.
    static func namedBackend(_ name: String) async throws -> TestBackend {
        try await TestBackend.start { request in
            .ok("{\"side\":\"\(name)\",\"target\":\"\(request.uri)\",\"id\":\(name == "old" ? 42 : 1_000_007)}",
                headers: ["Content-Type: application/json"])
        }
    }

    static var idRoutes: String {
        """
          - name: by-path
            match: { path: "/orders/{id}" }
            phase: gray
            id: { from: path, name: id }
            max_id_seen: /id
            gray: { threshold: 1000 }
          - name: by-query
            match: { path: "/invoices" }
            phase: gray
            id: { from: query, name: order, on_missing: reject }
            gray: { threshold: 1000 }
          - name: by-header
            match: { prefix: "/h/" }
            phase: gray
            id: { from: header, name: X-Order-Id }
            gray: { threshold: 1000 }
          - name: by-body
            match: { methods: [POST, PUT], path: "/payments" }
            phase: gray
            id: { from: body, name: /order/id }
            gray: { threshold: 1000, creates: old }
        """
    }

    func send(_ port: Int, _ request: String) async throws -> TestResponse {
        let client = try await TestConnection.connect(port: port)
        try await client.send(request)
        let response = try await client.response()
        await client.close()
        return response
    }

    func side(_ response: TestResponse) -> String? {
        (try? JSONSerialization.jsonObject(with: Data(response.body)) as? [String: Any])?["side"] as? String
    }

    @Test func everyIDSourceSplitsAtTheThreshold() async throws {
        let old = try await Self.namedBackend("old"), new = try await Self.namedBackend("new")
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: Self.idRoutes))
        let port = gateway.port
        #expect(side(try await send(port, "GET /orders/999 HTTP/1.1\r\nHost: x\r\n\r\n")) == "old")
        #expect(side(try await send(port, "GET /orders/1000 HTTP/1.1\r\nHost: x\r\n\r\n")) == "new")
        #expect(side(try await send(port, "GET /invoices?x=1&order=5000 HTTP/1.1\r\nHost: x\r\n\r\n")) == "new")
        #expect(side(try await send(port, "GET /invoices?order=12 HTTP/1.1\r\nHost: x\r\n\r\n")) == "old")
        #expect(side(try await send(port, "GET /h/a HTTP/1.1\r\nHost: x\r\nX-Order-Id: 1001\r\n\r\n")) == "new")
        #expect(side(try await send(port, "GET /h/a HTTP/1.1\r\nHost: x\r\nx-order-id:  3 \r\n\r\n")) == "old")
        let body = #"{"order":{"id":2000},"amount":5}"#
        let paid = try await send(port, "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)")
        #expect(side(paid) == "new")
        let chunked = try await send(port, "PUT /payments HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n6\r\n{\"orde\r\n13\r\nr\":{\"id\":17},\"a\":1}\r\n0\r\n\r\n")
        #expect(side(chunked) == "old")
        // A create with no ID goes where gray.creates says.
        let create = #"{"amount":5}"#
        #expect(side(try await send(port, "POST /payments HTTP/1.1\r\nHost: x\r\nContent-Length: \(create.utf8.count)\r\n\r\n\(create)")) == "old")
        // The body reached the backend whole after being read for its ID.
        let received = try await new.waitForRequests(4)
        #expect(received.contains { String(decoding: $0.body, as: UTF8.self) == body })
        #expect(try await old.waitForRequests(5).contains { String(decoding: $0.body, as: UTF8.self) == #"{"order":{"id":17},"a":1}"# })
        // The answers' IDs are kept as the threshold's evidence.
        #expect(gateway.server.signals.maxIDs()["by-path"] == [.old: 42, .new: 1_000_007])
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func aBodyIDBehindExpectContinueIsAskedForThenRouted() async throws {
        let old = try await Self.namedBackend("old"), new = try await Self.namedBackend("new")
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: Self.idRoutes))
        let client = try await TestConnection.connect(port: gateway.port)
        let body = #"{"order":{"id":4242}}"#
        try await client.send("POST /payments HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: \(body.utf8.count)\r\n\r\n")
        // The gateway needs the body to choose a backend, so it asks for it itself.
        #expect(try await client.interimResponse() == 100)
        try await client.send(body)
        let response = try await client.response()
        #expect(side(response) == "new")
        #expect(String(decoding: try await new.waitForRequests(1)[0].body, as: UTF8.self) == body)
        await client.close()
        // A body larger than the 64 KiB read for an ID counts as having none (on_missing: old), and still arrives whole.
        let large = #"{"pad":""# + String(repeating: "x", count: 70_000) + #"","order":{"id":5000}}"#
        let big = try await send(gateway.port, "PUT /payments HTTP/1.1\r\nHost: x\r\nContent-Length: \(large.utf8.count)\r\n\r\n\(large)")
        #expect(side(big) == "old")
        #expect(try await old.waitForRequests(1)[0].body.count == large.utf8.count)
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func aMissingIDIsRejectedOrSentPerOnMissing() async throws {
        let old = try await Self.namedBackend("old"), new = try await Self.namedBackend("new")
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: Self.idRoutes))
        let rejected = try await send(gateway.port, "GET /invoices?order=abc HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(rejected.status == 400)
        #expect(rejected.text.contains("no integer ID in its query 'order'"))
        #expect(side(try await send(gateway.port, "GET /orders/x1 HTTP/1.1\r\nHost: x\r\n\r\n")) == "old")
        #expect(gateway.metrics.counterTotal(label: ProxyMetrics.Name.missingID, dimensions: [("route", "by-query")]) == 1)
        #expect(gateway.metrics.counterTotal(label: ProxyMetrics.Name.missingID, dimensions: [("route", "by-path")]) == 1)
        #expect(old.requests.count == 1 && new.requests.isEmpty, "the rejected request reached no backend")
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func flagsAppliedAtRuntimeChangeTheSplit() async throws {
        let old = try await Self.namedBackend("old"), new = try await Self.namedBackend("new")
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: Self.idRoutes.replacingOccurrences(of: "phase: gray", with: "phase: old")))
        #expect(side(try await send(gateway.port, "GET /orders/5000 HTTP/1.1\r\nHost: x\r\n\r\n")) == "old")
        let gray = RouteFlags(phase: .gray, threshold: 1000, creates: .new, compareSample: 0)
        await gateway.server.apply(flags: FlagSet(version: 2, routes: ["by-path": gray]))
        #expect(gateway.server.flagVersion == 2)
        #expect(side(try await send(gateway.port, "GET /orders/5000 HTTP/1.1\r\nHost: x\r\n\r\n")) == "new")
        // An older version arriving late changes nothing.
        await gateway.server.apply(flags: FlagSet(version: 1, routes: [:]))
        #expect(side(try await send(gateway.port, "GET /orders/5000 HTTP/1.1\r\nHost: x\r\n\r\n")) == "new")
        // Rolled back with new's IDs kept: they stay with new, the rest go to old.
        var kept = gray
        kept.phase = .old
        kept.newIDsFrom = 1000
        await gateway.server.apply(flags: FlagSet(version: 3, routes: ["by-path": kept]))
        #expect(side(try await send(gateway.port, "GET /orders/5000 HTTP/1.1\r\nHost: x\r\n\r\n")) == "new")
        #expect(side(try await send(gateway.port, "GET /orders/7 HTTP/1.1\r\nHost: x\r\n\r\n")) == "old")
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    /// Routes whose reads are all compared (`compare_sample: 1`), or half of them.
    static func sampledRoutes(_ sample: String) -> String {
        idRoutes.replacingOccurrences(of: "gray: { threshold: 1000 }\n  - name: by-query",
                                      with: "gray: { threshold: 1000, compare_sample: \(sample) }\n  - name: by-query")
            .replacingOccurrences(of: "gray: { threshold: 1000, creates: old }", with: "gray: { threshold: 1000, creates: old, compare_sample: 1 }")
    }

    @Test func grayReadsAreComparedWithTheOtherSideAndWritesNever() async throws {
        let old = try await Self.namedBackend("old"), new = try await Self.namedBackend("new")
        let routes = Self.sampledRoutes("1")
        #expect(routes.components(separatedBy: "compare_sample: 1").count == 3)
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: routes))
        func bodySide(_ answer: CapturedAnswer) -> String? {
            (try? JSONSerialization.jsonObject(with: Data(answer.body.readableBytesView)) as? [String: Any])?["side"] as? String
        }
        // New answers the client; old's answer is read too, and the pair keeps each side in its place.
        #expect(side(try await send(gateway.port, "GET /orders/5000 HTTP/1.1\r\nHost: x\r\n\r\n")) == "new")
        let fromNew = try await gateway.nextPair()
        #expect(bodySide(fromNew.old) == "old")
        #expect(fromNew.new.answer.flatMap(bodySide) == "new")
        #expect(side(try await send(gateway.port, "GET /orders/5 HTTP/1.1\r\nHost: x\r\n\r\n")) == "old")
        let fromOld = try await gateway.nextPair()
        #expect(bodySide(fromOld.old) == "old")
        #expect(fromOld.new.answer.flatMap(bodySide) == "new")
        // The copy is marked as such.
        #expect(try await old.waitForRequests(1).first?.value("X-Cutover-Shadow") == "1")
        // A write on a route that compares every read is not copied: the next pair is the read after it, and the
        // side that did not answer the write never saw it.
        #expect(side(try await send(gateway.port, "PUT /payments HTTP/1.1\r\nHost: x\r\nContent-Length: 23\r\n\r\n{\"order\":{\"id\":\"5000\"}}")) == "new")
        #expect(side(try await send(gateway.port, "GET /orders/6 HTTP/1.1\r\nHost: x\r\n\r\n")) == "old")
        let next = try await gateway.nextPair()
        #expect(String(buffer: next.requestHead).hasPrefix("GET /orders/6 "), "\(String(buffer: next.requestHead))")
        #expect(old.requests.filter { $0.method == "PUT" }.isEmpty, "old never saw new's write")
        #expect(new.requests.filter { $0.method == "PUT" }.count == 1)
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    /// With `compare_sample: 0.5` about half the reads are compared, the same ones whenever their request ID comes back.
    @Test func aCompareSampleComparesAStableShareOfReads() async throws {
        let old = try await Self.namedBackend("old"), new = try await Self.namedBackend("new")
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: Self.sampledRoutes("0.5")))
        let ids = (0..<40).map { "read-\($0)" }
        func round() async throws -> Set<String> {
            let before = gateway.shadowRequests(route: "by-path", result: "mirrored")
            for id in ids {
                #expect(side(try await send(gateway.port, "GET /orders/5000 HTTP/1.1\r\nHost: x\r\nX-Request-Id: \(id)\r\n\r\n")) == "new")
            }
            // A compared read's copy is counted as it leaves (with the client's request); each makes one pair.
            let copies = gateway.shadowRequests(route: "by-path", result: "mirrored") - before
            var pairs: Set<String> = []
            for _ in 0..<copies { pairs.insert(try await gateway.nextPair().requestID) }
            return pairs
        }
        let first = try await round()
        #expect(first.count > 5 && first.count < 35, "about half of 40 reads: \(first.count)")
        let second = try await round()
        #expect(second == first, "the same request IDs are compared every time")
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    // MARK: - List aggregation

    /// A backend paging `ids` (sorted descending) by `limit` and `cursor` (the last ID it returned).
    static func listBackend(_ name: String, ids: [Int], failing: Bool = false) async throws -> TestBackend {
        try await TestBackend.start { request in
            if failing { return .ok(#"{"error":"down"}"#, status: "503 Service Unavailable") }
            let components = URLComponents(string: request.uri)
            let items = components?.queryItems ?? []
            let limit = Int(items.first { $0.name == "limit" }?.value ?? "") ?? 10
            let after = items.first { $0.name == "cursor" }?.value.flatMap(Int.init)
            let page = ids.filter { after == nil || $0 < after! }.prefix(limit)
            let json = page.map { #"{"id":\#($0),"from":"\#(name)"}"# }.joined(separator: ",")
            return .ok(#"{"items":[\#(json)],"total":\#(ids.count),"side":"\#(name)","next_cursor":"backend-own"}"#,
                       headers: ["Content-Type: application/json"])
        }
    }

    static func listRoute(onPartial: String) -> String {
        """
          - name: order-list
            match: { methods: [GET], path: "/orders" }
            phase: gray
            aggregate: { array: /items, key: /id, order: desc, limit_param: limit, cursor_param: cursor, on_partial: \(onPartial) }
        """
    }

    struct Page: Decodable {
        struct Item: Decodable, Equatable {
            var id: Int
            var from: String
        }
        var items: [Item]
        var side: String
        var next_cursor: String?
    }

    @Test func listPagesMergeBothSidesAndTheCursorContinuesEach() async throws {
        let old = try await Self.listBackend("old", ids: [7, 6, 5, 4, 3, 2, 1])
        let new = try await Self.listBackend("new", ids: [1003, 1002, 1001, 1000, 7])
        let gateway = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: Self.listRoute(onPartial: "fail")))
        var cursor: String?
        var pages: [[Page.Item]] = []
        for _ in 0..<6 {
            let target = "/orders?limit=3&status=open" + (cursor.map { "&cursor=\($0)" } ?? "")
            let response = try await send(gateway.port, "GET \(target) HTTP/1.1\r\nHost: x\r\n\r\n")
            #expect(response.status == 200)
            let page = try JSONDecoder().decode(Page.self, from: Data(response.body))
            #expect(page.side == "old", "the envelope comes from old")
            #expect(response.value("x-cutover-next-cursor") == page.next_cursor)
            pages.append(page.items)
            cursor = page.next_cursor
            if cursor == nil { break }
        }
        #expect(pages.map { $0.map(\.id) } == [[1003, 1002, 1001], [1000, 7, 6], [5, 4, 3], [2, 1]])
        #expect(pages[1][1] == Page.Item(id: 7, from: "new"), "a duplicate is served from new")
        // Each side got its own cursor and the client's other parameters; new's second page was short and fully
        // used, so new was not asked again for pages 3 and 4.
        let newRequests = new.requests.map(\.uri)
        #expect(newRequests == ["/orders?status=open&limit=3", "/orders?status=open&limit=3&cursor=1001"])
        #expect(old.requests.map(\.uri).last == "/orders?status=open&limit=3&cursor=3")
        let bad = try await send(gateway.port, "GET /orders?cursor=forged HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(bad.status == 400)
        #expect(bad.text.contains("cursor 'forged' is not a cursor this gateway issued"))
        #expect(try await send(gateway.port, "GET /orders?limit=0 HTTP/1.1\r\nHost: x\r\n\r\n").status == 400)
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    /// Old's only connection is held and its line (max_queue: 1) full: the list's old side is shed at once, and the
    /// client gets a 503 that says when to try again (a passing condition, not a broken backend), or new's page alone.
    @Test func aListWhoseSideIsShedAtAFullLineIsA503WithRetryAfter() async throws {
        let old = try await TestBackend.start { request in
            request.uri.hasPrefix("/hold") ? .hold : .ok(#"{"items":[{"id":1}]}"#, headers: ["Content-Type: application/json"])
        }
        let new = try await Self.listBackend("new", ids: [1001, 1000])
        for onPartial in ["fail", "degrade"] {
            let gateway = try await TestGateway.start(gatewayConfig(old: old.url, new: "http://127.0.0.1:\(new.port)", routes: Self.listRoute(onPartial: onPartial),
                                                                    oldSettings: "pool_size: 1, max_queue: 1, connect_timeout: 30s"))
            let held = try await TestConnection.connect(port: gateway.port)
            try await held.send("GET /hold/1 HTTP/1.1\r\nHost: a\r\n\r\n")
            try await waitUntil("old to hold the first request") { old.heldCount == 1 }
            let queued = try await TestConnection.connect(port: gateway.port)
            try await queued.send("GET /hold/2 HTTP/1.1\r\nHost: a\r\n\r\n")
            try await waitUntil("the second request to wait in line") {
                (try? await gateway.server.onEveryLoop { $0.pools[0].lineLength }.reduce(0, +)) == 1
            }
            let list = try await send(gateway.port, "GET /orders?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            if onPartial == "fail" {
                #expect(list.status == 503, "\(list)")
                #expect(list.value("retry-after") == "1")
                #expect(list.text.contains("max_queue"))
            } else {
                #expect(list.status == 200)
                #expect(list.value("x-cutover-partial") == "new")
            }
            old.releaseHeld(with: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            #expect(try await held.response().text == "ok")
            try await waitUntil("the queued request to reach old") { old.heldCount == 1 }
            old.releaseHeld(with: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            #expect(try await queued.response().text == "ok")
            await held.close()
            await queued.close()
            await gateway.stop()
        }
        await old.stop()
        await new.stop()
    }

    @Test func aFailingSideFailsTheListOrDegradesToTheOther() async throws {
        let old = try await Self.listBackend("old", ids: [3, 2, 1])
        let new = try await Self.listBackend("new", ids: [], failing: true)
        let failing = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                routes: Self.listRoute(onPartial: "fail")))
        let failed = try await send(failing.port, "GET /orders?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(failed.status == 502)
        #expect(failed.text.contains("new answered 503"))
        await failing.stop()
        let degrading = try await TestGateway.start(gatewayConfig(old: "http://127.0.0.1:\(old.port)", new: "http://127.0.0.1:\(new.port)",
                                                                  routes: Self.listRoute(onPartial: "degrade")))
        let degraded = try await send(degrading.port, "GET /orders?limit=2 HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(degraded.status == 200)
        #expect(degraded.value("x-cutover-partial") == "old")
        let page = try JSONDecoder().decode(Page.self, from: Data(degraded.body))
        #expect(page.items.map(\.id) == [3, 2])
        // The failed side keeps its place: the next page asks new from the start again.
        let next = try #require(page.next_cursor.flatMap(ListMerge.Cursor.decode))
        #expect(next.new == ListMerge.SideCursor(after: nil, done: false))
        #expect(degrading.metrics.counterTotal(label: ProxyMetrics.Name.aggregated, dimensions: [("route", "order-list"), ("result", "partial")]) == 1)
        await degrading.stop()
        await old.stop()
        await new.stop()
    }
}
