import Crypto
import CutoverCore
import Foundation
import SQLKit

/// The audit log's hash chain.
public enum AuditChain {
    /// The hash before the first entry.
    public static let genesis = String(repeating: "0", count: 64)

    /// SHA-256 (hex) over the previous hash and the entry's fields, each on its own line.
    public static func hash(previous: String, seq: Int64, timeMs: Int64, actor: String, route: String, action: String,
                            before: String, after: String, reason: String) -> String {
        let text = [previous, String(seq), String(timeMs), actor, route, action, before, after, reason].joined(separator: "\n")
        return SHA256.hash(data: Array(text.utf8)).map { byte in
            let hex = String(byte, radix: 16)
            return byte < 16 ? "0" + hex : hex
        }.joined()
    }
}

/// An audit-log row as stored: the flags as their JSON text, which is what the hash covers.
struct StoredAuditRow {
    var seq: Int64
    var timeMs: Int64
    var actor: String
    var route: String
    var action: String
    var before: String
    var after: String
    var reason: String
    var prevHash: String
    var hash: String

    /// The columns, in the order `init?(_:)` reads them.
    static let columns = "seq, time_ms, actor, route, action, before, after, reason, prev_hash, hash"

    init(seq: Int64, timeMs: Int64, actor: String, route: String, action: String, before: String, after: String, reason: String,
         prevHash: String) {
        self.seq = seq
        self.timeMs = timeMs
        self.actor = actor
        self.route = route
        self.action = action
        self.before = before
        self.after = after
        self.reason = reason
        self.prevHash = prevHash
        self.hash = ""
        self.hash = expectedHash
    }

    init?(_ row: [SQLValue]) {
        guard let seq = row[0].integer, let time = row[1].integer, let actor = row[2].text, let route = row[3].text,
              let action = row[4].text, let before = row[5].text, let after = row[6].text, let reason = row[7].text,
              let prev = row[8].text, let hash = row[9].text else { return nil }
        (self.seq, timeMs, self.actor, self.route, self.action) = (seq, time, actor, route, action)
        (self.before, self.after, self.reason, prevHash, self.hash) = (before, after, reason, prev, hash)
    }

    /// The hash this row must carry after `prevHash`.
    var expectedHash: String {
        AuditChain.hash(previous: prevHash, seq: seq, timeMs: timeMs, actor: actor, route: route, action: action,
                        before: before, after: after, reason: reason)
    }

    var binds: [any Encodable & Sendable] {
        [seq, timeMs, actor, route, action, before, after, reason, prevHash, hash]
    }

    func entry(_ decoder: JSONDecoder) throws -> AuditEntry {
        func flags(_ text: String) throws -> RouteFlags? { text == "null" ? nil : try Store.decode(decoder, RouteFlags.self, text) }
        return AuditEntry(seq: seq, timeMs: timeMs, actor: actor, route: route, action: action, before: try flags(before), after: try flags(after),
                          reason: reason, prevHash: prevHash, hash: hash)
    }
}

/// Switch flags, the audit log, gateway instances and the evidence the gates read.
extension Store {
    /// The channel flag changes are announced on (PostgreSQL).
    public static let flagChannel = "cutover_flags"

    /// Every stored route's flags and the current version.
    public func flagSet() async throws -> FlagSet {
        try await database.withSession { session in
            let version = try await session.run("SELECT version FROM flag_state WHERE id = 1").first?.first?.integer ?? 0
            var routes: [String: RouteFlags] = [:]
            for row in try await session.run("SELECT route, flags FROM route_flags") {
                guard let route = row[0].text, let text = row[1].text else { continue }
                routes[route] = try Store.decode(JSONDecoder(), RouteFlags.self, text)
            }
            return FlagSet(version: version, routes: routes)
        }
    }

    /// Changes one route's flags from `expected` to `after`, durably, with its audit entry; returns the entry
    /// (its `seq` is the new flag version). Throws ``StoreError/conflict(_:)`` when the stored flags are no
    /// longer `expected` (another change came first). PostgreSQL announces the version on ``flagChannel``.
    public func changeRoute(_ route: String, expected: RouteFlags, after: RouteFlags, actor: String, action: String,
                            reason: String, now: Date = Date()) async throws -> AuditEntry {
        let dialect = database.dialect
        return try await database.withTransaction { session in
            // The chain's head is locked first: the flags read after it are those every later change sees.
            let head = try await Self.lockChainHead(session, dialect: dialect)
            let encoder = JSONEncoder()
            encoder.outputFormatting = .sortedKeys
            var current = expected
            if let text = try await session.run("SELECT flags FROM route_flags WHERE route = \(bind: route)").first?.first?.text {
                current = try Store.decode(JSONDecoder(), RouteFlags.self, text)
            }
            guard current == expected else {
                throw StoreError.conflict("route '\(route)' was changed meanwhile (now phase \(current.phase.rawValue)); read it again and retry")
            }
            let row = try await Self.appendAudit(session, dialect: dialect, head: head, subject: route, action: action, actor: actor, reason: reason,
                                                 before: try Store.encode(encoder, current), after: try Store.encode(encoder, after), now: now)
            try await session.run("""
                INSERT INTO route_flags (route, flags, version) VALUES (\(bind: route), \(bind: row.after), \(bind: row.seq))
                ON CONFLICT (route) DO UPDATE SET flags = excluded.flags, version = excluded.version
                """)
            return AuditEntry(seq: row.seq, timeMs: row.timeMs, actor: actor, route: route, action: action, before: current, after: after,
                              reason: reason, prevHash: row.prevHash, hash: row.hash)
        }
    }

    /// The audit chain's head — the flag version and the last entry's hash — locked for the caller's transaction.
    static func lockChainHead(_ session: any StoreSession, dialect: StoreDialect) async throws -> (version: Int64, lastHash: String) {
        let lock = dialect == .postgres ? " FOR UPDATE" : ""
        guard let state = try await session.run("SELECT version, last_hash FROM flag_state WHERE id = 1\(unsafeRaw: lock)").first,
              let version = state[0].integer, let lastHash = state[1].text else {
            throw StoreError.corrupt("flag_state has no row")
        }
        return (version, lastHash)
    }

    /// Appends an entry after `head` (from ``lockChainHead(_:dialect:)`` in the same transaction) and moves the head
    /// to it: its position is the new flag version, which PostgreSQL announces on ``flagChannel``. `before` and
    /// `after` are a route's flags as JSON, or `null` for an entry that changes no flags (an operator's action on
    /// something else, as `host_run:12`).
    static func appendAudit(_ session: any StoreSession, dialect: StoreDialect, head: (version: Int64, lastHash: String), subject: String,
                            action: String, actor: String, reason: String, before: String = "null", after: String = "null",
                            now: Date) async throws -> StoredAuditRow {
        let row = StoredAuditRow(seq: head.version + 1, timeMs: Int64(now.timeIntervalSince1970 * 1000), actor: actor, route: subject,
                                 action: action, before: before, after: after, reason: reason, prevHash: head.lastHash)
        try await session.run("INSERT INTO audit_log (\(unsafeRaw: StoredAuditRow.columns)) VALUES (\(binds: row.binds))")
        try await session.run("UPDATE flag_state SET version = \(bind: row.seq), last_hash = \(bind: row.hash) WHERE id = 1")
        if dialect == .postgres {
            try await session.run("SELECT pg_notify(\(bind: Store.flagChannel), \(bind: String(row.seq)))")
        }
        return row
    }

    /// Audit entries, newest first: of one route or all, older than `beforeSeq` when given.
    public func auditEntries(route: String?, limit: Int, beforeSeq: Int64? = nil) async throws -> [AuditEntry] {
        let rows = try await database.withSession { session in
            var conditions: [SQLQueryString] = []
            if let route { conditions.append("route = \(bind: route)") }
            if let beforeSeq { conditions.append("seq < \(bind: beforeSeq)") }
            let filter: SQLQueryString = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            return try await session.run("""
                SELECT \(unsafeRaw: StoredAuditRow.columns) FROM audit_log\(filter) ORDER BY seq DESC LIMIT \(bind: Int64(max(1, min(limit, 10_000))))
                """)
        }
        let decoder = JSONDecoder()
        return try rows.map { row in
            guard let stored = StoredAuditRow(row) else { throw StoreError.corrupt("audit_log row") }
            return try stored.entry(decoder)
        }
    }

    /// Walks the whole audit log in order, recomputing every hash and link.
    public func verifyAuditChain() async throws -> AuditVerification {
        try await database.withSession { session in
            var previous = AuditChain.genesis
            var count: Int64 = 0
            var expectedSeq: Int64 = 1
            for row in try await session.run("SELECT \(unsafeRaw: StoredAuditRow.columns) FROM audit_log ORDER BY seq") {
                count += 1
                guard let stored = StoredAuditRow(row) else {
                    return AuditVerification(verified: false, entries: count, brokenAt: row[0].integer ?? -1)
                }
                guard stored.seq == expectedSeq, stored.prevHash == previous, stored.hash == stored.expectedHash else {
                    return AuditVerification(verified: false, entries: count, brokenAt: stored.seq)
                }
                previous = stored.hash
                expectedSeq += 1
            }
            let head = try await session.run("SELECT version, last_hash FROM flag_state WHERE id = 1").first
            if let head, head[0].integer != expectedSeq - 1 || head[1].text != previous {
                // Entries were removed from the end.
                return AuditVerification(verified: false, entries: count, brokenAt: expectedSeq)
            }
            return AuditVerification(verified: true, entries: count, brokenAt: nil)
        }
    }

    // MARK: - Instances

    /// Registers an instance or refreshes its heartbeat and applied version.
    /// PostgreSQL announces every heartbeat on this channel (the payload is the version the instance applies), so
    /// that a change waiting for every instance learns at once when one has applied it.
    public static let appliedChannel = "cutover_applied"

    public func heartbeat(instance id: String, address: String, appliedVersion: Int64, startedMs: Int64, now: Date = Date()) async throws {
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        let dialect = database.dialect
        _ = try await database.withSession { session in
            try await session.run("""
                INSERT INTO instances (id, address, applied_version, started_ms, heartbeat_ms)
                VALUES (\(bind: id), \(bind: address), \(bind: appliedVersion), \(bind: startedMs), \(bind: nowMs))
                ON CONFLICT (id) DO UPDATE SET address = excluded.address, applied_version = excluded.applied_version,
                  heartbeat_ms = excluded.heartbeat_ms
                """)
            if dialect == .postgres {
                try await session.run("SELECT pg_notify(\(bind: Store.appliedChannel), \(bind: String(appliedVersion)))")
            }
        }
    }

    /// Waits until every live instance applies `version`, up to `timeout`; returns the instances that had not.
    /// With PostgreSQL the instances are read again whenever one announces a heartbeat (``appliedChannel``), not on a
    /// timer; with SQLite the one instance applied the change before it was answered, so one read tells.
    public func waitUntilApplied(version: Int64, timeout: Duration) async throws -> [String] {
        func pending() async throws -> [String] {
            try await instances().filter { $0.live && $0.appliedVersion < version }.map(\.id)
        }
        guard let postgres = database as? PostgresStoreDatabase else { return try await pending() }
        let (heartbeats, announce) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        return try await withThrowingTaskGroup(of: [String]?.self) { group in
            group.addTask {
                // The listener reads again once it is in place (a heartbeat before it would be missed otherwise). A
                // listener that fails leaves the wait to its timeout.
                try? await postgres.listen(channel: Store.appliedChannel, onListening: { announce.yield() }) { _ in announce.yield() }
                return nil
            }
            group.addTask {
                try? await Task.sleep(for: timeout)
                return try await pending()
            }
            group.addTask {
                for await _ in heartbeats {
                    let left = try await pending()
                    if left.isEmpty { return [] }
                }
                return nil
            }
            defer {
                announce.finish()
                group.cancelAll()
            }
            while let result = try await group.next() {
                if let result { return result }
            }
            return try await pending()
        }
    }

    /// Removes an instance that is shutting down.
    public func removeInstance(_ id: String) async throws {
        _ = try await database.withSession { session in
            try await session.run("DELETE FROM instances WHERE id = \(bind: id)")
        }
    }

    /// The registered instances; `live` when heard from within `liveness`. Instances silent for an hour are forgotten.
    public func instances(liveness: Duration = .seconds(5), now: Date = Date()) async throws -> [InstanceRecord] {
        let nowMs = Int64(now.timeIntervalSince1970 * 1000)
        let bound = liveness.components.seconds * 1000 + liveness.components.attoseconds / 1_000_000_000_000_000
        return try await database.withSession { session in
            try await session.run("DELETE FROM instances WHERE heartbeat_ms < \(bind: nowMs - 3_600_000)")
            return try await session.run("SELECT id, address, applied_version, started_ms, heartbeat_ms FROM instances ORDER BY id").compactMap { row in
                guard let id = row[0].text, let address = row[1].text, let version = row[2].integer, let started = row[3].integer,
                      let heartbeat = row[4].integer else { return nil }
                return InstanceRecord(id: id, address: address, appliedVersion: version, startedMs: started, heartbeatMs: heartbeat,
                                      live: nowMs - heartbeat <= bound)
            }
        }
    }

    // MARK: - Evidence

    /// Raises the stored highest IDs seen to these where they are higher.
    public func recordMaxIDs(_ ids: [String: [RoutingTarget.Side: Int64]]) async throws {
        guard !ids.isEmpty else { return }
        try await database.withTransaction { session in
            for (route, sides) in ids {
                for (side, id) in sides {
                    try await session.run("""
                        INSERT INTO id_evidence (route, side, max_id) VALUES (\(bind: route), \(bind: side.rawValue), \(bind: id))
                        ON CONFLICT (route, side) DO UPDATE SET max_id = CASE WHEN excluded.max_id > id_evidence.max_id
                          THEN excluded.max_id ELSE id_evidence.max_id END
                        """)
                }
            }
        }
    }

    /// The highest IDs seen per route and side, by every instance.
    public func maxIDs() async throws -> [String: [RoutingTarget.Side: Int64]] {
        try await database.withSession { session in
            var result: [String: [RoutingTarget.Side: Int64]] = [:]
            for row in try await session.run("SELECT route, side, max_id FROM id_evidence") {
                guard let route = row[0].text, let side = row[1].text.flatMap(RoutingTarget.Side.init(rawValue:)),
                      let id = row[2].integer else { continue }
                result[route, default: [:]][side] = id
            }
            return result
        }
    }

    /// Adds new's answers per route and minute.
    public func recordNewAnswers(_ counts: [String: [Int64: (requests: Int64, errors: Int64)]]) async throws {
        guard !counts.isEmpty else { return }
        try await database.withTransaction { session in
            for (route, minutes) in counts {
                for (minute, count) in minutes {
                    try await session.run("""
                        INSERT INTO new_answers (route, minute, requests, errors) VALUES (\(bind: route), \(bind: minute), \(bind: count.requests), \(bind: count.errors))
                        ON CONFLICT (route, minute) DO UPDATE SET requests = new_answers.requests + excluded.requests,
                          errors = new_answers.errors + excluded.errors
                        """)
                }
            }
        }
    }

    /// New's answers of a route from `sinceMinute` on, by every instance.
    public func newAnswers(route: String, sinceMinute: Int64) async throws -> (requests: Int64, errors: Int64) {
        try await database.withSession { session in
            let row = try await session.run("""
                SELECT CAST(COALESCE(SUM(requests), 0) AS BIGINT), CAST(COALESCE(SUM(errors), 0) AS BIGINT) FROM new_answers
                WHERE route = \(bind: route) AND minute >= \(bind: sinceMinute)
                """).first
            return (row?[0].integer ?? 0, row?[1].integer ?? 0)
        }
    }

    // MARK: - Notifications

    /// Whether this store announces flag changes (PostgreSQL) or must be polled (SQLite).
    public var announcesChanges: Bool { database.dialect == .postgres }

    /// Calls `onVersion` with each flag version announced, until cancelled or the connection fails (which throws).
    /// `onListening` is called once the listener is in place.
    public func listenForFlagChanges(onListening: @escaping @Sendable () async -> Void,
                                     onVersion: @escaping @Sendable (Int64) async -> Void) async throws {
        guard let postgres = database as? PostgresStoreDatabase else { return }
        try await postgres.listen(channel: Store.flagChannel, onListening: onListening) { payload in
            if let version = Int64(payload) { await onVersion(version) }
        }
    }
}
