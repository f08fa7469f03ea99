import ArgumentParser
import CutoverCore
import CutoverReconcile
import CutoverStore
import Foundation
import Logging

/// `cutover reconcile`: compares the old and the new database row for row.
struct ReconcileCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "reconcile",
        abstract: "Compare the old and the new database row for row: missing, extra and changed rows, per table pair.",
        discussion: """
            Reads the reconcile: section of the configuration (the gateway's keys may be in the same file). \
            Exit status: 0 when every pair is equal, 1 when differences were found, 2 on bad input \
            (a missing table or column, a key that is not unique, a database that cannot be reached).
            """
    )

    @Option(name: .long, help: "The YAML configuration file.")
    var config: String

    @Option(name: .long, help: "Only this table pair (repeatable).")
    var table: [String] = []

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    @Option(name: .customLong("max-differences"), help: "Stop a table pair once this many differences are found.")
    var maxDifferences: Int?

    @Option(name: .long, help: "Continue run RUN (as `cutover reconcile` printed it) from where it was interrupted.")
    var resume: Int64?

    @Option(name: .customLong("chunk-time"),
            help: "Read the first pass in chunks that take about this long each, resting as long after each (the configuration's chunk_time; 0 reads it at once).")
    var chunkTime: String?

    @Option(name: .customLong("log-level"), help: "trace, debug, info, notice, warning, error or critical.")
    var logLevel: Logger.Level = .warning

    func validate() throws {
        if let maxDifferences, maxDifferences < 1 { throw ValidationError("--max-differences must be at least 1, not \(maxDifferences)") }
        _ = try chunkDuration()
    }

    /// `--chunk-time` read: nil when not given, zero for no throttling.
    func chunkDuration() throws -> Duration? {
        guard let chunkTime else { return nil }
        guard let duration = Quantities.duration(chunkTime) else {
            throw ValidationError("--chunk-time '\(chunkTime)' is not a duration (as 500ms or 2s)")
        }
        return duration
    }

    func run() async throws {
        LoggingBootstrap.once(level: logLevel)
        var logger = Logger(label: "cutover")
        logger.logLevel = logLevel
        let loaded: ReconcileConfig
        switch ConfigLoader.loadReconcile(file: config) {
        case .success(let value): loaded = value
        case .failure(let error):
            for issue in error.issues { printError(issue.formatted(source: config)) }
            throw ExitCode(2)
        }
        do {
            let storeLogger = logger
            try await Store.withStore(loaded.store, logger: logger) { store in
                try await self.compare(loaded, store: store, logger: storeLogger)
            }
        } catch let error as StoreError {
            guard case .cannotOpen(let reason) = error else { throw error }
            printError("cutover reconcile: cannot open the store \(loaded.store): \(reason)")
            throw ExitCode(2)
        }
    }

    /// Compares the pairs, keeping the run in the store, and prints the report.
    func compare(_ loaded: ReconcileConfig, store: Store, logger: Logger) async throws {
        let (names, resumeState) = try await plan(loaded.reconcile, store: store)
        let recorder = ReconcileRecorder(store: store, tables: names.isEmpty ? loaded.reconcile.tables.map(\.name) : names,
                                         resuming: resume)
        let progress = ProgressBar.onTerminal()
        let reconciler = Reconciler(settings: loaded.reconcile, logger: logger)
        var reports: [TableReport]
        do {
            var options = ReconcileOptions(
                maxDifferences: maxDifferences, progress: progress?.update, resume: resumeState.checkpoints,
                checkpoint: { table, checkpoint in try await recorder.checkpoint(table, checkpoint) },
                finished: { report in try await recorder.finished(report) })
            options.chunkTime = try chunkDuration()
            let remaining = names.isEmpty ? nil : names.filter { !resumeState.finished.contains($0) }
            reports = remaining == [] ? [] : try await reconciler.run(tables: remaining, options: options)
            try await recorder.end(error: nil)
        } catch let error as ReconcileError {
            progress?.finish()
            try? await recorder.end(error: error.description)
            if case .badInput = error {
                printError("cutover reconcile: \(error); nothing was compared")
            } else {
                let run = await recorder.runID
                printError("cutover reconcile: \(error)" + (run.map { "; what was compared is kept in run \($0) (--resume \($0) continues it)" } ?? ""))
            }
            throw ExitCode(2)
        }
        progress?.finish()
        reports = try await resumeState.finishedReports(store: store, settings: loaded.reconcile) + reports
        if let run = await recorder.runID, !json { print("Run \(run)") }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(ReconcileOutput(tables: reports)), as: UTF8.self))
        } else {
            print(ReconcileText.render(reports))
        }
        if reports.contains(where: { !$0.isEqual }) { throw ExitCode(1) }
    }
}

/// `--json`'s document.
struct ReconcileOutput: Codable {
    var tables: [TableReport]
}

/// What a resumed run has done already.
struct ResumeState {
    var run: Int64?
    var finished: Set<String> = []
    var checkpoints: [String: ReconcileCheckpoint] = [:]

    /// The reports of the pairs finished before the resume, from the store.
    func finishedReports(store: Store, settings: ReconcileSettings) async throws -> [TableReport] {
        guard let run, let stored = try await store.reconcileRuns(id: run, limit: 1).first else { return [] }
        var reports: [TableReport] = []
        for summary in stored.results where finished.contains(summary.table) {
            let differences = try await store.reconcileDifferences(run: run, table: summary.table, limit: Int.max / 2, offset: 0).map(\.difference)
            let pair = settings.tables.first { $0.name == summary.table }
            reports.append(TableReport(table: summary.table, old: pair?.old ?? "", new: pair?.new ?? "", oldRows: summary.oldRows, newRows: summary.newRows,
                                       stoppedEarly: summary.stoppedEarly, differences: differences, seconds: summary.seconds))
        }
        return reports
    }
}

extension ReconcileCommand {
    /// The pairs to compare (empty: all) and, with --resume, what the run did already.
    func plan(_ settings: ReconcileSettings, store: Store) async throws -> ([String], ResumeState) {
        guard let resume else { return (table, ResumeState()) }
        guard let run = try await store.reconcileRuns(id: resume, limit: 1).first else {
            printError("cutover reconcile: there is no run \(resume) in the store to resume")
            throw ExitCode(2)
        }
        guard run.status != .finished else {
            printError("cutover reconcile: run \(resume) finished; there is nothing to resume")
            throw ExitCode(2)
        }
        for name in run.tables where !settings.tables.contains(where: { $0.name == name }) {
            printError("cutover reconcile: run \(resume) compared table pair '\(name)', which the configuration no longer has")
            throw ExitCode(2)
        }
        let state = ResumeState(run: resume, finished: Set(run.results.map(\.table)),
                                checkpoints: try await store.reconcileCheckpoints(run: resume))
        return (run.tables, state)
    }
}

/// The report as text.
enum ReconcileText {
    static func render(_ reports: [TableReport]) -> String {
        reports.map(render).joined(separator: "\n\n")
    }

    static func render(_ report: TableReport) -> String {
        let time = String(format: "%.2f s", report.seconds)
        let head = "\(report.table) (\(report.old) -> \(report.new)): \(report.oldRows) rows on old, \(report.newRows) on new, \(time)"
        if report.isEqual { return head + "\n  equal" }
        var lines = [head, "  \(report.missingOnNew) missing on new, \(report.extraOnNew) extra on new, \(report.changed) changed"
            + (report.stoppedEarly ? " (stopped at --max-differences; there may be more)" : "")]
        var table = TextTable(header: ["KIND", "KEY", "COLUMN", "OLD", "NEW"], indent: "  ")
        for difference in report.differences {
            if difference.columns.isEmpty {
                table.append([difference.kind.rawValue, difference.keyText])
            }
            for (index, column) in difference.columns.enumerated() {
                let name = column.newColumn.map { "\(column.column) -> \($0)" } ?? column.column
                table.append([index == 0 ? difference.kind.rawValue : "", index == 0 ? difference.keyText : "", name,
                              shown(column.old), shown(column.new)])
            }
        }
        lines.append(table.text)
        return lines.joined(separator: "\n")
    }

    static func shown(_ value: String?) -> String {
        guard let value else { return "NULL" }
        let flat = value.replacingOccurrences(of: "\n", with: " ")
        return flat.count > 60 ? String(flat.prefix(60)) + "…" : flat
    }
}

/// A progress line on standard error while buckets are settled, when standard error is a terminal.
final class ProgressBar: @unchecked Sendable {
    private let lock = NSLock()
    private var drawn = false

    static func onTerminal() -> ProgressBar? {
        isatty(2) == 1 ? ProgressBar() : nil
    }

    @Sendable func update(_ table: String, _ done: Int, _ total: Int) {
        lock.lock()
        defer { lock.unlock() }
        let width = 30
        let filled = total == 0 ? width : width * done / total
        let bar = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        FileHandleWriter.standardError("\r\(table): [\(bar)] \(done)/\(total) differing buckets settled\u{1B}[K")
        drawn = true
    }

    func finish() {
        lock.lock()
        defer { lock.unlock() }
        if drawn { FileHandleWriter.standardError("\r\u{1B}[K") }
    }
}
