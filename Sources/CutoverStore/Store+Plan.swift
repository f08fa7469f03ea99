import CutoverCore
import Foundation
import SQLKit

/// The plan's steps as they stand, each change written with its audit entry in one transaction: a transition is
/// durable and in the hash chain before it is acknowledged.
extension Store {
    /// Every step the store has a row for, by name (a step without one is pending).
    public func planSteps() async throws -> [String: PlanStepRecord] {
        let rows = try await database.withSession { session in try await session.run("SELECT name, record FROM plan_steps") }
        let decoder = JSONDecoder()
        var steps: [String: PlanStepRecord] = [:]
        for row in rows {
            guard let name = row[0].text, let text = row[1].text else { continue }
            steps[name] = try decoder.decode(PlanStepRecord.self, from: Data(text.utf8))
        }
        return steps
    }

    /// Changes steps under the audit chain's lock: `change` gets the steps as they stand (read under the lock) and
    /// returns the records to write, or throws to write nothing. The change is audited as `action` on `plan:SUBJECT`.
    public func changePlan(subject: String, action: String, actor: String, reason: String, now: Date = Date(),
                           _ change: @escaping @Sendable ([String: PlanStepRecord]) throws -> [PlanStepRecord]) async throws -> AuditEntry {
        let dialect = database.dialect
        return try await database.withTransaction { session in
            let head = try await Self.lockChainHead(session, dialect: dialect)
            let decoder = JSONDecoder()
            var current: [String: PlanStepRecord] = [:]
            for row in try await session.run("SELECT name, record FROM plan_steps") {
                guard let name = row[0].text, let text = row[1].text else { continue }
                current[name] = try decoder.decode(PlanStepRecord.self, from: Data(text.utf8))
            }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            for record in try change(current) {
                let text = String(decoding: try encoder.encode(record), as: UTF8.self)
                try await session.run("DELETE FROM plan_steps WHERE name = \(bind: record.name)")
                try await session.run("INSERT INTO plan_steps (name, record) VALUES (\(bind: record.name), \(bind: text))")
            }
            return try await Self.appendAudit(session, dialect: dialect, head: head, subject: "plan:\(subject)", action: action, actor: actor,
                                              reason: reason, now: now).entry(decoder)
        }
    }
}
