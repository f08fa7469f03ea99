/// What `cutover report` says of a migration, from the store: how long it took overall, how long the service was
/// down, each route's way through the phases with its comparison figures and rollbacks, the host cutovers with their
/// latency before and after, and the reconciliations. Times are milliseconds since 1970.
public struct MigrationReport: Sendable, Hashable, Codable {
    public struct Span: Sendable, Hashable, Codable {
        public var startedAt: Int64?
        public var finishedAt: Int64?
        /// From the first recorded change to the last, when there are both.
        public var seconds: Double? {
            guard let startedAt, let finishedAt else { return nil }
            return Double(finishedAt - startedAt) / 1000
        }

        public init(startedAt: Int64?, finishedAt: Int64?) {
            self.startedAt = startedAt
            self.finishedAt = finishedAt
        }

        enum CodingKeys: String, CodingKey {
            case startedAt = "started_at", finishedAt = "finished_at", seconds
        }

        public init(from decoder: any Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            startedAt = try container.decodeIfPresent(Int64.self, forKey: .startedAt)
            finishedAt = try container.decodeIfPresent(Int64.self, forKey: .finishedAt)
        }

        public func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encodeIfPresent(startedAt, forKey: .startedAt)
            try container.encodeIfPresent(finishedAt, forKey: .finishedAt)
            try container.encodeIfPresent(seconds, forKey: .seconds)
        }
    }

    /// A change of a route's phase, as the audit log has it.
    public struct PhaseEvent: Sendable, Hashable, Codable {
        public var at: Int64
        public var from: String
        public var to: String
        public var actor: String
        /// `phase` (an operator), `auto_rollback`, `host_rollback`.
        public var action: String
        public var reason: String
        /// For a move out of shadow: the comparison in the gate window before it.
        public var compared: Int64?
        public var diffRate: Double?

        public init(at: Int64, from: String, to: String, actor: String, action: String, reason: String, compared: Int64? = nil, diffRate: Double? = nil) {
            self.at = at
            self.from = from
            self.to = to
            self.actor = actor
            self.action = action
            self.reason = reason
            self.compared = compared
            self.diffRate = diffRate
        }

        enum CodingKeys: String, CodingKey {
            case at, from, to, actor, action, reason, compared
            case diffRate = "diff_rate"
        }
    }

    public struct RouteReport: Sendable, Hashable, Codable {
        public var name: String
        public var phase: String
        /// Over everything the store holds.
        public var compared: Int64
        public var differing: Int64
        public var diffRate: Double
        public var timeline: [PhaseEvent]
        /// The steps back in the timeline (manual and automatic), with their reasons.
        public var rollbacks: [PhaseEvent]

        public init(name: String, phase: String, compared: Int64, differing: Int64, diffRate: Double, timeline: [PhaseEvent], rollbacks: [PhaseEvent]) {
            self.name = name
            self.phase = phase
            self.compared = compared
            self.differing = differing
            self.diffRate = diffRate
            self.timeline = timeline
            self.rollbacks = rollbacks
        }

        enum CodingKeys: String, CodingKey {
            case name, phase, compared, differing, timeline, rollbacks
            case diffRate = "diff_rate"
        }
    }

    /// A host task's latest run.
    public struct HostTaskReport: Sendable, Hashable, Codable {
        public var task: String
        public var run: Int64
        public var status: String
        public var reason: String?
        public var startedAt: Int64
        public var finishedAt: Int64?
        /// The run's figures: `migration_seconds`, `downtime_seconds`, `ip_outage_seconds`,
        /// `latency_before_p50_seconds`, `latency_after_p99_seconds`…
        public var figures: [String: Double]

        public init(task: String, run: Int64, status: String, reason: String?, startedAt: Int64, finishedAt: Int64?, figures: [String: Double]) {
            self.task = task
            self.run = run
            self.status = status
            self.reason = reason
            self.startedAt = startedAt
            self.finishedAt = finishedAt
            self.figures = figures
        }

        enum CodingKeys: String, CodingKey {
            case task, run, status, reason, figures
            case startedAt = "started_at", finishedAt = "finished_at"
        }
    }

    public struct ReconcileReport: Sendable, Hashable, Codable {
        public var run: Int64
        public var status: String
        public var finishedAt: Int64?
        public var tables: [TableSummary]
        /// Every table equal.
        public var clean: Bool

        public init(run: Int64, status: String, finishedAt: Int64?, tables: [TableSummary], clean: Bool) {
            self.run = run
            self.status = status
            self.finishedAt = finishedAt
            self.tables = tables
            self.clean = clean
        }

        enum CodingKeys: String, CodingKey {
            case run, status, tables, clean
            case finishedAt = "finished_at"
        }
    }

    public var generatedAt: Int64
    public var migration: Span
    /// The host cutovers' downtime, added up over the tasks' latest runs that measured one.
    public var downtimeSeconds: Double
    public var routes: [RouteReport]
    public var hostTasks: [HostTaskReport]
    public var reconciliations: [ReconcileReport]
    /// What the report could not say, and why.
    public var notes: [String]

    public init(generatedAt: Int64, migration: Span, downtimeSeconds: Double, routes: [RouteReport], hostTasks: [HostTaskReport],
                reconciliations: [ReconcileReport], notes: [String]) {
        self.generatedAt = generatedAt
        self.migration = migration
        self.downtimeSeconds = downtimeSeconds
        self.routes = routes
        self.hostTasks = hostTasks
        self.reconciliations = reconciliations
        self.notes = notes
    }

    enum CodingKeys: String, CodingKey {
        case migration, routes, reconciliations, notes
        case generatedAt = "generated_at"
        case downtimeSeconds = "downtime_seconds"
        case hostTasks = "host_tasks"
    }
}
