import CutoverCore

/// Where a run's steps are journaled: each written when it begins and when it ends, before the next begins.
public protocol HostJournal: Sendable {
    func beginStep(_ step: RunbookMachine.Step, pass: Int) async throws -> Int64
    func finishStep(_ seq: Int64, result: HostStepRecord.Result, figures: [String: Double], commands: [HostStepRecord.Command],
                    failure: String?) async throws
    func finishRun(status: HostRun.Status, reason: String?, figures: [String: Double]) async throws
}

/// What one step came to.
public struct StepResult: Sendable {
    public var failure: String?
    public var figures: [String: Double] = [:]
    public var commands: [HostStepRecord.Command] = []
    public var sync: SyncPass?
    /// A float's first announcement (the moment the address moved), for the downtime.
    var announcedAt: ContinuousClock.Instant?

    public init(failure: String? = nil) { self.failure = failure }

    /// Keeps a command's end in the step's record.
    mutating func keep(_ result: CommandResult, on host: String) {
        commands.append(HostStepRecord.Command(host: host, command: result.arguments.joined(separator: " "), status: result.status,
                                               timedOut: result.timedOut, stdout: result.stdout, stderr: result.stderr,
                                               seconds: result.duration.seconds))
    }
}

/// A pre-check's verdict.
public struct PrecheckItem: Sendable, Hashable {
    public enum Verdict: String, Sendable, Hashable { case pass, warn, fail }
    public var name: String
    public var verdict: Verdict
    public var detail: String

    public init(_ name: String, _ verdict: Verdict, _ detail: String) {
        self.name = name
        self.verdict = verdict
        self.detail = detail
    }
}

extension Duration {
    /// In seconds, as a number.
    public var seconds: Double {
        let (whole, attoseconds) = components
        return Double(whole) + Double(attoseconds) / 1e18
    }

    /// In milliseconds, as a number.
    public var milliseconds: Double { seconds * 1000 }
}
