import Foundation

/// Who carries out a host run: the process that holds its lease. A second `cutover host resume` or `rollback` (or
/// the gateway's rollback call) beside a living holder is refused, so two writers never race on one run's steps.
///
/// On the machine the holder runs on (same boot), whether it lives is known at once from its process ID and start
/// time: a runner killed with `kill -9` gives its run up the moment it dies. From another machine only the lease's
/// time tells, so the holder renews it while it runs.
public struct RunHolder: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The host name, for people.
    public var machine: String
    /// The kernel's boot ID: process IDs mean something only within one boot of one machine.
    public var boot: String
    public var pid: Int32
    /// The process's start time in clock ticks since boot (`/proc/PID/stat` field 22): a reused PID differs in it.
    public var started: UInt64
    /// Tells two holders in one process apart (two rollbacks in one gateway).
    public var token: String

    public init(machine: String, boot: String, pid: Int32, started: UInt64, token: String) {
        self.machine = machine
        self.boot = boot
        self.pid = pid
        self.started = started
        self.token = token
    }

    /// This process, with a fresh token.
    public static func current() -> RunHolder {
        let pid = getpid()
        return RunHolder(machine: hostName, boot: bootID, pid: pid, started: startTime(of: pid) ?? 0,
                         token: String(UInt64.random(in: 1...UInt64.max), radix: 36))
    }

    public var description: String { "cutover (pid \(pid) on \(machine))" }

    /// Whether the holder still runs: true or false when it ran on this machine in this boot, nil when that cannot
    /// be told from here (another machine, or before a reboot: its lease's time decides).
    public var isAlive: Bool? {
        guard boot == Self.bootID, !boot.isEmpty else { return nil }
        guard let now = Self.startTime(of: pid) else { return false }
        return started == 0 || now == started
    }

    /// The kernel's boot ID, empty where there is none.
    static let bootID: String = {
        (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
    }()

    static let hostName: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        guard gethostname(&buffer, buffer.count - 1) == 0 else { return "unknown" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }()

    /// A process's start time from `/proc/PID/stat`, nil when it does not run (a zombie counts as gone).
    static func startTime(of pid: Int32) -> UInt64? {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let close = stat.lastIndex(of: ")") else { return nil }
        // After the command name (which may hold spaces and parentheses): state is field 3, start time field 22.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 19, fields[0] != "Z", fields[0] != "X" else { return nil }
        return UInt64(fields[19])
    }
}
