import CutoverCore
@testable import CutoverHost
import CutoverTestSupport
import Foundation
import Testing

/// The inventory taken for real: of this machine, of a network namespace, with references to an old host planted in
/// a configuration folder, with tools missing, and as a user who may not read what it asks for.
@Suite("Host inventory", .serialized, .timeLimit(.minutes(2)))
struct InventoryLabTests {
    /// Runs commands with an empty PATH: every tool is missing.
    struct NoToolsExecutor: Executor {
        var address: ExecutorAddress { .local }
        func commandLine(for arguments: [String]) -> [String] { ["/usr/bin/env", "PATH=/nonexistent", "/bin/sh"] + arguments.dropFirst() }
    }

    /// Runs commands as `nobody`.
    struct NobodyExecutor: Executor {
        var address: ExecutorAddress { .local }
        func commandLine(for arguments: [String]) -> [String] { ["runuser", "-u", "nobody", "--"] + arguments }
    }

    func temporaryFolder() throws -> String {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-inventory-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return folder
    }

    @Test func thisMachinesInventoryHasItsSettingsAndNoSecretContents() async throws {
        let inventory = try await HostInventoryCollector(executor: LocalExecutor(), label: "local").collect()
        let settings = inventory.settings
        let release = try String(contentsOfFile: "/etc/os-release", encoding: .utf8)
        let id = try #require(release.split(separator: "\n").first { $0.hasPrefix("ID=") }).dropFirst(3).trimmingCharacters(in: ["\""])
        #expect(settings["os.id"] == id)
        #expect(settings["os.hostname"] == ProcessInfo.processInfo.hostName)
        #expect(inventory.hostname == ProcessInfo.processInfo.hostName)
        #expect(Int(settings["memory.total_bytes"] ?? "") ?? 0 > 0)
        #expect(settings["cpu.count"] == String(ProcessInfo.processInfo.processorCount))
        #expect(settings["disk./.size_bytes"] != nil)
        #expect(settings["account.user.root"]?.hasPrefix("uid=0 gid=0") == true)
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/dpkg-query") {
            #expect(settings.keys.count { $0.hasPrefix("package.") } > 50)
            #expect(settings["package.dpkg"] != nil)
        }
        // Every collector is listed, whatever became of it.
        #expect(inventory.collectors.map(\.name) == InventoryCollector.all.map(\.name).sorted())
        // Secrets as owner, mode and fingerprint: no line of /etc/shadow in any value.
        let shadow = try #require(settings["secret./etc/shadow"])
        #expect(shadow.wholeMatch(of: #/\S+:\S+ [0-7]{3,4} sha256:[0-9a-f]{64}/#) != nil, "\(shadow)")
        let lines = try String(contentsOfFile: "/etc/shadow", encoding: .utf8).split(separator: "\n").filter { $0.count > 8 }
        #expect(!settings.values.contains { value in lines.contains { value.contains($0) } })
        #expect(settings["file./etc/hosts"]?.contains("sha256:") == true)
    }

    @Test func referencesToTheOldHostAreFoundUnderTheConfigRoots() async throws {
        let folder = try temporaryFolder()
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder + "/conf.d", withIntermediateDirectories: true)
        try """
            upstream shop { server 198.18.7.7:8080; }
            server { server_name old-shop.test; }
            allow 198.18.7.77;
            # nothing here
            """.write(toFile: folder + "/conf.d/shop.conf", atomically: true, encoding: .utf8)
        let inventory = try await HostInventoryCollector(executor: LocalExecutor(), label: "local", configRoots: [folder, folder + "/absent"],
                                                         referencesTo: ["old-shop.test", "198.18.7.7"]).collect()
        let references = inventory.settings.filter { $0.key.hasPrefix("reference.") }
        #expect(references == ["reference.\(folder)/conf.d/shop.conf:1": "198.18.7.7", "reference.\(folder)/conf.d/shop.conf:2": "old-shop.test"],
                "198.18.7.77 is another address")
        #expect(inventory.referencesTo == ["old-shop.test", "198.18.7.7"])
    }

    @Test func withoutTheToolsEachCollectorSaysWhichIsMissing() async throws {
        let inventory = try await HostInventoryCollector(executor: NoToolsExecutor(), label: "local").collect()
        func collector(_ name: String) -> HostInventory.Collector? { inventory.collectors.first { $0.name == name } }
        #expect(collector("package")?.status == .missingTool)
        #expect(collector("package")?.detail == "neither dpkg-query nor rpm is installed")
        #expect(collector("listen")?.detail == "ss is not installed (iproute2)")
        #expect(collector("sysctl")?.status == .missingTool)
        #expect(collector("cpu")?.status == .missingTool, "cat itself is missing")
        #expect(!inventory.settings.keys.contains { $0.hasPrefix("package.") })
    }

    @Test func whatAUserMayNotReadIsSaidSoAndSecretsStayUnread() async throws {
        guard getuid() == 0 else { return }
        let probe = InventoryCollector(name: "probe", script: { _ in "cat /etc/shadow" }, parse: { _, _ in [:] })
        let collector = HostInventoryCollector(executor: NobodyExecutor(), label: "local")
        let (status, _) = try await collector.run(probe, .init(configRoots: [], extraPaths: [], referencesTo: []))
        #expect(status.status == .noPermission, "\(status)")
        #expect(status.detail?.contains("Permission denied") == true)
        let inventory = try await collector.collect()
        #expect(inventory.settings["secret./etc/shadow"]?.hasSuffix(" unreadable") == true, "\(inventory.settings["secret./etc/shadow"] ?? "none")")
    }

    @Test(.enabled(if: Lab.available, Lab.unavailableReason))
    func aNamespacesInventoryHasItsOwnInterfaces() async throws {
        try await Lab.with { lab in
            let inventory = try await HostInventoryCollector(executor: NetnsExecutor(name: lab.old), label: "netns:\(lab.old)").collect()
            #expect(inventory.settings["network.interface.eth0"]?.contains("\(lab.address(.old))/24") == true, "\(inventory.settings.filter { $0.key.hasPrefix("network.") })")
            #expect(inventory.addresses.contains(lab.address(.old).description))
            #expect(inventory.settings["os.id"] != nil, "the same machine's files, seen from the namespace")
            #expect(inventory.target == "netns:\(lab.old)")
        }
    }
}
