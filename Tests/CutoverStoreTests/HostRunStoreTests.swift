import CutoverCore
@testable import CutoverStore
import CutoverTestSupport
import Foundation
import Testing

/// The host cutover's journal on both stores: steps written as they begin and end, figures and commands kept, a busy
/// host refused, runs listed newest first.
@Suite("Host run journal", .timeLimit(.minutes(1)))
struct HostRunStoreTests {
    @Test(arguments: StoreKind.allCases)
    func stepsAreJournaledAsTheyBeginAndEnd(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let run = try await store.startHostRun(task: "shop", hosts: ["shop-old", "shop-new"], at: 1_000)
            let precheck = try await store.beginHostStep(run: run, step: "precheck", pass: 0, at: 1_001)
            let command = HostStepRecord.Command(host: "shop-new", command: "rsync --version", status: 0, timedOut: false,
                                                 stdout: "rsync  version 3.2.7", stderr: "", seconds: 0.01)
            try await store.finishHostStep(run: run, seq: precheck, result: .ok, figures: ["free_bytes": 1e9], commands: [command], failure: nil, at: 1_002)
            let sync = try await store.beginHostStep(run: run, step: "sync", pass: 1, at: 1_003)
            #expect(sync == precheck + 1)
            // The runner is cut off here: the journal shows the pass as begun and not ended.
            var journal = try #require(try await store.hostRuns(id: run).first)
            #expect(journal.status == .running && journal.task == "shop" && journal.hosts == ["shop-old", "shop-new"])
            #expect(journal.steps.map(\.step) == ["precheck", "sync"])
            #expect(journal.steps[0].result == .ok && journal.steps[0].commands == [command] && journal.steps[0].figures == ["free_bytes": 1e9])
            #expect(journal.steps[1].result == .running && journal.steps[1].pass == 1 && journal.steps[1].finishedAt == nil)
            try await store.finishHostStep(run: run, seq: sync, result: .failed, figures: [:], commands: [], failure: "rsync exited with 23", at: 1_004)
            try await store.finishHostRun(run, status: .stopped, reason: "sync pass 1 failed", figures: ["migration_seconds": 0.004], at: 1_005)
            journal = try #require(try await store.hostRuns(id: run).first)
            #expect(journal.status == .stopped && journal.reason == "sync pass 1 failed" && journal.finishedAt == 1_005)
            #expect(journal.figures == ["migration_seconds": 0.004])
            #expect(journal.steps[1].result == .failed && journal.steps[1].failure == "rsync exited with 23")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aHostIsInOneRunningTaskAtATime(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let first = try await store.startHostRun(task: "shop", hosts: ["a", "b"], at: 1)
            await #expect(throws: StoreError.self) { try await store.startHostRun(task: "cart", hosts: ["c", "b"], at: 2) }
            do {
                _ = try await store.startHostRun(task: "cart", hosts: ["b"], at: 2)
                Issue.record("a busy host was taken by a second run")
            } catch let error as StoreError {
                #expect("\(error)".contains("host 'b' is in run \(first) (task 'shop'), which is still running"))
            }
            let other = try await store.startHostRun(task: "cart", hosts: ["c", "d"], at: 3)
            try await store.finishHostRun(first, status: .done, reason: nil, figures: [:], at: 4)
            let again = try await store.startHostRun(task: "cart-2", hosts: ["b"], at: 5)
            #expect(try await store.hostRuns().map(\.id) == [again, other, first], "newest first")
            #expect(try await store.hostRuns(limit: 1).map(\.id) == [again])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aGroupBeyondTheParallelLimitIsRefusedNotQueued(kind: StoreKind) async throws {
        try await kind.withStore { store in
            _ = try await store.startHostRun(task: "a", group: "wave-1", hosts: ["a1", "a2"], maxParallelGroups: 2, at: 1)
            _ = try await store.startHostRun(task: "b", group: "wave-2", hosts: ["b1", "b2"], maxParallelGroups: 2, at: 2)
            do {
                _ = try await store.startHostRun(task: "c", group: "wave-3", hosts: ["c1", "c2"], maxParallelGroups: 2, at: 3)
                Issue.record("a third group started beside two with max_parallel_groups 2")
            } catch let error as StoreError {
                #expect("\(error)".contains("2 groups are running (wave-1, wave-2) and max_parallel_groups is 2: group 'wave-3' is not started"))
            }
            // A group already running takes its next task; a task outside every group is not counted.
            _ = try await store.startHostRun(task: "a-next", group: "wave-1", hosts: ["a3"], maxParallelGroups: 2, at: 4)
            _ = try await store.startHostRun(task: "alone", hosts: ["d1"], maxParallelGroups: 2, at: 5)
            #expect(try await store.hostRuns(limit: 2).map(\.group) == [nil, "wave-1"])
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRunIsCarriedOutByOneLivingHolderAtATime(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let living = RunHolder.current()
            // A holder of this process lives while it holds its lease here.
            #expect(living.isAlive == false)
            living.holding()
            defer { living.released() }
            #expect(living.isAlive == true)
            let run = try await store.startHostRun(task: "shop", hosts: ["a", "b"], at: 1_000, holder: living, lease: 30_000)
            var journal = try #require(try await store.hostRuns(id: run).first)
            #expect(journal.holder == living.description && journal.holderAlive == true && journal.leaseUntil.map { $0 > 1_700_000_000_000 } == true,
                    "the lease runs until a time of the store's clock")
            // A second holder is refused while the first lives and its lease runs.
            let second = RunHolder.current()
            do {
                try await store.claimHostRun(run, holder: second, lease: 30_000, now: 40_000)
                Issue.record("a second holder took a run whose holder lives")
            } catch let error as StoreError {
                #expect("\(error)" == "run \(run) is being carried out by \(living): let it end, or stop that process first")
            }
            // Its steps are refused too; the holder's own go on.
            await #expect(throws: StoreError.self) { try await store.beginHostStep(run: run, step: "sync", pass: 1, at: 2_000, holder: second) }
            let step = try await store.beginHostStep(run: run, step: "precheck", pass: 0, at: 2_000, holder: living)
            await #expect(throws: StoreError.self) {
                try await store.finishHostStep(run: run, seq: step, result: .ok, figures: [:], commands: [], failure: nil, at: 2_001, holder: second)
            }
            await #expect(throws: StoreError.self) { try await store.finishHostRun(run, status: .done, reason: nil, figures: [:], at: 2_002, holder: second) }
            try await store.finishHostStep(run: run, seq: step, result: .ok, figures: [:], commands: [], failure: nil, at: 2_001, holder: living)
            #expect(try await store.renewHostRun(run, holder: living, lease: 30_000))
            #expect(try await !store.renewHostRun(run, holder: second, lease: 30_000))
            // Ended, the run is nobody's; a finished run is not resumed.
            try await store.finishHostRun(run, status: .done, reason: nil, figures: [:], at: 3_000, holder: living)
            journal = try #require(try await store.hostRuns(id: run).first)
            #expect(journal.holder == nil && journal.leaseUntil == nil && journal.status == .done)
            #expect(try await !store.renewHostRun(run, holder: living, lease: 30_000))
            do {
                try await store.claimHostRun(run, holder: second, lease: 30_000, now: 4_000)
                Issue.record("a finished run was claimed for a resume")
            } catch let error as StoreError {
                #expect("\(error)" == "run \(run) is done; there is nothing to resume")
            }
            // A holder that lives on but has not renewed for a whole lease (cut off from the store) gives the run up.
            let cutOff = try await store.startHostRun(task: "cut-off", hosts: ["x", "y"], at: 5_000, holder: living, lease: -1)
            try await store.claimHostRun(cutOff, holder: second, lease: 30_000, now: 5_001)
            #expect(try await store.hostRuns(id: cutOff).first?.holder == second.description)
            // A holder that stops short gives its lease up, and the run can be taken at once.
            try await store.claimHostRun(run, holder: second, lease: 30_000, now: 4_000, reopen: true)
            try await store.releaseHostRun(run, holder: second)
            #expect(try await store.hostRuns(id: run).first?.holder == nil)
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aDeadHolderGivesTheRunUpAtOnceAndARemoteOneWhenItsLeaseRunsOut(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let dead = try RunHolder.ofAnEndedProcess()
            #expect(dead.isAlive == false)
            let run = try await store.startHostRun(task: "shop", hosts: ["a", "b"], at: 1_000, holder: dead, lease: 30_000)
            let taker = RunHolder.current()
            try await store.claimHostRun(run, holder: taker, lease: 30_000, now: 2_000)
            #expect(try await store.hostRuns(id: run).first?.holder == taker.description)
            // The dead holder's steps are refused now: it no longer holds the run.
            do {
                _ = try await store.beginHostStep(run: run, step: "sync", pass: 1, at: 2_500, holder: dead)
                Issue.record("a step began for a holder that lost the run")
            } catch let error as StoreError {
                #expect("\(error)" == "run \(run) is no longer held by \(dead) but by \(taker): step sync is not begun")
            }
            // A holder on another machine: only its lease's time tells, on the store's clock.
            var remote = RunHolder.current()
            remote.boot = "another-boot"
            remote.machine = "runner-2"
            #expect(remote.isAlive == nil)
            let other = try await store.startHostRun(task: "cart", hosts: ["c", "d"], at: 3_000, holder: remote, lease: 600_000)
            do {
                try await store.claimHostRun(other, holder: taker, lease: 30_000, now: 20_500)
                Issue.record("a remote holder's lease was taken before it ran out")
            } catch let error as StoreError {
                #expect("\(error)".hasPrefix("run \(other) is being carried out by cutover (pid \(remote.pid) on runner-2), its lease runs "))
                #expect("\(error)".hasSuffix(" s more: let it end, or stop that process first"))
            }
            // Its lease ran out (no renewal within it): the run is taken.
            let lapsed = try await store.startHostRun(task: "queue", hosts: ["e", "f"], at: 3_000, holder: remote, lease: -1)
            try await store.claimHostRun(lapsed, holder: taker, lease: 30_000, now: 33_001)
            #expect(try await store.hostRuns(id: lapsed).first?.holder == taker.description)
            
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aClaimWithAnAuditEntryWritesBothOrNeither(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let run = try await store.startHostRun(task: "shop", hosts: ["a", "b"], at: 1_000, holder: RunHolder.current(), lease: 30_000)
            try await store.finishHostRun(run, status: .done, reason: nil, figures: [:], at: 2_000)
            let holder = RunHolder.current()
            holder.holding()
            defer { holder.released() }
            let entry = try #require(try await store.claimHostRun(run, holder: holder, lease: 30_000, now: 10_000, reopen: true,
                                                                  audit: ("host_rollback", "alice", "new host answers 500s")))
            #expect(entry.route == "host_run:\(run)" && entry.action == "host_rollback" && entry.actor == "alice")
            #expect(entry.before == nil && entry.after == nil && entry.reason == "new host answers 500s")
            let reopened = try #require(try await store.hostRuns(id: run).first)
            #expect(reopened.status == .running && reopened.finishedAt == nil && reopened.holder == holder.description)
            // A refused claim writes no entry.
            await #expect(throws: StoreError.self) {
                try await store.claimHostRun(run, holder: RunHolder.current(), lease: 30_000, now: 11_000, reopen: true, audit: ("host_rollback", "bob", "again"))
            }
            let log = try await store.auditEntries(route: nil, limit: 10)
            #expect(log.map(\.actor) == ["alice"])
            #expect(try await store.verifyAuditChain().verified)
            #expect(try await store.flagSet().version == entry.seq, "the entry's position is a flag version")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aRollbacksClaimAuditAndRequestAreOneTransaction(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let run = try await store.startHostRun(task: "shop", hosts: ["a", "b"], at: 1_000)
            try await store.finishHostRun(run, status: .done, reason: nil, figures: [:], at: 2_000)
            // The audit entry cannot be written (the chain's head is gone): neither is the claim nor the request.
            try await store.database.withSession { session in _ = try await session.run("DELETE FROM flag_state") }
            await #expect(throws: StoreError.self) {
                try await store.claimHostRun(run, holder: RunHolder.current(), lease: 30_000, now: 10_000, reopen: true,
                                             audit: ("host_rollback", "alice", "why"), marker: ("rollback", "why"))
            }
            var journal = try #require(try await store.hostRuns(id: run).first)
            #expect(journal.status == .done && journal.holder == nil && journal.steps.isEmpty)
            try await store.database.withSession { session in
                _ = try await session.run("INSERT INTO flag_state (id, version, last_hash) VALUES (1, 0, '\(unsafeRaw: AuditChain.genesis)')")
            }
            try await store.claimHostRun(run, holder: RunHolder.current(), lease: 30_000, now: 10_000, reopen: true,
                                         audit: ("host_rollback", "alice", "why"), marker: ("rollback", "why"))
            journal = try #require(try await store.hostRuns(id: run).first)
            #expect(journal.status == .running && journal.holder != nil)
            #expect(journal.steps.map(\.step) == ["rollback"] && journal.steps[0].result == .ok && journal.steps[0].failure == "why")
        }
    }

    @Test(arguments: StoreKind.allCases)
    func aFinishedRunIsNotUndoneBesideAnotherRunOnItsHosts(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let first = try await store.startHostRun(task: "shop", hosts: ["a", "b"], at: 1_000)
            try await store.finishHostRun(first, status: .done, reason: nil, figures: [:], at: 2_000)
            let second = try await store.startHostRun(task: "shop-back", hosts: ["b", "a"], at: 3_000, holder: try RunHolder.ofAnEndedProcess(), lease: 30_000)
            do {
                try await store.claimHostRun(first, holder: RunHolder.current(), lease: 30_000, now: 10_000, reopen: true)
                Issue.record("a done run was reopened beside a running run on its hosts")
            } catch let error as StoreError {
                #expect("\(error)" == "host 'a' is in run \(second), which is still running: run \(first) is not undone beside it")
            }
            #expect(try await store.hostRuns(id: first).first?.status == .done)
        }
    }
}
