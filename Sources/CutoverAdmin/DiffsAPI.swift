import CutoverCore
import CutoverStore
import Foundation
import Hummingbird
import NIOCore

/// `GET /api/v1/diffs/summary` and `GET /api/v1/diffs/samples`: what the comparator found;
/// `DELETE /api/v1/diffs?route=` (operators): forget it and count afresh.
enum DiffsAPI {
    static func register(on group: RouterGroup<AdminRequestContext>, environment: AdminEnvironment) {
        group.get("diffs/summary") { request, _ -> Response in
            let store = try Self.store(environment)
            let route = request.uri.queryParameters["route"].map(String.init)
            let config = environment.config()
            if let route, !config.routes.contains(where: { $0.name == route }) {
                throw AdminError(.notFound, "no route named '\(route)'; configured: \(config.routes.map(\.name).joined(separator: ", "))")
            }
            let since = try request.uri.queryParameters["since"].map { try AdminInput.since(String($0)) }
            return try json(try await Self.call { try await DiffReports.summary(store: store, config: config, route: route, since: since) })
        }
        group.get("diffs/samples") { request, _ -> Response in
            let store = try Self.store(environment)
            guard let route = request.uri.queryParameters["route"].map(String.init), !route.isEmpty else {
                throw AdminError(.badRequest, "the query parameter 'route' is required")
            }
            let config = environment.config()
            if !config.routes.contains(where: { $0.name == route }) {
                throw AdminError(.notFound, "no route named '\(route)'; configured: \(config.routes.map(\.name).joined(separator: ", "))")
            }
            let field = request.uri.queryParameters["field"].map(String.init)
            let limit = try request.integer("limit", default: 20, in: 1...200)
            let samples = try await Self.call { try await store.diffSamples(route: route, field: field, limit: limit) }
            return try json(DiffSamplesResponse(route: route, field: field, samples: samples))
        }
        group.delete("diffs") { request, _ -> Response in
            let store = try Self.store(environment)
            let route = request.uri.queryParameters["route"].map(String.init)
            if let route, !environment.config().routes.contains(where: { $0.name == route }) {
                throw AdminError(.notFound, "no route named '\(route)'")
            }
            try await Self.call { try await store.clearDiffs(route: route) }
            return try json(DiffClearResponse(route: route, cleared: true))
        }
    }

    /// The store, or a 503 at once (with `Retry-After`) saying why not while it is opening or down.
    static func store(_ environment: AdminEnvironment) throws -> Store {
        guard let store = environment.store() else { throw unavailable(environment.storeStatus().explanation) }
        return store
    }

    /// Runs a store call; a failing store is a 503 naming the kind of failure, not a 500 (nor the driver's dump).
    static func call<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as AdminError {
            throw error
        } catch {
            throw unavailable("the store failed: \(StoreStatus.reason(error)); retry shortly")
        }
    }

    static func unavailable(_ reason: String) -> AdminError {
        var error = AdminError(.serviceUnavailable, reason)
        error.headers[.retryAfter] = "1"
        return error
    }
}

/// A JSON answer.
func json(_ value: some Encodable, status: HTTPResponse.Status = .ok, headers: HTTPFields = [:]) throws -> Response {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    let data = try encoder.encode(value)
    var fields = headers
    fields[.contentType] = "application/json"
    return Response(status: status, headers: fields, body: ResponseBody(byteBuffer: ByteBuffer(bytes: data)))
}

/// The answer of `GET /api/v1/diffs/summary`.
public struct DiffSummaryResponse: Codable, Sendable {
    /// The start of the counted range, ISO 8601 (minute precision); nil for everything.
    public var since: String?
    public var routes: [RouteSummary]
}

/// The answer of `GET /api/v1/diffs/samples`.
public struct DiffSamplesResponse: Codable, Sendable {
    public var route: String
    public var field: String?
    public var samples: [DiffSample]
}

/// The answer of `DELETE /api/v1/diffs`.
public struct DiffClearResponse: Codable, Sendable {
    /// The route cleared; nil when every route was.
    public var route: String?
    public var cleared: Bool
}

/// The reports the admin API serves, for callers in the same process too (the demo prints one).
public enum DiffReports {
    /// Per route (one, or all that were compared): the counts from `since` on (minute
    /// precision; nil for everything) under the route's noise thresholds, with an example per field.
    public static func summary(store: Store, config: CutoverConfig, route: String?, since: Date?) async throws -> DiffSummaryResponse {
        let sinceMinute = since.map { AdminInput.minute($0) } ?? 0
        let counts = try await store.diffCounts(route: route, sinceMinute: sinceMinute)
        var summaries: [RouteSummary] = []
        for routeCounts in counts {
            let rules = config.routes.first { $0.name == routeCounts.route }?.compare ?? .defaults
            var examples: [String: FieldDifference] = [:]
            for field in routeCounts.fields.keys.sorted().prefix(50) where routeCounts.fields[field]!.raw > 0 {
                let sample = try await store.diffSamples(route: routeCounts.route, field: field, limit: 1)
                examples[field] = sample.first?.differences.first { $0.field == field }
            }
            summaries.append(RouteSummary(counts: routeCounts, thresholds: rules.noise, examples: examples))
        }
        let sinceText = since.map { _ in ISO8601DateFormatter().string(from: Date(timeIntervalSince1970: Double(sinceMinute * 60))) }
        return DiffSummaryResponse(since: sinceText, routes: summaries)
    }
}
