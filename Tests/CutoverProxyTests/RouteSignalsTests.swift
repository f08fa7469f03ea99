@testable import CutoverProxy
import Foundation
import Testing

@Suite("Route signals", .timeLimit(.minutes(1)))
struct RouteSignalsTests {
    @Test func windowsCountNewAnswersAndTheirP99() {
        let signals = RouteSignals()
        let now = Date(timeIntervalSince1970: 1_000_000)
        for index in 0..<100 {
            signals.newAnswer(route: "r", error: index < 5, latency: .milliseconds(index < 98 ? 10 : 900), now: now)
        }
        signals.newAnswer(route: "r", error: true, latency: .milliseconds(1), now: now.addingTimeInterval(-120))
        let window = signals.window(route: "r", .seconds(60), now: now)
        #expect(window.requests == 100 && window.errors == 5)
        #expect(window.errorRate == 0.05)
        // p99 falls in the 900 ms bucket (buckets are about 9 % wide, reported by their upper bound).
        let p99 = try! #require(window.p99)
        #expect(p99 >= .milliseconds(900) && p99 < .milliseconds(990))
        #expect(signals.window(route: "r", .seconds(60), notBefore: now, now: now).requests == 0, "answers before a change do not count")
        #expect(signals.window(route: "other", .seconds(60), now: now) == RouteSignals.Window(requests: 0, errors: 0, p99: nil))
        // Per-minute counts wait for the store and can be put back when it fails.
        let taken = signals.takeUnflushed()
        #expect(taken["r"]?.values.map(\.requests).reduce(0, +) == 101)
        #expect(signals.takeUnflushed().isEmpty)
        signals.restore(taken)
        #expect(signals.takeUnflushed()["r"]?.values.map(\.errors).reduce(0, +) == 6)
    }

    @Test func theHighestIDPerSideIsKept() {
        let signals = RouteSignals()
        signals.sawID(route: "r", side: .old, id: 5)
        signals.sawID(route: "r", side: .old, id: 3)
        signals.sawID(route: "r", side: .new, id: 1_000_001)
        #expect(signals.maxIDs() == ["r": [.old: 5, .new: 1_000_001]])
    }
}
