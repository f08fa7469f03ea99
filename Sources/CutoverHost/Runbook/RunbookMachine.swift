import CutoverCore

/// The host cutover of one task as a state machine: events in (a step finished, a step failed, an operator asked
/// for a rollback), actions out (run this step, the run is over); no I/O inside. The steps go
/// `precheck → (lower TTL) → sync passes → stop old → final sync → start new → health → float → verify → done`; a failure after
/// the old service was stopped undoes what was done, newest first (`float back → stop new → start old → verify
/// old`), and a failure before it stops the run with nothing changed. Every step is idempotent, so a run resumed
/// from its journal after a crash runs the step that was under way again (``resume(finished:)``).
public struct RunbookMachine: Sendable, Hashable {
    public enum Step: String, Sendable, Hashable, Codable, CaseIterable {
        case precheck
        /// The DNS float's TTL lowered and the old one waited out (tasks that move a name only).
        case lowerTTL = "lower_ttl"
        case sync
        case stopOld = "stop_old"
        case finalSync = "final_sync"
        case startNew = "start_new"
        case health, float, verify
        // Rolling back.
        case floatBack = "float_back"
        case stopNew = "stop_new"
        case startOld = "start_old"
        case verifyOld = "verify_old"
        /// An operator's request to roll back, journaled (with its reason) where it was made; never run.
        case rollback

        /// Whether the step undoes part of a run.
        public var isRollback: Bool { [.floatBack, .stopNew, .startOld, .verifyOld].contains(self) }
    }

    /// How a run ended.
    public enum Outcome: Sendable, Hashable, Codable {
        /// The service runs on the new host, behind its address.
        case done
        /// A step failed before anything changed (a pre-check, a sync pass): the old host serves as before.
        case stopped(step: Step, reason: String)
        /// A step failed (or an operator asked) after the old service was stopped; everything was undone.
        case rolledBack(step: Step, reason: String)
        /// Undoing failed too: an operator must look (the journal says where it stopped).
        case rollbackFailed(step: Step, reason: String)
    }

    public enum Action: Sendable, Hashable {
        /// Run `step` (`pass` numbers the sync passes from 1).
        case run(Step, pass: Int)
        case finished(Outcome)
    }

    /// A step as the journal keeps it once it ended.
    public struct Finished: Sendable, Hashable, Codable {
        public var step: Step
        public var pass: Int
        /// For a sync pass: what it moved.
        public var sync: SyncPass?
        /// Why it failed, when it did.
        public var failure: String?

        public init(step: Step, pass: Int = 0, sync: SyncPass? = nil, failure: String? = nil) {
            self.step = step
            self.pass = pass
            self.sync = sync
            self.failure = failure
        }
    }

    private enum State: Sendable, Hashable {
        case idle
        case running(Step, pass: Int)
        /// Undoing, after `cause` failed (or was asked for) with `reason`.
        case rollingBack(Step, cause: Step, reason: String)
        case finished(Outcome)
    }

    private var state = State.idle
    public let rules: HostCutoverSettings.SyncRules
    public let budget: Duration
    /// The task has a service address (or name) to float.
    public let floats: Bool
    /// The task moves a DNS name: its TTL is lowered ahead, before the first sync pass.
    public let lowersTTL: Bool
    /// The sync passes run so far (while the old service ran).
    public private(set) var passes: [SyncPass] = []
    /// Why the sync passes stopped, once they did.
    public private(set) var convergence: SyncConvergence.Decision?
    /// What was changed and must be undone on a rollback.
    public private(set) var oldStopped = false
    public private(set) var newStarted = false
    public private(set) var floated = false
    /// The old service was started again by a rollback and not yet verified.
    public private(set) var oldUnverified = false

    public init(rules: HostCutoverSettings.SyncRules, budget: Duration, floats: Bool, lowersTTL: Bool = false) {
        self.rules = rules
        self.budget = budget
        self.floats = floats
        self.lowersTTL = lowersTTL
    }

    /// The step under way, if any.
    public var current: (step: Step, pass: Int)? {
        switch state {
        case .running(let step, let pass): return (step, pass)
        case .rollingBack(let step, _, _): return (step, 0)
        case .idle, .finished: return nil
        }
    }

    /// The run starts with its pre-checks.
    public mutating func start() -> Action {
        guard case .idle = state else { preconditionFailure("a runbook starts once; it is \(state)") }
        return run(.precheck)
    }

    /// `step` ended well (`sync` for a sync pass: what it moved).
    public mutating func succeeded(_ step: Step, sync: SyncPass? = nil) -> Action {
        switch state {
        case .running(let running, _) where running == step:
            return next(after: step, sync: sync)
        case .rollingBack(let running, let cause, let reason) where running == step:
            return nextUndo(after: step, cause: cause, reason: reason)
        default:
            preconditionFailure("\(step) ended, but the runbook is \(state)")
        }
    }

    /// `step` failed for `reason`.
    public mutating func failed(_ step: Step, reason: String) -> Action {
        switch state {
        case .running(let running, _) where running == step:
            guard oldStopped || step == .stopOld else {
                state = .finished(.stopped(step: step, reason: reason))
                return .finished(.stopped(step: step, reason: reason))
            }
            return beginRollback(cause: step, reason: reason)
        case .rollingBack(let running, _, _) where running == step:
            state = .finished(.rollbackFailed(step: step, reason: reason))
            return .finished(.rollbackFailed(step: step, reason: reason))
        default:
            preconditionFailure("\(step) failed, but the runbook is \(state)")
        }
    }

    /// An operator asks to go back (`cutover host rollback`), during a run, after it was done, or after a rollback
    /// that failed (to try again): what was done is undone, newest first; a step that was under way counts as done.
    public mutating func rollbackRequested(reason: String) -> Action {
        switch state {
        case .running(let step, _):
            return beginRollback(cause: step, reason: reason)
        case .finished(.done):
            return beginRollback(cause: .verify, reason: reason)
        case .finished(.rollbackFailed(let step, _)), .rollingBack(let step, _, _):
            return beginRollback(cause: step, reason: reason)
        case .idle, .finished(.stopped), .finished(.rolledBack):
            preconditionFailure("nothing to roll back: the runbook is \(state)")
        }
    }

    /// Whether ``rollbackRequested(reason:)`` has anything to undo (a run under way, done, or whose rollback failed).
    public var canRollBack: Bool {
        switch state {
        case .running, .rollingBack, .finished(.done), .finished(.rollbackFailed): return true
        case .idle, .finished(.stopped), .finished(.rolledBack): return false
        }
    }

    /// A journal that does not follow from the runbook (it was written under another configuration, or by hand).
    public struct JournalMismatch: Error, CustomStringConvertible {
        public var index: Int
        public var found: Step
        public var expected: Action
        public var description: String {
            let wanted: String
            switch expected {
            case .run(let step, let pass): wanted = step == .sync ? "sync pass \(pass)" : step.rawValue
            case .finished: wanted = "the end of the run"
            }
            return "the journal's step \(index + 1) is \(found.rawValue) where the runbook, under this configuration, has \(wanted)"
                + " (was the task's sync or service address changed since the run began?)"
        }
    }

    /// The machine of a run whose journal holds `finished` (in order), and the step to run now: the one that was
    /// under way when the runner stopped is run again (steps are idempotent). An operator's rollback request in the
    /// journal is replayed as one. Throws when the journal does not follow from the runbook under these settings:
    /// resuming would then run steps in an order nobody chose.
    public static func resume(finished: [Finished], rules: HostCutoverSettings.SyncRules, budget: Duration, floats: Bool,
                              lowersTTL: Bool = false) throws -> (RunbookMachine, Action) {
        var machine = RunbookMachine(rules: rules, budget: budget, floats: floats, lowersTTL: lowersTTL)
        var action = machine.start()
        for (index, entry) in finished.enumerated() {
            if entry.step == .rollback {
                guard machine.canRollBack else { throw JournalMismatch(index: index, found: entry.step, expected: action) }
                action = machine.rollbackRequested(reason: entry.failure ?? "rollback asked for")
                continue
            }
            guard case .run(let step, let pass) = action, step == entry.step, step != .sync || pass == entry.pass else {
                throw JournalMismatch(index: index, found: entry.step, expected: action)
            }
            action = entry.failure.map { machine.failed(entry.step, reason: $0) } ?? machine.succeeded(entry.step, sync: entry.sync)
        }
        return (machine, action)
    }

    // MARK: - Transitions

    private mutating func run(_ step: Step, pass: Int = 0) -> Action {
        state = .running(step, pass: pass)
        return .run(step, pass: pass)
    }

    private mutating func next(after step: Step, sync: SyncPass?) -> Action {
        switch step {
        case .precheck:
            return lowersTTL ? run(.lowerTTL) : run(.sync, pass: 1)
        case .lowerTTL:
            return run(.sync, pass: 1)
        case .sync:
            passes.append(sync ?? SyncPass(bytes: 0, duration: .zero))
            let decision = SyncConvergence.decide(after: passes, rules: rules, budget: budget)
            guard case .stop = decision else { return run(.sync, pass: passes.count + 1) }
            convergence = decision
            return run(.stopOld)
        case .stopOld:
            oldStopped = true
            return run(.finalSync)
        case .finalSync:
            return run(.startNew)
        case .startNew:
            newStarted = true
            return run(.health)
        case .health:
            return run(floats ? .float : .verify)
        case .float:
            floated = true
            return run(.verify)
        case .verify:
            state = .finished(.done)
            return .finished(.done)
        case .floatBack, .stopNew, .startOld, .verifyOld, .rollback:
            preconditionFailure("\(step) is a rollback step, but the runbook is \(state)")
        }
    }

    private mutating func beginRollback(cause: Step, reason: String) -> Action {
        // A step that failed or was cut off may have half happened (a service partly stopped, an address claimed
        // before the announcement failed): it is undone too, which its idempotent undo step allows.
        switch cause {
        case .stopOld: oldStopped = true
        case .startNew: newStarted = true
        case .float: floated = true
        default: break
        }
        return undo(from: nil, cause: cause, reason: reason)
    }

    private mutating func nextUndo(after step: Step, cause: Step, reason: String) -> Action {
        switch step {
        case .floatBack: floated = false
        case .stopNew: newStarted = false
        case .startOld:
            oldStopped = false
            oldUnverified = true
        case .verifyOld: oldUnverified = false
        default: break
        }
        return undo(from: step, cause: cause, reason: reason)
    }

    /// The next undo step after `done` (nil: from the first), or the end of the rollback.
    private mutating func undo(from done: Step?, cause: Step, reason: String) -> Action {
        let order: [Step] = [.floatBack, .stopNew, .startOld, .verifyOld]
        let start = done.flatMap { order.firstIndex(of: $0).map { $0 + 1 } } ?? 0
        for step in order[start...] {
            let needed: Bool
            switch step {
            case .floatBack: needed = floated
            case .stopNew: needed = newStarted
            case .startOld: needed = oldStopped
            // The old service is verified once it was started again.
            default: needed = oldUnverified
            }
            if needed {
                state = .rollingBack(step, cause: cause, reason: reason)
                return .run(step, pass: 0)
            }
        }
        state = .finished(.rolledBack(step: cause, reason: reason))
        return .finished(.rolledBack(step: cause, reason: reason))
    }
}
