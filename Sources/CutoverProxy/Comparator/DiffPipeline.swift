import CutoverCore
import Foundation
import Logging
import NIOConcurrencyHelpers

/// The comparator: takes pairs off the queue (off the event loops), compares
/// them, adds up the counts and hands a batch to the store every
/// `flushInterval`. A batch the store refuses is retried on later flushes, in
/// order, up to `maxAttempts` times, and at most `maxPending` batches wait;
/// beyond either bound batches are dropped and counted. It never blocks the proxy.
public final class DiffPipeline: Sendable {
    private let queue: DiffQueue
    private let recorder: any DiffRecorder
    private let metrics: ComparatorMetrics
    private let logger: Logger
    private let flushInterval: Duration
    private let gatherInterval: Duration
    private let maxAttempts: Int
    private let maxPending: Int
    private let aggregator: NIOLockedValueBox<DiffAggregator>
    private let pending = NIOLockedValueBox<[(batch: DiffBatch, attempts: Int)]>([])
    private let flushing = AsyncMutex()
    private let processed = NIOLockedValueBox(0)

    public init(queue: DiffQueue, recorder: any DiffRecorder, writer: String, metrics: ComparatorMetrics, logger: Logger,
                flushInterval: Duration = .seconds(1), gatherInterval: Duration = .milliseconds(5), maxAttempts: Int = 60,
                maxPending: Int = 120) {
        self.queue = queue
        self.recorder = recorder
        self.metrics = metrics
        self.logger = logger
        self.flushInterval = flushInterval
        self.gatherInterval = gatherInterval
        self.maxAttempts = maxAttempts
        self.maxPending = maxPending
        self.aggregator = NIOLockedValueBox(DiffAggregator(writer: writer, firstSequence: Int64(Date().timeIntervalSince1970 * 1000)))
    }

    /// Runs until the queue is closed, then compares what is left and flushes once more.
    public func run() async {
        await withTaskGroup(of: Void.self) { tasks in
            tasks.addTask {
                while let batch = await self.queue.nextBatch() {
                    self.metrics.waiting(pairs: batch.count + self.queue.depth, batches: self.pendingBatches)
                    for pair in batch { self.process(pair) }
                    // Let the next pairs gather: a steady stream is taken in batches.
                    try? await Task.sleep(for: self.gatherInterval)
                }
            }
            tasks.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: self.flushInterval)
                    guard !Task.isCancelled else { break }
                    // A write under way finishes even when the pipeline stops; the final flush follows it.
                    await Task { await self.flush() }.value
                }
            }
            await tasks.next()
            tasks.cancelAll()
        }
        await flush()
    }

    /// Compares one pair and adds it to the counts.
    func process(_ pair: ShadowPair) {
        let result = PairEvaluation.evaluate(pair)
        let resultLabel: String
        switch result.outcome {
        case .compared(let fields): resultLabel = fields.isEmpty ? "equal" : "different"
        case .newFailed: resultLabel = "different"
        case .notCompared: resultLabel = "not_compared"
        }
        metrics.compared(route: pair.route, result: resultLabel)
        processed.withLockedValue { $0 += 1 }
        let now = Date()
        let minute = Int64(now.timeIntervalSince1970 / 60)
        let time = Int64(now.timeIntervalSince1970 * 1000)
        aggregator.withLockedValue { aggregator in
            aggregator.add(route: pair.route, minute: minute, outcome: result.outcome, noiseFields: result.noiseFields) {
                PairEvaluation.sample(pair, result, time: time)
            }
        }
    }

    /// Compares what is queued now and writes what has been added up (and what earlier failed).
    public func flush() async {
        await flushing.withLock {
            defer { self.metrics.waiting(pairs: self.queue.depth, batches: self.pendingBatches) }
            for pair in self.queue.drain() { self.process(pair) }
            if let batch = self.aggregator.withLockedValue({ $0.takeBatch() }) {
                let dropped = self.pending.withLockedValue { pending -> Int in
                    pending.append((batch, 0))
                    let excess = max(0, pending.count - self.maxPending)
                    pending.removeFirst(excess)
                    return excess
                }
                for _ in 0..<dropped { self.metrics.storeDropped() }
            }
            while let (batch, attempts) = self.pending.withLockedValue({ $0.first }) {
                do {
                    try await self.recorder.record(batch)
                    self.pending.withLockedValue { _ = $0.removeFirst() }
                } catch {
                    self.metrics.storeError()
                    let giveUp = attempts + 1 >= self.maxAttempts
                    self.pending.withLockedValue { pending in
                        if giveUp { pending.removeFirst() } else { pending[0].attempts += 1 }
                    }
                    if giveUp { self.metrics.storeDropped() }
                    self.logger.warning("could not write comparator counts to the store; retrying",
                                        metadata: ["error": "\(error)", "pending": "\(self.pending.withLockedValue { $0.count })"])
                    return
                }
            }
        }
    }

    /// Pairs compared since start.
    public var comparedPairs: Int { processed.withLockedValue { $0 } }

    /// Batches waiting for the store.
    public var pendingBatches: Int { pending.withLockedValue { $0.count } }
}

