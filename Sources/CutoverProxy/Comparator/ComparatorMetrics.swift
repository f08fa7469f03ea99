import CoreMetrics
import NIOConcurrencyHelpers

/// The comparator's metrics:
/// - `cutover_shadow_requests_total{route,result,reason}`: requests of shadow routes, copied or skipped and why.
/// - `cutover_shadow_errors_total{route,kind}`: copies new did not answer, by kind.
/// - `cutover_diff_queue_dropped_total`: pairs dropped because the queue was full.
/// - `cutover_diffs_total{route,result}`: pairs compared (`equal`, `different`, `not_compared`).
/// - `cutover_diff_store_errors_total`: failed attempts to write to the store.
/// - `cutover_diff_store_dropped_total`: batches dropped after their retries ran out.
/// - `cutover_diff_queue_depth`: pairs waiting to be compared, as the comparator last saw it.
/// - `cutover_diff_store_pending_batches`: batches waiting for the store.
public final class ComparatorMetrics: Sendable {
    public enum Name {
        public static let shadowRequests = "cutover_shadow_requests_total"
        public static let shadowErrors = "cutover_shadow_errors_total"
        public static let queueDropped = "cutover_diff_queue_dropped_total"
        public static let diffs = "cutover_diffs_total"
        public static let storeErrors = "cutover_diff_store_errors_total"
        public static let storeDropped = "cutover_diff_store_dropped_total"
        public static let queueDepth = "cutover_diff_queue_depth"
        public static let pendingBatches = "cutover_diff_store_pending_batches"
    }

    private let factory: any MetricsFactory
    private let counters = NIOLockedValueBox<[String: Counter]>([:])
    private let dropped: Counter
    private let storeErrorCounter: Counter
    private let storeDroppedCounter: Counter
    private let queueDepthGauge: Gauge
    private let pendingBatchesGauge: Gauge

    public init(factory: any MetricsFactory) {
        self.factory = factory
        self.dropped = Counter(label: Name.queueDropped, dimensions: [], factory: factory)
        self.storeErrorCounter = Counter(label: Name.storeErrors, dimensions: [], factory: factory)
        self.storeDroppedCounter = Counter(label: Name.storeDropped, dimensions: [], factory: factory)
        self.queueDepthGauge = Gauge(label: Name.queueDepth, dimensions: [], factory: factory)
        self.pendingBatchesGauge = Gauge(label: Name.pendingBatches, dimensions: [], factory: factory)
    }

    func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "\u{0}\($0.0)=\($0.1)" }.joined()
        return counters.withLockedValue { counters in
            if let counter = counters[key] { return counter }
            let counter = Counter(label: label, dimensions: dimensions, factory: factory)
            counters[key] = counter
            return counter
        }
    }

    /// A request of a shadow route was copied to new.
    func mirrored(route: String) {
        counter(Name.shadowRequests, [("route", route), ("result", "mirrored"), ("reason", "")]).increment()
    }

    /// A request of a shadow route was not copied, and why (`write`, `sample`, `body_too_large`, `old_failed`, `old_not_2xx`,
    /// `new_busy`: every connection of the copies' pool was busy).
    func skipped(route: String, reason: String) {
        counter(Name.shadowRequests, [("route", route), ("result", "skipped"), ("reason", reason)]).increment()
    }

    /// New did not answer a copy.
    func mirrorFailed(route: String, kind: String) {
        counter(Name.shadowErrors, [("route", route), ("kind", kind)]).increment()
    }

    func queueDropped() { dropped.increment() }

    /// A pair was compared: `equal`, `different` or `not_compared`.
    public func compared(route: String, result: String) {
        counter(Name.diffs, [("route", route), ("result", result)]).increment()
    }

    public func storeError() { storeErrorCounter.increment() }
    public func storeDropped() { storeDroppedCounter.increment() }

    /// What is waiting: pairs in the queue, batches for the store.
    public func waiting(pairs: Int, batches: Int) {
        queueDepthGauge.record(pairs)
        pendingBatchesGauge.record(batches)
    }
}

/// One event loop's view of the comparator's counters: each counter is looked up under the shared lock once per
/// loop and then kept, so that counting a shadowed request on the loop takes no lock.
final class LoopComparatorCounters {
    private let metrics: ComparatorMetrics
    private var counters: [String: Counter] = [:]

    init(_ metrics: ComparatorMetrics) {
        self.metrics = metrics
    }

    private func counter(_ label: String, _ dimensions: [(String, String)]) -> Counter {
        let key = label + dimensions.map { "\u{0}" + $0.1 }.joined()
        if let counter = counters[key] { return counter }
        let counter = metrics.counter(label, dimensions)
        counters[key] = counter
        return counter
    }

    /// A request of a shadow route was copied to new.
    func mirrored(route: String) {
        counter(ComparatorMetrics.Name.shadowRequests, [("route", route), ("result", "mirrored"), ("reason", "")]).increment()
    }

    /// A request of a shadow route was not copied, and why.
    func skipped(route: String, reason: String) {
        counter(ComparatorMetrics.Name.shadowRequests, [("route", route), ("result", "skipped"), ("reason", reason)]).increment()
    }

    /// New did not answer a copy.
    func mirrorFailed(route: String, kind: String) {
        counter(ComparatorMetrics.Name.shadowErrors, [("route", route), ("kind", kind)]).increment()
    }
}
