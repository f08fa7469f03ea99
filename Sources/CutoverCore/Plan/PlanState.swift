/// A plan step as the store keeps it: where it stands, who confirmed it and why, when it ran.
public struct PlanStepRecord: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case pending, confirmed, running, done
    }

    public var name: String
    public var status: Status
    public var confirmedBy: String?
    public var confirmedAt: Int64?
    public var note: String?
    public var finishedAt: Int64?
    /// What the step did (for a phase action: each route's phase before it, so a rollback can put it back).
    public var before: [String: String]?

    public init(name: String, status: Status = .pending, confirmedBy: String? = nil, confirmedAt: Int64? = nil, note: String? = nil,
                finishedAt: Int64? = nil, before: [String: String]? = nil) {
        self.name = name
        self.status = status
        self.confirmedBy = confirmedBy
        self.confirmedAt = confirmedAt
        self.note = note
        self.finishedAt = finishedAt
        self.before = before
    }

    enum CodingKeys: String, CodingKey {
        case name, status, note, before
        case confirmedBy = "confirmed_by", confirmedAt = "confirmed_at", finishedAt = "finished_at"
    }
}

/// The plan as an operator sees it (`GET /api/v1/plan`, `cutover plan status`): every step with its state, and for
/// the step to do next its evidence — what passes, what does not, with the numbers.
public struct PlanStatus: Sendable, Hashable, Codable {
    public struct Step: Sendable, Hashable, Codable {
        public var name: String
        public var owner: String
        public var kind: String
        public var description: String
        public var status: String
        public var confirmedBy: String?
        public var confirmedAt: Int64?
        public var note: String?
        public var finishedAt: Int64?
        /// For the next step: its evidence, each gate with its numbers.
        public var gates: [GateResult]?

        public init(name: String, owner: String, kind: String, description: String, status: String, confirmedBy: String?, confirmedAt: Int64?,
                    note: String?, finishedAt: Int64?, gates: [GateResult]?) {
            self.name = name
            self.owner = owner
            self.kind = kind
            self.description = description
            self.status = status
            self.confirmedBy = confirmedBy
            self.confirmedAt = confirmedAt
            self.note = note
            self.finishedAt = finishedAt
            self.gates = gates
        }

        enum CodingKeys: String, CodingKey {
            case name, owner, kind, description, status, note, gates
            case confirmedBy = "confirmed_by", confirmedAt = "confirmed_at", finishedAt = "finished_at"
        }
    }

    /// The step to do next; nil once every step is done.
    public var next: String?
    public var steps: [Step]

    public init(next: String?, steps: [Step]) {
        self.next = next
        self.steps = steps
    }
}

/// What `advance` did: the step done (and the audit entry that records it), or why it could not be.
public struct PlanAdvance: Sendable, Hashable, Codable {
    public var step: String
    public var done: Bool
    /// Why not, when not: the gates that failed, a confirmation still missing, a refused phase change.
    public var message: String
    public var gates: [GateResult]
    public var audit: AuditEntry?
    /// The routes an action moved.
    public var moved: [String]
    /// The host run a `host_task` action began (the step is done once it is).
    public var hostRun: Int64?

    public init(step: String, done: Bool, message: String, gates: [GateResult], audit: AuditEntry?, moved: [String] = [], hostRun: Int64? = nil) {
        self.step = step
        self.done = done
        self.message = message
        self.gates = gates
        self.audit = audit
        self.moved = moved
        self.hostRun = hostRun
    }

    enum CodingKeys: String, CodingKey {
        case step, done, message, gates, audit, moved
        case hostRun = "host_run"
    }
}
