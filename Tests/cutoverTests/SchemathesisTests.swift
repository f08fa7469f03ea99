import CutoverAdmin
import CutoverTestSupport
import Foundation
import Testing

/// Docs/openapi.yaml against a running `cutover serve`, with schemathesis (PyPI) generating
/// valid and invalid calls from the document: no 5xx, every status, header and body as documented,
/// schema-violating input refused, schema-valid input accepted.
extension ServeTests {
    static var schemathesisVersion: String { "4.32.5" }

    @Test func theAdminAPIAnswersAsItsOpenAPIDocumentSays() async throws {
        // Installed on first use into .build/test-tools (PyPI), so the suite needs nothing installed by hand.
        let binary = try TestTools.pythonTool("schemathesis", requirement: "schemathesis==\(Self.schemathesisVersion)")
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", """
            listen: "127.0.0.1:0"
            admin:
              listen: "127.0.0.1:0"
              tokens: [{ name: ops, role: operator, sha256: "\(TokenAuthenticator.digest(Self.operatorToken))" }]
              failed_auth: { burst: 100000, per_second: 1000 }   # schemathesis sends wrong tokens on purpose
            store: "sqlite:\(folder.path)/cutover.db"
            backends: { old: { url: "http://127.0.0.1:9" }, new: { url: "http://127.0.0.1:9" } }
            routes:
              - { name: orders, match: { path: "/orders/{id}" }, phase: shadow, id: { from: path, name: id }, gray: { threshold: 1000 } }
              - { name: order-list, match: { path: "/orders" }, phase: old, aggregate: { array: /items, key: /id } }
              - { name: plain, match: { prefix: /static }, phase: old }
            """)
        let (process, _, admin) = try await serve(file)
        defer { process.terminate() }
        let document = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Docs/openapi.yaml").path
        let run = Process()
        run.executableURL = URL(fileURLWithPath: binary)
        // unsupported_method is left out: the router answers 404, not 405, to a method a path does not serve.
        run.arguments = ["run", document, "--url", "http://127.0.0.1:\(admin)", "-H", "Authorization: Bearer \(Self.operatorToken)",
                         "--max-examples", "25", "--seed", "20261123", "--generation-deterministic", "--exclude-checks", "unsupported_method",
                         "--no-color"]
        run.currentDirectoryURL = URL(fileURLWithPath: folder.path)
        let output = Pipe()
        run.standardOutput = output
        run.standardError = output
        try run.run()
        let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        run.waitUntilExit()
        #expect(run.terminationStatus == 0, "\(text.suffix(6000))")
        // Every operation the document has, counted from it.
        let operations = try String(contentsOfFile: document, encoding: .utf8).split(separator: "\n").filter { line in
            ["    get:", "    put:", "    post:", "    patch:", "    delete:"].contains(String(line))
        }.count
        #expect(operations >= 17)
        #expect(text.contains("Tested: \(operations)"), "every operation was exercised: \(text.suffix(2000))")
    }
}
