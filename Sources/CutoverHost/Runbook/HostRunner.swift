import CutoverCore
import Foundation

/// Carries out a task's runbook: asks the ``RunbookMachine`` what to do, does it through the hosts' executors,
/// journals each step before the next, and measures the run (migration time, downtime through the service address,
/// the health URL's latency before the stop and after the float).
public struct HostRunner: Sendable {
    public let task: HostCutoverSettings.Task
    public let from: HostCutoverSettings.Host
    public let to: HostCutoverSettings.Host
    public let journal: any HostJournal
    /// The gateway check (every route in phase `new`), when the configuration names a gateway.
    public var gatewayCheck: (@Sendable () async -> PrecheckItem)?
    /// Progress lines for the operator.
    public var say: @Sendable (String) -> Void = { _ in }
    /// How long each command may take.
    public var commandTimeout: Duration = .seconds(600)
    /// Where the inventories of a worksheet look (`host_cutover.inventory`), and what blocks (`host_cutover.worksheet`).
    public var inventory = HostCutoverSettings.Inventory()
    public var worksheetRules = WorksheetRules.defaults
    /// When caches forget the TTL a `lower_ttl` step lowered (seconds since 1970): a run resumed after that step
    /// reads it from its journal; the stop of the old service waits for it.
    public var cachesExpireAt: Double?
    /// Where secrets named by the configuration are read from (`dns.tsig.secret_env`).
    public var environment = ProcessInfo.processInfo.environment

    public init(task: HostCutoverSettings.Task, from: HostCutoverSettings.Host, to: HostCutoverSettings.Host, journal: any HostJournal) {
        self.task = task
        self.from = from
        self.to = to
        self.journal = journal
    }

    /// The runner of `task` of `settings`: its hosts, and the section's inventory places and worksheet rules.
    public init(task: HostCutoverSettings.Task, in settings: HostCutoverSettings, journal: any HostJournal) {
        guard let from = settings.host(named: task.from), let to = settings.host(named: task.to) else {
            preconditionFailure("the configuration checked that \(task.name)'s hosts exist")
        }
        self.init(task: task, from: from, to: to, journal: journal)
        inventory = settings.inventory
        worksheetRules = settings.worksheet
    }

    func executor(_ host: HostCutoverSettings.Host) -> any Executor {
        Executors.make(host.executor, ssh: .init(checkHostKey: host.hostKeyCheck, identityFile: host.identityFile, knownHostsFile: host.knownHostsFile))
    }

    /// Runs from `action` (a new run's first, or a resumed run's next) to the end; journals the run's end.
    public func run(_ machine: RunbookMachine, from action: RunbookMachine.Action) async throws -> (RunbookMachine.Outcome, [String: Double]) {
        var machine = machine
        var action = action
        let clock = ContinuousClock()
        let started = clock.now
        let watch = task.verify.flatMap { verify in HTTPProbe(url: verify.url).map { ServiceWatch(probe: $0, every: verify.every) } }
        watch?.start()
        defer { watch?.stop() }
        var marks: [RunbookMachine.Step: (ContinuousClock.Instant, ContinuousClock.Instant)] = [:]
        // The IP outage of the latest float this run made (there or, rolling back, back), as its vantage saw it.
        var outage: Double?
        var announcedAt: ContinuousClock.Instant?
        var cachesExpireAt = self.cachesExpireAt
        while case .run(let step, let pass) = action {
            if step == .stopOld, let expiry = cachesExpireAt { try await waitForCaches(until: expiry) }
            say(step == .sync ? "sync pass \(pass)" : step.rawValue.replacingUnderscores)
            let seq = try await journal.beginStep(step, pass: pass)
            let begin = clock.now
            var result: StepResult
            do {
                result = try await perform(step, pass: pass)
            } catch {
                result = StepResult(failure: "\(error)")
            }
            marks[step] = (begin, clock.now)
            outage = result.figures["ip_outage_seconds"] ?? outage
            if step == .float, let at = result.announcedAt { announcedAt = at }
            if step == .lowerTTL, result.failure == nil { cachesExpireAt = result.figures["caches_expire_unix"] }
            try await journal.finishStep(seq, result: result.failure == nil ? .ok : .failed, figures: result.figures, commands: result.commands,
                                         failure: result.failure)
            if let failure = result.failure { say("  failed: \(failure)") }
            action = result.failure.map { machine.failed(step, reason: $0) } ?? machine.succeeded(step, sync: result.sync)
        }
        guard case .finished(let outcome) = action else { preconditionFailure("the runbook ended without an outcome") }
        watch?.stop()
        var figures: [String: Double] = ["migration_seconds": (clock.now - started).seconds]
        // The service is up again from the first answer after the address moved (its first announcement; the
        // repeats go on in the float step) — or, without an address to float, after the start of the new service.
        let moved = task.floatsVIP ? (announcedAt ?? marks[.float]?.1) : task.floatsDNS ? marks[.float]?.1 : marks[.startNew]?.1
        if let watch, let stop = marks[.stopOld]?.0, let floated = moved {
            let summary = watch.summary(stopAt: stop, upAfter: floated)
            figures.merge(summary) { $1 }
        }
        if let outage { figures["ip_outage_seconds"] = outage }
        let (status, reason) = outcome.status
        try await journal.finishRun(status: status, reason: reason, figures: figures)
        return (outcome, figures)
    }

    /// Does one step.
    func perform(_ step: RunbookMachine.Step, pass: Int) async throws -> StepResult {
        switch step {
        case .precheck: return await precheck().result
        case .lowerTTL: return try await lowerTTL()
        case .sync, .finalSync: return try await sync(final: step == .finalSync)
        case .stopOld: return try await command(task.service.stop, on: from)
        case .startNew: return try await command(task.service.start, on: to)
        case .stopNew: return try await command(task.service.stop, on: to)
        case .startOld: return try await command(task.service.start, on: from)
        case .health: return try await healthy(to)
        case .verifyOld: return try await healthy(from)
        case .float: return try await float(from: from, to: to, name: task.dns.map { ($0.newAddresses, $0.oldAddresses) }, retiring: true)
        case .floatBack: return try await float(from: to, to: from, name: task.dns.map { ($0.oldAddresses, $0.newAddresses) }, retiring: false)
        case .verify: return try await verify()
        case .rollback: return StepResult()
        }
    }

    func command(_ script: String, on host: HostCutoverSettings.Host) async throws -> StepResult {
        let outcome = try await executor(host).shell(script, timeout: commandTimeout)
        var result = StepResult(failure: outcome.succeeded ? nil : outcome.summary)
        result.keep(outcome, on: host.name)
        return result
    }

    /// The health command on `host`, tried every 200 ms until it passes or the verify timeout (10 s without one) runs out.
    func healthy(_ host: HostCutoverSettings.Host) async throws -> StepResult {
        let clock = ContinuousClock()
        let end = clock.now + (task.verify?.timeout ?? .seconds(10))
        var last: CommandResult?
        repeat {
            let outcome = try await executor(host).shell(task.service.health, timeout: .seconds(10))
            last = outcome
            if outcome.succeeded { break }
            try await Task.sleep(for: .milliseconds(200))
        } while clock.now < end
        var result = StepResult(failure: last?.succeeded == true ? nil : "\(host.name) is not healthy: \(last?.summary ?? "no answer")")
        if let last { result.keep(last, on: host.name) }
        return result
    }

    /// The float: the service address moved (`float: vip`), the name switched to `name` (`float: dns`), or both —
    /// the address first, so that the name never points at a host that does not answer on it.
    func float(from: HostCutoverSettings.Host, to: HostCutoverSettings.Host, name: (to: [IPAddress], from: [IPAddress])?,
               retiring: Bool) async throws -> StepResult {
        var result = task.floatsVIP ? try await floatAddress(from: from, to: to) : StepResult()
        if task.floatsDNS, let name {
            result.figures.merge(try switchName(to: name.to, expected: name.from, forward: retiring).figures) { $1 }
        }
        return result
    }

    private func floatAddress(from: HostCutoverSettings.Host, to: HostCutoverSettings.Host) async throws -> StepResult {
        let addresses = [task.vip, task.vip6].compactMap { $0 }
        guard !addresses.isEmpty else { return StepResult() }
        let announcements = task.announcements
        var float = IPFloat(addresses: addresses, from: FloatSide(executor: from.executor, interface: from.interface),
                            to: FloatSide(executor: to.executor, interface: to.interface),
                            schedule: AnnouncementSchedule(count: announcements.count, interval: announcements.interval,
                                                           refreshAfter: announcements.refreshAfter),
                            vantage: task.vantage.map { FloatSide(executor: $0.executor, interface: $0.interface) })
        float.fromExecutor = executor(from)
        float.toExecutor = executor(to)
        let report = try await float.run()
        var result = StepResult()
        result.figures = ["release_seconds": report.release.seconds, "claim_seconds": report.claim.seconds,
                          "announce_seconds": report.announce.seconds, "float_seconds": report.total.seconds,
                          "announcements": Double(report.announcements)]
        if let outage = report.outage { result.figures["ip_outage_seconds"] = outage.seconds }
        if let problem = report.watchProblem { say("  \(problem)") }
        result.announcedAt = report.announcedAt
        return result
    }

    /// The health URL through the service address answers, and exactly one MAC (the new host's) answers for it.
    func verify() async throws -> StepResult {
        var result = StepResult()
        if let verify = task.verify {
            guard let probe = HTTPProbe(url: verify.url) else { return StepResult(failure: "\(verify.url) is not an http:// URL with an address") }
            let clock = ContinuousClock()
            let end = clock.now + verify.timeout
            var status: Int?
            repeat {
                status = probe.get(timeout: .seconds(1))
                if let status, (200..<400).contains(status) { break }
                try await Task.sleep(for: verify.every)
            } while clock.now < end
            guard let status, (200..<400).contains(status) else {
                return StepResult(failure: "\(verify.url) did not answer 2xx within \(Quantities.format(verify.timeout)) (last: \(status.map(String.init) ?? "no answer"))")
            }
        }
        if let owners = try owners() {
            result.figures["owners"] = Double(owners.count)
            let expected = try await mac(of: to)
            guard owners == [expected] else {
                return StepResult(failure: "the service address is answered by \(owners.map(\.description)), not by \(to.name) (\(expected.map(\.description) ?? "?")) alone")
            }
        }
        return result
    }

    /// Who answers for the service address, asked from `from`'s interface (which no longer holds it); nil when
    /// `from` is not on this machine.
    func owners() throws -> [MACAddress]? {
        guard let address = task.vip?.address ?? task.vip6?.address, let namespace = from.executor.inProcessNamespace else { return nil }
        return try NeighbourProbe(address: address, interface: from.interface, namespace: namespace).holders(within: .milliseconds(200))
    }

    /// The MAC of `host`'s interface: read from its socket on this machine, from `/sys/class/net` through the
    /// executor on an ssh host; nil when it cannot be read there.
    func mac(of host: HostCutoverSettings.Host) async throws -> MACAddress? {
        guard let namespace = host.executor.inProcessNamespace else {
            let read = try await executor(host).run(["cat", "/sys/class/net/\(host.interface)/address"], timeout: .seconds(30))
            return read.succeeded ? MACAddress(read.stdout.trimmingSpaces) : nil
        }
        return try PacketSocket(interface: host.interface, namespace: namespace, protocol: NeighbourFrames.etherTypeARP).mac
    }

}

extension RunbookMachine.Outcome {
    /// The run status and reason this outcome is journaled as.
    public var status: (HostRun.Status, String?) {
        switch self {
        case .done: return (.done, nil)
        case .stopped(let step, let why): return (.stopped, "\(step.rawValue): \(why)")
        case .rolledBack(let step, let why): return (.rolledBack, "\(step.rawValue): \(why)")
        case .rollbackFailed(let step, let why): return (.rollbackFailed, "\(step.rawValue): \(why)")
        }
    }
}

extension String {
    var replacingUnderscores: String { String(map { $0 == "_" ? " " : $0 }) }
}
