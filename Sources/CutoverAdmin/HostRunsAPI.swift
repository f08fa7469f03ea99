import CutoverCore
import CutoverStore
import Foundation
import Hummingbird

/// `GET /api/v1/host/runs` and `GET /api/v1/host/runs/{id}`: the host cutover's journal, each run with its steps,
/// figures and the commands they ran.
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
    }
}

/// The answer of `GET /api/v1/host/runs`.
public struct HostRunsResponse: Codable, Sendable {
    public var runs: [HostRun]
}
