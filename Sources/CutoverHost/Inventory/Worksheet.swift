import CutoverCore

/// The migration worksheet: the source host's inventory against the target's, one row per setting — key, source
/// value, target value, status and a remark — with the rows that stop a migration (blockers) decided by rules.
public struct Worksheet: Sendable, Hashable {
    public enum Status: String, Sendable, Hashable, Codable, CaseIterable {
        case ok, differs, missing, blocker
    }

    public struct Row: Sendable, Hashable, Codable {
        public var key: String
        public var source: String?
        public var target: String?
        public var status: Status
        public var remark: String

        public init(key: String, source: String?, target: String?, status: Status, remark: String) {
            self.key = key
            self.source = source
            self.target = target
            self.status = status
            self.remark = remark
        }
    }

    public var rows: [Row]

    public var blockers: [Row] { rows.filter { $0.status == .blocker } }

    /// Compares `source` (the old host) with `target` (the new one) under `rules`.
    public init(source: HostInventory, target: HostInventory, rules: WorksheetRules = .defaults) {
        var rows: [String: Row] = [:]
        let notCollected = Self.collectorRows(source, target, rules, into: &rows)
        let keys = Set(source.settings.keys).union(target.settings.keys).filter { key in
            !rules.ignore.contains { Self.matches(key, $0) } && !notCollected.contains(Self.kind(of: key))
        }
        for key in keys {
            let old = source.settings[key], new = target.settings[key]
            let row: Row
            switch (old, new) {
            case let (old?, new?) where old == new: row = Row(key: key, source: old, target: new, status: .ok, remark: "")
            case (_?, _?): row = Row(key: key, source: old, target: new, status: .differs, remark: "")
            case (_?, nil): row = Row(key: key, source: old, target: nil, status: .missing, remark: "not on the target")
            default: row = Row(key: key, source: nil, target: new, status: .differs, remark: "only on the target")
            }
            rows[key] = row
        }
        Self.applyRules(source, target, rules, to: &rows)
        self.rows = rows.values.sorted { $0.key < $1.key }
    }

    /// A row per collector that did not run on both sides; their settings are left out (every one would differ).
    private static func collectorRows(_ source: HostInventory, _ target: HostInventory, _ rules: WorksheetRules, into rows: inout [String: Row]) -> Set<String> {
        var skipped: Set<String> = []
        let names = Set(source.collectors.map(\.name)).union(target.collectors.map(\.name))
        for name in names {
            let old = source.collectors.first { $0.name == name }, new = target.collectors.first { $0.name == name }
            guard old?.status != .ok || new?.status != .ok else { continue }
            skipped.insert(name)
            func describe(_ collector: HostInventory.Collector?) -> String {
                guard let collector else { return "not run" }
                return collector.status.rawValue + (collector.detail.map { ": \($0)" } ?? "")
            }
            let oneSide = (old?.status == .ok) != (new?.status == .ok)
            let verdict = rules.verdict("collectors")
            rows["collector.\(name)"] = Row(key: "collector.\(name)", source: describe(old), target: describe(new),
                                            status: oneSide && verdict == .blocker ? .blocker : .differs,
                                            remark: oneSide ? "collected on one side only: its settings are not compared (rule collectors)"
                                                : "collected on neither side")
        }
        return skipped
    }

    private static func applyRules(_ source: HostInventory, _ target: HostInventory, _ rules: WorksheetRules, to rows: inout [String: Row]) {
        func flag(_ key: String, _ rule: String, _ remark: String) {
            guard var row = rows[key] else { return }
            switch rules.verdict(rule) {
            case .off: return
            case .blocker: row.status = .blocker
            case .differs: if row.status == .ok { row.status = .differs }
            }
            row.remark = remark + " (rule \(rule))"
            rows[key] = row
        }
        let old = source.settings, new = target.settings
        if old["os.id"] == new["os.id"], let from = old["os.version_id"].flatMap(majorVersion), let to = new["os.version_id"].flatMap(majorVersion),
           to < from {
            flag("os.version_id", "os_version", "the target's major version \(to) is lower than the source's \(from)")
        }
        if let from = old["cpu.vendor"], let to = new["cpu.vendor"], from != to {
            flag("cpu.vendor", "cpu_vendor", "another CPU vendor: code built for one may not run on the other")
        }
        if let used = old["memory.used_bytes"].flatMap(Int.init), let total = new["memory.total_bytes"].flatMap(Int.init), total < used {
            flag("memory.total_bytes", "memory", "the target has \(total) bytes, the source uses \(used)")
        }
        // The source's file systems by the target's file system that would hold each (the same mount point, else the
        // one holding that path); together they must fit in it.
        var landing: [String: [(mount: String, used: Int)]] = [:]
        for (key, value) in old where key.hasPrefix("disk.") && key.hasSuffix(".used_bytes") {
            let mount = String(key.dropFirst(5).dropLast(11))
            guard let used = Int(value), let holder = Self.mountHolding(mount, in: new) else { continue }
            landing[holder, default: []].append((mount, used))
        }
        for (holder, mounts) in landing {
            let used = mounts.reduce(0) { $0 + $1.used }
            guard let size = new["disk.\(holder).size_bytes"].flatMap(Int.init), size < used else { continue }
            let names = mounts.map(\.mount).sorted()
            for mount in names {
                let sizeKey = "disk.\(mount).size_bytes"
                if rows[sizeKey] == nil { rows[sizeKey] = Row(key: sizeKey, source: old[sizeKey], target: new[sizeKey], status: .differs, remark: "") }
                flag(sizeKey, "disk", (names.count == 1 ? "\(mount) holds \(used) bytes" : "\(names.joined(separator: ", ")) hold \(used) bytes together")
                     + " on the source; the target's file system under \(holder) has \(size)")
            }
        }
        for (key, row) in rows where row.status == .missing {
            if key.hasPrefix("package.") {
                flag(key, "packages", "installed on the source, not on the target")
            } else if key.hasPrefix("listen.") {
                flag(key, "listening", "the source listens here; nothing does on the target")
            }
        }
        for (key, row) in rows where key.hasPrefix("reference.") && row.target != nil {
            flag(key, "references", "this file on the target names the old host (\(row.target!)): it must change")
        }
    }

    /// The mount point of `inventory` whose file system holds `path`.
    private static func mountHolding(_ path: String, in settings: [String: String]) -> String? {
        let mounts = settings.keys.filter { $0.hasPrefix("disk.") && $0.hasSuffix(".size_bytes") }.map { String($0.dropFirst(5).dropLast(11)) }
        return mounts.filter { path == $0 || $0 == "/" || path.hasPrefix($0 + "/") }.max { $0.count < $1.count }
    }

    private static func majorVersion(_ text: String) -> Int? {
        Int(text.split(separator: ".").first ?? "")
    }

    /// The collector a key comes from: its first part.
    static func kind(of key: String) -> String {
        String(key.prefix { $0 != "." })
    }

    /// `pattern` with `*` standing for any run of characters.
    static func matches(_ key: String, _ pattern: String) -> Bool {
        let parts = pattern.split(separator: "*", omittingEmptySubsequences: false)
        guard parts.count > 1 else { return key == pattern }
        var rest = Substring(key)
        guard rest.hasPrefix(parts[0]) else { return false }
        rest = rest.dropFirst(parts[0].count)
        for part in parts.dropFirst().dropLast() {
            guard let range = rest.firstRange(of: part) else { return false }
            rest = rest[range.upperBound...]
        }
        return rest.hasSuffix(parts.last!) && rest.count >= parts.last!.count
    }
}
