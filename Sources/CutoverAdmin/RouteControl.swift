import CutoverCore
import CutoverStore
import Foundation

/// Changes to routes' switch flags: the gates judged on the store's evidence,
/// the data-aware rollback, and the durable write with its audit entry. Used by
/// the admin API and by automatic rollback.
public struct RouteControl: Sendable {
    public let store: Store
    public let config: CutoverConfig

    public init(store: Store, config: CutoverConfig) {
        self.store = store
        self.config = config
    }

    /// Why a change was not made.
    public enum Refusal: Error, Sendable {
        case notFound(String)
        case badRequest(String)
        /// Gates failed (all gates are listed, passed or not).
        case gates(String, [GateResult])
        case conflict(String)
    }

    /// The route named so, or a refusal naming the configured ones.
    public func route(named name: String) throws -> Route {
        guard let route = config.routes.first(where: { $0.name == name }) else {
            throw Refusal.notFound("no route named '\(name)'; configured: \(config.routes.map(\.name).joined(separator: ", "))")
        }
        return route
    }

    /// The evidence for a route's gates, over its gate window.
    public func evidence(for route: Route, now: Date = Date()) async throws -> GateEvidence {
        let sinceMinute = Int64(now.timeIntervalSince1970 / 60) - max(1, route.gates.window.components.seconds / 60) + 1
        let counts = try await store.diffCounts(route: route.name, sinceMinute: sinceMinute).first ?? RouteDiffCounts(route: route.name)
        let summary = RouteSummary(counts: counts, thresholds: route.compare.noise)
        let answers = try await store.newAnswers(route: route.name, sinceMinute: sinceMinute)
        let ids = try await store.maxIDs()[route.name] ?? [:]
        var unreconciled: [String]?
        if let reconcile = config.reconcile {
            var names: [String] = []
            for table in reconcile.tables where try await store.latestCleanReconcile(table: table.name) == nil {
                names.append(table.name)
            }
            unreconciled = names
        }
        return GateEvidence(compared: summary.compared, diffRate: summary.diffRate, newRequests: answers.requests, newErrors: answers.errors,
                            maxOldID: ids[.old], unreconciled: unreconciled)
    }

    /// Every route's flags and evidence.
    public func routes() async throws -> RoutesResponse {
        let flagSet = try await store.flagSet()
        let ids = try await store.maxIDs()
        let resolved = flagSet.resolved(for: config)
        let routes = zip(config.routes, resolved).map { route, flags in
            RouteStatus(name: route.name, flags: flags, stored: flagSet.routes[route.name] != nil,
                        routedBy: route.id != nil ? "id" : route.aggregate != nil ? "aggregate" : "route",
                        idSource: route.id.map { "\($0.from.rawValue):\($0.name)" },
                        maxOldID: ids[route.name]?[.old], maxNewID: ids[route.name]?[.new])
        }
        return RoutesResponse(version: flagSet.version, routes: routes)
    }

    /// Moves a route to another phase. Forward moves pass the gates unless forced (with a reason);
    /// backward moves are always made, keeping IDs new created with new unless `abandonNewIDs`.
    public func changePhase(route name: String, to phase: Phase, reason: String, force: Bool, abandonNewIDs: Bool,
                            actor: String, action: String = "phase") async throws -> PhaseChange {
        let route = try route(named: name)
        try Self.requireReason(force: force, reason: reason)
        let flagSet = try await store.flagSet()
        let before = flagSet.routes[name] ?? RouteFlags(route: route)
        // abandon_new_ids also lifts a pin left by an earlier rollback, without a phase change.
        let liftsPin = abandonNewIDs && phase < .gray && before.newIDsFrom != nil
        guard before.phase != phase || liftsPin else {
            return PhaseChange(route: name, changed: false, before: before, after: before, version: flagSet.version, entry: nil, gates: [], forced: false)
        }
        var after = before
        after.phase = phase
        if liftsPin { after.newIDsFrom = nil }
        var gates: [GateResult] = []
        if phase > before.phase {
            let evidence = try await evidence(for: route)
            gates = Gates.evaluate(route: route, from: before.phase, to: phase, flags: before, evidence: evidence)
            let failed = gates.filter { !$0.passed }
            // A phase the route cannot run in (by its configuration) is refused even when forced.
            if let impossible = failed.first(where: { $0.gate == "phase" }) { throw Refusal.gates(impossible.message, gates) }
            if !failed.isEmpty, !force {
                throw Refusal.gates("route '\(name)' cannot move from \(before.phase.rawValue) to \(phase.rawValue): "
                                    + failed.map(\.message).joined(separator: "; "), gates)
            }
            if phase >= .gray { after.newIDsFrom = nil }
        } else if before.phase >= .gray, phase < .gray, route.id != nil, let threshold = before.threshold {
            // Rolling back out of the ID split: IDs new created stay with new unless abandoned.
            if abandonNewIDs {
                after.newIDsFrom = nil
            } else {
                let maxNew = try await newestNewID()
                let newCreated = route.maxIDSeen == nil || (maxNew.map { $0 >= threshold } ?? false)
                after.newIDsFrom = newCreated ? threshold : nil
            }
        }
        let failedGates = gates.filter { !$0.passed }
        let entry = try await write(name, expected: before, after: after, actor: actor, action: action,
                                    reason: failedGates.isEmpty || !force ? reason : "forced past \(failedGates.map(\.gate).joined(separator: ", ")): \(reason)")
        return PhaseChange(route: name, changed: true, before: before, after: after, version: entry.seq, entry: entry, gates: gates,
                           forced: force && !failedGates.isEmpty)
    }

    /// Changes a route's other flags (threshold, creates, compare_sample). A threshold that would send
    /// IDs old holds to new, or strand IDs new created, is refused unless forced.
    public func changeFlags(route name: String, patch: FlagPatch, actor: String) async throws -> PhaseChange {
        let route = try route(named: name)
        let reason = patch.reason ?? ""
        let force = patch.force ?? false
        try Self.requireReason(force: force, reason: reason)
        let flagSet = try await store.flagSet()
        let before = flagSet.routes[name] ?? RouteFlags(route: route)
        var after = before
        if let threshold = patch.threshold {
            guard threshold > 0 else { throw Refusal.badRequest("threshold must be a positive integer, not \(threshold)") }
            guard route.id != nil else {
                let message = "route '\(name)' has no id: a threshold means nothing to it"
                throw Refusal.gates(message, [GateResult(gate: "phase", passed: false, value: nil, limit: nil, message: message)])
            }
            after.threshold = threshold
        }
        if let creates = patch.creates { after.creates = creates }
        if let sample = patch.compareSample {
            guard (0...1).contains(sample) else { throw Refusal.badRequest("compare_sample must be from 0 to 1, not \(sample)") }
            after.compareSample = sample
        }
        guard after != before else {
            return PhaseChange(route: name, changed: false, before: before, after: before, version: flagSet.version, entry: nil, gates: [], forced: false)
        }
        var gates: [GateResult] = []
        if before.phase >= .gray, let threshold = after.threshold, threshold != before.threshold {
            gates = Gates.thresholdChange(current: before.threshold, proposed: threshold,
                                          maxOldID: try await store.maxIDs()[name]?[.old], maxNewID: try await newestNewID())
        }
        let failed = gates.filter { !$0.passed }
        if !failed.isEmpty, !force {
            throw Refusal.gates("route '\(name)' cannot take these flags: " + failed.map(\.message).joined(separator: "; "), gates)
        }
        let entry = try await write(name, expected: before, after: after, actor: actor, action: "flags", reason: reason)
        return PhaseChange(route: name, changed: true, before: before, after: after, version: entry.seq, entry: entry, gates: gates,
                           forced: force && !failed.isEmpty)
    }

    /// A forced change needs a reason: the audit log keeps it.
    static func requireReason(force: Bool, reason: String) throws {
        if force, reason.isEmpty { throw Refusal.badRequest("force needs a reason: the audit log keeps it") }
    }

    /// The highest ID new has answered on any route. IDs are usually created on a route of their own (the create
    /// route), so any route's evidence counts, which errs on the side of keeping data with new.
    private func newestNewID() async throws -> Int64? {
        try await store.maxIDs().values.compactMap { $0[.new] }.max()
    }

    private func write(_ route: String, expected: RouteFlags, after: RouteFlags, actor: String, action: String, reason: String) async throws -> AuditEntry {
        do {
            return try await store.changeRoute(route, expected: expected, after: after, actor: actor, action: action, reason: reason)
        } catch let error as StoreError {
            if case .conflict(let reason) = error { throw Refusal.conflict(reason) }
            throw error
        }
    }

    /// Waits until every live instance applies `version`, up to `timeout`; returns those that did not.
    public func waitForInstances(version: Int64, timeout: Duration) async throws -> WaitOutcome {
        let pending = try await store.waitUntilApplied(version: version, timeout: timeout)
        return WaitOutcome(complete: pending.isEmpty, pending: pending)
    }
}

/// The flags `PATCH /api/v1/routes/{name}` may change.
public struct FlagPatch: Codable, Sendable {
    public var threshold: Int64?
    public var creates: RoutingTarget.Side?
    public var compareSample: Double?
    public var reason: String?
    public var force: Bool?

    enum CodingKeys: String, CodingKey {
        case threshold, creates, reason, force
        case compareSample = "compare_sample"
    }

    public init(threshold: Int64? = nil, creates: RoutingTarget.Side? = nil, compareSample: Double? = nil, reason: String? = nil, force: Bool? = nil) {
        self.threshold = threshold
        self.creates = creates
        self.compareSample = compareSample
        self.reason = reason
        self.force = force
    }
}

/// What a change did.
public struct PhaseChange: Codable, Sendable {
    public var route: String
    /// False when the route already had what was asked (nothing written).
    public var changed: Bool
    public var before: RouteFlags
    public var after: RouteFlags
    /// The flag version after the change.
    public var version: Int64
    public var entry: AuditEntry?
    /// The gates judged (forward moves).
    public var gates: [GateResult]
    /// Whether failed gates were overridden.
    public var forced: Bool
    /// With `wait: true`: whether every live instance applied the change.
    public var wait: WaitOutcome?

    enum CodingKeys: String, CodingKey {
        case route, changed, before, after, version, gates, forced, wait
        case entry = "audit"
    }
}

/// Whether every live instance applied a version.
public struct WaitOutcome: Codable, Sendable, Equatable {
    public var complete: Bool
    /// Live instances that had not applied it by the timeout.
    public var pending: [String]

    public init(complete: Bool, pending: [String]) {
        self.complete = complete
        self.pending = pending
    }
}

/// One route in `GET /api/v1/routes`.
public struct RouteStatus: Codable, Sendable {
    public var name: String
    public var flags: RouteFlags
    /// Whether the store holds flags for it (else the configuration's are in force).
    public var stored: Bool
    /// `id`, `aggregate` or `route` (the whole route moves together).
    public var routedBy: String
    /// Where the ID is read (`path:id`, `body:/order/id`…).
    public var idSource: String?
    public var maxOldID: Int64?
    public var maxNewID: Int64?

    enum CodingKeys: String, CodingKey {
        case name, flags, stored
        case routedBy = "routed_by"
        case idSource = "id_source"
        case maxOldID = "max_old_id"
        case maxNewID = "max_new_id"
    }
}

/// The answer of `GET /api/v1/routes`.
public struct RoutesResponse: Codable, Sendable {
    /// The flag version in the store.
    public var version: Int64
    public var routes: [RouteStatus]
}
