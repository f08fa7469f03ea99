import ArgumentParser
import CutoverAdmin
import CutoverCore
import CutoverHost
import CutoverStore
import Foundation
import Logging

/// `cutover host`: the last stage of a migration — moving the service itself to the new host.
struct HostCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "host",
        abstract: "Move a service to its new host: pre-checks, data sync, stop, start, float of its address, verify; journaled, resumable, undoable.",
        subcommands: [HostRunCommand.self, HostPrecheckCommand.self, HostStatusCommand.self, HostResumeCommand.self, HostRollbackCommand.self,
                      HostInventoryCommand.self, HostCompareCommand.self]
    )
}

/// What every `cutover host` command reads.
struct HostOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file with the host_cutover: section.")
    var config: String

    func load() throws -> HostConfig { try Self.load(config) }

    /// The host configuration in `path`, or its issues printed and exit 2.
    static func load(_ path: String) throws -> HostConfig {
        switch ConfigLoader.loadHost(file: path) {
        case .success(let loaded): return loaded
        case .failure(let error):
            for issue in error.issues { printError(issue.formatted(source: path)) }
            throw ExitCode(2)
        }
    }

    /// Runs `body` with the configuration's store.
    func withStore<T: Sendable>(_ loaded: HostConfig, _ body: @Sendable (Store) async throws -> T) async throws -> T {
        LoggingBootstrap.once(level: .warning)
        var logger = Logger(label: "cutover")
        logger.logLevel = .warning
        do {
            return try await Store.withStore(loaded.store, logger: logger, body)
        } catch let error as StoreError {
            guard case .cannotOpen(let reason) = error else { throw error }
            printError("cutover host: cannot open the store \(loaded.store): \(reason)")
            throw ExitCode(2)
        }
    }
}

/// The task's hosts, resolved.
func hosts(of task: HostCutoverSettings.Task, in settings: HostCutoverSettings) -> (HostCutoverSettings.Host, HostCutoverSettings.Host) {
    (settings.host(named: task.from)!, settings.host(named: task.to)!)
}

/// The gateway check of the pre-checks: every route of the gateway in phase `new`, asked through its admin API.
func gatewayCheck(admin: String?, skipReason: String?) -> (@Sendable () async -> PrecheckItem)? {
    if let skipReason { return { PrecheckItem("gateway routes in phase new", .warn, "skipped: \(skipReason)") } }
    guard let admin else { return nil }
    return {
        guard let token = ProcessInfo.processInfo.environment["CUTOVER_TOKEN"], !token.isEmpty else {
            return PrecheckItem("gateway routes in phase new", .fail, "set CUTOVER_TOKEN to ask \(admin), or pass --skip-gateway-check --reason R")
        }
        do {
            let (routes, _) = try await AdminClient.with(base: admin, token: token) { client in
                try await client.call(.GET, "/api/v1/routes", as: RoutesResponse.self)
            }
            let behind = routes.routes.filter { $0.flags.phase != .new }
            return behind.isEmpty ? PrecheckItem("gateway routes in phase new", .pass, "\(routes.routes.count) routes at \(admin)")
                : PrecheckItem("gateway routes in phase new", .fail, behind.map { "\($0.name) is \($0.flags.phase.rawValue)" }.joined(separator: ", "))
        } catch {
            return PrecheckItem("gateway routes in phase new", .fail, "\(admin): \(error)")
        }
    }
}

/// Runs a task's runbook from `action` and prints its end and figures; exit 1 unless it ended done (or, for a
/// rollback an operator asked for, rolled back).
func drive(_ runner: HostRunner, _ machine: RunbookMachine, from action: RunbookMachine.Action, run: Int64, lease: HostLease) async throws {
    let (outcome, figures) = try await lease.holding { try await runner.run(machine, from: action) }
    try report(outcome, figures, run: run, task: runner.task.name, to: runner.to.name)
}

/// Prints how a run ended and its figures; exit 1 unless it ended done.
func report(_ outcome: RunbookMachine.Outcome, _ figures: [String: Double], run: Int64, task: String, to: String, rollingBack: Bool = false) throws {
    switch outcome {
    case .done: print("run \(run): done, \(task) runs on \(to)")
    case .stopped(let step, let reason): print("run \(run): stopped at \(step.rawValue) before anything changed: \(reason)")
    case .rolledBack(let step, let reason): print("run \(run): rolled back after \(step.rawValue): \(reason)")
    case .rollbackFailed(let step, let reason): print("run \(run): rolling back failed at \(step.rawValue): \(reason) (cutover host rollback \(run) tries again)")
    }
    for (name, value) in figures.sorted(by: { $0.key < $1.key }) {
        print("  \(name.replacingOccurrences(of: "_seconds", with: "")): " + (name.hasSuffix("_seconds") ? String(format: "%.3f s", value) : "\(value)"))
    }
    if case .rolledBack = outcome, rollingBack { return }
    if outcome != .done { throw ExitCode(1) }
}

/// `cutover host run`.
struct HostRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run tasks' runbooks: precheck, sync passes, stop old, final sync, start new, health, float, verify.",
        discussion: """
            Each --task runs on its own; each --group runs its tasks one after another (a task that does not end done \
            stops its group), up to max_parallel_groups groups at once: a further group is refused, never queued. A host \
            is in at most one running task. Exit status: 0 every task done; 1 a task stopped, rolled back or was refused; \
            2 bad input.
            """
    )

    @OptionGroup var options: HostOptions

    @Option(name: .long, help: "A task to run (repeatable).")
    var task: [String] = []

    @Option(name: .long, help: "A group whose tasks run one after another (repeatable).")
    var group: [String] = []

    @Flag(name: .customLong("dry-run"), help: "Run the pre-checks and print the steps; change nothing.")
    var dryRun = false

    @Flag(name: .customLong("skip-gateway-check"), help: "Do not require every gateway route in phase new (needs --reason).")
    var skipGatewayCheck = false

    @Option(name: .long, help: "Why the gateway check is skipped; the journal keeps it.")
    var reason: String?

    func validate() throws {
        if task.isEmpty, group.isEmpty { throw ValidationError("name what to run: --task NAME or --group NAME") }
        if skipGatewayCheck, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--skip-gateway-check needs --reason: the journal keeps why")
        }
    }

    /// What runs: a lane per --task (no group) and per --group (its tasks in order).
    func lanes(_ settings: HostCutoverSettings) throws -> [(group: String?, tasks: [HostCutoverSettings.Task])] {
        var lanes: [(group: String?, tasks: [HostCutoverSettings.Task])] = []
        for name in task {
            guard let found = settings.task(named: name) else {
                throw ValidationError("--task '\(name)' is not a task of host_cutover.tasks (\(settings.tasks.map(\.name).joined(separator: ", ")))")
            }
            lanes.append((nil, [found]))
        }
        for name in group {
            guard let found = settings.groups.first(where: { $0.name == name }) else {
                throw ValidationError("--group '\(name)' is not a group of host_cutover.groups (\(settings.groups.map(\.name).joined(separator: ", ")))")
            }
            lanes.append((name, found.tasks.compactMap(settings.task(named:))))
        }
        if group.count > settings.maxParallelGroups {
            throw ValidationError("\(group.count) groups asked for, and max_parallel_groups is \(settings.maxParallelGroups): run the others after these")
        }
        return lanes
    }

    func run() async throws {
        let loaded = try options.load()
        let settings = loaded.hostCutover
        let lanes = try lanes(settings)
        let check = gatewayCheck(admin: settings.gatewayAdmin, skipReason: skipGatewayCheck ? reason : nil)
        if dryRun {
            var failed = false
            for task in lanes.flatMap(\.tasks) {
                var runner = HostRunner(task: task, in: settings, journal: NoJournal())
                runner.gatewayCheck = check
                let (items, result) = await runner.precheck()
                print("\(task.name): steps precheck, sync passes (up to \(task.sync.maxPasses)), stop old, final sync, start new, health"
                      + (task.vip == nil && task.vip6 == nil ? "" : ", float") + ", verify")
                printChecks(items)
                failed = failed || result.failure != nil
            }
            if failed { throw ExitCode(1) }
            return
        }
        let allDone = try await options.withStore(loaded) { store in
            try await withThrowingTaskGroup(of: Bool.self) { lanesGroup in
                for lane in lanes {
                    lanesGroup.addTask {
                        for task in lane.tasks {
                            guard try await runTask(task, group: lane.group, settings: settings, store: store, check: check) else { return false }
                        }
                        return true
                    }
                }
                var done = true
                for try await laneDone in lanesGroup { done = done && laneDone }
                return done
            }
        }
        if !allDone { throw ExitCode(1) }
    }

    /// Runs one task's runbook in the store's journal; whether it ended done.
    func runTask(_ task: HostCutoverSettings.Task, group: String?, settings: HostCutoverSettings, store: Store,
                 check: (@Sendable () async -> PrecheckItem)?) async throws -> Bool {
        let (from, to) = hosts(of: task, in: settings)
        let run: Int64
        let holder = RunHolder.current()
        do {
            run = try await store.startHostRun(task: task.name, group: group, hosts: [from.name, to.name],
                                               maxParallelGroups: settings.maxParallelGroups, at: StoreJournal.now,
                                               holder: holder, lease: HostLease.length)
        } catch let error as StoreError {
            printError("cutover host run: \(task.name): \(error)")
            return false
        }
        print("run \(run): \(task.name) from \(from.name) to \(to.name)" + (group.map { " (group \($0))" } ?? ""))
        let lease = HostLease(started: run, holder: holder, store: store)
        var runner = HostRunner(task: task, in: settings, journal: lease.journal)
        runner.gatewayCheck = check
        let name = task.name
        runner.say = { print("  \(name): \($0)") }
        var machine = RunbookMachine(rules: task.sync, budget: task.downtimeBudget, floats: task.float != nil, lowersTTL: task.floatsDNS)
        let first = machine.start()
        do {
            try await drive(runner, machine, from: first, run: run, lease: lease)
            return true
        } catch let exit as ExitCode where exit == ExitCode(1) {
            return false
        } catch {
            // Reported here and kept to this lane: another group's steps are not cut short by it.
            printError("cutover host run: \(task.name): \(error) (cutover host status \(run) shows where it stopped)")
            return false
        }
    }
}

/// A journal that keeps nothing (a dry run changes nothing).
struct NoJournal: HostJournal {
    func beginStep(_ step: RunbookMachine.Step, pass: Int) async throws -> Int64 { 0 }
    func finishStep(_ seq: Int64, result: HostStepRecord.Result, figures: [String: Double], commands: [HostStepRecord.Command], failure: String?) async throws {}
    func finishRun(status: HostRun.Status, reason: String?, figures: [String: Double]) async throws {}
}

func printChecks(_ items: [PrecheckItem]) {
    var table = TextTable(header: ["CHECK", "VERDICT", "DETAIL"], rightAligned: [])
    for item in items { table.append([item.name, item.verdict.rawValue, item.detail]) }
    print(table.text)
}

/// `cutover host precheck`.
struct HostPrecheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "precheck",
        abstract: "Run a task's pre-checks alone.",
        discussion: "Exit status: 0 no check failed; 1 a check failed; 2 bad input."
    )

    @OptionGroup var options: HostOptions

    @Option(name: .long, help: "The task.")
    var task: String

    func run() async throws {
        let loaded = try options.load()
        guard let task = loaded.hostCutover.task(named: self.task) else {
            throw ValidationError("--task '\(self.task)' is not a task of host_cutover.tasks")
        }
        var runner = HostRunner(task: task, in: loaded.hostCutover, journal: NoJournal())
        runner.gatewayCheck = gatewayCheck(admin: loaded.hostCutover.gatewayAdmin, skipReason: nil)
        let (items, result) = await runner.precheck()
        printChecks(items)
        if result.failure != nil { throw ExitCode(1) }
    }
}

/// `cutover host status`.
struct HostStatusCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "status", abstract: "Show the journal of host runs, newest first.")

    @OptionGroup var options: HostOptions

    @Argument(help: "One run's id.")
    var run: Int64?

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() async throws {
        let loaded = try options.load()
        let runs = try await options.withStore(loaded) { store in try await store.hostRuns(id: self.run) }
        if let wanted = run, runs.isEmpty {
            printError("cutover host status: there is no run \(wanted)")
            throw ExitCode(2)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            return print(String(decoding: try encoder.encode(runs), as: UTF8.self))
        }
        for run in runs {
            let holder = run.holder.map { holder in
                " — carried out by \(holder)" + (run.holderAlive == false ? ", which no longer runs (resume or roll it back)" : "")
            } ?? ""
            print("run \(run.id): \(run.task) \(run.status.rawValue)" + (run.reason.map { " (\($0))" } ?? "") + holder)
            for step in run.steps {
                let took = step.finishedAt.map { " \($0 - step.startedAt) ms" } ?? ""
                print("  \(step.step)\(step.pass > 0 ? " \(step.pass)" : "") \(step.result.rawValue)\(took)" + (step.failure.map { ": \($0)" } ?? ""))
            }
            // After a DNS float the old host keeps serving those that still hold its address (dns.keep_old_for).
            if run.status == .done, let retire = run.steps.last(where: { $0.step == "float" })?.figures["retire_old_after_unix"] {
                let date = Date(timeIntervalSince1970: retire).formatted(.iso8601)
                print("  keep \(run.hosts.first ?? "the old host") serving until \(date): resolvers and caches may still send clients there")
            }
        }
    }
}

/// Runs `body`, turning a refusal into its message and exit status 2.
func refusingRun<T>(_ command: String, _ body: () async throws -> T) async throws -> T {
    do {
        return try await body()
    } catch let refusal as HostRunRefusal {
        printError("cutover host \(command): \(refusal)")
        throw ExitCode(2)
    }
}

/// `cutover host resume`.
struct HostResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue a run from its journal's last finished step.",
                                                    discussion: "Refused while another process still carries the run out. Exit status as for run.")

    @OptionGroup var options: HostOptions

    @Argument(help: "The run's id.")
    var run: Int64

    func run() async throws {
        let loaded = try options.load()
        let settings = loaded.hostCutover
        try await options.withStore(loaded) { store in
            // The claim refuses a run that is not running, or that another process carries out.
            let (lease, _, journaled) = try await refusingRun("resume") { try await JournaledRun.claim(self.run, settings: settings, store: store) }
            if let status = try await journaled.closeIfFinished(store: store) {
                return print("run \(self.run): its journal ended \(status.rawValue); recorded so")
            }
            guard case .run(let step, _) = journaled.next else {
                printError("cutover host resume: run \(self.run) is \(journaled.run.status.rawValue); there is nothing to resume")
                throw ExitCode(2)
            }
            print("run \(self.run): resuming \(journaled.task.name) at \(step.rawValue)")
            var runner = HostRunner(task: journaled.task, in: settings, journal: lease.journal)
            runner.say = { print("  \($0)") }
            // A TTL lowered before the cut-off: the stop still waits for caches to forget the old one.
            runner.cachesExpireAt = journaled.run.steps.last { $0.step == RunbookMachine.Step.lowerTTL.rawValue && $0.result == .ok }?
                .figures["caches_expire_unix"]
            runner.gatewayCheck = gatewayCheck(admin: settings.gatewayAdmin, skipReason: nil)
            try await drive(runner, journaled.machine, from: journaled.next, run: self.run, lease: lease)
        }
    }
}

/// Who the audit log names for a rollback asked for on the command line: the user and the machine.
var commandLineActor: String {
    let user = ProcessInfo.processInfo.environment["SUDO_USER"] ?? ProcessInfo.processInfo.environment["USER"] ?? "uid \(getuid())"
    return "cli:\(user)@\(ProcessInfo.processInfo.hostName)"
}

/// `cutover host rollback`.
struct HostRollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Undo a run: float back, stop new, start old, verify.",
                                                    discussion: """
                                                        Refused while another process still carries the run out. The request is kept in the \
                                                        run's journal and in the audit log (actor cli:USER@MACHINE). Exit status: 0 rolled \
                                                        back; 1 a rollback step failed (try again); 2 bad input or refused.
                                                        """)

    @OptionGroup var options: HostOptions

    @Argument(help: "The run's id.")
    var run: Int64

    @Option(name: .long, help: "Why; the journal keeps it.")
    var reason = "rollback asked for"

    func run() async throws {
        let loaded = try options.load()
        let settings = loaded.hostCutover
        try await options.withStore(loaded) { store in
            let begun = try await refusingRun("rollback") {
                try await BegunRollback.begin(self.run, reason: reason, actor: commandLineActor, settings: settings, store: store)
            }
            print("run \(self.run): rolling back \(begun.journaled.task.name)")
            let (outcome, figures) = try await begun.run(settings: settings, say: { print("  \($0)") })
            try report(outcome, figures, run: self.run, task: begun.journaled.task.name, to: begun.journaled.task.to, rollingBack: true)
        }
    }
}
