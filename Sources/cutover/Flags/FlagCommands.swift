import ArgumentParser
import CutoverAdmin
import CutoverCore
import Foundation

/// `cutover routes`: every route's phase and flags.
struct RoutesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "routes",
        abstract: "List the routes of a running gateway with their phase, flags and ID evidence.",
        discussion: "The token comes from the CUTOVER_TOKEN environment variable (a viewer's token is enough)."
    )

    @OptionGroup var options: AdminOptions

    func run() async throws {
        let (routes, text) = try await options.withClient(command: "routes") { client in
            try await client.call(.GET, "/api/v1/routes", as: RoutesResponse.self)
        }
        guard !options.json else { return print(text) }
        var table = TextTable(header: ["ROUTE", "PHASE", "BY", "THRESHOLD", "CREATES", "KEPT WITH NEW FROM", "MAX OLD ID", "MAX NEW ID"],
                              rightAligned: [3, 5, 6, 7])
        for route in routes.routes {
            let by = route.idSource.map { "id \($0)" } ?? route.routedBy
            table.append([route.name, route.flags.phase.rawValue, by, route.flags.threshold.map(String.init) ?? "-", route.flags.creates.rawValue,
                          route.flags.newIDsFrom.map(String.init) ?? "-", route.maxOldID.map(String.init) ?? "-", route.maxNewID.map(String.init) ?? "-"])
        }
        print("flag version \(routes.version)")
        print(table.text)
    }
}

/// `cutover phase ROUTE PHASE`: moves a route, through its gates.
struct PhaseCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "phase",
        abstract: "Move a route to a phase: old, shadow, gray, drain or new.",
        discussion: """
            Forward moves pass the route's gates unless --force (with --reason); moving back always works and takes \
            effect at once. Exit status: 0 done, 1 refused (the failed gates are printed) or not applied everywhere \
            in time with --wait, 2 bad input. Needs an operator's token in CUTOVER_TOKEN.
            """
    )

    @OptionGroup var options: AdminOptions

    @Argument(help: "The route.")
    var route: String

    @Argument(help: "The phase: old, shadow, gray, drain or new.")
    var phase: String

    @Option(name: .long, help: "Why; the audit log keeps it (required with --force).")
    var reason = ""

    @Flag(name: .long, help: "Override failed gates.")
    var force = false

    @Flag(name: .customLong("abandon-new-ids"), help: "On a rollback out of gray, send IDs new created back to old too.")
    var abandonNewIDs = false

    @Flag(name: .long, help: "Return only once every live instance applies the change.")
    var wait = false

    @Option(name: .customLong("wait-timeout"), help: "How long --wait waits (at most 60s).")
    var waitTimeout = "5s"

    func validate() throws {
        guard Phase(rawValue: phase) != nil else {
            throw ValidationError("'\(phase)' is not a phase: use one of \(Phase.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if force, reason.trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--force needs --reason: the audit log keeps why the gates were overridden")
        }
        guard Quantities.duration(waitTimeout) != nil else { throw ValidationError("--wait-timeout '\(waitTimeout)' is not a duration (5s)") }
    }

    struct Body: Encodable {
        var phase: String
        var reason: String
        var force: Bool
        var abandon_new_ids: Bool
        var wait: Bool
        var wait_timeout: String
    }

    func run() async throws {
        let body = try JSONEncoder().encode(Body(phase: phase, reason: reason, force: force, abandon_new_ids: abandonNewIDs,
                                                 wait: wait, wait_timeout: waitTimeout))
        let (change, text) = try await options.withClient(command: "phase") { client in
            try await client.call(.PUT, "/api/v1/routes/\(route)/phase", body: body, as: PhaseChange.self)
        }
        if options.json { print(text) } else { print(FlagText.change(change)) }
        if let wait = change.wait, !wait.complete { throw ExitCode(1) }
    }
}

/// `cutover flags ROUTE key=value…`: changes a route's other flags.
struct FlagsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flags",
        abstract: "Change a route's flags: threshold=N, creates=old|new, compare_sample=0..1.",
        discussion: "Needs an operator's token in CUTOVER_TOKEN. Exit status: 0 done, 1 refused, 2 bad input."
    )

    @OptionGroup var options: AdminOptions

    @Argument(help: "The route.")
    var route: String

    @Argument(help: "key=value pairs.")
    var assignments: [String] = []

    @Option(name: .long, help: "Why; the audit log keeps it.")
    var reason: String?

    @Flag(name: .long, help: "Override a failed threshold check (needs --reason).")
    var force = false

    static let keys = ["threshold", "creates", "compare_sample"]

    /// The patch the assignments make, or why they make none.
    static func patch(_ assignments: [String]) throws -> FlagPatch {
        guard !assignments.isEmpty else { throw ValidationError("name at least one flag to change: \(keys.joined(separator: ", "))") }
        var patch = FlagPatch()
        for assignment in assignments {
            let parts = assignment.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2 else { throw ValidationError("'\(assignment)' is not key=value") }
            switch parts[0] {
            case "threshold":
                guard let value = Int64(parts[1]), value > 0 else { throw ValidationError("threshold '\(parts[1])' is not a positive whole number") }
                patch.threshold = value
            case "creates":
                guard let side = RoutingTarget.Side(rawValue: parts[1]) else { throw ValidationError("creates '\(parts[1])' is not old or new") }
                patch.creates = side
            case "compare_sample":
                guard let value = Double(parts[1]), (0...1).contains(value) else { throw ValidationError("compare_sample '\(parts[1])' is not from 0 to 1") }
                patch.compareSample = value
            default:
                throw ValidationError("unknown flag '\(parts[0])': use \(keys.joined(separator: ", ")) (phases change with `cutover phase`)")
            }
        }
        return patch
    }

    func validate() throws {
        _ = try Self.patch(assignments)
        if force, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty { throw ValidationError("--force needs --reason") }
    }

    func run() async throws {
        var patch = try Self.patch(assignments)
        patch.reason = reason
        patch.force = force ? true : nil
        let body = try JSONEncoder().encode(patch)
        let (change, text) = try await options.withClient(command: "flags") { client in
            try await client.call(.PATCH, "/api/v1/routes/\(route)", body: body, as: PhaseChange.self)
        }
        print(options.json ? text : FlagText.change(change))
    }
}

/// `cutover audit`: the audit log.
struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit",
        abstract: "Print the audit log of flag changes, newest first, and whether its hash chain holds.",
        discussion: "Exit status 1 when the chain is broken (an entry was changed or removed)."
    )

    @OptionGroup var options: AdminOptions

    @Option(name: .long, help: "Only this route.")
    var route: String?

    @Option(name: .long, help: "How many entries (1 to 1000).")
    var limit = 50

    func run() async throws {
        let (audit, text) = try await options.withClient(command: "audit") { client in
            try await client.call(.GET, "/api/v1/audit", query: [("route", route), ("limit", String(limit))], as: AuditResponse.self)
        }
        if options.json {
            print(text)
        } else {
            var table = TextTable(header: ["SEQ", "TIME", "WHO", "ROUTE", "ACTION", "CHANGE", "REASON"], rightAligned: [0])
            let formatter = ISO8601DateFormatter()
            for entry in audit.entries {
                table.append([String(entry.seq), formatter.string(from: Date(timeIntervalSince1970: Double(entry.timeMs) / 1000)), entry.actor,
                              entry.route, entry.action, entry.before.flatMap { before in entry.after.map { FlagText.difference(before, $0) } } ?? "-", entry.reason])
            }
            print(table.text)
            print(audit.chain.verified ? "hash chain verified over \(audit.chain.entries) entries"
                  : "HASH CHAIN BROKEN at entry \(audit.chain.brokenAt ?? -1): the log was changed")
        }
        if !audit.chain.verified { throw ExitCode(1) }
    }
}

/// `cutover instances`: the gateways sharing the store.
struct InstancesCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "instances",
        abstract: "List the gateway instances sharing the store, the flag version each applies, and whether it is live."
    )

    @OptionGroup var options: AdminOptions

    func run() async throws {
        let (instances, text) = try await options.withClient(command: "instances") { client in
            try await client.call(.GET, "/api/v1/instances", as: InstancesResponse.self)
        }
        guard !options.json else { return print(text) }
        var table = TextTable(header: ["INSTANCE", "ADDRESS", "APPLIED", "LIVE", "LAST HEARD"], rightAligned: [2])
        let now = Date().timeIntervalSince1970 * 1000
        for instance in instances.instances {
            table.append([instance.id, instance.address, String(instance.appliedVersion) + (instance.appliedVersion < instances.version ? " (behind)" : ""),
                          instance.live ? "yes" : "no", "\(Int((now - Double(instance.heartbeatMs)) / 1000))s ago"])
        }
        print("flag version \(instances.version)")
        print(table.text)
    }
}

/// Flag changes as text.
enum FlagText {
    /// What changed between two sets of flags (`phase shadow → gray, threshold 1000 → 2000`).
    static func difference(_ before: RouteFlags, _ after: RouteFlags) -> String {
        var parts: [String] = []
        if before.phase != after.phase { parts.append("phase \(before.phase.rawValue) → \(after.phase.rawValue)") }
        if before.threshold != after.threshold { parts.append("threshold \(before.threshold.map(String.init) ?? "-") → \(after.threshold.map(String.init) ?? "-")") }
        if before.creates != after.creates { parts.append("creates \(before.creates.rawValue) → \(after.creates.rawValue)") }
        if before.compareSample != after.compareSample { parts.append("compare_sample \(before.compareSample) → \(after.compareSample)") }
        if before.newIDsFrom != after.newIDsFrom {
            parts.append("kept with new from \(before.newIDsFrom.map(String.init) ?? "-") → \(after.newIDsFrom.map(String.init) ?? "-")")
        }
        return parts.isEmpty ? "no change" : parts.joined(separator: ", ")
    }

    static func change(_ change: PhaseChange) -> String {
        var lines: [String] = []
        if change.changed {
            lines.append("\(change.route): \(difference(change.before, change.after)) (flag version \(change.version))")
        } else {
            lines.append("\(change.route): already \(change.after.phase.rawValue); nothing changed (flag version \(change.version))")
        }
        for gate in change.gates {
            lines.append("  \(gate.passed ? "ok    " : change.forced ? "FORCED" : "FAILED") \(gate.gate): \(gate.message)")
        }
        if let from = change.after.newIDsFrom, change.after.phase < .gray {
            lines.append("  IDs from \(from) stay with new (new created them); --abandon-new-ids sends them to old")
        }
        if let wait = change.wait {
            lines.append(wait.complete ? "  applied by every live instance" : "  NOT yet applied by: \(wait.pending.joined(separator: ", "))")
        }
        return lines.joined(separator: "\n")
    }
}
