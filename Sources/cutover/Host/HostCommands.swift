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
        subcommands: [HostRunCommand.self, HostPrecheckCommand.self, HostStatusCommand.self, HostResumeCommand.self, HostRollbackCommand.self]
    )
}

/// What every `cutover host` command reads.
struct HostOptions: ParsableArguments {
    @Option(name: .long, help: "The configuration file with the host_cutover: section.")
    var config: String

    func load() throws -> HostConfig {
        switch ConfigLoader.loadHost(file: config) {
        case .success(let loaded): return loaded
        case .failure(let error):
            for issue in error.issues { printError(issue.formatted(source: config)) }
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

/// Journals a run's steps in the store.
struct StoreJournal: HostJournal {
    let store: Store
    let run: Int64

    static var now: Int64 { Int64(Date().timeIntervalSince1970 * 1000) }

    func beginStep(_ step: RunbookMachine.Step, pass: Int) async throws -> Int64 {
        try await store.beginHostStep(run: run, step: step.rawValue, pass: pass, at: Self.now)
    }

    func finishStep(_ seq: Int64, result: HostStepRecord.Result, figures: [String: Double], commands: [HostStepRecord.Command], failure: String?) async throws {
        try await store.finishHostStep(run: run, seq: seq, result: result, figures: figures, commands: commands, failure: failure, at: Self.now)
    }

    func finishRun(status: HostRun.Status, reason: String?, figures: [String: Double]) async throws {
        try await store.finishHostRun(run, status: status, reason: reason, figures: figures, at: Self.now)
    }
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
func drive(_ runner: HostRunner, _ machine: RunbookMachine, from action: RunbookMachine.Action, run: Int64, rollingBack: Bool = false) async throws {
    let (outcome, figures) = try await runner.run(machine, from: action)
    switch outcome {
    case .done: print("run \(run): done, \(runner.task.name) runs on \(runner.to.name)")
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
                let (from, to) = hosts(of: task, in: settings)
                var runner = HostRunner(task: task, from: from, to: to, journal: NoJournal())
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
        do {
            run = try await store.startHostRun(task: task.name, group: group, hosts: [from.name, to.name],
                                               maxParallelGroups: settings.maxParallelGroups, at: StoreJournal.now)
        } catch let error as StoreError {
            printError("cutover host run: \(task.name): \(error)")
            return false
        }
        print("run \(run): \(task.name) from \(from.name) to \(to.name)" + (group.map { " (group \($0))" } ?? ""))
        var runner = HostRunner(task: task, from: from, to: to, journal: StoreJournal(store: store, run: run))
        runner.gatewayCheck = check
        let name = task.name
        runner.say = { print("  \(name): \($0)") }
        var machine = RunbookMachine(rules: task.sync, budget: task.downtimeBudget, floats: task.vip != nil || task.vip6 != nil)
        let first = machine.start()
        do {
            try await drive(runner, machine, from: first, run: run)
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
        let (from, to) = hosts(of: task, in: loaded.hostCutover)
        var runner = HostRunner(task: task, from: from, to: to, journal: NoJournal())
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
            print("run \(run.id): \(run.task) \(run.status.rawValue)" + (run.reason.map { " (\($0))" } ?? ""))
            for step in run.steps {
                let took = step.finishedAt.map { " \($0 - step.startedAt) ms" } ?? ""
                print("  \(step.step)\(step.pass > 0 ? " \(step.pass)" : "") \(step.result.rawValue)\(took)" + (step.failure.map { ": \($0)" } ?? ""))
            }
        }
    }
}

/// Loads a run and rebuilds its machine from the journal.
func resumeRun(_ options: HostOptions, _ id: Int64, _ loaded: HostConfig, store: Store) async throws -> (HostRun, HostCutoverSettings.Task, RunbookMachine, RunbookMachine.Action) {
    guard let run = try await store.hostRuns(id: id).first else {
        printError("cutover host: there is no run \(id)")
        throw ExitCode(2)
    }
    guard let task = loaded.hostCutover.task(named: run.task) else {
        printError("cutover host: run \(id) is of task '\(run.task)', which the configuration no longer has")
        throw ExitCode(2)
    }
    var finished: [RunbookMachine.Finished] = []
    for step in run.steps where step.result != .running {
        guard let name = RunbookMachine.Step(rawValue: step.step) else {
            printError("cutover host: run \(id)'s journal has a step '\(step.step)' this version does not know")
            throw ExitCode(2)
        }
        let sync = step.figures["bytes"].map { SyncPass(bytes: Int($0), duration: .seconds(step.figures["seconds"] ?? 0)) }
        // A rollback request keeps its reason where a step keeps its failure.
        let failure = name == .rollback ? step.failure : step.result == .failed ? (step.failure ?? "failed") : nil
        finished.append(RunbookMachine.Finished(step: name, pass: step.pass, sync: sync, failure: failure))
    }
    do {
        let (machine, action) = try RunbookMachine.resume(finished: finished, rules: task.sync, budget: task.downtimeBudget,
                                                          floats: task.vip != nil || task.vip6 != nil)
        return (run, task, machine, action)
    } catch let mismatch as RunbookMachine.JournalMismatch {
        printError("cutover host: run \(id) cannot be continued: \(mismatch)")
        throw ExitCode(2)
    }
}

/// A run whose journal ends in an outcome while its status still says running (the runner stopped after its last
/// step, before it wrote the end): the end is written now.
func closeFinished(_ run: HostRun, _ action: RunbookMachine.Action, store: Store) async throws -> Bool {
    guard run.status == .running, case .finished(let outcome) = action else { return false }
    let (status, reason): (HostRun.Status, String?)
    switch outcome {
    case .done: (status, reason) = (.done, nil)
    case .stopped(let step, let why): (status, reason) = (.stopped, "\(step.rawValue): \(why)")
    case .rolledBack(let step, let why): (status, reason) = (.rolledBack, "\(step.rawValue): \(why)")
    case .rollbackFailed(let step, let why): (status, reason) = (.rollbackFailed, "\(step.rawValue): \(why)")
    }
    try await store.finishHostRun(run.id, status: status, reason: reason, figures: run.figures, at: StoreJournal.now)
    print("run \(run.id): its journal ended \(status.rawValue); recorded so")
    return true
}

/// `cutover host resume`.
struct HostResumeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "resume", abstract: "Continue a run from its journal's last finished step.",
                                                    discussion: "Exit status as for run.")

    @OptionGroup var options: HostOptions

    @Argument(help: "The run's id.")
    var run: Int64

    func run() async throws {
        let loaded = try options.load()
        try await options.withStore(loaded) { store in
            let (journaled, task, machine, action) = try await resumeRun(options, self.run, loaded, store: store)
            if try await closeFinished(journaled, action, store: store) { return }
            guard journaled.status == .running, case .run(let step, _) = action else {
                printError("cutover host resume: run \(self.run) is \(journaled.status.rawValue); there is nothing to resume")
                throw ExitCode(2)
            }
            print("run \(self.run): resuming \(task.name) at \(step.rawValue)")
            let (from, to) = hosts(of: task, in: loaded.hostCutover)
            var runner = HostRunner(task: task, from: from, to: to, journal: StoreJournal(store: store, run: self.run))
            runner.say = { print("  \($0)") }
            runner.gatewayCheck = gatewayCheck(admin: loaded.hostCutover.gatewayAdmin, skipReason: nil)
            try await drive(runner, machine, from: action, run: self.run)
        }
    }
}

/// `cutover host rollback`.
struct HostRollbackCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rollback", abstract: "Undo a run: float back, stop new, start old, verify.",
                                                    discussion: "Exit status: 0 rolled back; 1 a rollback step failed (try again); 2 bad input.")

    @OptionGroup var options: HostOptions

    @Argument(help: "The run's id.")
    var run: Int64

    @Option(name: .long, help: "Why; the journal keeps it.")
    var reason = "rollback asked for"

    func run() async throws {
        let loaded = try options.load()
        try await options.withStore(loaded) { store in
            let (journaled, task, resumed, _) = try await resumeRun(options, self.run, loaded, store: store)
            guard [.running, .done, .rollbackFailed].contains(journaled.status), resumed.canRollBack else {
                printError("cutover host rollback: run \(self.run) is \(journaled.status.rawValue); there is nothing to undo")
                throw ExitCode(2)
            }
            var machine = resumed
            // The request is journaled first: a resume after this replays it and goes on undoing.
            try await store.reopenHostRun(self.run)
            let marker = try await store.beginHostStep(run: self.run, step: RunbookMachine.Step.rollback.rawValue, pass: 0, at: StoreJournal.now)
            try await store.finishHostStep(run: self.run, seq: marker, result: .ok, figures: [:], commands: [], failure: reason, at: StoreJournal.now)
            let action = machine.rollbackRequested(reason: reason)
            let (from, to) = hosts(of: task, in: loaded.hostCutover)
            var runner = HostRunner(task: task, from: from, to: to, journal: StoreJournal(store: store, run: self.run))
            runner.say = { print("  \($0)") }
            print("run \(self.run): rolling back \(task.name)")
            try await drive(runner, machine, from: action, run: self.run, rollingBack: true)
        }
    }
}
