import Atomics
import NIOConcurrencyHelpers

/// `cutover_request_duration_seconds{route,backend}`, kept without a lock on the request path: each event loop records
/// into its own shard of counters (three relaxed atomic adds per request, on cache lines no other loop writes), and the
/// Prometheus exposition adds the shards up when `/metrics` is read.
public final class RequestDurations: Sendable {
    /// Upper bounds of the buckets, in nanoseconds (the `le` labels; `+Inf` follows).
    static let bounds: [Int64] = [
        500_000, 1_000_000, 2_000_000, 5_000_000, 10_000_000, 25_000_000, 50_000_000, 100_000_000, 250_000_000,
        500_000_000, 1_000_000_000, 2_500_000_000, 5_000_000_000, 10_000_000_000, 30_000_000_000,
    ]

    /// One loop's counters for one route and backend.
    final class Shard: Sendable {
        /// Observations per bucket (not cumulative); the last counts those above every bound.
        private let buckets: [ManagedAtomic<Int>]
        private let sumNanoseconds = ManagedAtomic<Int64>(0)

        init() {
            buckets = (0...RequestDurations.bounds.count).map { _ in ManagedAtomic(0) }
        }

        /// Records one request's duration.
        func record(nanoseconds: Int64) {
            let value = max(0, nanoseconds)
            var index = 0
            let bounds = RequestDurations.bounds
            while index < bounds.count, value > bounds[index] { index += 1 }
            buckets[index].wrappingIncrement(ordering: .relaxed)
            sumNanoseconds.wrappingIncrement(by: value, ordering: .relaxed)
        }

        fileprivate func add(into counts: inout [Int], sum: inout Int64) {
            for index in counts.indices { counts[index] += buckets[index].load(ordering: .relaxed) }
            sum &+= sumNanoseconds.load(ordering: .relaxed)
        }
    }

    private struct Key: Hashable {
        var route: String
        var backend: String
    }

    /// Shards by route and backend, then by loop; in first-recorded order for a stable exposition.
    private let shards = NIOLockedValueBox<(order: [Key], byKey: [Key: [ObjectIdentifier: Shard]])>(([], [:]))

    public init() {}

    /// The shard a loop records into for a route and backend (created on first use; the lock is taken here, once per
    /// route, backend and loop, never per request).
    func shard(route: String, backend: String, loop: ObjectIdentifier) -> Shard {
        let key = Key(route: route, backend: backend)
        return shards.withLockedValue { state in
            if let existing = state.byKey[key]?[loop] { return existing }
            let created = Shard()
            if state.byKey[key] == nil { state.order.append(key) }
            state.byKey[key, default: [:]][loop] = created
            return created
        }
    }

    /// Appends the histogram in the Prometheus text format (cumulative buckets, `_sum` in seconds, `_count`).
    public func emit(into output: inout [UInt8]) {
        let families = shards.withLockedValue { state in state.order.map { ($0, Array(state.byKey[$0]!.values)) } }
        guard !families.isEmpty else { return }
        let name = ProxyMetrics.Name.requestDuration
        var text = "# TYPE \(name) histogram\n"
        for (key, loopShards) in families {
            var counts = Array(repeating: 0, count: Self.bounds.count + 1)
            var sum: Int64 = 0
            for shard in loopShards { shard.add(into: &counts, sum: &sum) }
            let labels = "route=\"\(Self.escape(key.route))\",backend=\"\(Self.escape(key.backend))\""
            var cumulative = 0
            for (index, count) in counts.enumerated() {
                cumulative += count
                let bound = index < Self.bounds.count ? Self.seconds(Self.bounds[index]) : "+Inf"
                text += "\(name)_bucket{\(labels),le=\"\(bound)\"} \(cumulative)\n"
            }
            text += "\(name)_sum{\(labels)} \(Self.seconds(sum))\n"
            text += "\(name)_count{\(labels)} \(cumulative)\n"
        }
        output.append(contentsOf: text.utf8)
    }

    /// Nanoseconds as decimal seconds, without a float's rounding: 500000 → "0.0005", 2500000000 → "2.5".
    static func seconds(_ nanoseconds: Int64) -> String {
        let whole = nanoseconds / 1_000_000_000, fraction = nanoseconds % 1_000_000_000
        guard fraction != 0 else { return "\(whole)" }
        var digits = String(fraction)
        digits = String(repeating: "0", count: 9 - digits.count) + digits
        while digits.hasSuffix("0") { digits.removeLast() }
        return "\(whole).\(digits)"
    }

    /// A label value as the text format writes it: backslash, quote and newline escaped.
    static func escape(_ value: String) -> String {
        var escaped = ""
        for character in value {
            switch character {
            case "\\": escaped += "\\\\"
            case "\"": escaped += "\\\""
            case "\n": escaped += "\\n"
            default: escaped.append(character)
            }
        }
        return escaped
    }
}
