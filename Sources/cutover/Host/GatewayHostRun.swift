import CutoverAdmin
import CutoverCore
import CutoverHost
import CutoverStore
import Logging

/// A host task's run started by the gateway (a plan step's `host_task` action): the run is started in the store
/// with this process's lease before the answer, and its runbook runs in the background, journaled as `cutover host
/// run` journals it (`GET /api/v1/host/runs/{id}` follows it). Cut off by a stop, it is left to `cutover host
/// resume`.
enum GatewayHostRun {
    static func make(config: @escaping @Sendable () -> CutoverConfig, runs: HostRollbackService, logger: Logger)
        -> @Sendable (Store, String, String) async throws -> Int64 {
        return { store, name, actor in
            guard let settings = config().hostCutover else { throw AdminError.noHostCutover }
            guard let task = settings.task(named: name) else { throw AdminError(.notFound, "no host task named '\(name)'") }
            guard !runs.closing else { throw AdminError(.serviceUnavailable, "this gateway is stopping: ask another, or run cutover host run") }
            let holder = RunHolder.current()
            let run: Int64
            do {
                run = try await store.startHostRun(task: task.name, hosts: [task.from, task.to], maxParallelGroups: settings.maxParallelGroups,
                                                   at: StoreJournal.now, holder: holder, lease: HostLease.length)
            } catch StoreError.conflict(let why) {
                throw AdminError(.conflict, why)
            }
            let lease = HostLease(started: run, holder: holder, store: store)
            var runner = HostRunner(task: task, in: settings, journal: lease.journal)
            runner.say = { line in logger.info("host run: \(line)", metadata: ["run": "\(run)", "task": "\(task.name)"]) }
            var machine = RunbookMachine(rules: task.sync, budget: task.downtimeBudget, floats: task.float != nil, lowersTTL: task.floatsDNS)
            let first = machine.start()
            let configured = runner, started = machine
            logger.notice("host run started", metadata: ["run": "\(run)", "task": "\(task.name)", "actor": "\(actor)"])
            runs.add(run: run) {
                do {
                    let (outcome, _) = try await lease.holding { try await configured.run(started, from: first) }
                    logger.notice("host run ended", metadata: ["run": "\(run)", "task": "\(task.name)", "outcome": "\(outcome.status.0.rawValue)"])
                } catch {
                    logger.error("host run cut off (cutover host resume \(run) goes on)", metadata: ["run": "\(run)", "error": "\(error)"])
                }
            }
            return run
        }
    }
}
