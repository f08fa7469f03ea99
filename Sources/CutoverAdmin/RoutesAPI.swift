import CutoverCore
import CutoverStore
import Foundation
import Hummingbird
import NIOCore

/// The switch flags: `GET /api/v1/routes`, `PUT /api/v1/routes/{name}/phase`,
/// `PATCH /api/v1/routes/{name}`, `GET /api/v1/audit` and `GET /api/v1/instances`.
/// Changes need role operator (the authenticator checks) and are durable before they are answered.
enum RoutesAPI {
    static func register(on group: RouterGroup<AdminRequestContext>, environment: AdminEnvironment) {
        group.get("routes") { _, _ -> Response in
            let control = try control(environment)
            return try json(try await refusing { try await control.routes() })
        }
        group.put("routes/{name}/phase") { request, context -> Response in
            // Bad input is a 400 whatever the store's state: the body is read before the store is asked for.
            let name = try context.parameters.require("name")
            let (body, phase, timeout) = try AdminInput.phaseChange(from: try await collect(request))
            let control = try control(environment)
            await environment.flushSignals()
            var change = try await refusing {
                try await control.changePhase(route: name, to: phase, reason: body.reason ?? "", force: body.force ?? false,
                                              abandonNewIDs: body.abandonNewIDs ?? false, actor: try context.requireToken().name)
            }
            _ = await environment.refreshFlags()
            if body.wait == true {
                change.wait = try await refusing { try await control.waitForInstances(version: change.version, timeout: timeout) }
            }
            return try json(change)
        }
        group.patch("routes/{name}") { request, context -> Response in
            let name = try context.parameters.require("name")
            let patch = try AdminInput.body(FlagPatch.self, from: try await collect(request))
            let control = try control(environment)
            await environment.flushSignals()
            let change = try await refusing {
                try await control.changeFlags(route: name, patch: patch, actor: try context.requireToken().name)
            }
            _ = await environment.refreshFlags()
            return try json(change)
        }
        group.get("audit") { request, _ -> Response in
            let store = try DiffsAPI.store(environment)
            let route = request.uri.queryParameters["route"].map(String.init)
            let limit = try request.integer("limit", default: 100, in: 1...1000)
            var before: Int64?
            if let text = request.uri.queryParameters["before"] { before = try AdminInput.positive("before", text: text) }
            let entries = try await DiffsAPI.call { try await store.auditEntries(route: route, limit: limit, beforeSeq: before) }
            let chain = try await DiffsAPI.call { try await store.verifyAuditChain() }
            return try json(AuditResponse(entries: entries, chain: chain))
        }
        group.get("instances") { _, _ -> Response in
            let store = try DiffsAPI.store(environment)
            let instances = try await DiffsAPI.call { try await store.instances() }
            let version = try await DiffsAPI.call { try await store.flagSet().version }
            return try json(InstancesResponse(version: version, instances: instances))
        }
    }

    static func control(_ environment: AdminEnvironment) throws -> RouteControl {
        RouteControl(store: try DiffsAPI.store(environment), config: environment.config())
    }

    /// A request body as JSON, or a 400 naming what is wrong with it.
    /// A request body, up to ``AdminInput/maxBodyBytes`` (413 beyond).
    static func collect(_ request: Request) async throws -> ByteBuffer {
        do {
            return try await request.body.collect(upTo: AdminInput.maxBodyBytes)
        } catch is NIOTooManyBytesError {
            throw AdminError(.contentTooLarge, "the body is larger than the \(AdminInput.maxBodyBytes / 1024) KiB the API reads")
        }
    }

    /// Runs a change, turning its refusals into 4xx answers (a failed gate is a 409 listing the gates).
    static func refusing<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let refusal as RouteControl.Refusal {
            switch refusal {
            case .notFound(let reason): throw AdminError(.notFound, reason)
            case .badRequest(let reason): throw AdminError(.badRequest, reason)
            case .conflict(let reason): throw AdminError(.conflict, reason)
            case .gates(let reason, let gates): throw GateRefusal(reason: reason, gates: gates)
            }
        } catch let error as AdminError {
            throw error
        } catch {
            throw DiffsAPI.unavailable("the store failed: \(StoreStatus.reason(error)); retry shortly")
        }
    }
}

/// A 409 for a forward move whose gates failed: the reason and every gate with its numbers.
struct GateRefusal: Error, HTTPResponseError {
    var reason: String
    var gates: [GateResult]
    var status: HTTPResponse.Status { .conflict }

    struct Body: Encodable {
        var error: String
        var status: Int
        var gates: [GateResult]
    }

    func response(from request: Request, context: some RequestContext) throws -> Response {
        try json(Body(error: reason, status: 409, gates: gates), status: .conflict)
    }
}

/// The answer of `GET /api/v1/audit`.
public struct AuditResponse: Codable, Sendable {
    /// Newest first.
    public var entries: [AuditEntry]
    /// The whole log's hash chain, checked.
    public var chain: AuditVerification
}

/// The answer of `GET /api/v1/instances`.
public struct InstancesResponse: Codable, Sendable {
    /// The flag version in the store.
    public var version: Int64
    public var instances: [InstanceRecord]
}
