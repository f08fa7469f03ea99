import CutoverCore
import CutoverStore
import Foundation

/// An event of the plan, as its webhooks receive it.
public struct PlanEvent: Sendable, Codable {
    /// `started`, `done`, `blocked`, `rolled_back` or `confirmed`.
    public var event: String
    public var step: String
    public var owner: String
    public var kind: String
    public var actor: String
    public var at: Int64
    public var message: String
    public var gates: [GateResult]
}

/// The migration plan carried out: each step's evidence judged on the store, confirmations, actions through the same
/// gated path as the API (``RouteControl``), every transition written with its audit entry before it is answered,
/// and the webhooks told.
public struct PlanControl: Sendable {
    public let store: Store
    public let config: CutoverConfig
    public let plan: PlanSettings
    /// Tells the plan's webhooks (in the background: a slow receiver does not hold the answer).
    public var notify: @Sendable (PlanEvent) -> Void
    /// Starts a host task's run (the gateway's); nil: the step waits for one started with `cutover host run`.
    public var startHostTask: (@Sendable (_ store: Store, _ task: String, _ actor: String) async throws -> Int64)?

    public init(store: Store, config: CutoverConfig, plan: PlanSettings, notify: @escaping @Sendable (PlanEvent) -> Void = { _ in }) {
        self.store = store
        self.config = config
        self.plan = plan
        self.notify = notify
    }

    private var routes: RouteControl { RouteControl(store: store, config: config) }

    /// Every step with its state, and the next step's evidence.
    public func status(now: Date = Date()) async throws -> PlanStatus {
        let records = try await store.planSteps()
        let next = plan.steps.first { records[$0.name]?.status != .done }
        var steps: [PlanStatus.Step] = []
        for step in plan.steps {
            let record = records[step.name] ?? PlanStepRecord(name: step.name)
            let gates = step.name == next?.name ? try await evaluate(step, record: record, now: now) : nil
            steps.append(PlanStatus.Step(name: step.name, owner: step.owner, kind: step.kind.rawValue, description: step.description,
                                         status: record.status.rawValue, confirmedBy: record.confirmedBy, confirmedAt: record.confirmedAt,
                                         note: record.note, finishedAt: record.finishedAt, gates: gates))
        }
        return PlanStatus(next: next?.name, steps: steps)
    }

    /// A person confirms a manual step (it may be ahead of the next one: things happen when they happen).
    public func confirm(step name: String, note: String, actor: String, now: Date = Date()) async throws -> (PlanStepRecord, AuditEntry) {
        let step = try self.step(named: name)
        guard step.kind == .manual else {
            throw RouteControl.Refusal.conflict("step '\(name)' is a \(step.kind.rawValue) step: it passes on its evidence, not by a confirmation")
        }
        let trimmed = note.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw RouteControl.Refusal.badRequest("note is empty: say what was checked (the audit log keeps it)") }
        let time = Int64(now.timeIntervalSince1970 * 1000)
        try await announceStart(actor: actor, at: time)
        let record = PlanStepRecord(name: name, status: .confirmed, confirmedBy: actor, confirmedAt: time, note: trimmed)
        let entry = try await store.changePlan(subject: name, action: "plan_confirm", actor: actor, reason: trimmed, now: now) { current in
            if current[name]?.status == .done { throw RouteControl.Refusal.conflict("step '\(name)' is done already") }
            return [record]
        }
        notify(event("confirmed", step, actor: actor, at: time, message: trimmed))
        return (record, entry)
    }

    /// Performs the next step if its evidence holds (its action carried out for an action step), or says what
    /// failed, with the numbers.
    public func advance(actor: String, now: Date = Date()) async throws -> PlanAdvance {
        let records = try await store.planSteps()
        guard let step = plan.steps.first(where: { records[$0.name]?.status != .done }) else {
            throw RouteControl.Refusal.conflict("every step of the plan is done")
        }
        let record = records[step.name] ?? PlanStepRecord(name: step.name)
        let time = Int64(now.timeIntervalSince1970 * 1000)
        if records.isEmpty { try await announceStart(actor: actor, at: time) }
        let gates = try await evaluate(step, record: record, now: now)
        let failed = gates.filter { !$0.passed }
        guard failed.isEmpty else {
            let message = "step '\(step.name)' cannot be done: " + failed.map(\.message).joined(separator: "; ")
            notify(event("blocked", step, actor: actor, at: time, message: message, gates: gates))
            return PlanAdvance(step: step.name, done: false, message: message, gates: gates, audit: nil)
        }
        var before: [String: String] = [:]
        var moved: [String] = []
        switch step.action {
        case .phase(let phase, let names)?:
            let flagSet = try await store.flagSet()
            for route in config.routes where names?.contains(route.name) ?? true {
                let current = (flagSet.routes[route.name] ?? RouteFlags(route: route)).phase
                guard current < phase else { continue }
                do {
                    _ = try await routes.changePhase(route: route.name, to: phase, reason: "plan step \(step.name): \(step.description)", force: false,
                                                     abandonNewIDs: false, actor: actor)
                } catch RouteControl.Refusal.gates(let reason, let routeGates) {
                    let message = "step '\(step.name)' stopped at route \(route.name): \(reason)"
                        + (moved.isEmpty ? "" : " (moved before it: \(moved.joined(separator: ", ")))")
                    if !moved.isEmpty {
                        // The routes moved so far stay moved: their phases before are kept, for a rollback to find.
                        var partial = record
                        partial.before = (record.before ?? [:]).merging(before) { old, _ in old }
                        _ = try await writeUnlessDone(partial, reason: message, actor: actor, now: now)
                    }
                    notify(event("blocked", step, actor: actor, at: time, message: message, gates: routeGates))
                    return PlanAdvance(step: step.name, done: false, message: message, gates: routeGates, audit: nil, moved: moved)
                }
                before[route.name] = current.rawValue
                moved.append(route.name)
            }
        case .hostTask(let task)?:
            let latest = try await store.hostRuns(id: nil).first { $0.task == task }
            if latest?.status != .done {
                let message: String
                var begun: Int64?
                if let latest, latest.status == .running {
                    message = "step '\(step.name)': run \(latest.id) of \(task) is under way; advance again once it is done"
                } else if let startHostTask {
                    let run = try await startHostTask(store, task, actor)
                    begun = run
                    message = "step '\(step.name)': run \(run) of \(task) begun (GET /api/v1/host/runs/\(run)); advance again once it is done"
                    var running = record
                    running.status = .running
                    _ = try await writeUnlessDone(running, reason: "host run \(run) of \(task) begun", actor: actor, now: now)
                } else {
                    message = "step '\(step.name)': the host cutover of \(task) is not done: run cutover host run --config FILE --task \(task)"
                }
                let gate = GateResult(gate: "host_run", passed: false, value: (begun ?? latest?.id).map(Double.init), limit: nil, message: message)
                notify(event(begun != nil ? "started" : "blocked", step, actor: actor, at: time, message: message, gates: [gate]))
                return PlanAdvance(step: step.name, done: false, message: message, gates: gates + [gate], audit: nil, hostRun: begun)
            }
        case nil:
            break
        }
        var done = record
        done.status = .done
        done.finishedAt = time
        // With the phases routes had before an earlier, partial attempt of this step (kept from then).
        let allBefore = (record.before ?? [:]).merging(before) { old, _ in old }
        done.before = allBefore.isEmpty ? nil : allBefore
        let reason = "\(step.name) done" + (moved.isEmpty ? "" : ": moved \(moved.joined(separator: ", "))")
        let entry = try await writeUnlessDone(done, reason: reason, actor: actor, now: now)
        notify(event("done", step, actor: actor, at: time, message: reason, gates: gates))
        if let following = plan.steps.drop(while: { $0.name != step.name }).dropFirst().first {
            notify(event("started", following, actor: actor, at: time, message: "the next step"))
        }
        return PlanAdvance(step: step.name, done: true, message: reason, gates: gates, audit: entry, moved: moved)
    }

    /// Undoes `name` and every step done after it, newest first: routes an action moved go back to the phase they had,
    /// confirmations are dropped (they are to be given again). A done host cutover is undone by `cutover host
    /// rollback`, not here.
    public func rollback(step name: String, reason: String, actor: String, now: Date = Date()) async throws -> (AuditEntry, [String]) {
        _ = try step(named: name)
        let trimmed = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !trimmed.isEmpty else { throw RouteControl.Refusal.badRequest("reason is empty: say why the step is undone (the audit log keeps it)") }
        let records = try await store.planSteps()
        guard records[name]?.status == .done else { throw RouteControl.Refusal.conflict("step '\(name)' is not done: there is nothing to undo") }
        let undone = Array(plan.steps.drop { $0.name != name }.filter { records[$0.name] != nil }.reversed())
        for step in undone {
            if case .hostTask(let task) = step.action,
               let run = try await store.hostRuns(id: nil).first(where: { $0.task == task }), run.status == .done || run.status == .running {
                throw RouteControl.Refusal.conflict("step '\(step.name)': run \(run.id) of \(task) is \(run.status.rawValue): "
                                                    + (run.status == .done ? "undo it first (cutover host rollback \(run.id))" : "wait for it to end, or roll it back"))
            }
        }
        let names = undone.map(\.name)
        let entry = try await store.changePlan(subject: name, action: "plan_rollback", actor: actor, reason: trimmed, now: now) { current in
            // An advance or a confirmation between the read and now: its routes were not moved back. Refused; try again.
            guard names.allSatisfy({ current[$0] == records[$0] }), current.keys.count == records.keys.count else {
                throw RouteControl.Refusal.conflict("the plan changed while \(name) was being rolled back: run the rollback again")
            }
            return names.map { PlanStepRecord(name: $0) }
        }
        // Then the routes, back to the phases they had (a move back passes no gate).
        var moved: [String] = []
        for step in undone {
            for (route, phase) in (records[step.name]?.before ?? [:]).sorted(by: { $0.key < $1.key }) {
                guard let phase = Phase(rawValue: phase) else { continue }
                _ = try await routes.changePhase(route: route, to: phase, reason: "plan rollback of \(step.name): \(trimmed)", force: false,
                                                 abandonNewIDs: false, actor: actor)
                moved.append(route)
            }
        }
        let time = Int64(now.timeIntervalSince1970 * 1000)
        for step in undone { notify(event("rolled_back", step, actor: actor, at: time, message: trimmed)) }
        return (entry, moved)
    }

    /// Writes an advance's record of its step (audited as `plan_advance`), unless another advance did the step meanwhile.
    private func writeUnlessDone(_ record: PlanStepRecord, reason: String, actor: String, now: Date) async throws -> AuditEntry {
        try await store.changePlan(subject: record.name, action: "plan_advance", actor: actor, reason: reason, now: now) { current in
            if current[record.name]?.status == .done { throw RouteControl.Refusal.conflict("step '\(record.name)' was done meanwhile") }
            return [record]
        }
    }

    /// The plan's first call (nothing stored yet) starts its first step: the webhooks hear it as they hear the others.
    private func announceStart(actor: String, at time: Int64) async throws {
        guard let first = plan.steps.first, try await store.planSteps().isEmpty else { return }
        notify(event("started", first, actor: actor, at: time, message: "the plan begins"))
    }

    private func step(named name: String) throws -> PlanSettings.Step {
        guard let step = plan.step(named: name) else {
            throw RouteControl.Refusal.notFound("no step named '\(name)' in the plan; its steps: \(plan.steps.map(\.name).joined(separator: ", "))")
        }
        return step
    }

    private func event(_ kind: String, _ step: PlanSettings.Step, actor: String, at: Int64, message: String, gates: [GateResult] = []) -> PlanEvent {
        PlanEvent(event: kind, step: step.name, owner: step.owner, kind: step.kind.rawValue, actor: actor, at: at, message: message, gates: gates)
    }
}
