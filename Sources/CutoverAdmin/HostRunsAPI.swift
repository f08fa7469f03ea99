import CutoverCore
import CutoverStore
import Foundation
import Hummingbird

/// `GET /api/v1/host/runs` and `GET /api/v1/host/runs/{id}`: the host cutover's journal, each run with its steps,
/// figures and the commands they ran; `POST /api/v1/host/runs/{id}/rollback` (role operator): undo a run.
enum HostRunsAPI {
    static func register(on group: RouterGroup<AdminRequestContext>, environment: AdminEnvironment) {
        group.get("host/runs") { request, _ -> Response in
            let store = try DiffsAPI.store(environment)
            let limit = try request.integer("limit", default: 20, in: 1...500)
            let runs = try await DiffsAPI.call { try await store.hostRuns(limit: limit) }
            return try json(HostRunsResponse(runs: runs))
        }
        group.get("host/runs/{id}") { _, context -> Response in
            let store = try DiffsAPI.store(environment)
            let id = try ReconcileAPI.runID(context)
            guard let run = try await DiffsAPI.call({ try await store.hostRuns(id: id, limit: 1) }).first else {
                throw AdminError(.notFound, "no host run \(id)")
            }
            return try json(run)
        }
        group.post("host/runs/{id}/rollback") { request, context -> Response in
            let id = try ReconcileAPI.runID(context)
            let body = try AdminInput.body(HostRollbackRequest.self, from: try await RoutesAPI.collect(request))
            let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !reason.isEmpty else { throw AdminError(.badRequest, "reason is empty: say why the run is undone (the audit log keeps it)") }
            guard let rollback = environment.hostRollback else {
                throw AdminError.noHostCutover
            }
            let store = try DiffsAPI.store(environment)
            let actor = try context.requireToken().name
            let accepted = try await DiffsAPI.call { try await rollback(store, id, reason, actor) }
            return try json(accepted, status: .accepted, headers: [.location: "/api/v1/host/runs/\(id)"])
        }
    }
}

extension AdminError {
    /// The 409 of a rollback asked of a gateway whose configuration has no `host_cutover:` section.
    public static var noHostCutover: AdminError {
        AdminError(.conflict, "this gateway's configuration has no host_cutover section: it cannot undo host runs (cutover host rollback can)")
    }
}

/// The body of `POST /api/v1/host/runs/{id}/rollback`.
public struct HostRollbackRequest: Codable, Sendable {
    /// Why; the run's journal and the audit log keep it.
    public var reason: String

    public init(reason: String) { self.reason = reason }
}

/// The answer of `POST /api/v1/host/runs/{id}/rollback` (202): the run as journaled once the request was written
/// (its last step the `rollback` marker; the undoing steps follow), and the request's audit entry.
public struct HostRollbackAccepted: Codable, Sendable {
    public var run: HostRun
    public var audit: AuditEntry?

    public init(run: HostRun, audit: AuditEntry?) {
        self.run = run
        self.audit = audit
    }
}

/// The answer of `GET /api/v1/host/runs`.
public struct HostRunsResponse: Codable, Sendable {
    public var runs: [HostRun]
}
