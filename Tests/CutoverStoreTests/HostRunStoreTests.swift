import CutoverCore
import CutoverStore
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
}
