import CutoverCore
@testable import CutoverHost
import CutoverTestSupport
import Foundation
import Testing

/// The final sync pass against rsync itself: a file rewritten at the same size with the same modification time as
/// its copy (what rsync's quick check cannot see) is found by the comparison and copied again by checksum.
@Suite("Host sync", .timeLimit(.minutes(1)))
struct SyncLabTests {
    @Test func aFileTheQuickCheckMissesIsCopiedAgainByChecksum() async throws {
        _ = try TestTools.executable("rsync", debianPackage: "rsync")
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("cutover-sync-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        for side in ["old", "new"] { try FileManager.default.createDirectory(atPath: "\(folder)/\(side)", withIntermediateDirectories: true) }
        try "version 1\n".write(toFile: "\(folder)/old/a.txt", atomically: false, encoding: .utf8)
        try "steady\n".write(toFile: "\(folder)/old/b.txt", atomically: false, encoding: .utf8)
        let config = try ConfigLoader.loadHost(yaml: """
            host_cutover:
              hosts:
                old: { executor: local, interface: lo }
                new: { executor: local, interface: lo }
              tasks:
                - name: t
                  from: old
                  to: new
                  service: { stop: "true", start: "true", health: "true" }
                  data: [{ path: \(folder)/old/, to_path: \(folder)/new/ }]
            """).get().hostCutover
        let task = try #require(config.task(named: "t"))
        let runner = HostRunner(task: task, from: try #require(config.host(named: "old")), to: try #require(config.host(named: "new")),
                                journal: NoJournalForTests())
        let live = try await runner.sync(final: false)
        #expect(live.failure == nil && live.figures["bytes"] == 17, "\(live.figures) \(live.failure ?? "")")
        // Rewritten at the same size, and given back the copy's modification time: rsync's quick check skips it.
        try "version 2\n".write(toFile: "\(folder)/old/a.txt", atomically: false, encoding: .utf8)
        try Spawn.run(["touch", "-r", "\(folder)/new/a.txt", "\(folder)/old/a.txt"])
        let final = try await runner.sync(final: true)
        #expect(final.failure == nil, "\(final.failure ?? "")")
        #expect(final.figures["checksum_passes"] == 1, "the comparison found it and it was copied again: \(final.figures)")
        #expect(final.figures["differences"] == 0)
        #expect(try String(contentsOfFile: "\(folder)/new/a.txt", encoding: .utf8) == "version 2\n")
    }
}

/// A journal that keeps nothing.
struct NoJournalForTests: HostJournal {
    func beginStep(_ step: RunbookMachine.Step, pass: Int) async throws -> Int64 { 0 }
    func finishStep(_ seq: Int64, result: HostStepRecord.Result, figures: [String: Double], commands: [HostStepRecord.Command], failure: String?) async throws {}
    func finishRun(status: HostRun.Status, reason: String?, figures: [String: Double]) async throws {}
}
