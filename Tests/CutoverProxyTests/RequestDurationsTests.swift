@testable import CutoverProxy
import CutoverTestSupport
import Foundation
import Testing

/// The request-duration histograms: per-loop shards without a lock, added up in the Prometheus exposition.
struct RequestDurationsTests {
    final class Loop {}

    func lines(_ durations: RequestDurations) -> [String] {
        var bytes: [UInt8] = []
        durations.emit(into: &bytes)
        return String(decoding: bytes, as: UTF8.self).split(separator: "\n").map(String.init)
    }

    @Test func theShardsOfEveryLoopAddUpIntoCumulativeBuckets() {
        let durations = RequestDurations()
        let first = Loop(), second = Loop()
        let a = durations.shard(route: "orders", backend: "old", loop: ObjectIdentifier(first))
        let b = durations.shard(route: "orders", backend: "old", loop: ObjectIdentifier(second))
        // 0.4 ms and exactly 0.5 ms fall in le=0.0005 (bounds are inclusive), 3 ms in le=0.005, 40 s above every bound.
        a.record(nanoseconds: 400_000)
        b.record(nanoseconds: 500_000)
        b.record(nanoseconds: 3_000_000)
        a.record(nanoseconds: 40_000_000_000)
        let text = lines(durations)
        let labels = "route=\"orders\",backend=\"old\""
        #expect(text.first == "# TYPE cutover_request_duration_seconds histogram")
        #expect(text.contains("cutover_request_duration_seconds_bucket{\(labels),le=\"0.0005\"} 2"))
        #expect(text.contains("cutover_request_duration_seconds_bucket{\(labels),le=\"0.002\"} 2"))
        #expect(text.contains("cutover_request_duration_seconds_bucket{\(labels),le=\"0.005\"} 3"))
        #expect(text.contains("cutover_request_duration_seconds_bucket{\(labels),le=\"30\"} 3"))
        #expect(text.contains("cutover_request_duration_seconds_bucket{\(labels),le=\"+Inf\"} 4"))
        #expect(text.contains("cutover_request_duration_seconds_sum{\(labels)} 40.0039"))
        #expect(text.contains("cutover_request_duration_seconds_count{\(labels)} 4"))
        // One series per route and backend however many loops record it; 16 buckets, a sum and a count.
        #expect(text.count == 1 + 16 + 2)
    }

    @Test func aLoopAsksAgainAndGetsTheSameShard() {
        let durations = RequestDurations()
        let loop = Loop()
        let shard = durations.shard(route: "r", backend: "old", loop: ObjectIdentifier(loop))
        #expect(durations.shard(route: "r", backend: "old", loop: ObjectIdentifier(loop)) === shard)
        #expect(durations.shard(route: "r", backend: "new", loop: ObjectIdentifier(loop)) !== shard)
    }

    @Test func nothingRecordedEmitsNothingAndLabelValuesAreEscaped() {
        let durations = RequestDurations()
        #expect(lines(durations).isEmpty)
        let loop = Loop()
        durations.shard(route: "a\"b\\c\nd", backend: "old", loop: ObjectIdentifier(loop)).record(nanoseconds: 1)
        #expect(lines(durations).contains("cutover_request_duration_seconds_count{route=\"a\\\"b\\\\c\\nd\",backend=\"old\"} 1"))
    }

    @Test func secondsAreWrittenWithoutRounding() {
        #expect(RequestDurations.seconds(500_000) == "0.0005")
        #expect(RequestDurations.seconds(2_500_000_000) == "2.5")
        #expect(RequestDurations.seconds(30_000_000_000) == "30")
        #expect(RequestDurations.seconds(1) == "0.000000001")
        #expect(RequestDurations.seconds(0) == "0")
    }

    @Test func aGatewayOnTwoLoopsCountsEveryAnsweredRequestOnce() async throws {
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url, routes: """
              - { name: orders, match: { prefix: /orders }, phase: old }
            """), threads: 2)
        // A connection each: accepted connections go to the loops in turn, so both record.
        for index in 0..<20 {
            let client = try await TestConnection.connect(port: gateway.port)
            try await client.send("GET /orders/\(index) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.response().status == 200)
            await client.close()
        }
        let text = gateway.durationsExposition()
        await gateway.stop()
        await backend.stop()
        #expect(text.contains("cutover_request_duration_seconds_count{route=\"orders\",backend=\"old\"} 20"))
        #expect(text.contains("cutover_request_duration_seconds_bucket{route=\"orders\",backend=\"old\",le=\"+Inf\"} 20"))
    }
}
