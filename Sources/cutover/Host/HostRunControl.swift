import CutoverCore
import CutoverHost
import CutoverStore
import Foundation

/// Journals a run's steps in the store, each begun only while `holder` holds the run's lease.
struct StoreJournal: HostJournal {
    let store: Store
    let run: Int64
    var holder: RunHolder?

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func beginStep(_ step: RunbookMachine.Step, pass: Int) async throws -> Int64 {
        try await store.beginHostStep(run: run, step: step.rawValue, pass: pass, at: Self.now, holder: holder)
    }

    func finishStep(_ seq: Int64, result: HostStepRecord.Result, figures: [String: Double], commands: [HostStepRecord.Command], failure: String?) async throws {
        try await store.finishHostStep(run: run, seq: seq, result: result, figures: figures, commands: commands, failure: failure, at: Self.now,
                                       holder: holder)
    }

    func finishRun(status: HostRun.Status, reason: String?, figures: [String: Double]) async throws {
        try await store.finishHostRun(run, status: status, reason: reason, figures: figures, at: Self.now, holder: holder)
    }
}

/// Why a journaled run cannot be resumed or rolled back (the command line's exit 2; the admin API's 404 or 409).
enum HostRunRefusal: Error, CustomStringConvertible {
    /// There is no such run.
    case notFound(String)
    /// The run is in no state for it, or its journal cannot be continued.
    case conflict(String)

    var description: String {
        switch self {
        case .notFound(let reason), .conflict(let reason): return reason
        }
    }
}

/// A journaled run with its task and the runbook machine rebuilt from its journal.
struct JournaledRun: Sendable {
    var run: HostRun
    var task: HostCutoverSettings.Task
    var machine: RunbookMachine
    var next: RunbookMachine.Action

    /// Loads run `id` and replays its journal.
    static func load(_ id: Int64, settings: HostCutoverSettings, store: Store) async throws -> JournaledRun {
        guard let run = try await store.hostRuns(id: id, limit: 1).first else { throw HostRunRefusal.notFound("there is no host run \(id)") }
        guard let task = settings.task(named: run.task) else {
            throw HostRunRefusal.conflict("run \(id) is of task '\(run.task)', which the configuration no longer has")
        }
        var finished: [RunbookMachine.Finished] = []
        for step in run.steps where step.result != .running {
            guard let name = RunbookMachine.Step(rawValue: step.step) else {
                throw HostRunRefusal.conflict("run \(id)'s journal has a step '\(step.step)' this version does not know")
            }
            let sync = step.figures["bytes"].map { SyncPass(bytes: Int($0), duration: .seconds(step.figures["seconds"] ?? 0)) }
            // A rollback request keeps its reason where a step keeps its failure.
            let failure = name == .rollback ? step.failure : step.result == .failed ? (step.failure ?? "failed") : nil
            finished.append(RunbookMachine.Finished(step: name, pass: step.pass, sync: sync, failure: failure))
        }
        do {
            let (machine, action) = try RunbookMachine.resume(finished: finished, rules: task.sync, budget: task.downtimeBudget,
                                                              floats: task.float != nil, lowersTTL: task.floatsDNS)
            return JournaledRun(run: run, task: task, machine: machine, next: action)
        } catch let mismatch as RunbookMachine.JournalMismatch {
            throw HostRunRefusal.conflict("run \(id) cannot be continued: \(mismatch)")
        }
    }

    /// Takes run `id`'s lease (``HostLease/claim(_:store:reopen:audit:marker:)``; its refusals as
    /// ``HostRunRefusal``) and loads its journal under it; a journal that cannot be loaded gives the lease up again.
    static func claim(_ id: Int64, settings: HostCutoverSettings, store: Store, reopen: Bool = false,
                      audit: (action: String, actor: String, reason: String)? = nil,
                      marker: (step: String, reason: String)? = nil) async throws -> (HostLease, AuditEntry?, JournaledRun) {
        let lease: HostLease, entry: AuditEntry?
        do {
            (lease, entry) = try await HostLease.claim(id, store: store, reopen: reopen, audit: audit, marker: marker)
        } catch StoreError.conflict(let reason) {
            throw HostRunRefusal.conflict(reason)
        }
        do {
            return (lease, entry, try await load(id, settings: settings, store: store))
        } catch {
            try? await store.releaseHostRun(id, holder: lease.holder)
            lease.holder.released()
            throw error
        }
    }

    /// A run whose journal ends in an outcome while its status still says running (the runner stopped after its
    /// last step, before it wrote the end): the end is written now. The status written, nil for any other run.
    func closeIfFinished(store: Store) async throws -> HostRun.Status? {
        guard run.status == .running, case .finished(let outcome) = next else { return nil }
        let (status, reason) = outcome.status
        try await store.finishHostRun(run.id, status: status, reason: reason, figures: run.figures, at: StoreJournal.now)
        return status
    }
}

/// A rollback begun: the run's lease taken, the request journaled, the machine at its first undoing step
/// (`journaled.next`).
struct BegunRollback: Sendable {
    var lease: HostLease
    var journaled: JournaledRun
    /// The request's entry in the audit log.
    var audit: AuditEntry?

    /// Begins undoing run `id` for `reason`, asked for by `actor`: refused when the run has nothing to undo or
    /// another process carries it out. The lease, the reopened status, the audit entry and the request in the
    /// journal are one transaction; the journal, which ends in the request then, is replayed to the first undoing
    /// step, so a resume after this goes on undoing.
    static func begin(_ id: Int64, reason: String, actor: String, settings: HostCutoverSettings, store: Store) async throws -> BegunRollback {
        try await JournaledRun.load(id, settings: settings, store: store).undoable()
        let (lease, audit, journaled) = try await JournaledRun.claim(id, settings: settings, store: store, reopen: true,
                                                                      audit: ("host_rollback", actor, reason),
                                                                      marker: (RunbookMachine.Step.rollback.rawValue, reason))
        return BegunRollback(lease: lease, journaled: journaled, audit: audit)
    }

    /// Carries the rollback out to its end under the lease.
    func run(settings: HostCutoverSettings, say: @escaping @Sendable (String) -> Void = { _ in }) async throws -> (RunbookMachine.Outcome, [String: Double]) {
        var runner = HostRunner(task: journaled.task, in: settings, journal: lease.journal)
        runner.say = say
        let configured = runner, machine = journaled.machine, action = journaled.next
        return try await lease.holding { try await configured.run(machine, from: action) }
    }
}

extension JournaledRun {
    /// Refuses a rollback of a run with nothing to undo.
    func undoable() throws {
        guard [.running, .done, .rollbackFailed].contains(run.status), machine.canRollBack else {
            throw HostRunRefusal.conflict("run \(run.id) is \(run.status.rawValue); there is nothing to undo")
        }
    }
}
