import CutoverCore
@testable import CutoverStore
import CutoverTestSupport
import Foundation
import Testing

/// The plan's steps on both stores: each change written with its audit entry in the hash chain, read back as
/// written; a change refused under the lock writes neither.
@Suite("Plan steps", .timeLimit(.minutes(1)))
struct PlanStoreTests {
    struct Refused: Error {}

    @Test(arguments: StoreKind.allCases)
    func aChangeIsWrittenWithItsAuditEntryOrNotAtAll(kind: StoreKind) async throws {
        try await kind.withStore { store in
            #expect(try await store.planSteps().isEmpty)
            let confirmed = PlanStepRecord(name: "new-service", status: .confirmed, confirmedBy: "ops", confirmedAt: 1_000, note: "jobs moved")
            let entry = try await store.changePlan(subject: "new-service", action: "plan_confirm", actor: "ops", reason: "jobs moved") { current in
                #expect(current.isEmpty)
                return [confirmed]
            }
            #expect(entry.route == "plan:new-service" && entry.action == "plan_confirm" && entry.before == nil && entry.after == nil)
            #expect(try await store.planSteps() == ["new-service": confirmed])
            // Refused under the lock (the step was done meanwhile, say): nothing is written, no entry is appended.
            await #expect(throws: Refused.self) {
                try await store.changePlan(subject: "new-service", action: "plan_advance", actor: "ops", reason: "done") { current in
                    #expect(current["new-service"] == confirmed)
                    throw Refused()
                }
            }
            var done = confirmed
            done.status = .done
            done.before = ["orders": "old"]
            let written = done
            _ = try await store.changePlan(subject: "new-service", action: "plan_advance", actor: "ops", reason: "done") { _ in [written] }
            #expect(try await store.planSteps() == ["new-service": done])
            let log = try await store.auditEntries(route: nil, limit: 10)
            #expect(log.map(\.action) == ["plan_advance", "plan_confirm"])
            #expect(try await store.verifyAuditChain().verified)
        }
    }
}
