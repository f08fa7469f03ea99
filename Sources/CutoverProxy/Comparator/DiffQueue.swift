import CutoverCore
import NIOConcurrencyHelpers
import NIOCore

/// The bounded queue between the event loops (which offer pairs after the
/// client's answer) and the comparator (which takes them off the loops). When
/// it holds its most pairs or bytes, new pairs are dropped and counted: the
/// proxy never waits and memory never grows past the bound.
public final class DiffQueue: Sendable {
    private struct State {
        var pairs = CircularBuffer<ShadowPair>()
        var bytes = 0
        var waiter: CheckedContinuation<ShadowPair?, Never>?
        var batchWaiter: CheckedContinuation<Void, Never>?
        var closed = false
    }

    private let state = NIOLockedValueBox(State())
    private let settings: DiffQueueSettings
    private let metrics: ComparatorMetrics

    public init(settings: DiffQueueSettings, metrics: ComparatorMetrics) {
        self.settings = settings
        self.metrics = metrics
    }

    /// Adds a pair unless the queue is full; returns whether it was taken. Never blocks.
    @discardableResult
    public func offer(_ pair: ShadowPair) -> Bool {
        let size = pair.byteCount
        let (taken, waiter, batchWaiter) = state.withLockedValue {
            state -> (Bool, CheckedContinuation<ShadowPair?, Never>?, CheckedContinuation<Void, Never>?) in
            if state.closed { return (false, nil, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter, nil)
            }
            guard state.pairs.count < settings.size, state.bytes + size <= settings.maxBytes else { return (false, nil, nil) }
            state.pairs.append(pair)
            state.bytes += size
            defer { state.batchWaiter = nil }
            return (true, nil, state.batchWaiter)
        }
        if let waiter {
            waiter.resume(returning: pair)
        } else if let batchWaiter {
            batchWaiter.resume()
        } else if !taken {
            metrics.queueDropped()
        }
        return taken
    }

    /// The next pair, waiting for one; nil once the queue is closed and empty.
    public func next() async -> ShadowPair? {
        await withCheckedContinuation { continuation in
            let ready = state.withLockedValue { state -> ShadowPair?? in
                if let pair = state.pairs.popFirst() {
                    state.bytes -= pair.byteCount
                    return .some(pair)
                }
                if state.closed { return .some(nil) }
                state.waiter = continuation
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Every pair queued, waiting for at least one; nil once the queue is closed and empty.
    /// The comparator takes pairs in batches so that a steady stream costs the event
    /// loops one wake-up per batch, not one per pair.
    public func nextBatch() async -> [ShadowPair]? {
        while true {
            let batch = drain()
            if !batch.isEmpty { return batch }
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLockedValue { state -> Bool in
                    if state.closed || !state.pairs.isEmpty { return true }
                    state.batchWaiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
            if state.withLockedValue({ $0.closed && $0.pairs.isEmpty }) { return nil }
        }
    }

    /// Takes what is queued now, without waiting.
    public func drain() -> [ShadowPair] {
        state.withLockedValue { state in
            let pairs = Array(state.pairs)
            state.pairs.removeAll()
            state.bytes = 0
            return pairs
        }
    }

    /// Stops taking pairs; a waiting `next()` returns nil.
    public func close() {
        let (waiter, batchWaiter) = state.withLockedValue { state -> (CheckedContinuation<ShadowPair?, Never>?, CheckedContinuation<Void, Never>?) in
            state.closed = true
            defer {
                state.waiter = nil
                state.batchWaiter = nil
            }
            return (state.waiter, state.batchWaiter)
        }
        waiter?.resume(returning: nil)
        batchWaiter?.resume()
    }

    /// Pairs waiting.
    public var depth: Int { state.withLockedValue { $0.pairs.count } }
}
