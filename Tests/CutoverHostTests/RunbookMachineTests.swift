import CutoverCore
@testable import CutoverHost
import Testing

/// The runbook's steps and their undoing, without a host: the order of a run, the sync passes, every failure's
/// rollback, an operator's rollback, and a run resumed from its journal at every point.
@Suite("Runbook machine")
struct RunbookMachineTests {
    typealias Step = RunbookMachine.Step
    static let mib = 1024 * 1024
    let rules = HostCutoverSettings.SyncRules.defaults

    func machine(floats: Bool = true) -> RunbookMachine {
        RunbookMachine(rules: rules, budget: .seconds(5), floats: floats)
    }

    /// Drives a machine through a run: each step succeeds, sync passes move `passes` in turn.
    func run(_ machine: inout RunbookMachine, passes: [SyncPass], failing: Step? = nil) -> (steps: [Step], end: RunbookMachine.Action) {
        var steps: [Step] = []
        var action = machine.start()
        var remaining = passes
        while case .run(let step, _) = action {
            steps.append(step)
            if step == failing {
                action = machine.failed(step, reason: "\(step) broke")
                continue
            }
            action = machine.succeeded(step, sync: step == .sync ? remaining.removeFirst() : nil)
        }
        return (steps, action)
    }

    let converging = [SyncPass(bytes: 800 * mib, duration: .seconds(60)), SyncPass(bytes: 300 * mib, duration: .seconds(20)),
                      SyncPass(bytes: mib / 2, duration: .milliseconds(300))]

    @Test func aRunGoesThroughEveryStepInOrder() {
        var machine = machine()
        let (steps, end) = run(&machine, passes: converging)
        #expect(steps == [.precheck, .sync, .sync, .sync, .stopOld, .finalSync, .startNew, .health, .float, .verify])
        #expect(end == .finished(.done))
        #expect(machine.passes.count == 3)
        #expect(machine.convergence == .stop(.converged, withinBudget: true))
        #expect(machine.oldStopped && machine.newStarted && machine.floated)
    }

    @Test func aTaskThatMovesItsNameLowersTheTTLBeforeTheFirstSyncPass() throws {
        var machine = RunbookMachine(rules: rules, budget: .seconds(5), floats: true, lowersTTL: true)
        #expect(run(&machine, passes: converging).steps == [.precheck, .lowerTTL, .sync, .sync, .sync, .stopOld, .finalSync, .startNew, .health,
                                                             .float, .verify])
        // Lowering the TTL changes nothing a rollback must undo: its failure stops the run.
        var failing = RunbookMachine(rules: rules, budget: .seconds(5), floats: true, lowersTTL: true)
        #expect(run(&failing, passes: converging, failing: .lowerTTL).end == .finished(.stopped(step: .lowerTTL, reason: "lowerTTL broke")))
        // Resumed from a journal that holds it, the run goes on with the first sync pass.
        let (_, next) = try RunbookMachine.resume(finished: [.init(step: .precheck), .init(step: .lowerTTL)], rules: rules, budget: .seconds(5),
                                                  floats: true, lowersTTL: true)
        #expect(next == .run(.sync, pass: 1))
    }

    @Test func aTaskWithoutAServiceAddressDoesNotFloat() {
        var machine = machine(floats: false)
        #expect(run(&machine, passes: converging).steps == [.precheck, .sync, .sync, .sync, .stopOld, .finalSync, .startNew, .health, .verify])
    }

    @Test func syncPassesAreNumbered() {
        var machine = machine()
        #expect(machine.start() == .run(.precheck, pass: 0))
        #expect(machine.succeeded(.precheck) == .run(.sync, pass: 1))
        #expect(machine.succeeded(.sync, sync: converging[0]) == .run(.sync, pass: 2))
        #expect(machine.current?.pass == 2)
    }

    @Test(arguments: [Step.precheck, .sync])
    func aFailureBeforeTheStopChangesNothing(step: Step) {
        var machine = machine()
        let (steps, end) = run(&machine, passes: converging, failing: step)
        #expect(steps.last == step)
        #expect(end == .finished(.stopped(step: step, reason: "\(step) broke")))
        #expect(!machine.oldStopped)
    }

    @Test(arguments: [
        (Step.stopOld, [Step.startOld, .verifyOld]),
        (.finalSync, [.startOld, .verifyOld]),
        (.startNew, [.stopNew, .startOld, .verifyOld]),
        (.health, [.stopNew, .startOld, .verifyOld]),
        (.float, [.floatBack, .stopNew, .startOld, .verifyOld]),
        (.verify, [.floatBack, .stopNew, .startOld, .verifyOld]),
    ])
    func aFailureAfterTheStopIsUndoneNewestFirst(step: Step, undo: [Step]) {
        var machine = machine()
        let (steps, end) = run(&machine, passes: converging, failing: step)
        let failedAt = steps.firstIndex(of: step)!
        #expect(Array(steps[(failedAt + 1)...]) == undo)
        #expect(end == .finished(.rolledBack(step: step, reason: "\(step) broke")))
        #expect(!machine.oldStopped && !machine.newStarted && !machine.floated && !machine.oldUnverified)
    }

    @Test func aFailingUndoNeedsAnOperatorAndCanBeTriedAgain() {
        var again = machine()
        var action = again.start()
        while case .run(let step, _) = action, step != .verify { action = again.succeeded(step, sync: step == .sync ? converging[min(again.passes.count, 2)] : nil) }
        #expect(again.failed(.verify, reason: "no answer") == .run(.floatBack, pass: 0))
        #expect(again.succeeded(.floatBack) == .run(.stopNew, pass: 0))
        #expect(again.failed(.stopNew, reason: "still running") == .finished(.rollbackFailed(step: .stopNew, reason: "still running")))
        // The operator's second try starts from what is still undone.
        #expect(again.rollbackRequested(reason: "try again") == .run(.stopNew, pass: 0))
        #expect(again.succeeded(.stopNew) == .run(.startOld, pass: 0))
        #expect(again.succeeded(.startOld) == .run(.verifyOld, pass: 0))
        #expect(again.failed(.verifyOld, reason: "old is slow") == .finished(.rollbackFailed(step: .verifyOld, reason: "old is slow")))
        #expect(again.rollbackRequested(reason: "once more") == .run(.verifyOld, pass: 0), "the restarted old service is still to verify")
        #expect(again.succeeded(.verifyOld) == .finished(.rolledBack(step: .verifyOld, reason: "once more")))
    }

    @Test func anOperatorCanRollBackADoneRun() {
        var machine = machine()
        _ = run(&machine, passes: converging)
        var steps: [Step] = []
        var action = machine.rollbackRequested(reason: "new is wrong")
        while case .run(let step, _) = action {
            steps.append(step)
            action = machine.succeeded(step)
        }
        #expect(steps == [.floatBack, .stopNew, .startOld, .verifyOld])
        #expect(action == .finished(.rolledBack(step: .verify, reason: "new is wrong")))
    }

    @Test func aStepCutOffMidwayIsUndoneToo() {
        var machine = machine()
        var action = machine.start()
        while case .run(let step, _) = action, step != .float { action = machine.succeeded(step, sync: step == .sync ? converging[min(machine.passes.count, 2)] : nil) }
        // The runner died during the float; the operator rolls back: the address may have moved.
        #expect(machine.rollbackRequested(reason: "runner killed") == .run(.floatBack, pass: 0))
    }

    @Test func aResumedRunContinuesWithTheStepUnderWay() throws {
        // The journal of a live run, step by step; after each prefix, resuming gives the live machine's next step.
        var live = machine()
        var journal: [RunbookMachine.Finished] = []
        var action = live.start()
        var passes = converging
        while case .run(let step, let pass) = action {
            let (resumed, next) = try RunbookMachine.resume(finished: journal, rules: rules, budget: .seconds(5), floats: true)
            #expect(next == action, "after \(journal.map(\.step))")
            #expect(resumed.passes == live.passes)
            let sync = step == .sync ? passes.removeFirst() : nil
            journal.append(.init(step: step, pass: pass, sync: sync))
            action = live.succeeded(step, sync: sync)
        }
        #expect(try RunbookMachine.resume(finished: journal, rules: rules, budget: .seconds(5), floats: true).1 == .finished(.done))
    }

    @Test func aResumedRunThatWasRollingBackGoesOnUndoing() throws {
        let journal: [RunbookMachine.Finished] = [
            .init(step: .precheck), .init(step: .sync, pass: 1, sync: converging[2]), .init(step: .stopOld), .init(step: .finalSync),
            .init(step: .startNew), .init(step: .health), .init(step: .float), .init(step: .verify, failure: "no answer"), .init(step: .floatBack),
        ]
        let (machine, next) = try RunbookMachine.resume(finished: journal, rules: rules, budget: .seconds(5), floats: true)
        #expect(next == .run(.stopNew, pass: 0))
        #expect(!machine.floated && machine.newStarted && machine.oldStopped)
    }

    @Test func anOperatorsRollbackInTheJournalIsReplayed() throws {
        // Cut off during start_new; the operator's rollback, itself cut off during start_old.
        let journal: [RunbookMachine.Finished] = [
            .init(step: .precheck), .init(step: .sync, pass: 1, sync: converging[2]), .init(step: .stopOld), .init(step: .finalSync),
            .init(step: .rollback, failure: "runner killed"), .init(step: .stopNew),
        ]
        let (machine, next) = try RunbookMachine.resume(finished: journal, rules: rules, budget: .seconds(5), floats: true)
        #expect(next == .run(.startOld, pass: 0), "resuming goes on undoing, never forward")
        #expect(!machine.newStarted && machine.oldStopped)
    }

    @Test func aJournalThatDoesNotFollowFromTheRunbookIsRefused() {
        // Written while max_passes allowed two passes; the configuration now asks for a third before the stop.
        let journal: [RunbookMachine.Finished] = [
            .init(step: .precheck), .init(step: .sync, pass: 1, sync: converging[0]), .init(step: .sync, pass: 2, sync: converging[1]),
            .init(step: .stopOld),
        ]
        #expect(throws: RunbookMachine.JournalMismatch.self) {
            try RunbookMachine.resume(finished: journal, rules: .init(maxPasses: 8, convergeBytes: 1024, minShrink: 0), budget: .milliseconds(1), floats: true)
        }
        #expect(throws: RunbookMachine.JournalMismatch.self) {
            // A run stopped by its pre-checks has nothing to undo.
            try RunbookMachine.resume(finished: [.init(step: .precheck, failure: "port busy"), .init(step: .rollback, failure: "x")],
                                      rules: rules, budget: .seconds(5), floats: true)
        }
        do {
            _ = try RunbookMachine.resume(finished: journal, rules: .init(maxPasses: 8, convergeBytes: 1024, minShrink: 0), budget: .milliseconds(1), floats: true)
        } catch {
            #expect("\(error)".hasPrefix("the journal's step 4 is stop_old where the runbook, under this configuration, has sync pass 3"))
        }
    }
}
