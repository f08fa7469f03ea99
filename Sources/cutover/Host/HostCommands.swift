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

/// Runs a task's runbook from `action` and prints its end and figures; exit 1 unless it ended done.
func drive(_ runner: HostRunner, _ machine: RunbookMachine, from action: RunbookMachine.Action, run: Int64) async throws {
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
    if outcome != .done { throw ExitCode(1) }
}

/// `cutover host run`.
struct HostRunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run a task's runbook: precheck, sync passes, stop old, final sync, start new, health, float, verify.",
        discussion: "Exit status: 0 done; 1 stopped before anything changed, rolled back, or a rollback that failed; 2 bad input."
    )

    @OptionGroup var options: HostOptions

    @Option(name: .long, help: "The task to run.")
    var task: String

    @Flag(name: .customLong("dry-run"), help: "Run the pre-checks and print the steps; change nothing.")
    var dryRun = false

    @Flag(name: .customLong("skip-gateway-check"), help: "Do not require every gateway route in phase new (needs --reason).")
    var skipGatewayCheck = false

    @Option(name: .long, help: "Why the gateway check is skipped; the journal keeps it.")
    var reason: String?

    func validate() throws {
        if skipGatewayCheck, (reason ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            throw ValidationError("--skip-gateway-check needs --reason: the journal keeps why")
        }
    }

    func run() async throws {
        let loaded = try options.load()
        guard let task = loaded.hostCutover.task(named: self.task) else {
            throw ValidationError("--task '\(self.task)' is not a task of host_cutover.tasks (\(loaded.hostCutover.tasks.map(\.name).joined(separator: ", ")))")
        }
        let (from, to) = hosts(of: task, in: loaded.hostCutover)
        let check = gatewayCheck(admin: loaded.hostCutover.gatewayAdmin, skipReason: skipGatewayCheck ? reason : nil)
        if dryRun {
            var runner = HostRunner(task: task, from: from, to: to, journal: NoJournal())
            runner.gatewayCheck = check
            let (items, result) = await runner.precheck()
            printChecks(items)
            print("steps: precheck, sync passes (up to \(task.sync.maxPasses)), stop old, final sync, start new, health"
                  + (task.vip == nil && task.vip6 == nil ? "" : ", float") + ", verify")
            if result.failure != nil { throw ExitCode(1) }
            return
        }
        try await options.withStore(loaded) { store in
            let run: Int64
            do {
                run = try await store.startHostRun(task: task.name, hosts: [from.name, to.name], at: StoreJournal.now)
            } catch let error as StoreError {
                printError("cutover host run: \(error)")
                throw ExitCode(1)
            }
            print("run \(run): \(task.name) from \(from.name) to \(to.name)")
            var runner = HostRunner(task: task, from: from, to: to, journal: StoreJournal(store: store, run: run))
            runner.gatewayCheck = check
            runner.say = { print("  \($0)") }
            var machine = RunbookMachine(rules: task.sync, budget: task.downtimeBudget, floats: task.vip != nil || task.vip6 != nil)
            let first = machine.start()
            try await drive(runner, machine, from: first, run: run)
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
    let finished = run.steps.filter { $0.result != .running }.compactMap { step in
        RunbookMachine.Step(rawValue: step.step).map { RunbookMachine.Finished(step: $0, pass: step.pass,
                                                                                 sync: step.figures["bytes"].map { SyncPass(bytes: Int($0), duration: .seconds(step.figures["seconds"] ?? 0)) },
                                                                                 failure: step.result == .failed ? (step.failure ?? "failed") : nil) }
    }
    let (machine, action) = RunbookMachine.resume(finished: finished, rules: task.sync, budget: task.downtimeBudget, floats: task.vip != nil || task.vip6 != nil)
    return (run, task, machine, action)
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
                                                    discussion: "Exit status: 0 rolled back; 1 a rollback step failed; 2 bad input.")

    @OptionGroup var options: HostOptions

    @Argument(help: "The run's id.")
    var run: Int64

    @Option(name: .long, help: "Why; the journal keeps it.")
    var reason = "rollback asked for"

    func run() async throws {
        let loaded = try options.load()
        try await options.withStore(loaded) { store in
            let (journaled, task, resumed, _) = try await resumeRun(options, self.run, loaded, store: store)
            guard [.running, .done, .rollbackFailed].contains(journaled.status) else {
                printError("cutover host rollback: run \(self.run) is \(journaled.status.rawValue); there is nothing to undo")
                throw ExitCode(2)
            }
            var machine = resumed
            let action = machine.rollbackRequested(reason: reason)
            let (from, to) = hosts(of: task, in: loaded.hostCutover)
            var runner = HostRunner(task: task, from: from, to: to, journal: StoreJournal(store: store, run: self.run))
            runner.say = { print("  \($0)") }
            print("run \(self.run): rolling back \(task.name)")
            try await drive(runner, machine, from: action, run: self.run)
        }
    }
}
