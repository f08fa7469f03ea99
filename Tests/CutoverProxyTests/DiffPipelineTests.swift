@testable import CutoverProxy
import CutoverCore
import CutoverStore
import Foundation
import Logging
import MetricsTestKit
import NIOConcurrencyHelpers
import NIOCore
import CutoverTestSupport
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

@Suite("Diff pipeline", .timeLimit(.minutes(1)))
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
        #expect(try metrics.expectGauge(ComparatorMetrics.Name.pendingBatches).lastValue == 1, "the waiting batch is exported")
        #expect(try await store.store.diffCounts(route: nil, sinceMinute: 0).isEmpty)

        store.isReachable = true
        await pipeline.flush()
        #expect(pipeline.pendingBatches == 0)
        #expect(try metrics.expectGauge(ComparatorMetrics.Name.pendingBatches).lastValue == 0)
        #expect(try metrics.expectGauge(ComparatorMetrics.Name.queueDepth).lastValue == 0)
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

/// The compare rules end to end: real backends behind a real gateway, the pipeline
/// comparing what the gateway queued, the counts read back from a real store.
@Suite("Compare rules end to end", .timeLimit(.minutes(1)))
struct CompareRulesEndToEndTests {
    @Sendable static func json(_ body: String) -> BackendReply {
        .send("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body)
    }

    @Test func onlyRealDifferencesAreReportedAsSuch() async throws {
        let json = Self.json
        let shared = #""id":7,"price":10.0,"tags":[{"id":1},{"id":2}],"total":5"#
        let old = try await TestBackend.start { _ in
            json(#"{\#(shared),"generated_at":"t1","ratio":0.3333333,"by_user":{"1234":{"n":1}},"rand":"\#(UUID())"}"#)
        }
        let secondary = try await TestBackend.start { _ in
            json(#"{\#(shared),"generated_at":"t9","ratio":0.3333333,"by_user":{"1234":{"n":1}},"rand":"\#(UUID())"}"#)
        }
        // New: the same price written as an integer, tags in another order, a ratio within the tolerance,
        // another generated_at (ignored), and real differences in total and the per-user counter.
        let new = try await TestBackend.start { _ in
            json(#"{"id":7,"price":10,"tags":[{"id":2},{"id":1}],"total":6,"generated_at":"t2","ratio":0.3333334,"by_user":{"1234":{"n":2}},"rand":"\#(UUID())"}"#)
        }
        let gateway = try await TestGateway.start("""
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            backends:
              old: { url: "\(old.url)" }
              old-secondary: { url: "\(secondary.url)" }
              new: { url: "\(new.url)" }
            routes:
              - name: orders
                match: { prefix: /orders }
                phase: shadow
                compare:
                  ignore: ["/generated_at"]
                  sort_arrays: { "/tags": "/id" }
                  float_tolerance: 0.001
            """)
        let store = try await PartitionedStore.open()
        let metrics = TestMetrics()
        var logger = Logger(label: "pipeline")
        logger.logLevel = .critical
        let pipeline = DiffPipeline(queue: gateway.server.diffQueue, recorder: store, writer: "e2e",
                                    metrics: ComparatorMetrics(factory: metrics), logger: logger)
        for index in 1...20 {
            let client = try await TestConnection.connect(port: gateway.port)
            try await client.send("GET /orders/\(index) HTTP/1.1\r\nHost: a\r\n\r\n")
            #expect(try await client.response().status == 200)
            await client.close()
        }
        try await waitUntil("20 pairs queued") { gateway.server.diffQueue.depth == 20 }
        await pipeline.flush()

        let counts = try #require(try await store.store.diffCounts(route: "orders", sinceMinute: 0).first)
        let summary = RouteSummary(counts: counts, thresholds: .defaults)
        #expect(summary.compared == 20)
        #expect(Dictionary(uniqueKeysWithValues: summary.fields.map { ($0.path, $0.verdict) })
                == ["/total": .difference, "/by_user/*/n": .difference, "/rand": .noise])
        #expect(summary.differing == 20)
        #expect(summary.noise == 0)
        #expect(summary.fields.first { $0.path == "/rand" }?.noise == 20)
        await gateway.stop()
        await store.close()
        for backend in [old, secondary, new] { await backend.stop() }
    }
}
