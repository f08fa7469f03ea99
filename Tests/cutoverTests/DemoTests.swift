import CutoverTestSupport
import Foundation
import Testing

@Suite("cutover demo")
struct DemoTests {
    @Test func demoRunsAMigrationAndPrintsWhatWentWhere() async throws {
        // The shipped demo configuration (found by the binary itself), on free ports so the test runs anywhere.
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let result = try await CutoverProcess.run(["demo", "--once", "--free-ports", "--requests", "200"], in: folder.path)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let output = result.stdout
        #expect(output.contains("Sent 200 requests through the gateway"))
        let rows = output.split(separator: "\n").filter { $0.hasPrefix("order-") }
        #expect(rows.count == 3)
        #expect(rows.contains { $0.hasPrefix("order-by-id") && $0.contains(" old ") })
        #expect(rows.contains { $0.hasPrefix("order-list") && $0.contains(" new ") })
        #expect(rows.contains { $0.hasPrefix("order-create") && $0.contains(" old ") })
        #expect(output.contains("Answered by a backend other than the route's phase names: 0."))
        #expect(output.contains("Backends received: old 160, new 40."))
        #expect(output.contains("/healthz"))
        #expect(output.contains("/metrics"))
    }

    @Test func demoSaysWhatToDoWhenItsConfigurationIsMissing() async throws {
        let result = try await CutoverProcess.run(["demo", "--once", "--config", "/nonexistent/demo.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("does not exist"))
    }
}
