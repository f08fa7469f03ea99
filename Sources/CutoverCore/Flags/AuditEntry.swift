/// One change of a route's switch flags — or another operator action the log keeps, such as a host run's rollback
/// (`route` then names the subject, `host_run:ID`, and there are no flags before and after) — as the audit log
/// keeps it. Each entry carries the hash of the one before, so a changed or removed entry shows.
public struct AuditEntry: Sendable, Hashable, Codable {
    /// Position in the log; also the flag version the change produced.
    public var seq: Int64
    /// When, in milliseconds since 1970.
    public var timeMs: Int64
    /// Who: the admin token's name, or `cutover` for automatic rollbacks.
    public var actor: String
    public var route: String
    /// `phase`, `flags`, `auto_rollback` or `host_rollback`.
    public var action: String
    /// The route's flags before and after; nil for an entry that changes no flags.
    public var before: RouteFlags?
    public var after: RouteFlags?
    public var reason: String
    /// The previous entry's hash (64 zeros for the first).
    public var prevHash: String
    /// SHA-256 (hex) over the previous hash and this entry's fields.
    public var hash: String

    enum CodingKeys: String, CodingKey {
        case seq, actor, route, action, before, after, reason, hash
        case timeMs = "time_ms"
        case prevHash = "prev_hash"
    }

    public init(seq: Int64, timeMs: Int64, actor: String, route: String, action: String, before: RouteFlags?, after: RouteFlags?,
                reason: String, prevHash: String, hash: String) {
        self.seq = seq
        self.timeMs = timeMs
        self.actor = actor
        self.route = route
        self.action = action
        self.before = before
        self.after = after
        self.reason = reason
        self.prevHash = prevHash
        self.hash = hash
    }
}

/// Whether the audit log's hash chain holds.
public struct AuditVerification: Sendable, Hashable, Codable {
    public var verified: Bool
    /// Entries checked.
    public var entries: Int64
    /// The first entry whose hash or link does not match, if any.
    public var brokenAt: Int64?

    enum CodingKeys: String, CodingKey {
        case verified, entries
        case brokenAt = "broken_at"
    }

    public init(verified: Bool, entries: Int64, brokenAt: Int64?) {
        self.verified = verified
        self.entries = entries
        self.brokenAt = brokenAt
    }
}

/// A gateway instance sharing the store, as it last reported itself.
public struct InstanceRecord: Sendable, Hashable, Codable {
    public var id: String
    /// Its proxy and admin addresses.
    public var address: String
    /// The flag version it applies.
    public var appliedVersion: Int64
    public var startedMs: Int64
    public var heartbeatMs: Int64
    /// Heard from within the liveness bound.
    public var live: Bool

    enum CodingKeys: String, CodingKey {
        case id, address, live
        case appliedVersion = "applied_version"
        case startedMs = "started_ms"
        case heartbeatMs = "heartbeat_ms"
    }

    public init(id: String, address: String, appliedVersion: Int64, startedMs: Int64, heartbeatMs: Int64, live: Bool) {
        self.id = id
        self.address = address
        self.appliedVersion = appliedVersion
        self.startedMs = startedMs
        self.heartbeatMs = heartbeatMs
        self.live = live
    }
}
