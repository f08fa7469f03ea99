import CutoverCore
import CutoverStore
import Foundation
import Hummingbird

/// The migration plan: `GET /api/v1/plan` (every step, the next one's evidence with its numbers),
/// `POST /api/v1/plan/steps/{name}/confirm`, `POST /api/v1/plan/advance` and `POST /api/v1/plan/steps/{name}/rollback`
/// (role operator). Every transition is written with its audit entry before it is answered.
enum PlanAPI {
    static func register(on group: RouterGroup<AdminRequestContext>, environment: AdminEnvironment) {
        group.get("plan") { _, _ -> Response in
            let control = try control(environment)
            return try json(try await RoutesAPI.refusing { try await control.status() })
        }
        group.post("plan/steps/{name}/confirm") { request, context -> Response in
            let name = try context.parameters.require("name")
            let body = try AdminInput.body(PlanConfirmRequest.self, from: try await RoutesAPI.collect(request))
            let control = try control(environment)
            let (record, entry) = try await RoutesAPI.refusing {
                try await control.confirm(step: name, note: body.note, actor: try context.requireToken().name)
            }
            return try json(PlanConfirmed(step: record, audit: entry))
        }
        group.post("plan/advance") { _, context -> Response in
            let control = try control(environment)
            await environment.flushSignals()
            let result = try await RoutesAPI.refusing { try await control.advance(actor: try context.requireToken().name) }
            _ = await environment.refreshFlags()
            // A host run begun: 202 (advance again once it is done). Refused (a gate, a confirmation, a route's own
            // gate): 409 with every gate and its numbers.
            return try json(result, status: result.done ? .ok : result.hostRun != nil ? .accepted : .conflict)
        }
        group.post("plan/steps/{name}/rollback") { request, context -> Response in
            let name = try context.parameters.require("name")
            let body = try AdminInput.body(PlanRollbackRequest.self, from: try await RoutesAPI.collect(request))
            let control = try control(environment)
            let (entry, moved) = try await RoutesAPI.refusing {
                try await control.rollback(step: name, reason: body.reason, actor: try context.requireToken().name)
            }
            _ = await environment.refreshFlags()
            return try json(PlanRolledBack(audit: entry, moved: moved))
        }
    }

    static func control(_ environment: AdminEnvironment) throws -> PlanControl {
        let config = environment.config()
        guard let plan = config.plan else {
            throw AdminError(.conflict, "this gateway's configuration has no plan: section")
        }
        var control = PlanControl(store: try DiffsAPI.store(environment), config: config, plan: plan, notify: environment.planNotify)
        control.startHostTask = environment.hostTask
        return control
    }
}

/// The body of `POST /api/v1/plan/steps/{name}/confirm`.
public struct PlanConfirmRequest: Codable, Sendable {
    /// What was checked; the audit log keeps it.
    public var note: String
    public init(note: String) { self.note = note }
}

/// The body of `POST /api/v1/plan/steps/{name}/rollback`.
public struct PlanRollbackRequest: Codable, Sendable {
    public var reason: String
    public init(reason: String) { self.reason = reason }
}

/// The answer of a confirmation: the step as written, and its audit entry.
public struct PlanConfirmed: Codable, Sendable {
    public var step: PlanStepRecord
    public var audit: AuditEntry
}

/// The answer of a rollback: its audit entry, and the routes moved back.
public struct PlanRolledBack: Codable, Sendable {
    public var audit: AuditEntry
    public var moved: [String]
}
