import ArgumentParser
import CutoverCore
import CutoverStore
import Foundation
import Logging

/// `cutover report`: the migration as a whole, from the store.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Report on the migration: overall time, downtime, each route's phases, rollbacks and diff rates, host cutovers, reconciliations.",
        discussion: """
            Read from the configuration's store (the gateway need not run). The overall migration time runs from the \
            first recorded change (a phase change in the audit log, a host run's start) to the last; the downtime adds \
            up the host cutovers' measured downtime (each task's latest run). --html FILE writes one self-contained \
            page (no CDN: readable offline) with the phase timeline and the latency chart. Exit status: 0 reported; \
            2 bad input or a store that cannot be opened.
            """
    )

    @Option(name: .long, help: "The gateway's configuration file (its routes and its store).")
    var config: String

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    @Option(name: .long, help: "Write the report as a self-contained HTML file.")
    var html: String?

    func validate() throws {
        if json, html != nil { throw ValidationError("--json and --html are exclusive: one report at a time") }
    }

    func run() async throws {
        let loaded: CutoverConfig
        switch ConfigLoader.load(file: config) {
        case .success(let value): loaded = value
        case .failure(let error):
            for issue in error.issues { printError(issue.formatted(source: config)) }
            throw ExitCode(2)
        }
        LoggingBootstrap.once(level: .warning)
        var logger = Logger(label: "cutover")
        logger.logLevel = .warning
        let report: MigrationReport
        do {
            report = try await Store.withStore(loaded.store, logger: logger) { store in try await ReportBuilder(config: loaded, store: store).build() }
        } catch let error as StoreError {
            guard case .cannotOpen(let reason) = error else { throw error }
            printError("cutover report: cannot open the store \(loaded.store): \(reason)")
            throw ExitCode(2)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            return print(String(decoding: try encoder.encode(report), as: UTF8.self))
        }
        if let html {
            do {
                try ReportHTML.render(report).write(toFile: html, atomically: true, encoding: .utf8)
            } catch {
                printError("cutover report: cannot write \(html): \(error.localizedDescription)")
                throw ExitCode(2)
            }
            return print("wrote \(html)")
        }
        print("migration: " + (report.migration.seconds.map(ReportHTML.duration) ?? "not yet measured")
              + (report.migration.startedAt.map { " (from \(ReportHTML.time($0)) to \(report.migration.finishedAt.map(ReportHTML.time) ?? "now"))" } ?? ""))
        print("downtime: \(ReportHTML.duration(report.downtimeSeconds)) over \(report.hostTasks.count) host cutover\(report.hostTasks.count == 1 ? "" : "s")")
        var routes = TextTable(header: ["ROUTE", "PHASE", "COMPARED", "DIFF RATE", "CHANGES", "ROLLBACKS"], rightAligned: [2, 3, 4, 5])
        for route in report.routes {
            routes.append([route.name, route.phase, String(route.compared), ReportHTML.percent(route.diffRate), String(route.timeline.count), String(route.rollbacks.count)])
        }
        print(routes.text)
        for route in report.routes {
            for event in route.rollbacks {
                print("rollback \(route.name) \(event.from) -> \(event.to) at \(ReportHTML.time(event.at)) by \(event.actor): \(event.reason)")
            }
        }
        for task in report.hostTasks {
            let figures = ["downtime_seconds", "ip_outage_seconds", "migration_seconds"].compactMap { key in
                task.figures[key].map { "\(key.replacingOccurrences(of: "_seconds", with: "")) \(ReportHTML.duration($0))" }
            }
            print("host \(task.task): run \(task.run) \(task.status)" + (figures.isEmpty ? "" : ", " + figures.joined(separator: ", ")))
        }
        for run in report.reconciliations.prefix(3) {
            print("reconcile run \(run.run): \(run.status), " + (run.clean ? "every table equal" : "differences found"))
        }
        for note in report.notes { print("note: \(note)") }
    }
}
