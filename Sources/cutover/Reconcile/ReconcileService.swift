import CoreMetrics
import CutoverCore
import CutoverProxy
import CutoverReconcile
import Logging
import ServiceLifecycle

/// `reconcile.every` inside `cutover serve`: a run at start and then every
/// interval (the interval and tables as the configuration in force says), kept
/// in the store and exported as metrics:
/// - `cutover_reconcile_differences{table,kind}`: the latest run's missing, extra and changed rows.
/// - `cutover_reconcile_rows{table,side}`: rows compared on each side.
/// - `cutover_reconcile_duration_seconds{table}` and `cutover_reconcile_last_run_timestamp_seconds{table}`.
/// - `cutover_reconcile_runs_total{result}`: runs that found everything `equal`, found differences (`different`), or `failed`.
struct ReconcileService: Service {
    let proxy: ProxyServer
    let store: StoreService
    let factory: any MetricsFactory
    let logger: Logger

    enum Name {
        static let differences = "cutover_reconcile_differences"
        static let rows = "cutover_reconcile_rows"
        static let duration = "cutover_reconcile_duration_seconds"
        static let lastRun = "cutover_reconcile_last_run_timestamp_seconds"
        static let runs = "cutover_reconcile_runs_total"
    }

    func run() async throws {
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            guard let settings = proxy.config.reconcile, let every = settings.every else { return }
            // A stop cancels a run under way; its checkpoints stay, so `cutover reconcile --resume` can finish it.
            await cancelWhenGracefulShutdown { await runOnce(settings) }
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: every) }
        }
    }

    /// One run over every configured table pair.
    func runOnce(_ settings: ReconcileSettings) async {
        guard let opened = store.current else {
            logger.warning("reconcile skipped: the store is not open yet")
            return
        }
        let recorder = ReconcileRecorder(store: opened, tables: settings.tables.map(\.name))
        do {
            let reports = try await Reconciler(settings: settings, logger: logger).run(options: ReconcileOptions(
                checkpoint: { table, checkpoint in try await recorder.checkpoint(table, checkpoint) },
                finished: { report in
                    try await recorder.finished(report)
                    self.export(report)
                }))
            try await recorder.end(error: nil)
            let equal = reports.allSatisfy(\.isEqual)
            Counter(label: Name.runs, dimensions: [("result", equal ? "equal" : "different")], factory: factory).increment()
            let run = await recorder.runID
            logger.info("reconcile run finished", metadata: [
                "run": "\(run.map(String.init) ?? "-")",
                "differences": "\(reports.reduce(0) { $0 + $1.differences.count })",
            ])
        } catch {
            try? await recorder.end(error: "\(error)")
            Counter(label: Name.runs, dimensions: [("result", "failed")], factory: factory).increment()
            logger.error("reconcile run failed", metadata: ["error": "\(error)"])
        }
    }

    func export(_ report: TableReport) {
        let table = report.table
        for (kind, count) in [("missing", report.missingOnNew), ("extra", report.extraOnNew), ("changed", report.changed)] {
            Gauge(label: Name.differences, dimensions: [("table", table), ("kind", kind)], factory: factory).record(count)
        }
        Gauge(label: Name.rows, dimensions: [("table", table), ("side", "old")], factory: factory).record(report.oldRows)
        Gauge(label: Name.rows, dimensions: [("table", table), ("side", "new")], factory: factory).record(report.newRows)
        Gauge(label: Name.duration, dimensions: [("table", table)], factory: factory).record(report.seconds)
        Gauge(label: Name.lastRun, dimensions: [("table", table)], factory: factory).record(ReconcileRecorder.now() / 1000)
    }
}
