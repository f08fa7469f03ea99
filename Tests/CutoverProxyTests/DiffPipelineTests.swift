@testable import CutoverProxy
import CutoverCore
import CutoverStore
import Foundation
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import Testing

/// A real SQLite store behind a switch that cuts it off, as a partition or a
/// database restart would: while cut off, every write fails.
final class PartitionedStore: DiffRecorder, Sendable {
    let store: Store
    let folder: String
    private let reachable = NIOLockedValueBox(true)

    static func open() async throws -> PartitionedStore {
        let folder = NSTemporaryDirectory() + "cutover-pipeline-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        var logger = Logger(label: "pipeline-store")
        logger.logLevel = .critical
        return PartitionedStore(store: try await Store.open(.sqlite(path: folder + "/cutover.db"), logger: logger), folder: folder)
    }

    private init(store: Store, folder: String) {
        self.store = store
        self.folder = folder
    }

    var isReachable: Bool {
        get { reachable.withLockedValue { $0 } }
        set { reachable.withLockedValue { $0 = newValue } }
    }

    func record(_ batch: DiffBatch) async throws {
        guard isReachable else { throw StoreError.timeout(.seconds(5)) }
        try await store.record(batch)
    }

    func close() async {
        await store.close()
        try? FileManager.default.removeItem(atPath: folder)
    }
}

@Suite("Diff pipeline")
struct DiffPipelineTests {
    let metrics = TestMetrics()

    func pipeline(_ recorder: any DiffRecorder, queueSize: Int = 100, maxAttempts: Int = 60, maxPending: Int = 120)
        -> (DiffPipeline, DiffQueue)
    {
        let comparatorMetrics = ComparatorMetrics(factory: metrics)
        let queue = DiffQueue(settings: DiffQueueSettings(size: queueSize, maxBytes: 1 << 20), metrics: comparatorMetrics)
        var logger = Logger(label: "pipeline")
        logger.logLevel = .critical
        let pipeline = DiffPipeline(queue: queue, recorder: recorder, writer: "test", metrics: comparatorMetrics, logger: logger,
                                    maxAttempts: maxAttempts, maxPending: maxPending)
        return (pipeline, queue)
    }

    /// A pair for `orders`: old answered `{"a":1,"email":…}`, new `{"a":NEW,…}`.
    func pair(new value: Int, id: String = UUID().uuidString) -> ShadowPair {
        func answer(_ body: String) -> CapturedAnswer {
            CapturedAnswer(head: ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nSet-Cookie: s=COOKIE\r\n\r\n"),
                           status: 200, body: ByteBuffer(string: body), chunked: false, truncated: false)
        }
        var rules = CompareRules.defaults
        rules.redact = [PointerPattern.parse("/email")!]
        return ShadowPair(route: "orders", rules: rules, requestID: id,
                          requestHead: ByteBuffer(string: "GET /orders/1 HTTP/1.1\r\nHost: a\r\nAuthorization: Bearer TOKEN\r\n\r\n"),
                          old: answer(#"{"a":1,"email":"bob@example.com"}"#),
                          new: .answered(answer(#"{"a":\#(value),"email":"bob@example.com"}"#)), noise: nil)
    }

    var storeErrors: Int64 { metrics.counterTotal(label: ComparatorMetrics.Name.storeErrors) }
    var storeDropped: Int64 { metrics.counterTotal(label: ComparatorMetrics.Name.storeDropped) }

    @Test func countsWaitForAStoreThatIsDownAndArriveOnceItIsBack() async throws {
        let store = try await PartitionedStore.open()
        let (pipeline, queue) = pipeline(store)
        store.isReachable = false
        for value in [2, 2, 1] { queue.offer(pair(new: value)) }
        await pipeline.flush()
        await pipeline.flush()
        #expect(storeErrors == 2)
        #expect(pipeline.pendingBatches == 1)
        #expect(try await store.store.diffCounts(route: nil, sinceMinute: 0).isEmpty)

        store.isReachable = true
        await pipeline.flush()
        #expect(pipeline.pendingBatches == 0)
        let counts = try #require(try await store.store.diffCounts(route: "orders", sinceMinute: 0).first)
        #expect(counts.compared == 3)
        #expect(counts.fields["/a"]?.raw == 2)
        #expect(counts.fieldSets[["/a"]] == 2)
        let sample = try #require(try await store.store.diffSamples(route: "orders", field: "/a", limit: 1).first)
        #expect(sample.request.headers.first { $0.name == "authorization" }?.value == JSONRedactor.placeholder)
        #expect(sample.old.headers.first { $0.name == "set-cookie" }?.value == JSONRedactor.placeholder)
        #expect(sample.old.body == #"{"a":1,"email":"[redacted]"}"#)
        #expect(sample.new?.body == #"{"a":2,"email":"[redacted]"}"#)
        #expect(storeDropped == 0)
        await store.close()
    }

    @Test func aStoreDownPastTheBoundsLosesCountedBatchesAndNothingElse() async throws {
        let store = try await PartitionedStore.open()
        let (pipeline, queue) = pipeline(store, maxAttempts: 3, maxPending: 2)
        store.isReachable = false
        // Three batches while at most two may wait: the oldest is dropped.
        for _ in 0..<3 {
            queue.offer(pair(new: 2))
            await pipeline.flush()
        }
        #expect(pipeline.pendingBatches == 2)
        #expect(storeDropped == 1)
        // Batches are retried oldest first; the older of the two waiting fails twice more: its third failure drops it.
        await pipeline.flush()
        #expect(pipeline.pendingBatches == 2)
        await pipeline.flush()
        #expect(pipeline.pendingBatches == 1)
        #expect(storeDropped == 2)

        store.isReachable = true
        await pipeline.flush()
        #expect(pipeline.pendingBatches == 0)
        #expect(try await store.store.diffCounts(route: "orders", sinceMinute: 0).first?.compared == 1, "only the batch still waiting")
        await store.close()
    }

    @Test func runComparesEveryQueuedPairThenFlushesWhenTheQueueCloses() async throws {
        let store = try await PartitionedStore.open()
        let (pipeline, queue) = pipeline(store, queueSize: 1_000)
        let running = Task { await pipeline.run() }
        for index in 0..<500 { queue.offer(pair(new: index % 5 == 0 ? 2 : 1)) }
        queue.close()
        await running.value
        #expect(pipeline.comparedPairs == 500)
        let counts = try #require(try await store.store.diffCounts(route: "orders", sinceMinute: 0).first)
        #expect(counts.compared == 500)
        #expect(counts.fields["/a"]?.raw == 100)
        #expect(!queue.offer(pair(new: 1)), "a closed queue takes nothing")
        await store.close()
    }
}
