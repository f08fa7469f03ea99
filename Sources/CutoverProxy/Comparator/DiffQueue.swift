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
        let (taken, waiter) = state.withLockedValue { state -> (Bool, CheckedContinuation<ShadowPair?, Never>?) in
            if state.closed { return (false, nil) }
            if let waiter = state.waiter {
                state.waiter = nil
                return (true, waiter)
            }
            guard state.pairs.count < settings.size, state.bytes + size <= settings.maxBytes else { return (false, nil) }
            state.pairs.append(pair)
            state.bytes += size
            return (true, nil)
        }
        if let waiter {
            waiter.resume(returning: pair)
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
        let waiter = state.withLockedValue { state -> CheckedContinuation<ShadowPair?, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: nil)
    }

    /// Pairs waiting.
    public var depth: Int { state.withLockedValue { $0.pairs.count } }
}
