import NIOConcurrencyHelpers
import NIOCore

/// Slows down token guessing: each client address has a bucket of failed authentications that refills at a steady
/// rate; an address whose bucket is empty is refused (429, with `Retry-After`) until it refills, whatever token it
/// sends. The table of addresses is bounded: when full, addresses whose buckets are full again (forgiven) go first,
/// then the longest quiet.
public final class AuthFailureLimiter: Sendable {
    /// Failed authentications an address may make in a burst.
    public let burst: Double
    /// Failed authentications forgiven per second.
    public let refillPerSecond: Double
    /// The most addresses remembered.
    public let capacity: Int
    private let buckets = NIOLockedValueBox<[String: Bucket]>([:])

    struct Bucket {
        var tokens: Double
        var updated: NIODeadline
    }

    public init(burst: Int = 20, refillPerSecond: Double = 1, capacity: Int = 10_000) {
        self.burst = Double(burst)
        self.refillPerSecond = refillPerSecond
        self.capacity = capacity
    }

    /// Seconds `address` must wait before it may try again, or nil when it may try now.
    public func retryAfter(_ address: String, now: NIODeadline = .now()) -> Int? {
        buckets.withLockedValue { buckets in
            guard var bucket = buckets[address] else { return nil }
            refill(&bucket, now: now)
            buckets[address] = bucket
            guard bucket.tokens < 1 else { return nil }
            return Int(((1 - bucket.tokens) / refillPerSecond).rounded(.up))
        }
    }

    /// Counts a failed authentication from `address`.
    public func failed(_ address: String, now: NIODeadline = .now()) {
        buckets.withLockedValue { buckets in
            var bucket = buckets[address] ?? Bucket(tokens: burst, updated: now)
            refill(&bucket, now: now)
            bucket.tokens = max(0, bucket.tokens - 1)
            if buckets[address] == nil, buckets.count >= capacity { evict(&buckets, now: now) }
            buckets[address] = bucket
        }
    }

    /// How many addresses are remembered.
    public var count: Int { buckets.withLockedValue { $0.count } }

    private func refill(_ bucket: inout Bucket, now: NIODeadline) {
        let seconds = Double((now - bucket.updated).nanoseconds) / 1e9
        bucket.tokens = min(burst, bucket.tokens + max(0, seconds) * refillPerSecond)
        bucket.updated = now
    }

    /// Makes room for one address: forgets those whose buckets have refilled, else the quietest tenth.
    private func evict(_ buckets: inout [String: Bucket], now: NIODeadline) {
        let full = Double(burst)
        let forgiven = buckets.filter { address, bucket in
            var bucket = bucket
            refill(&bucket, now: now)
            return bucket.tokens >= full
        }.keys
        for address in forgiven { buckets.removeValue(forKey: address) }
        guard buckets.count >= capacity else { return }
        let quietest = buckets.sorted { $0.value.updated < $1.value.updated }.prefix(max(1, capacity / 10)).map(\.key)
        for address in quietest { buckets.removeValue(forKey: address) }
    }
}
