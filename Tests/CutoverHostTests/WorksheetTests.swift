import CutoverCore
import CutoverHost
import Testing

/// The worksheet without a host: planted differences of every status, each rule's blocker, a rule turned to
/// `differs` or `off`, ignored keys, and a collector that ran on one side only.
@Suite("Migration worksheet")
struct WorksheetTests {
    static let ok = ["account", "cpu", "disk", "listen", "memory", "os", "package", "reference"].map {
        HostInventory.Collector(name: $0, status: .ok)
    }

    static func inventory(_ settings: [String: String], collectors: [HostInventory.Collector] = ok) -> HostInventory {
        HostInventory(target: "local", collectedAt: 0, hostname: "h", addresses: [], referencesTo: [], settings: settings, collectors: collectors)
    }

    static let source: [String: String] = [
        "os.id": "debian", "os.version_id": "12", "cpu.vendor": "GenuineIntel", "memory.total_bytes": "8000", "memory.used_bytes": "3000",
        "disk./.size_bytes": "100000", "disk./.used_bytes": "60000", "disk./.free_bytes": "40000",
        "disk./var/lib/db.size_bytes": "50000", "disk./var/lib/db.used_bytes": "30000", "disk./var/lib/db.free_bytes": "20000",
        "package.nginx": "1.22", "package.curl": "7.88", "package.libfoo": "1.0", "listen.tcp.0.0.0.0:80": "nginx",
        "account.user.shop": "uid=1001", "sysctl.kernel.random.uuid": "a",
    ]

    func row(_ sheet: Worksheet, _ key: String) -> Worksheet.Row? { sheet.rows.first { $0.key == key } }

    /// A row as `status: remark`.
    func brief(_ sheet: Worksheet, _ key: String) -> String? { row(sheet, key).map { "\($0.status.rawValue): \($0.remark)" } }

    @Test func everyStatusIsFound() throws {
        var target = Self.source
        target["package.nginx"] = "1.24"                 // differs
        target.removeValue(forKey: "account.user.shop")  // missing
        target["package.extra"] = "2.0"                  // only on the target
        target["sysctl.kernel.random.uuid"] = "b"        // volatile: left out
        target.removeValue(forKey: "package.libfoo")     // missing package: blocker
        let sheet = Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target))
        #expect(row(sheet, "package.curl")?.status == .ok)
        #expect(row(sheet, "package.nginx") == Worksheet.Row(key: "package.nginx", source: "1.22", target: "1.24", status: .differs, remark: ""))
        #expect(brief(sheet, "account.user.shop") == "missing: not on the target")
        #expect(brief(sheet, "package.extra") == "differs: only on the target")
        #expect(brief(sheet, "package.libfoo") == "blocker: installed on the source, not on the target (rule packages)")
        #expect(row(sheet, "sysctl.kernel.random.uuid") == nil)
        #expect(sheet.blockers.map(\.key) == ["package.libfoo"])
        #expect(sheet.rows.map(\.key) == sheet.rows.map(\.key).sorted())
    }

    @Test func eachRuleMakesItsBlocker() throws {
        var target = Self.source
        target["os.version_id"] = "11"
        target["cpu.vendor"] = "AuthenticAMD"
        target["memory.total_bytes"] = "2000"
        target["disk./var/lib/db.size_bytes"] = "10000"
        target.removeValue(forKey: "listen.tcp.0.0.0.0:80")
        target["reference./etc/nginx/conf.d/shop.conf:12"] = "198.18.0.1"
        let sheet = Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target))
        #expect(Set(sheet.blockers.map(\.key)) == ["os.version_id", "cpu.vendor", "memory.total_bytes", "disk./var/lib/db.size_bytes",
                                                   "listen.tcp.0.0.0.0:80", "reference./etc/nginx/conf.d/shop.conf:12"])
        #expect(row(sheet, "os.version_id")?.remark == "the target's major version 11 is lower than the source's 12 (rule os_version)")
        #expect(row(sheet, "memory.total_bytes")?.remark == "the target has 2000 bytes, the source uses 3000 (rule memory)")
        #expect(row(sheet, "disk./var/lib/db.size_bytes")?.remark
                == "/var/lib/db holds 30000 bytes on the source; the target's file system under /var/lib/db has 10000 (rule disk)")
        #expect(row(sheet, "reference./etc/nginx/conf.d/shop.conf:12")?.remark.hasPrefix("this file on the target names the old host (198.18.0.1)") == true)
    }

    @Test func aDiskIsWeighedAgainstTheFileSystemThatWouldHoldIt() {
        var target = Self.source
        // The target has no separate /var/lib/db: its root holds it, and is too small.
        for key in ["disk./var/lib/db.size_bytes", "disk./var/lib/db.used_bytes", "disk./var/lib/db.free_bytes"] { target.removeValue(forKey: key) }
        target["disk./.size_bytes"] = "25000"
        let sheet = Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target))
        #expect(brief(sheet, "disk./var/lib/db.size_bytes") == "blocker: /, /var/lib/db hold 90000 bytes together on the source; the target's file system under / has 25000 (rule disk)")
        #expect(brief(sheet, "disk./.size_bytes") == "blocker: /, /var/lib/db hold 90000 bytes together on the source; the target's file system under / has 25000 (rule disk)",
                "both land on the target's /")
    }

    @Test func fileSystemsThatLandOnOneTargetFileSystemAreAddedUp() {
        var target = Self.source
        for key in ["disk./var/lib/db.size_bytes", "disk./var/lib/db.used_bytes", "disk./var/lib/db.free_bytes"] { target.removeValue(forKey: key) }
        // 60000 on / and 30000 on /var/lib/db: each fits the target's 80000, both together do not.
        target["disk./.size_bytes"] = "80000"
        let sheet = Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target))
        #expect(Set(sheet.blockers.map(\.key)) == ["disk./.size_bytes", "disk./var/lib/db.size_bytes"])
    }

    @Test func aHigherVersionOrAnotherDistributionIsNoBlocker() {
        var target = Self.source
        target["os.version_id"] = "13"
        #expect(Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target)).blockers.isEmpty)
        target["os.id"] = "ubuntu"
        target["os.version_id"] = "10"
        let sheet = Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target))
        #expect(sheet.blockers.isEmpty && row(sheet, "os.version_id")?.status == .differs)
    }

    @Test func aRuleSetToDiffersOrOffBlocksNothing() {
        var target = Self.source
        target["cpu.vendor"] = "AuthenticAMD"
        target.removeValue(forKey: "package.libfoo")
        var rules = WorksheetRules.defaults
        rules.verdicts["cpu_vendor"] = .differs
        rules.verdicts["packages"] = .off
        rules.ignore.append("package.cur*")
        let sheet = Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target), rules: rules)
        #expect(sheet.blockers.isEmpty)
        #expect(brief(sheet, "cpu.vendor") == "differs: another CPU vendor: code built for one may not run on the other (rule cpu_vendor)")
        #expect(brief(sheet, "package.libfoo") == "missing: not on the target")
        #expect(row(sheet, "package.curl") == nil, "ignored by its pattern")
    }

    @Test func aCollectorThatRanOnOneSideOnlyIsABlockerAndItsSettingsAreNotCompared() {
        var collectors = Self.ok
        collectors[collectors.firstIndex { $0.name == "package" }!] = .init(name: "package", status: .missingTool, detail: "neither dpkg-query nor rpm")
        let target = Self.source.filter { !$0.key.hasPrefix("package.") }
        let sheet = Worksheet(source: Self.inventory(Self.source), target: Self.inventory(target, collectors: collectors))
        #expect(sheet.blockers.map(\.key) == ["collector.package"])
        #expect(row(sheet, "collector.package")?.source == "ok" && row(sheet, "collector.package")?.target == "missing_tool: neither dpkg-query nor rpm")
        #expect(!sheet.rows.contains { $0.key.hasPrefix("package.") }, "not a blocker per package the target did not list")
    }

    @Test(arguments: [("sysctl.kernel.random.uuid", "sysctl.kernel.random.*", true), ("disk./a.used_bytes", "disk.*.used_bytes", true),
                      ("disk./a.size_bytes", "disk.*.used_bytes", false), ("a.b", "a.b", true), ("a.bc", "a.b", false), ("x", "*", true),
                      ("ab", "a*b*", true), ("a", "a*a", false)])
    func patternsMatchWholeKeys(key: String, pattern: String, matches: Bool) {
        var rules = WorksheetRules(verdicts: [:], ignore: [pattern])
        rules.verdicts = [:]
        let sheet = Worksheet(source: Self.inventory([key: "1"]), target: Self.inventory([key: "1"]), rules: rules)
        #expect(sheet.rows.isEmpty == matches)
    }
}
