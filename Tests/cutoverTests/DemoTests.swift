import CutoverTestSupport
import Foundation
import Testing

@Suite("cutover demo", .timeLimit(.minutes(1)))
struct DemoTests {
    @Test func demoRunsInShadowAndReportsTheRealDifferenceApartFromNoise() async throws {
        // The shipped demo configuration (found by the binary itself), on free ports so the test runs anywhere.
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let result = try await CutoverProcess.run(["demo", "--once", "--free-ports", "--requests", "200"], in: folder.path)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let output = result.stdout
        #expect(output.contains("Sent 200 requests through the gateway"))
        let rows = output.split(separator: "\n").filter { $0.hasPrefix("order-") && $0.contains(" shadow ") }
        #expect(rows.count == 3)
        #expect(rows.allSatisfy { $0.contains(" old ") }, "in shadow, old answers every client")
        #expect(output.contains("Answered by a backend other than the route's phase names: 0."))
        // Reads reach all three services, creates old and then new (after-primary): 120 + 40 reads, 40 creates.
        #expect(output.contains("Backends received: old 200, old-secondary 160, new 200."))

        // The report: per route, `total` is the one real difference, `trace_id` noise, `generated_at` ignored.
        let blocks = output.components(separatedBy: "\n\n")
        // New gets the total wrong for every fifth order: 20 of the 120 orders read one by one, and at least one
        // order on every list page.
        for (route, compared, differing, total, trace) in [("order-by-id", 120, 20, "/total", "/trace_id"),
                                                            ("order-list", 40, 40, "/items/*/total", "/items/*/trace_id")] {
            let block = try #require(blocks.first { $0.hasPrefix("\(route): ") }, "a report block for \(route) in \(output)")
            let lines = block.split(separator: "\n").map { $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init) }
            #expect(lines[0].prefix(5) == ["\(route):", "\(compared)", "compared,", "\(differing)", "differing"], "\(block)")
            let totalLine = try #require(lines.first { $0.first == total })
            let traceLine = try #require(lines.first { $0.first == trace })
            #expect(totalLine[1] == "difference")
            #expect(traceLine[1] == "noise")
            #expect(totalLine[2] == lines[0][3], "differing requests are exactly those with the wrong total")
            #expect(totalLine[3] == "0", "two old instances never disagree on the total")
            #expect(Int(totalLine[2]) ?? 0 > 0)
            #expect(!block.contains("generated_at"))
            #expect(lines.count == 4, "the header, the two fields and the route line: \(block)")
        }
        let creates = try #require(blocks.first { $0.hasPrefix("order-create: 40 compared") })
        #expect(creates.contains("/total") && creates.contains("difference"))
        #expect(!creates.contains("trace_id") && !creates.contains("generated_at"))
        #expect(output.contains("CUTOVER_TOKEN=demo-viewer-token cutover diffs summary --admin http://127.0.0.1:"))
        #expect(output.range(of: #"Review: http://127\.0\.0\.1:\d+/review \(token: demo-viewer-token\)"#, options: .regularExpression) != nil)
        #expect(output.contains("/healthz"))
        #expect(output.contains("/metrics"))

        // The gray act: the gate refuses on the real difference, the forced move splits by ID and merges the list.
        #expect(output.contains("-> 409: route 'order-by-id' cannot move from shadow to gray: diff rate 16.667% in the last 10m; at most 1.0% allowed"),
                "\(output)")
        #expect(output.contains("GET /orders/7                  -> 200 from old"))
        #expect(output.range(of: #"POST /orders +-> 201 from new +\(creates go to new: order 10000\d\d\)"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"GET /orders/10000\d\d +-> 200 from new"#, options: .regularExpression) != nil)
        #expect(output.range(of: #"merged from old and new: ids \[10000\d\d, 90, 89, 88\]"#, options: .regularExpression) != nil, "\(output)")
        #expect(output.contains("next page: ids [87, 86, 85, 84]"))
    }

    @Test func theDemoPrintsNoWarningOnItsWayOut() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let result = try await CutoverProcess.run(["demo", "--once", "--free-ports", "--requests", "50"], in: folder.path)
        #expect(result.status == 0, "stderr: \(result.stderr)")
        let warnings = result.stderr.split(separator: "\n").filter { $0.contains(" warning ") || $0.contains(" error ") }
        #expect(warnings.isEmpty, "a newcomer's first screen: \(warnings)")
    }

    @Test func aSecondDemoRunStartsAgainFromShadow() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        for _ in 0..<2 {
            let result = try await CutoverProcess.run(["demo", "--once", "--free-ports", "--requests", "50"], in: folder.path)
            #expect(result.status == 0, "stderr: \(result.stderr)")
            #expect(result.stdout.contains("Answered by a backend other than the route's phase names: 0."), "\(result.stdout)")
            #expect(result.stdout.contains("all three routes are in gray"))
        }
    }

    @Test func demoSaysWhatToDoWhenItsConfigurationIsMissing() async throws {
        let result = try await CutoverProcess.run(["demo", "--once", "--config", "/nonexistent/demo.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("does not exist"))
    }
}
