import CutoverCore
import CutoverStore
import Foundation
import Hummingbird

/// `GET /api/v1/reconcile/runs`, `GET /api/v1/reconcile/runs/{id}` and
/// `GET /api/v1/reconcile/runs/{id}/differences`: what `cutover reconcile` found.
enum ReconcileAPI {
    static func register(on group: RouterGroup<AdminRequestContext>, environment: AdminEnvironment) {
        group.get("reconcile/runs") { request, _ -> Response in
            let store = try DiffsAPI.store(environment)
            let limit = try request.integer( "limit", default: 20, in: 1...500)
            let runs = try await DiffsAPI.call { try await store.reconcileRuns(limit: limit) }
            return try json(ReconcileRunsResponse(runs: runs))
        }
        group.get("reconcile/runs/{id}") { _, context -> Response in
            let store = try DiffsAPI.store(environment)
            let id = try Self.runID(context)
            guard let run = try await DiffsAPI.call({ try await store.reconcileRuns(id: id, limit: 1) }).first else {
                throw AdminError(.notFound, "no reconcile run \(id)")
            }
            return try json(run)
        }
        group.get("reconcile/runs/{id}/differences") { request, context -> Response in
            let store = try DiffsAPI.store(environment)
            let id = try Self.runID(context)
            guard let run = try await DiffsAPI.call({ try await store.reconcileRuns(id: id, limit: 1) }).first else {
                throw AdminError(.notFound, "no reconcile run \(id)")
            }
            let table = request.uri.queryParameters["table"].map(String.init)
            if let table, !run.tables.contains(table) {
                throw AdminError(.notFound, "run \(id) has no table pair '\(table)'; it compared: \(run.tables.joined(separator: ", "))")
            }
            let limit = try request.integer( "limit", default: 100, in: 1...10_000)
            let offset = try request.integer( "offset", default: 0, in: 0...Int(Int32.max))
            let rows = try await DiffsAPI.call { try await store.reconcileDifferences(run: id, table: table, limit: limit, offset: offset) }
            return try json(ReconcileDifferencesResponse(
                run: id, differences: rows.map { ReconcileDifferencesResponse.Entry(table: $0.table, difference: $0.difference) }))
        }
    }

    static func runID(_ context: AdminRequestContext) throws -> Int64 {
        try AdminInput.positive("run id", text: Substring(context.parameters.get("id") ?? ""))
    }
}

/// The answer of `GET /api/v1/reconcile/runs`.
public struct ReconcileRunsResponse: Codable, Sendable {
    public var runs: [ReconcileRun]
}

/// The answer of `GET /api/v1/reconcile/runs/{id}/differences`.
public struct ReconcileDifferencesResponse: Codable, Sendable {
    public struct Entry: Codable, Sendable {
        public var table: String
        public var difference: RowDifference
    }

    public var run: Int64
    public var differences: [Entry]
}
