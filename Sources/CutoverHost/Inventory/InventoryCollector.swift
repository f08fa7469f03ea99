import CutoverCore
import Crypto
import Foundation

/// One kind of setting of a host, collected through an executor: a shell script run there, and what its output
/// says, as settings keyed `NAME.…` (the collector's name first, so the worksheet knows where a key came from).
struct InventoryCollector: Sendable {
    /// What a script may know: the paths and names the inventory looks at.
    struct Context: Sendable {
        var configRoots: [String]
        var extraPaths: [String]
        var referencesTo: [String]
    }

    let name: String
    let script: @Sendable (Context) -> String
    let parse: @Sendable (String, Context) -> [String: String]

    /// The lines of `text` without their line ends, empty ones left out.
    static func lines(_ text: String) -> [Substring] {
        text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
    }

    /// `text` split at `@@NAME` lines into its sections (the part before the first under "").
    static func sections(_ text: String) -> [String: [Substring]] {
        var result: [String: [Substring]] = ["": []]
        var current = ""
        for line in lines(text) {
            if line.hasPrefix("@@") {
                current = String(line.dropFirst(2))
                result[current, default: []] = []
            } else {
                result[current, default: []].append(line)
            }
        }
        return result
    }

    /// The words of a line.
    static func words(_ line: Substring) -> [Substring] {
        line.split(whereSeparator: { $0 == " " || $0 == "\t" })
    }

    /// `text` as one word of a POSIX shell command line.
    static func quoted(_ text: String) -> String { SSHExecutor.quoted(text) }

    /// SHA-256 of `text`, in hex: what an inventory keeps of a value it must not show.
    static func fingerprint(_ text: String) -> String {
        SHA256.hash(data: Data(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}

/// Collects a host's inventory through its executor: every collector run (six at a time, each bounded in time and
/// output), its settings kept, and a collector that cannot run listed with the reason.
public struct HostInventoryCollector: Sendable {
    public let executor: any Executor
    public let label: String
    public var configRoots: [String]
    public var extraPaths: [String]
    /// The names references are looked for; nil: the host's own hostname and addresses.
    public var referencesTo: [String]?
    public var timeout: Duration = .seconds(30)

    /// Where references to the old host are looked for when the configuration names no roots.
    public static let defaultConfigRoots = ["/etc/nginx", "/etc/haproxy", "/etc/apache2", "/etc/httpd", "/etc/systemd/system", "/etc/default"]

    public init(executor: any Executor, label: String, configRoots: [String] = defaultConfigRoots, extraPaths: [String] = [], referencesTo: [String]? = nil) {
        self.executor = executor
        self.label = label
        self.configRoots = configRoots
        self.extraPaths = extraPaths
        self.referencesTo = referencesTo
    }

    public func collect() async throws -> HostInventory {
        var context = InventoryCollector.Context(configRoots: configRoots, extraPaths: extraPaths, referencesTo: referencesTo ?? [])
        var settings: [String: String] = [:]
        var statuses: [HostInventory.Collector] = []
        let first = InventoryCollector.all.filter { $0.name != "reference" }
        let firstContext = context
        try await withThrowingTaskGroup(of: (HostInventory.Collector, [String: String]).self) { group in
            var pending = first[...]
            for _ in 0..<min(6, pending.count) {
                let collector = pending.removeFirst()
                group.addTask { try await run(collector, firstContext) }
            }
            while let (status, found) = try await group.next() {
                statuses.append(status)
                settings.merge(found) { $1 }
                if let collector = pending.popFirst() { group.addTask { try await run(collector, firstContext) } }
            }
        }
        let hostname = settings["os.hostname"] ?? "unknown"
        let addresses = Self.ownAddresses(settings)
        if referencesTo == nil { context.referencesTo = [hostname] + addresses }
        if let references = InventoryCollector.all.first(where: { $0.name == "reference" }) {
            let (status, found) = try await run(references, context)
            statuses.append(status)
            settings.merge(found) { $1 }
        }
        return HostInventory(target: label, collectedAt: Date().timeIntervalSince1970, hostname: hostname, addresses: addresses,
                             referencesTo: context.referencesTo, settings: settings, collectors: statuses.sorted { $0.name < $1.name })
    }

    func run(_ collector: InventoryCollector, _ context: InventoryCollector.Context) async throws -> (HostInventory.Collector, [String: String]) {
        let result = try await executor.shell(collector.script(context), timeout: timeout, outputLimit: 64 * 1024 * 1024)
        let seconds = result.duration.seconds
        guard result.succeeded else {
            let detail = result.stderr.split(separator: "\n").first.map(String.init) ?? result.summary
            let status: HostInventory.Collector.Status
            if result.status == 127 {
                status = .missingTool
            } else if result.stderr.contains("Permission denied") || result.stderr.contains("Operation not permitted") {
                status = .noPermission
            } else {
                status = .failed
            }
            return (HostInventory.Collector(name: collector.name, status: status, detail: result.timedOut ? "timed out" : detail, seconds: seconds), [:])
        }
        let found = collector.parse(result.stdout, context)
        return (HostInventory.Collector(name: collector.name, status: .ok, settings: found.count, seconds: seconds), found)
    }

    /// The host's addresses from its interfaces, loopback and link-local left out.
    static func ownAddresses(_ settings: [String: String]) -> [String] {
        settings.filter { $0.key.hasPrefix("network.interface.") }.values.flatMap { $0.split(separator: " ") }.compactMap { entry -> String? in
            let address = String(entry.split(separator: "/").first ?? "")
            guard let parsed = IPAddress(address) else { return nil }
            switch parsed {
            case .v4(let a, _, _, _): return a == 127 ? nil : address
            case .v6(let bytes): return bytes == [UInt8](repeating: 0, count: 15) + [1] || (bytes[0] == 0xFE && bytes[1] & 0xC0 == 0x80) ? nil : address
            }
        }.sorted()
    }
}

extension InventoryCollector {
    /// Every collector, in the order a worksheet lists them.
    static let all: [InventoryCollector] = system + software + network + files
}
