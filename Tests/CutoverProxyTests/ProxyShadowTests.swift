@testable import CutoverProxy
import CutoverCore
import CutoverTestSupport
import NIOConcurrencyHelpers
import NIOCore
import Testing

@Suite("Shadow copies", .timeLimit(.minutes(1)))
struct ProxyShadowTests {
    /// A gateway with a route in phase shadow over the given backends.
    /// New's response timeout is long (a slow machine must not turn a copy's answer into a timeout) unless a test needs
    /// it short.
    func shadowGateway(old: TestBackend, new: String, noise: TestBackend? = nil, shadow: String = "", extra: String = "",
                       newTimeout: String = "30s") async throws -> TestGateway {
        let shadowLine = shadow.isEmpty ? "" : "\n    shadow: { \(shadow) }"
        return try await TestGateway.start("""
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            \(extra)
            backends:
              old: { url: "\(old.url)" }
              new: { url: "\(new)", response_timeout: \(newTimeout) }
            \(noise.map { "  old-secondary: { url: \"\($0.url)\" }" } ?? "")
            routes:
              - name: orders
                match: { prefix: /orders }
                phase: shadow\(shadowLine)
            """)
    }

    func get(_ gateway: TestGateway, _ request: String) async throws -> TestResponse {
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send(request)
        let response = try await client.response()
        await client.close()
        return response
    }

    @Test func oldAnswersAndNewGetsAMarkedCopyWithTheSameRequestID() async throws {
        let old = try await TestBackend.start { _ in .ok("{\"id\":7,\"total\":10}", headers: ["Content-Type: application/json"]) }
        let new = try await TestBackend.start { _ in .ok("{\"id\":7,\"total\":11}", headers: ["Content-Type: application/json"]) }
        let gateway = try await shadowGateway(old: old, new: new.url)
        let response = try await get(gateway, "GET /orders/7 HTTP/1.1\r\nHost: shop\r\nX-Request-Id: trace-1\r\n\r\n")
        #expect(response.text == "{\"id\":7,\"total\":10}")
        let pair = try await gateway.nextPair()
        #expect(pair.route == "orders")
        #expect(pair.requestID == "trace-1")
        #expect(String(buffer: pair.old.body) == "{\"id\":7,\"total\":10}")
        #expect(String(buffer: try #require(pair.new.answer).body) == "{\"id\":7,\"total\":11}")
        let copy = try #require(new.requests.first)
        #expect(copy.value("x-cutover-shadow") == "1")
        #expect(copy.values("x-request-id") == ["trace-1"])
        #expect(copy.value("host") == "shop")
        #expect(old.requests.first?.value("x-cutover-shadow") == nil)
        #expect(gateway.shadowRequests(route: "orders", result: "mirrored") == 1)
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func aNewThatHangsChangesNothingForTheClient() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .hold }
        let gateway = try await shadowGateway(old: old, new: new.url, newTimeout: "1h")
        let response = try await get(gateway, "GET /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(response.text == "old", "the client has its answer although new never answers")
        // The copy travels beside the client's request and may reach new after old answered; it is still unanswered
        // (new's timeout is an hour), so the client's answer did not wait for it.
        try await waitUntil("the copy to reach new") { new.heldCount == 1 }
        #expect(gateway.metrics.counterTotal(label: ComparatorMetrics.Name.shadowErrors) == 0)
        new.releaseHeld(with: "not an HTTP answer\r\n\r\n")
        let pair = try await gateway.nextPair()
        guard case .failed = pair.new else {
            Issue.record("new's hung copy must end as a failure")
            return
        }
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    /// New accepts and never answers, for longer than the copies' deadline: once every connection of the copies' pool
    /// is taken, further copies are dropped and counted at once instead of waiting in a line that only grows.
    @Test func copiesBeyondTheCopiesPoolAreDroppedAndCountedWhileNewHangs() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .hold }
        let gateway = try await TestGateway.start("""
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            backends:
              old: { url: "\(old.url)" }
              new: { url: "\(new.url)", pool_size: 4, response_timeout: 60s }
            routes:
              - { name: orders, match: { prefix: /orders }, phase: shadow }
            """)
        // Eight keep-alive clients, five requests each: every one answered by old at once.
        try await withThrowingTaskGroup(of: Void.self) { group in
            for client in 0..<8 {
                group.addTask {
                    let connection = try await TestConnection.connect(port: gateway.port)
                    for request in 0..<5 {
                        try await connection.send("GET /orders/\(client * 5 + request) HTTP/1.1\r\nHost: a\r\n\r\n")
                        #expect(try await connection.response().text == "old")
                    }
                    await connection.close()
                }
            }
            try await group.waitForAll()
        }
        try await waitUntil("four copies held by new") { new.heldCount == 4 }
        #expect(gateway.shadowRequests(route: "orders", result: "mirrored") == 4, "one copy per connection of the copies' pool")
        #expect(gateway.shadowRequests(route: "orders", result: "skipped", reason: "new_busy") == 36, "the rest dropped and counted")
        #expect(new.connections == 4)
        let lines = try await gateway.server.onEveryLoop { context in context.mirrorPools.reduce(0) { $0 + $1.lineLength } }
        #expect(lines == [0], "nothing waits for a copy's connection")
        await gateway.stop(drain: .milliseconds(100))
        await old.stop()
        await new.stop()
    }

    /// New resets every connection: after five failed copies the copies stop (counted as `new_failing`) instead of a
    /// connection attempt per request; once new answers again, a trial copy after the pause finds it and copies go again.
    /// (The pause is made long and then ended by the test, so that a slow machine never lets a trial in early.)
    @Test func copiesStopWhileNewKeepsFailingThemAndGoAgainOnceItAnswers() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let healthy = NIOLockedValueBox(false)
        let new = try await TestBackend.start { _ in healthy.withLockedValue { $0 } ? .ok("new") : .sendAndReset("") }
        let gateway = try await shadowGateway(old: old, new: new.url)
        _ = try await gateway.server.onEveryLoop { $0.mirrorPools[1].setCopyPause(first: .hours(1)) }
        // Each of the first five copies fails before the next request leaves (a copy's failure travels back on new's
        // loop and may land after old answered): the sixth request then finds the breaker open.
        for index in 0..<5 {
            #expect(try await get(gateway, "GET /orders/\(index) HTTP/1.1\r\nHost: a\r\n\r\n").text == "old")
            try await waitUntil("copy \(index + 1) to have failed") {
                gateway.metrics.counterTotal(label: ComparatorMetrics.Name.shadowErrors) >= Int64(index + 1)
            }
        }
        #expect(try await gateway.server.onEveryLoop { $0.mirrorPools[1].isHoldingCopiesBack } == [true])
        for index in 5..<20 {
            #expect(try await get(gateway, "GET /orders/\(index) HTTP/1.1\r\nHost: a\r\n\r\n").text == "old")
        }
        #expect(gateway.metrics.counterTotal(label: ComparatorMetrics.Name.shadowErrors) == 5)
        #expect(gateway.shadowRequests(route: "orders", result: "mirrored") == 5)
        #expect(gateway.shadowRequests(route: "orders", result: "skipped", reason: "new_failing") == 15)
        #expect(new.requests.count == 5, "new saw only the copies before the breaker opened")
        #expect(try await gateway.server.onEveryLoop { $0.mirrorPools[1].isHoldingCopiesBack } == [true])

        // New is fixed: once the pause is over, the next request sends the trial copy, and copies go again.
        healthy.withLockedValue { $0 = true }
        _ = try await gateway.server.onEveryLoop { $0.mirrorPools[1].endCopyPause() }
        try await waitUntil("a trial copy to be answered") {
            _ = try await self.get(gateway, "GET /orders/trial HTTP/1.1\r\nHost: a\r\n\r\n")
            return try await gateway.server.onEveryLoop { $0.mirrorPools[1].isHoldingCopiesBack } == [false]
        }
        let before = new.requests.count
        for index in 0..<3 { _ = try await get(gateway, "GET /orders/after-\(index) HTTP/1.1\r\nHost: a\r\n\r\n") }
        try await new.waitForRequests(before + 3)
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func aNewThatResetsOrIsDownChangesNothingForTheClient() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let resetting = try await TestBackend.start { _ in .close }
        let down = try RefusingPort()
        for newURL in [resetting.url, "http://127.0.0.1:\(down.port)"] {
            let gateway = try await shadowGateway(old: old, new: newURL)
            #expect(try await get(gateway, "GET /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n").text == "old")
            let pair = try await gateway.nextPair()
            guard case .failed = pair.new else {
                Issue.record("\(newURL): new's copy must end as a failure")
                continue
            }
            await gateway.stop()
        }
        await old.stop()
        await resetting.stop()
        withExtendedLifetime(down) {}
    }

    @Test func writesAreNotCopiedUnlessTheRouteAllowsIt() async throws {
        let old = try await TestBackend.start { _ in .ok("stored", status: "201 Created") }
        let new = try await TestBackend.start { request in .ok("stored \(String(decoding: request.body, as: UTF8.self))", status: "201 Created") }
        let skipping = try await shadowGateway(old: old, new: new.url)
        #expect(try await get(skipping, "POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n{\"q\":1.5}").status == 201)
        #expect(new.requests.isEmpty)
        #expect(skipping.shadowRequests(route: "orders", result: "skipped", reason: "write") == 1)
        await skipping.stop()

        let mirroring = try await shadowGateway(old: old, new: new.url, shadow: "writes: mirror")
        #expect(try await get(mirroring, "POST /orders HTTP/1.1\r\nHost: a\r\nContent-Length: 9\r\n\r\n{\"q\":1.5}").status == 201)
        let pair = try await mirroring.nextPair()
        #expect(String(buffer: try #require(pair.new.answer).body) == "stored {\"q\":1.5}")
        #expect(new.requests.first?.method == "POST")
        #expect(new.requests.first?.value("x-cutover-shadow") == "1")
        await mirroring.stop()
        await old.stop()
        await new.stop()
    }

    @Test func afterPrimaryWritesReachNewOnlyOnceOldSucceededWithItsValues() async throws {
        let old = try await TestBackend.start { request in
            request.uri == "/orders/fail" ? .ok("{\"error\":1}", status: "500 Internal Server Error") : .ok("{\"id\":4242,\"ref\":\"A-1\"}", status: "201 Created")
        }
        let new = try await TestBackend.start { _ in .ok("{\"id\":4242,\"ref\":\"A-1\"}", status: "201 Created") }
        let gateway = try await shadowGateway(old: old, new: new.url, shadow: """
            writes: mirror, order: after-primary, primary_headers: { X-Cutover-Primary-Id: /id, X-Primary-Ref: /ref }
            """)
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("POST /orders HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n")
        #expect(try await client.response().status == 201)
        let pair = try await gateway.nextPair()
        #expect(pair.new.answer?.status == 201)
        let copy = try #require(new.requests.first)
        #expect(copy.value("x-cutover-primary-id") == "4242")
        #expect(copy.value("x-primary-ref") == "A-1")
        #expect(copy.body == Array("hello".utf8))

        try await client.send("POST /orders/fail HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nok")
        #expect(try await client.response().status == 500)
        try await waitUntil("the skip to be counted") { gateway.shadowRequests(route: "orders", result: "skipped", reason: "old_not_2xx") == 1 }
        #expect(new.requests.count == 1, "a failed write never reaches new")
        await client.close()
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func theNoiseBaselineGetsSafeRequestsOnly() async throws {
        let old = try await TestBackend.start { _ in .ok("{\"nonce\":1}") }
        let secondary = try await TestBackend.start { _ in .ok("{\"nonce\":2}") }
        let new = try await TestBackend.start { _ in .ok("{\"nonce\":3}") }
        let gateway = try await shadowGateway(old: old, new: new.url, noise: secondary, shadow: "writes: mirror")
        _ = try await get(gateway, "GET /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n")
        let pair = try await gateway.nextPair()
        #expect(String(buffer: try #require(pair.noise).body) == "{\"nonce\":2}")
        #expect(secondary.requests.first?.value("x-cutover-shadow") == "1")
        _ = try await get(gateway, "PUT /orders/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n")
        let write = try await gateway.nextPair()
        #expect(write.noise == nil)
        #expect(secondary.requests.count == 1)
        await gateway.stop()
        for backend in [old, secondary, new] { await backend.stop() }
    }

    /// With `sample: 0.5` about half the request IDs are copied, and the same ones every time they come back
    /// (checked against what new received, not against the gateway's own sampler).
    @Test func samplingPicksTheSameRequestIDsEveryTime() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let gateway = try await shadowGateway(old: old, new: new.url, shadow: "sample: 0.5")
        let ids = (0..<40).map { "req-\($0)" }
        for id in ids { _ = try await get(gateway, "GET /orders/1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: \(id)\r\n\r\n") }
        try await waitUntil("every request to be mirrored or skipped") {
            gateway.shadowRequests(route: "orders", result: "mirrored") + gateway.shadowRequests(route: "orders", result: "skipped", reason: "sample") == 40
        }
        let firstRound = Int(gateway.shadowRequests(route: "orders", result: "mirrored"))
        #expect(firstRound > 5 && firstRound < 35, "about half of 40 IDs: \(firstRound)")
        try await new.waitForRequests(firstRound)
        let copied = Set(new.requests.compactMap { $0.value("x-request-id") })
        #expect(copied.count == firstRound && copied.isSubset(of: Set(ids)))
        // The same IDs again: exactly the same ones are copied.
        for id in ids { _ = try await get(gateway, "GET /orders/1 HTTP/1.1\r\nHost: a\r\nX-Request-Id: \(id)\r\n\r\n") }
        try await new.waitForRequests(2 * firstRound)
        let secondRound = new.requests.dropFirst(firstRound).compactMap { $0.value("x-request-id") }
        #expect(Set(secondRound) == copied)
        #expect(secondRound.count == firstRound)
        #expect(gateway.shadowRequests(route: "orders", result: "skipped", reason: "sample") == Int64(2 * (40 - firstRound)))
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func bodiesOverTheCapAreNotCopied() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let gateway = try await shadowGateway(old: old, new: new.url, shadow: "writes: mirror, max_body: 16")
        let big = String(repeating: "x", count: 40)
        #expect(try await get(gateway, "PUT /orders/1 HTTP/1.1\r\nHost: a\r\nContent-Length: 40\r\n\r\n\(big)").text == "old")
        #expect(try await get(gateway, "PUT /orders/1 HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n28\r\n\(big)\r\n0\r\n\r\n").text == "old")
        #expect(gateway.shadowRequests(route: "orders", result: "skipped", reason: "body_too_large") == 2)
        #expect(gateway.server.diffQueue.depth == 0)
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func aFullQueueDropsAndCountsInsteadOfGrowing() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let gateway = try await shadowGateway(old: old, new: new.url, extra: "diff_queue: { size: 2 }")
        for _ in 0..<5 { _ = try await get(gateway, "GET /orders/1 HTTP/1.1\r\nHost: a\r\n\r\n") }
        try await new.waitForRequests(5)
        try await waitUntil("all pairs to be offered") {
            gateway.metrics.counterTotal(label: ComparatorMetrics.Name.queueDropped) == 3
        }
        #expect(gateway.server.diffQueue.depth == 2)
        await gateway.stop()
        await old.stop()
        await new.stop()
    }
}
