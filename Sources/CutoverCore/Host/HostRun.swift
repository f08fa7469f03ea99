/// A host cutover run as its journal keeps it: the task, when it ran, how it ended, and each step with its figures
/// and the commands it ran. Every step is written before it runs and again when it ends, so a run cut off anywhere
/// can be resumed or rolled back from what is here.
public struct HostRun: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        case running
        /// The service runs on the new host.
        case done
        /// A step failed before anything changed.
        case stopped
        /// What was done was undone.
        case rolledBack = "rolled_back"
        /// Undoing failed: an operator must look.
        case rollbackFailed = "rollback_failed"
    }

    public var id: Int64
    public var task: String
    /// The group the task ran in, when it was run as part of one.
    public var group: String?
    /// The hosts the run holds (a host is in at most one running task).
    public var hosts: [String]
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var status: Status
    /// Why it ended as it did, for a run that did not end `done`.
    public var reason: String?
    /// The run's figures (migration time, downtime, IP outage, latencies before and after), in seconds.
    public var figures: [String: Double]
    public var steps: [HostStepRecord]
    /// Who carries the run out while it runs (``RunHolder/description``), nil once it ended.
    public var holder: String?
    /// Whether the holder's process still runs, where that can be told (it ran on this machine); nil otherwise.
    public var holderAlive: Bool?
    /// Until when the holder's lease runs (milliseconds since 1970); it renews the lease while it lives.
    public var leaseUntil: Int64?

    enum CodingKeys: String, CodingKey {
        case id, task, group, hosts, status, reason, figures, steps, holder
        case startedAt = "started_at"
        case finishedAt = "finished_at"
        case holderAlive = "holder_alive"
        case leaseUntil = "lease_until"
    }

    public init(id: Int64, task: String, group: String? = nil, hosts: [String], startedAt: Int64, finishedAt: Int64?, status: Status, reason: String?,
                figures: [String: Double], steps: [HostStepRecord]) {
        self.id = id
        self.task = task
        self.group = group
        self.hosts = hosts
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.reason = reason
        self.figures = figures
        self.steps = steps
    }
}

/// One step of a run, as journaled.
public struct HostStepRecord: Sendable, Hashable, Codable {
    public enum Result: String, Sendable, Hashable, Codable {
        /// Begun and not ended: the runner stopped during it (a resume runs it again).
        case running
        case ok
        case failed
    }

    /// A command the step ran on a host, with its end and (bounded) output.
    public struct Command: Sendable, Hashable, Codable {
        public var host: String
        public var command: String
        public var status: Int32
        public var timedOut: Bool
        public var stdout: String
        public var stderr: String
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case host, command, status, stdout, stderr, seconds
            case timedOut = "timed_out"
        }

        public init(host: String, command: String, status: Int32, timedOut: Bool, stdout: String, stderr: String, seconds: Double) {
            self.host = host
            self.command = command
            self.status = status
            self.timedOut = timedOut
            self.stdout = stdout
            self.stderr = stderr
            self.seconds = seconds
        }
    }

    public var seq: Int64
    /// The runbook step's name (`precheck`, `sync`, `stop_old`, …).
    public var step: String
    /// The sync pass's number (0 for other steps).
    public var pass: Int
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var result: Result
    /// The step's figures (a sync pass's `bytes` and `seconds`, a float's `outage_seconds`, …).
    public var figures: [String: Double]
    public var commands: [Command]
    public var failure: String?

    enum CodingKeys: String, CodingKey {
        case seq, step, pass, result, figures, commands, failure
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }

    public init(seq: Int64, step: String, pass: Int, startedAt: Int64, finishedAt: Int64? = nil, result: Result = .running,
                figures: [String: Double] = [:], commands: [Command] = [], failure: String? = nil) {
        self.seq = seq
        self.step = step
        self.pass = pass
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.result = result
        self.figures = figures
        self.commands = commands
        self.failure = failure
    }
}
