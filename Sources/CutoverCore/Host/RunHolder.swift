import Foundation
import Synchronization

/// Who carries out a host run: the process that holds its lease. A second `cutover host resume` or `rollback` (or
/// the gateway's rollback call) beside a living holder is refused, so two writers never race on one run's steps.
///
/// On the machine the holder runs on (same boot), whether it lives is known at once from its process ID and start
/// time: a runner killed with `kill -9` gives its run up the moment it dies. From another machine only the lease's
/// time tells, so the holder renews it while it runs.
public struct RunHolder: Sendable, Hashable, Codable, CustomStringConvertible {
    /// The host name, for people.
    public var machine: String
    /// The kernel's boot ID and the PID namespace: process IDs mean something only within one boot of one machine,
    /// seen from one PID namespace (containers on one kernel share the boot ID, not the namespace).
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
        return RunHolder(machine: ProcessInfo.processInfo.hostName, boot: bootID, pid: pid, started: startTime(of: pid) ?? 0,
                         token: String(UInt64.random(in: 1...UInt64.max), radix: 36))
    }

    public var description: String { "cutover (pid \(pid) on \(machine))" }

    /// Whether the holder still runs: true or false when that is certain from here (it ran on this machine in this
    /// boot and PID namespace, and its process can be looked at), nil otherwise (another machine or container, a
    /// reboot, a `/proc` that hides other users' processes): its lease's time decides then.
    public var isAlive: Bool? {
        guard boot == Self.bootID, !boot.isEmpty, started != 0 else { return nil }
        // A holder in this very process lives while its lease is held here (a gateway whose rollback ended or
        // failed has given it up even though the process runs on).
        if pid == getpid(), started == Self.startTime(of: pid) { return Self.held.withLock { $0.contains(token) } }
        if let now = Self.startTime(of: pid) { return now == started }
        // No start time to compare: gone if no such process exists; uncertain if it exists but cannot be looked at.
        if kill(pid, 0) != 0, errno == ESRCH { return false }
        return nil
    }

    /// The tokens whose leases this process holds now.
    private static let held = Mutex<Set<String>>([])

    /// Marks this process's holder as holding a lease (until ``released()``).
    public func holding() { Self.held.withLock { _ = $0.insert(token) } }

    /// Marks the lease as given up.
    public func released() { Self.held.withLock { _ = $0.remove(token) } }

    /// The kernel's boot ID with this process's PID namespace, empty where there is no boot ID.
    static let bootID: String = {
        let boot = (try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        guard !boot.isEmpty else { return "" }
        let namespace = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/pid")) ?? "pid:[?]"
        return boot + " " + namespace
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
