import CoreMetrics
import CutoverCore
import CutoverStore
import Logging
import ServiceLifecycle

/// Exports the host cutover's journal as metrics from inside `cutover serve` (the runs themselves are carried out by
/// `cutover host`, which may run anywhere the store is reachable), read from the store every `every`:
/// - `cutover_host_runs_total{result}`: runs that ended `done`, `stopped`, `rolled_back` or `rollback_failed`;
/// - `cutover_host_step_duration_seconds{task,step}`: each step's time in the task's latest run (a sync pass's
///   under `sync`, the last one);
/// - `cutover_host_downtime_seconds{task}`: the downtime the task's latest finished run measured through its address;
/// - `cutover_ip_float_outage_seconds{task}`: the IP outage of its latest float, where one was measured.
struct HostRunMetricsService: Service {
    let store: StoreService
    let factory: any MetricsFactory
    let logger: Logger
    var every: Duration = .seconds(10)

    enum Name {
        static let runs = "cutover_host_runs_total"
        static let step = "cutover_host_step_duration_seconds"
        static let downtime = "cutover_host_downtime_seconds"
        static let outage = "cutover_ip_float_outage_seconds"
    }

    func run() async throws {
        var counted: Set<Int64> = []
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            guard let opened = store.current else {
                // Read as soon as the store is open, then every `every`.
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: .milliseconds(100)) }
                continue
            }
            do {
                export(try await opened.hostRuns(limit: 500), counted: &counted)
            } catch {
                logger.warning("host run metrics not read from the store", metadata: ["error": "\(error)"])
            }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: every) }
        }
    }

    /// Exports `runs` (newest first); `counted` holds the finished runs already added to the counter.
    func export(_ runs: [HostRun], counted: inout Set<Int64>) {
        var latestPerTask: Set<String> = []
        for run in runs {
            if run.status != .running, counted.insert(run.id).inserted {
                Counter(label: Name.runs, dimensions: [("result", run.status.rawValue)], factory: factory).increment()
            }
            guard latestPerTask.insert(run.task).inserted else { continue }
            for step in run.steps {
                guard let finished = step.finishedAt else { continue }
                Gauge(label: Name.step, dimensions: [("task", run.task), ("step", step.step)], factory: factory)
                    .record(Double(finished - step.startedAt) / 1000)
            }
            if let downtime = run.figures["downtime_seconds"] {
                Gauge(label: Name.downtime, dimensions: [("task", run.task)], factory: factory).record(downtime)
            }
            if let outage = run.figures["ip_outage_seconds"] {
                Gauge(label: Name.outage, dimensions: [("task", run.task)], factory: factory).record(outage)
            }
        }
    }
}
