import ArgumentParser
import CutoverCore
import CutoverHost
import Foundation

/// `cutover host inventory`: everything about a host that a move must carry over, collected through its executor.
struct HostInventoryCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inventory",
        abstract: "List a host's settings (OS, CPU, memory, disks, packages, units, ports, firewall, sysctls, users, files…) for the worksheet.",
        discussion: """
            --target is local, netns:NAME, ssh://user@host[:port], or with --config a host of host_cutover.hosts (its \
            executor and ssh options). Secrets appear as path, owner, mode and a fingerprint made on the host only. \
            References to the old host — configuration files under the config roots that name its hostname or an \
            address — are looked for: by default the host's own names (run it on the old host), or the names of the \
            inventory given with --references-of (run it on the new host with the old one's inventory). A collector \
            that cannot run is listed with the reason. Exit status: 0 collected; 1 no collector ran (the host is not \
            reached); 2 bad input.
            """
    )

    @Option(name: .long, help: "Where to collect: local, netns:NAME, ssh://user@host[:port], or a host of --config.")
    var target: String

    @Option(name: .long, help: "A configuration file: its host_cutover.hosts and host_cutover.inventory.")
    var config: String?

    @Option(name: .customLong("references-of"), help: "An inventory (JSON) of the old host: references to its names are looked for.")
    var referencesOf: String?

    @Option(name: .customLong("config-root"), help: "A folder searched for references to the old host (repeat; replaces the usual ones).")
    var configRoots: [String] = []

    @Option(name: .customLong("extra-path"), help: "A further file to fingerprint (repeat).")
    var extraPaths: [String] = []

    @Flag(name: .long, help: "Print the inventory as JSON (what host compare reads).")
    var json = false

    func run() async throws {
        let settings = try config.map { try HostOptions.load($0).hostCutover }
        let executor: any Executor
        if let host = settings?.host(named: target) {
            executor = Executors.make(host.executor, ssh: .init(checkHostKey: host.hostKeyCheck, identityFile: host.identityFile,
                                                               knownHostsFile: host.knownHostsFile))
        } else {
            switch ExecutorAddress.parse(target) {
            case .success(let address): executor = Executors.make(address)
            case .failure(let error): throw ValidationError("--target \(error)" + (settings == nil ? "" : " (nor a host of --config)"))
            }
        }
        for path in configRoots + extraPaths where !path.hasPrefix("/") { throw ValidationError("'\(path)' is not an absolute path") }
        let references = try referencesOf.map { path in
            let old = try readInventory(path, option: "--references-of")
            return [old.hostname] + old.addresses
        }
        var collector = HostInventoryCollector(executor: executor, label: target,
                                               configRoots: configRoots.isEmpty ? (settings?.inventory.configRoots ?? HostInventoryCollector.defaultConfigRoots) : configRoots,
                                               extraPaths: (settings?.inventory.extraPaths ?? []) + extraPaths, referencesTo: references)
        collector.timeout = .seconds(60)
        let start = ContinuousClock.now
        let inventory = try await collector.collect()
        let took = ContinuousClock.now - start
        guard inventory.collectors.contains(where: { $0.status == .ok }) else {
            printError("cutover host inventory: no collector ran on \(target): \(inventory.collectors.first?.detail ?? "no answer")")
            throw ExitCode(1)
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            return print(String(decoding: try encoder.encode(inventory), as: UTF8.self))
        }
        print("\(inventory.hostname) (\(target)): \(inventory.settings.count) settings in \(String(format: "%.2f", took.seconds)) s; references looked for: "
              + inventory.referencesTo.joined(separator: ", "))
        var table = TextTable(header: ["COLLECTOR", "STATUS", "SETTINGS", "SECONDS", "DETAIL"], rightAligned: [2, 3])
        for entry in inventory.collectors {
            table.append([entry.name, entry.status.rawValue, String(entry.settings), String(format: "%.2f", entry.seconds), entry.detail ?? ""])
        }
        print(table.text)
    }
}

/// Reads an inventory file `cutover host inventory --json` wrote; a bad one is a usage error naming the file.
func readInventory(_ path: String, option: String) throws -> HostInventory {
    guard let data = FileManager.default.contents(atPath: path) else { throw ValidationError("\(option) \(path): cannot be read") }
    do {
        return try JSONDecoder().decode(HostInventory.self, from: data)
    } catch let error as DecodingError {
        throw ValidationError("\(option) \(path) is not an inventory written by cutover host inventory --json: \(describe(error))")
    }
}

private func describe(_ error: DecodingError) -> String {
    switch error {
    case .keyNotFound(let key, let context): return "'\(key.stringValue)' is missing" + at(context)
    case .typeMismatch(_, let context), .valueNotFound(_, let context): return context.debugDescription + at(context)
    case .dataCorrupted(let context): return context.debugDescription + at(context)
    @unknown default: return "\(error)"
    }
}

private func at(_ context: DecodingError.Context) -> String {
    let path = context.codingPath.map(\.stringValue).joined(separator: ".")
    return path.isEmpty ? "" : " (at \(path))"
}

/// `cutover host compare`: the worksheet of two inventories.
struct HostCompareCommand: AsyncParsableCommand {
    enum Format: String, ExpressibleByArgument, CaseIterable { case table, csv, json }

    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "The migration worksheet: the old host's inventory against the new one's, a row per setting.",
        discussion: """
            Each row: key, source value, target value, status (ok, differs, missing, blocker) and a remark. Blockers \
            come from the rules of host_cutover.worksheet (--config), each blocker, differs or off: os_version, \
            cpu_vendor, memory, disk, packages, listening, references, collectors. The table leaves out the rows that \
            are ok unless --all; csv and json hold every row. Exit status: 0 no blocker; 1 blockers; 2 bad input.
            """
    )

    @Argument(help: "The old host's inventory (JSON).")
    var old: String

    @Argument(help: "The new host's inventory (JSON).")
    var new: String

    @Option(name: .long, help: "A configuration file whose host_cutover.worksheet holds the rules.")
    var config: String?

    @Option(name: .long, help: "table, csv or json.")
    var format = Format.table

    @Flag(name: .long, help: "List the rows that are ok in the table too.")
    var all = false

    func run() async throws {
        let rules = try config.map { try HostOptions.load($0).hostCutover.worksheet } ?? .defaults
        let sheet = Worksheet(source: try readInventory(old, option: "OLD"), target: try readInventory(new, option: "NEW"), rules: rules)
        switch format {
        case .json:
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(sheet.rows), as: UTF8.self))
        case .csv:
            print("key,source,target,status,remark")
            for row in sheet.rows {
                print([row.key, row.source ?? "", row.target ?? "", row.status.rawValue, row.remark].map(csvField).joined(separator: ","))
            }
        case .table:
            var table = TextTable(header: ["KEY", "SOURCE", "TARGET", "STATUS", "REMARK"])
            for row in sheet.rows where all || row.status != .ok {
                table.append([row.key, clip(row.source ?? "-"), clip(row.target ?? "-"), row.status.rawValue, row.remark])
            }
            print(table.text)
            let counts = Worksheet.Status.allCases.map { status in "\(status.rawValue) \(sheet.rows.count { $0.status == status })" }
            print("\(sheet.rows.count) settings: " + counts.joined(separator: ", "))
        }
        if !sheet.blockers.isEmpty {
            printError("cutover host compare: \(sheet.blockers.count) blocker\(sheet.blockers.count == 1 ? "" : "s"): "
                       + sheet.blockers.prefix(5).map(\.key).joined(separator: ", ") + (sheet.blockers.count > 5 ? ", …" : ""))
            throw ExitCode(1)
        }
    }

    private func clip(_ text: String) -> String { text.count > 48 ? String(text.prefix(47)) + "…" : text }

    /// A CSV field (RFC 4180): quoted when it holds a comma, a quote or a line end.
    private func csvField(_ text: String) -> String {
        guard text.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
