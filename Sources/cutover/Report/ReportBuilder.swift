import CutoverCore
import CutoverStore
import Foundation

/// Builds the migration report from what the store holds: the audit log (every phase change, by whom and why), the
/// stored comparison counts, the host cutovers' journal and the reconciliations.
struct ReportBuilder {
    let config: CutoverConfig
    let store: Store

    func build(now: Date = Date()) async throws -> MigrationReport {
        let audit = try await allAuditEntries()
        let flagSet = try await store.flagSet()
        var routes: [MigrationReport.RouteReport] = []
        for route in config.routes {
            let counts = try await store.diffCounts(route: route.name, sinceMinute: 0).first ?? RouteDiffCounts(route: route.name)
            let summary = RouteSummary(counts: counts, thresholds: route.compare.noise)
            var timeline: [MigrationReport.PhaseEvent] = []
            for entry in audit where entry.route == route.name {
                guard let before = entry.before?.phase, let after = entry.after?.phase, before != after else { continue }
                var event = MigrationReport.PhaseEvent(at: entry.timeMs, from: before.rawValue, to: after.rawValue, actor: entry.actor,
                                                       action: entry.action, reason: entry.reason)
                if before <= .shadow, after >= .gray {
                    // What the gate saw: the comparison over the route's gate window up to the promotion.
                    let minute = entry.timeMs / 60_000
                    let since = minute - max(1, route.gates.window.components.seconds / 60) + 1
                    let window = try await store.diffCounts(route: route.name, sinceMinute: since, untilMinute: minute + 1).first
                        ?? RouteDiffCounts(route: route.name)
                    let rate = RouteSummary(counts: window, thresholds: route.compare.noise)
                    event.compared = rate.compared
                    event.diffRate = rate.diffRate
                }
                timeline.append(event)
            }
            let phase = (flagSet.routes[route.name] ?? RouteFlags(route: route)).phase
            routes.append(MigrationReport.RouteReport(name: route.name, phase: phase.rawValue, compared: summary.compared, differing: summary.differing,
                                                      diffRate: summary.diffRate, timeline: timeline,
                                                      rollbacks: timeline.filter { Phase(rawValue: $0.to)! < Phase(rawValue: $0.from)! }))
        }
        // Each task's latest run (the journal lists runs newest first).
        var latest: [String: HostRun] = [:]
        for run in try await store.hostRuns(id: nil) where latest[run.task] == nil { latest[run.task] = run }
        let hostTasks = latest.values.sorted { $0.startedAt < $1.startedAt }.map { run in
            MigrationReport.HostTaskReport(task: run.task, run: run.id, status: run.status.rawValue, reason: run.reason, startedAt: run.startedAt,
                                           finishedAt: run.finishedAt, figures: run.figures)
        }
        let reconciliations = try await store.reconcileRuns(limit: 20).map { run in
            MigrationReport.ReconcileReport(run: run.id, status: run.status.rawValue, finishedAt: run.finishedAt, tables: run.results,
                                            clean: run.status == .finished && run.results.allSatisfy(\.isEqual))
        }
        // The migration began with the first recorded change and ended with the last: a phase change, a host run's end.
        let starts = audit.map(\.timeMs) + hostTasks.map(\.startedAt)
        let ends = audit.map(\.timeMs) + hostTasks.compactMap(\.finishedAt)
        var notes: [String] = []
        if audit.isEmpty { notes.append("the audit log is empty: no route changed phase yet") }
        if hostTasks.isEmpty { notes.append("no host cutover has run: the downtime is that of none") }
        notes.append("new against old latency per route is not recorded from the shadow pairs yet; the host cutovers' latency before and after is")
        return MigrationReport(generatedAt: Int64(now.timeIntervalSince1970 * 1000), migration: .init(startedAt: starts.min(), finishedAt: ends.max()),
                               downtimeSeconds: hostTasks.compactMap { $0.figures["downtime_seconds"] }.reduce(0, +),
                               routes: routes, hostTasks: hostTasks, reconciliations: reconciliations, notes: notes)
    }

    /// The whole audit log, oldest first, read a page at a time.
    private func allAuditEntries() async throws -> [AuditEntry] {
        var entries: [AuditEntry] = []
        var before: Int64?
        while true {
            let page = try await store.auditEntries(route: nil, limit: 500, beforeSeq: before)
            entries += page
            guard page.count == 500, let oldest = page.map(\.seq).min() else { break }
            before = oldest
        }
        return entries.sorted { $0.seq < $1.seq }
    }
}
