import CutoverCore

/// The checks before anything changes, each pass, warn or fail with its numbers: both hosts reachable, rsync on
/// both, room on `to` for the data (+10 %), the service address's subnet on `to`'s interface, the address answered
/// by exactly one MAC (`from`'s), the service's ports free on `to`, and — when a gateway is configured — every route
/// in phase `new`.
extension HostRunner {
    public func precheck() async -> (items: [PrecheckItem], result: StepResult) {
        var items: [PrecheckItem] = []
        var result = StepResult()
        func run(_ arguments: [String], on host: HostCutoverSettings.Host) async -> CommandResult? {
            guard let outcome = try? await executor(host).run(arguments, timeout: .seconds(30)) else { return nil }
            result.keep(outcome, on: host.name)
            return outcome
        }
        for host in [from, to] {
            let reached = await run(["true"], on: host)
            items.append(PrecheckItem("\(host.name) reachable", reached?.succeeded == true ? .pass : .fail,
                                      reached.map { $0.succeeded ? "\(host.executor)" : $0.summary } ?? "\(host.executor) cannot be run"))
            let rsync = await run(["rsync", "--version"], on: host)
            items.append(PrecheckItem("rsync on \(host.name)", rsync?.succeeded == true ? .pass : .fail,
                                      rsync?.stdout.split(separator: "\n").first.map(String.init) ?? "rsync is not installed"))
        }
        items += await space(run)
        if task.floatsVIP { items += await subnet(run) }
        if !task.floatsDNS || task.floatsVIP { items.append(await holder()) }
        items += dnsPrechecks()
        for port in task.service.ports {
            let listening = await run(["ss", "-Hltn", "sport", "=", ":\(port)"], on: to)
            let busy = listening.map { !$0.stdout.trimmingSpaces.isEmpty } ?? true
            items.append(PrecheckItem("port \(port) free on \(to.name)", busy ? .fail : .pass,
                                      busy ? (listening.map { "in use: \($0.stdout.trimmingSpaces)" } ?? "ss cannot be run") : "nothing listens"))
        }
        if task.requireWorksheet { items.append(await worksheetCheck()) }
        if let gatewayCheck { items.append(await gatewayCheck()) }
        let failed = items.filter { $0.verdict == .fail }
        result.figures = ["passed": Double(items.count { $0.verdict == .pass }), "warned": Double(items.count { $0.verdict == .warn }),
                          "failed": Double(failed.count)]
        if !failed.isEmpty { result.failure = failed.map { "\($0.name): \($0.detail)" }.joined(separator: "; ") }
        return (items, result)
    }

    /// The data's size on `from` against the room on `to` (at least 10 % more).
    private func space(_ run: (_ arguments: [String], _ host: HostCutoverSettings.Host) async -> CommandResult?) async -> [PrecheckItem] {
        guard !task.data.isEmpty else { return [] }
        var needed = 0
        for data in task.data {
            guard let used = await run(["du", "-sb", data.path], from), used.succeeded,
                  let bytes = Int(used.stdout.split(whereSeparator: \.isWhitespace).first ?? "") else {
                return [PrecheckItem("data on \(from.name)", .fail, "\(data.path) cannot be measured (du -sb)")]
            }
            needed += bytes
        }
        let target = task.data[0].toPath ?? task.data[0].path
        let script = "p=\"$0\"; while [ ! -e \"$p\" ]; do p=$(dirname \"$p\"); done; df -PB1 \"$p\" | tail -1"
        guard let free = await run(["sh", "-c", script, target], to), free.succeeded,
              let available = free.stdout.split(whereSeparator: \.isWhitespace).dropFirst(3).first.flatMap({ Int($0) }) else {
            return [PrecheckItem("room on \(to.name)", .fail, "the free space under \(target) cannot be read (df)")]
        }
        let want = needed + needed / 10
        return [PrecheckItem("room on \(to.name)", available >= want ? .pass : .fail,
                             "\(available) bytes free under \(target), \(needed) bytes of data + 10 % = \(want) needed")]
    }

    /// Whether `to`'s interface is on the service address's subnet.
    private func subnet(_ run: (_ arguments: [String], _ host: HostCutoverSettings.Host) async -> CommandResult?) async -> [PrecheckItem] {
        var items: [PrecheckItem] = []
        guard let shown = await run(["ip", "-o", "addr", "show", "dev", to.interface], to), shown.succeeded else {
            return [PrecheckItem("interface \(to.interface) on \(to.name)", .fail, "it cannot be listed (ip -o addr show)")]
        }
        let held = shown.stdout.split(separator: "\n").compactMap { line -> InterfaceAddress? in
            let words = line.split(whereSeparator: \.isWhitespace)
            guard let index = words.firstIndex(where: { $0 == "inet" || $0 == "inet6" }), index + 1 < words.count else { return nil }
            return try? InterfaceAddress.parse(String(words[index + 1])).get()
        }
        for vip in [task.vip, task.vip6].compactMap({ $0 }) {
            let on = held.first { $0.contains(vip.address) && $0.address != vip.address }
            items.append(PrecheckItem("\(vip.address) on \(to.name)'s subnet", on == nil ? .fail : .pass,
                                      on.map { "\(to.interface) holds \($0)" } ?? "\(to.interface) holds no address of \(vip)'s subnet"))
        }
        return items
    }

    /// The service address answered by exactly one MAC, `from`'s, asked from `to`'s interface.
    private func holder() async -> PrecheckItem {
        guard let address = task.vip?.address ?? task.vip6?.address else { return PrecheckItem("service address", .pass, "the task floats none") }
        guard let namespace = to.executor.inProcessNamespace else {
            return PrecheckItem("\(address) held by \(from.name)", .warn, "not checked: \(to.name) is an ssh host (run cutover ip check there)")
        }
        do {
            let holders = try NeighbourProbe(address: address, interface: to.interface, namespace: namespace).holders(within: .milliseconds(300))
            let expected = try await mac(of: from)
            if let expected, holders == [expected] { return PrecheckItem("\(address) held by \(from.name)", .pass, "answered by \(expected) alone") }
            if expected == nil, holders.count == 1 { return PrecheckItem("\(address) held by \(from.name)", .pass, "answered by \(holders[0]) alone") }
            return PrecheckItem("\(address) held by \(from.name)", .fail,
                                holders.isEmpty ? "nobody answers for it" : "answered by \(holders.map(\.description).joined(separator: ", "))")
        } catch {
            return PrecheckItem("\(address) held by \(from.name)", .fail, "\(error)")
        }
    }

    /// Both hosts' inventories (the new host's references looked for under the old host's names) and their
    /// worksheet: a blocker fails the check (`require_worksheet`).
    func worksheetCheck() async -> PrecheckItem {
        let roots = inventory.configRoots ?? HostInventoryCollector.defaultConfigRoots
        do {
            let old = try await HostInventoryCollector(executor: executor(from), label: from.name, configRoots: roots,
                                                       extraPaths: inventory.extraPaths).collect()
            // The service address belongs in the new host's files: only the old host's own names are references to it.
            let service = Set([task.vip, task.vip6].compactMap { $0?.address.description })
            let new = try await HostInventoryCollector(executor: executor(to), label: to.name, configRoots: roots, extraPaths: inventory.extraPaths,
                                                       referencesTo: [old.hostname] + old.addresses.filter { !service.contains($0) }).collect()
            let sheet = Worksheet(source: old, target: new, rules: worksheetRules)
            let blockers = sheet.blockers
            guard !blockers.isEmpty else {
                return PrecheckItem("worksheet \(from.name) → \(to.name)", .pass,
                                    "no blocker in \(sheet.rows.count) settings (\(sheet.rows.count { $0.status == .differs }) differ, \(sheet.rows.count { $0.status == .missing }) missing)")
            }
            let listed = blockers.prefix(5).map { "\($0.key): \($0.remark)" }.joined(separator: "; ")
            return PrecheckItem("worksheet \(from.name) → \(to.name)", .fail,
                                "\(blockers.count) blocker\(blockers.count == 1 ? "" : "s"): \(listed)\(blockers.count > 5 ? "; …" : "") (cutover host compare lists them all)")
        } catch {
            return PrecheckItem("worksheet \(from.name) → \(to.name)", .fail, "the inventories could not be taken: \(error)")
        }
    }
}
