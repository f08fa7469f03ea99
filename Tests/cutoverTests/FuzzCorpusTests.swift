import CutoverTestSupport
import Foundation
import Testing

/// The fuzz harnesses' committed corpora (seeds, and any input that once was a finding) replayed through the
/// harnesses as a plain build runs them: deterministic, and a regression check for what fuzzing found.
@Suite("Fuzz corpora", .timeLimit(.minutes(1)))
struct FuzzCorpusTests {
    static var binary: String {
        URL(fileURLWithPath: CutoverProcess.binary).deletingLastPathComponent().appendingPathComponent("cutover-fuzz").path
    }

    @Test(arguments: ["config", "json", "id", "cursor", "path", "admin", "request-diff", "response-diff"])
    func theCommittedCorpusRunsCleanThroughItsHarness(harness: String) throws {
        let corpus = TestTools.packageRoot + "/Benchmarks/Fuzz/corpus/" + harness
        let files = try FileManager.default.contentsOfDirectory(atPath: corpus)
        #expect(files.count >= 3, "\(harness) has a seed corpus")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: Self.binary)
        process.arguments = [harness, corpus]
        let output = Pipe()
        process.standardOutput = output
        process.standardError = output
        try process.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(text)")
        #expect(text.contains("\(harness): \(files.count) inputs replayed, no finding"), "\(text)")
    }
}
