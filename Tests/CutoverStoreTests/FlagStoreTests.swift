import CutoverCore
@testable import CutoverStore
import CutoverTestSupport
import Foundation
import Testing

/// Switch flags, the audit chain, instances and evidence, on both store kinds.
@Suite("Store: flags and audit", .timeLimit(.minutes(1)))
struct FlagStoreTests {
    static let shadow = RouteFlags(phase: .shadow, threshold: 1000, creates: .new, compareSample: 0)

    @Test(arguments: StoreKind.allCases)
    func changesAreVersionedAuditedAndChained(kind: StoreKind) async throws {
        try await kind.withStore { store in
            #expect(try await store.flagSet() == FlagSet(version: 0, routes: [:]))
            var gray = Self.shadow
            gray.phase = .gray
            let first = try await store.changeRoute("orders", expected: Self.shadow, after: gray, actor: "ops", action: "phase", reason: "diffs clean")
            #expect(first.seq == 1)
            #expect(first.prevHash == AuditChain.genesis)
            let second = try await store.changeRoute("orders", expected: gray, after: Self.shadow, actor: "ops", action: "phase", reason: "rollback")
            #expect(second.prevHash == first.hash)
            #expect(try await store.flagSet() == FlagSet(version: 2, routes: ["orders": Self.shadow]))
            // A change based on a stale read loses.
            await #expect(throws: StoreError.self) {
                try await store.changeRoute("orders", expected: gray, after: gray, actor: "ops", action: "phase", reason: "stale")
            }
            #expect(try await store.flagSet().version == 2)
            let entries = try await store.auditEntries(route: "orders", limit: 10)
            #expect(entries.map(\.seq) == [2, 1])
            #expect(entries[1].before == Self.shadow && entries[1].after == gray && entries[1].actor == "ops" && entries[1].reason == "diffs clean")
            #expect(try await store.verifyAuditChain() == AuditVerification(verified: true, entries: 2, brokenAt: nil))

            // Editing an entry, or removing the newest, shows.
            _ = try await store.database.withSession { try await $0.run("UPDATE audit_log SET reason = 'nothing to see' WHERE seq = 1") }
            #expect(try await store.verifyAuditChain() == AuditVerification(verified: false, entries: 1, brokenAt: 1))
            _ = try await store.database.withSession { try await $0.run("UPDATE audit_log SET reason = 'diffs clean' WHERE seq = 1") }
            _ = try await store.database.withSession { try await $0.run("DELETE FROM audit_log WHERE seq = 2") }
            #expect(try await store.verifyAuditChain() == AuditVerification(verified: false, entries: 1, brokenAt: 2))
        }
    }

    @Test(arguments: StoreKind.allCases)
    func instancesEvidenceAndAnswersAreShared(kind: StoreKind) async throws {
        try await kind.withStore { store in
            let now = Date()
            try await store.heartbeat(instance: "a", address: "proxy 1", appliedVersion: 3, startedMs: 1, now: now)
            try await store.heartbeat(instance: "b", address: "proxy 2", appliedVersion: 2, startedMs: 1, now: now.addingTimeInterval(-30))
            try await store.heartbeat(instance: "a", address: "proxy 1", appliedVersion: 4, startedMs: 1, now: now)
            let instances = try await store.instances(now: now)
            #expect(instances.map(\.id) == ["a", "b"])
            #expect(instances.map(\.appliedVersion) == [4, 2])
            #expect(instances.map(\.live) == [true, false])
            try await store.removeInstance("b")
            #expect(try await store.instances(now: now).count == 1)

            try await store.recordMaxIDs(["orders": [.old: 900, .new: 1200]])
            try await store.recordMaxIDs(["orders": [.old: 800, .new: 1500]])
            #expect(try await store.maxIDs() == ["orders": [.old: 900, .new: 1500]])

            try await store.recordNewAnswers(["orders": [100: (10, 1), 101: (5, 0)]])
            try await store.recordNewAnswers(["orders": [101: (5, 2)]])
            let answers = try await store.newAnswers(route: "orders", sinceMinute: 101)
            #expect(answers.requests == 10 && answers.errors == 2)
        }
    }

    @Test func postgresAnnouncesEveryChange() async throws {
        try await StoreKind.postgres.withStore { store in
            let (versions, continuation) = AsyncStream.makeStream(of: Int64.self)
            let (listening, ready) = AsyncStream.makeStream(of: Void.self)
            let listener = Task {
                try await store.listenForFlagChanges(onListening: { ready.yield() }) { continuation.yield($0) }
            }
            var readiness = listening.makeAsyncIterator()
            _ = await readiness.next()
            var gray = Self.shadow
            gray.phase = .gray
            _ = try await store.changeRoute("orders", expected: Self.shadow, after: gray, actor: "ops", action: "phase", reason: "")
            _ = try await store.changeRoute("orders", expected: gray, after: Self.shadow, actor: "ops", action: "phase", reason: "")
            var iterator = versions.makeAsyncIterator()
            #expect(await iterator.next() == 1)
            #expect(await iterator.next() == 2)
            listener.cancel()
            _ = await listener.result
        }
    }
}
