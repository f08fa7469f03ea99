import CutoverCore
import CutoverHost
import CutoverTestSupport
import Foundation
import Testing

/// `cutover host inventory` and `cutover host compare` as an operator runs them, and the pre-check that requires a
/// worksheet without blockers.
@Suite("cutover host inventory and compare", .serialized, .timeLimit(.minutes(2)))
struct HostInventoryCommandTests {
    static func inventory(_ settings: [String: String], hostname: String = "shop-old") -> HostInventory {
        HostInventory(target: "local", collectedAt: 0, hostname: hostname, addresses: ["198.18.0.1"], referencesTo: [], settings: settings,
                      collectors: ["os", "package", "listen"].map { .init(name: $0, status: .ok) })
    }

    func write(_ inventory: HostInventory, _ name: String, in folder: TemporaryFolder) throws -> String {
        try folder.write(name, String(decoding: try JSONEncoder().encode(inventory), as: UTF8.self))
    }

    @Test func inventoryOfThisMachinePrintsJSONThatCompareReads() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let result = try await CutoverProcess.run(["host", "inventory", "--target", "local", "--json"])
        #expect(result.status == 0, "\(result.stderr)")
        let inventory = try JSONDecoder().decode(HostInventory.self, from: Data(result.stdout.utf8))
        #expect(inventory.target == "local" && inventory.settings["os.id"] != nil)
        let path = try folder.write("local.json", result.stdout)
        let same = try await CutoverProcess.run(["host", "compare", path, path, "--format", "json"])
        #expect(same.status == 0, "\(same.stderr)")
        let rows = try JSONDecoder().decode([Worksheet.Row].self, from: Data(same.stdout.utf8))
        #expect(!rows.isEmpty && rows.allSatisfy { $0.status == .ok || $0.key.hasPrefix("collector.") }, "\(rows.filter { $0.status != .ok }.prefix(3))")
        let table = try await CutoverProcess.run(["host", "inventory", "--target", "local"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("COLLECTOR") && table.stdout.contains("package"), "\(table.stdout)")
    }

    @Test func compareListsEveryStatusAndExits1OnABlocker() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let old = try write(Self.inventory(["os.id": "debian", "os.version_id": "12", "package.nginx": "1.22", "package.libfoo": "1.0",
                                            "os.pretty_name": "Debian, 12", "listen.tcp.0.0.0.0:80": "nginx"]), "old.json", in: folder)
        let new = try write(Self.inventory(["os.id": "debian", "os.version_id": "12", "package.nginx": "1.24", "package.extra": "2",
                                            "os.pretty_name": "Debian, 12", "listen.tcp.0.0.0.0:80": "nginx"], hostname: "shop-new"), "new.json", in: folder)
        let table = try await CutoverProcess.run(["host", "compare", old, new])
        #expect(table.status == 1)
        #expect(table.stderr.contains("1 blocker: package.libfoo"), "\(table.stderr)")
        #expect(table.stdout.contains("package.nginx") && table.stdout.contains("differs"))
        #expect(!table.stdout.contains("os.version_id"), "rows that are ok are left out of the table")
        #expect(table.stdout.contains("7 settings: ok 4, differs 2, missing 0, blocker 1"), "\(table.stdout)")
        let all = try await CutoverProcess.run(["host", "compare", old, new, "--all"])
        #expect(all.stdout.contains("os.version_id"))
        let csv = try await CutoverProcess.run(["host", "compare", old, new, "--format", "csv"])
        let lines = csv.stdout.split(separator: "\n")
        #expect(lines.first == "key,source,target,status,remark")
        #expect(lines.contains("os.pretty_name,\"Debian, 12\",\"Debian, 12\",ok,"), "\(csv.stdout)")
        #expect(lines.contains("package.libfoo,1.0,,blocker,\"installed on the source, not on the target (rule packages)\""), "\(csv.stdout)")

        let config = try folder.write("cutover.yaml", """
            host_cutover:
              hosts: { a: { executor: local, interface: lo } }
              worksheet: { rules: { packages: differs }, ignore: ["package.ext*"] }
            """)
        let relaxed = try await CutoverProcess.run(["host", "compare", old, new, "--config", config, "--format", "json"])
        #expect(relaxed.status == 0, "\(relaxed.stderr)")
        let rows = try JSONDecoder().decode([Worksheet.Row].self, from: Data(relaxed.stdout.utf8))
        #expect(rows.first { $0.key == "package.libfoo" }?.status == .missing)
        #expect(!rows.contains { $0.key == "package.extra" })
    }

    @Test func badInputIsNamedAndExits2() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let good = try write(Self.inventory([:]), "good.json", in: folder)
        let bad = try folder.write("bad.json", "{\"target\": \"local\"}")
        let cases: [([String], String)] = [
            (["host", "compare", good, folder.path + "/absent.json"], "NEW \(folder.path)/absent.json: cannot be read"),
            (["host", "compare", bad, good], "OLD \(bad) is not an inventory written by cutover host inventory --json: '"),
            (["host", "compare", good, good, "--format", "xml"], "--format"),
            (["host", "inventory", "--target", "telnet:x"], "--target 'telnet:x' is not an executor"),
            (["host", "inventory", "--target", "local", "--config-root", "etc/nginx"], "'etc/nginx' is not an absolute path"),
            (["host", "inventory", "--target", "local", "--references-of", bad], "--references-of \(bad) is not an inventory"),
        ]
        for (arguments, message) in cases {
            let result = try await CutoverProcess.run(arguments)
            #expect(result.status == 2, "\(arguments)")
            #expect(result.stderr.contains(message), "\(arguments): \(result.stderr)")
        }
    }

    @Test func aPrecheckThatRequiresTheWorksheetFailsOnABlocker() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        try FileManager.default.createDirectory(atPath: folder.path + "/conf", withIntermediateDirectories: true)
        func config(roots: String) throws -> String {
            try folder.write("cutover.yaml", """
                store: "sqlite:\(folder.path)/cutover.db"
                host_cutover:
                  hosts:
                    old: { executor: local, interface: lo }
                    new: { executor: local, interface: lo }
                  tasks:
                    - { name: t, from: old, to: new, service: { stop: "true", start: "true", health: "true" }, require_worksheet: true }
                  inventory: { config_roots: [\(roots)] }
                  worksheet: { rules: { listening: off } }
                """)
        }
        let clean = try await CutoverProcess.run(["host", "precheck", "--config", config(roots: folder.path + "/conf"), "--task", "t"])
        #expect(clean.status == 0, "\(clean.stdout) \(clean.stderr)")
        #expect(clean.stdout.contains("worksheet old → new") && clean.stdout.contains("no blocker in"), "\(clean.stdout)")
        // The new host's configuration still names the old one (this machine's own hostname).
        try "upstream app { server \(ProcessInfo.processInfo.hostName):8080; }\n".write(toFile: folder.path + "/conf/app.conf", atomically: true, encoding: .utf8)
        let blocked = try await CutoverProcess.run(["host", "precheck", "--config", config(roots: folder.path + "/conf"), "--task", "t"])
        #expect(blocked.status == 1)
        #expect(blocked.stdout.contains("reference.\(folder.path)/conf/app.conf:1: this file on the target names the old host"), "\(blocked.stdout)")
    }
}
