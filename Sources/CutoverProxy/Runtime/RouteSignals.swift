import CutoverCore
import Foundation
import NIOConcurrencyHelpers

/// What the data plane learns about routes that the control plane acts on: the
/// highest entity IDs seen in each side's answers (the threshold's evidence) and
/// new's answers per second (requests, errors, latencies) for the gates and
/// automatic rollback. Shared by all event loops; cheap to update.
public final class RouteSignals: Sendable {
    /// New's answers of one route in one second.
    public struct Second: Sendable {
        public var requests: Int64 = 0
        public var errors: Int64 = 0
        public var latencies = LatencyHistogram()

        public init() {}

        /// Counts one answer.
        public mutating func add(error: Bool, latency: Duration) {
            requests += 1
            if error { errors += 1 }
            latencies.record(latency)
        }
    }

    /// New's answers over a window.
    public struct Window: Sendable, Equatable {
        public var requests: Int64
        public var errors: Int64
        /// The 99th percentile latency (bucket upper bound); nil with no requests.
        public var p99: Duration?

        public var errorRate: Double { requests > 0 ? Double(errors) / Double(requests) : 0 }
    }

    struct State {
        var maxIDs: [String: [RoutingTarget.Side: Int64]] = [:]
        /// Per route: second (since 1970) → answers.
        var seconds: [String: [Int64: Second]] = [:]
        /// Answers not yet written to the store, per route and minute.
        var unflushed: [String: [Int64: (requests: Int64, errors: Int64)]] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// How long per-second answers are kept.
    static let keptSeconds: Int64 = 900

    public init() {}

    /// An answer of `side` named this ID (the highest one of its body at the route's `max_id_seen`).
    public func sawID(route: String, side: RoutingTarget.Side, id: Int64) {
        state.withLockedValue { state in
            if id > state.maxIDs[route]?[side] ?? .min { state.maxIDs[route, default: [:]][side] = id }
        }
    }

    /// The highest IDs seen per route and side since start.
    public func maxIDs() -> [String: [RoutingTarget.Side: Int64]] {
        state.withLockedValue { $0.maxIDs }
    }

    /// New answered a request of `route` (error: a 5xx or no answer at all) after `latency`.
    public func newAnswer(route: String, error: Bool, latency: Duration, now: Date = Date()) {
        var answers = Second()
        answers.add(error: error, latency: latency)
        add([route: answers], at: now)
    }

    /// Adds new's answers gathered per route (by an event loop) as answers of the second of `now`.
    public func add(_ answers: [String: Second], at now: Date = Date()) {
        let second = Int64(now.timeIntervalSince1970)
        state.withLockedValue { state in
            for (route, gathered) in answers {
                let fresh = state.seconds[route]?[second] == nil
                var bucket = state.seconds[route]?[second] ?? Second()
                bucket.requests += gathered.requests
                bucket.errors += gathered.errors
                bucket.latencies.add(gathered.latencies)
                state.seconds[route, default: [:]][second] = bucket
                var minute = state.unflushed[route]?[second / 60] ?? (0, 0)
                minute.requests += gathered.requests
                minute.errors += gathered.errors
                state.unflushed[route, default: [:]][second / 60] = minute
                if fresh, let oldest = state.seconds[route]?.keys.min(), oldest < second - Self.keptSeconds {
                    state.seconds[route] = state.seconds[route]?.filter { $0.key >= second - Self.keptSeconds }
                }
            }
        }
    }

    /// New's answers of `route` over the last `window`, counting only whole seconds after `notBefore` when given.
    public func window(route: String, _ window: Duration, notBefore: Date? = nil, now: Date = Date()) -> Window {
        let end = Int64(now.timeIntervalSince1970)
        var start = end - max(1, window.components.seconds) + 1
        if let notBefore { start = max(start, Int64(notBefore.timeIntervalSince1970.rounded(.down)) + 1) }
        return state.withLockedValue { state in
            var total = Second()
            for (second, bucket) in state.seconds[route] ?? [:] where second >= start && second <= end {
                total.requests += bucket.requests
                total.errors += bucket.errors
                total.latencies.add(bucket.latencies)
            }
            return Window(requests: total.requests, errors: total.errors, p99: total.latencies.percentile(0.99))
        }
    }

    /// Takes the per-minute counts not yet written to the store.
    public func takeUnflushed() -> [String: [Int64: (requests: Int64, errors: Int64)]] {
        state.withLockedValue { state in
            defer { state.unflushed = [:] }
            return state.unflushed
        }
    }

    /// Puts back counts that could not be written.
    public func restore(_ counts: [String: [Int64: (requests: Int64, errors: Int64)]]) {
        state.withLockedValue { state in
            for (route, minutes) in counts {
                for (minute, count) in minutes {
                    var current = state.unflushed[route]?[minute] ?? (0, 0)
                    current.requests += count.requests
                    current.errors += count.errors
                    state.unflushed[route, default: [:]][minute] = current
                }
            }
        }
    }
}

/// Latencies in buckets eight to a power of two of microseconds (about 9 % wide).
public struct LatencyHistogram: Sendable {
    private(set) var counts = [Int64](repeating: 0, count: 8 * 40)

    public init() {}

    static func index(_ micros: UInt64) -> Int {
        guard micros >= 8 else { return Int(micros) }
        let exponent = 63 - micros.leadingZeroBitCount
        let sub = Int((micros >> (exponent - 3)) & 7)
        return min(exponent * 8 + sub, 8 * 40 - 1)
    }

    static func upperBound(_ index: Int) -> UInt64 {
        guard index >= 8 else { return UInt64(index) }
        let exponent = index / 8, sub = UInt64(index % 8)
        return ((8 + sub + 1) << (exponent - 3)) - 1
    }

    public mutating func record(_ latency: Duration) {
        let micros = max(0, latency.components.seconds * 1_000_000 + latency.components.attoseconds / 1_000_000_000_000)
        counts[Self.index(UInt64(micros))] += 1
    }

    mutating func add(_ other: LatencyHistogram) {
        for index in counts.indices { counts[index] += other.counts[index] }
    }

    /// The upper bound of the bucket holding the `quantile` of the recorded latencies.
    public func percentile(_ quantile: Double) -> Duration? {
        let total = counts.reduce(0, +)
        guard total > 0 else { return nil }
        let rank = Int64((Double(total) * quantile).rounded(.up))
        var seen: Int64 = 0
        for (index, count) in counts.enumerated() {
            seen += count
            if seen >= rank { return .microseconds(Int64(Self.upperBound(index))) }
        }
        return .microseconds(Int64(Self.upperBound(counts.count - 1)))
    }
}
