import CutoverCore
import CutoverStore
import Foundation

/// The evidence of a plan step, judged on the store: every predicate a gate result with its numbers, and for a
/// manual step its confirmation.
extension PlanControl {
    func evaluate(_ step: PlanSettings.Step, record: PlanStepRecord, now: Date) async throws -> [GateResult] {
        var results: [GateResult] = []
        if step.kind == .manual {
            if record.status == .confirmed, let by = record.confirmedBy {
                results.append(GateResult(gate: "confirmed", passed: true, value: nil, limit: nil, message: "confirmed by \(by): \(record.note ?? "")"))
            } else {
                results.append(GateResult(gate: "confirmed", passed: false, value: nil, limit: nil,
                                          message: "waiting for \(step.owner)'s confirmation (cutover plan confirm \(step.name) --note …)"))
            }
        }
        for predicate in step.requires { results += try await evaluate(predicate, now: now) }
        return results
    }

    private func routes(_ names: [String]?) -> [Route] {
        config.routes.filter { names?.contains($0.name) ?? true }
    }

    private func evaluate(_ predicate: PlanSettings.Predicate, now: Date) async throws -> [GateResult] {
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        switch predicate {
        case .phase(let phase, let names):
            let flagSet = try await store.flagSet()
            return routes(names).map { route in
                let current = (flagSet.routes[route.name] ?? RouteFlags(route: route)).phase
                return GateResult(gate: "phase", passed: current >= phase, value: nil, limit: nil,
                                  message: "route \(route.name) is in \(current.rawValue); \(phase.rawValue) or beyond needed")
            }
        case .inPhase(let phase, let duration, let names):
            let flagSet = try await store.flagSet()
            var results: [GateResult] = []
            for route in routes(names) {
                let current = (flagSet.routes[route.name] ?? RouteFlags(route: route)).phase
                let entered = try await store.auditEntries(route: route.name, limit: 1000).first { entry in
                    entry.after?.phase == phase && entry.before?.phase != phase
                }
                let needed = Quantities.format(duration)
                guard current >= phase, let entered else {
                    results.append(GateResult(gate: "in_phase", passed: false, value: nil, limit: Double(duration.components.seconds),
                                              message: current < phase ? "route \(route.name) is in \(current.rawValue), not yet \(phase.rawValue)"
                                                : "route \(route.name) has no recorded move into \(phase.rawValue) (its configured phase): \(needed) cannot be counted"))
                    continue
                }
                let seconds = Double(nowMs - entered.timeMs) / 1000
                results.append(GateResult(gate: "in_phase", passed: current > phase || seconds >= Double(duration.components.seconds), value: seconds, limit: Double(duration.components.seconds),
                                          message: "route \(route.name) entered \(phase.rawValue) \(Quantities.format(.seconds(Int64(seconds)))) ago; \(needed) needed"))
            }
            return results
        case .diffRate(let below, let minCompared, let window, let names):
            var results: [GateResult] = []
            let sinceMinute = nowMs / 60_000 - max(1, window.components.seconds / 60) + 1
            for route in routes(names) {
                let counts = try await store.diffCounts(route: route.name, sinceMinute: sinceMinute).first ?? RouteDiffCounts(route: route.name)
                let summary = RouteSummary(counts: counts, thresholds: route.compare.noise)
                let span = Quantities.format(window)
                results.append(GateResult(gate: "min_compared", passed: summary.compared >= minCompared, value: Double(summary.compared), limit: Double(minCompared),
                                          message: "route \(route.name): \(summary.compared) compared in the last \(span); at least \(minCompared) needed"))
                results.append(GateResult(gate: "max_diff_rate", passed: summary.diffRate <= below, value: summary.diffRate, limit: below,
                                          message: "route \(route.name): diff rate \(Gates.percent(summary.diffRate)) in the last \(span); at most \(Gates.percent(below)) allowed"))
            }
            return results
        case .reconcileClean:
            guard let reconcile = config.reconcile else {
                return [GateResult(gate: "reconcile", passed: false, value: nil, limit: nil, message: "the configuration has no reconcile: section")]
            }
            var unclean: [String] = []
            for table in reconcile.tables where try await store.latestCleanReconcile(table: table.name) == nil { unclean.append(table.name) }
            return [GateResult(gate: "reconcile", passed: unclean.isEmpty, value: Double(unclean.count), limit: 0,
                               message: unclean.isEmpty ? "the latest reconciliation of every table pair is clean"
                                : "no clean latest reconciliation of \(unclean.joined(separator: ", ")) (run cutover reconcile)")]
        case .hostRun(let task):
            let run = try await store.hostRuns(id: nil).first { $0.task == task }
            return [GateResult(gate: "host_run", passed: run?.status == .done, value: run.map { Double($0.id) }, limit: nil,
                               message: run.map { "run \($0.id) of \(task) is \($0.status.rawValue)" } ?? "\(task) has not run (cutover host run --task \(task))")]
        }
    }
}
