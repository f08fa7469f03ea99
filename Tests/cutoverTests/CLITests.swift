import CutoverTestSupport
import Foundation
import Testing

@Suite("Command line", .timeLimit(.minutes(1)))
struct CLITests {
    static var valid: String {
        """
        listen: "127.0.0.1:18080"
        admin: { listen: "127.0.0.1:19090" }
        backends:
          old: { url: "http://127.0.0.1:9001" }
          new: { url: "http://127.0.0.1:9002" }
        routes:
          - { name: order-by-id, match: { methods: [GET], path: "/orders/{id}" }, phase: old }
          - { name: order-list, match: { methods: [GET], path: "/orders" }, phase: new }
        """
    }

    @Test func versionIsPrinted() async throws {
        let result = try await CutoverProcess.run(["--version"])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "0.1.0")
    }

    @Test(arguments: [[String](), ["serve"], ["check-config"], ["demo"]])
    func helpIsAvailableForEveryCommand(command: [String]) async throws {
        let result = try await CutoverProcess.run(command + ["--help"])
        #expect(result.status == 0)
        #expect(result.stdout.contains("USAGE:"))
    }

    @Test func validConfigurationPassesWithASummary() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("cutover.yaml", Self.valid)
        let result = try await CutoverProcess.run(["check-config", "--config", file])
        #expect(result.status == 0)
        #expect(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            == "OK: \(file): proxy 127.0.0.1:18080, admin 127.0.0.1:19090, 2 backends, 2 routes (old 1, new 1), store sqlite:cutover.db")
    }

    @Test func invalidConfigurationListsEveryErrorWithItsLineAndExits2() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("broken.yaml", """
            listen: "127.0.0.1:18080"
            admin: { listen: "127.0.0.1:19090" }
            backends:
              old: { url: "http://127.0.0.1:9001", conect_timeout: 1s }
              new: { url: "http://127.0.0.1:9002" }
            routes:
              - { name: a, match: { path: "/a" }, phase: old }
              - { name: a, match: { path: "/b" }, phase: old, backends: { new: neww } }
            """)
        let result = try await CutoverProcess.run(["check-config", "--config", file])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n").map(String.init)
        #expect(lines.count == 4)
        #expect(lines[0].hasPrefix("\(file):4:"))
        #expect(lines[0].contains("backends.old.conect_timeout: unknown key 'conect_timeout' (fix: did you mean 'connect_timeout'?"))
        #expect(lines[1].hasPrefix("\(file):8:"))
        #expect(lines[1].contains("routes[1].name: another route is already named 'a'"))
        #expect(lines[2].contains("routes[1].backends.new: route 'a'") == false)
        #expect(lines[2].contains("routes[1].backends.new"))
        #expect(lines[3] == "\(file): 3 errors; nothing was applied")
        #expect(result.stdout.isEmpty)
    }

    @Test func missingConfigurationFileExits2() async throws {
        let result = try await CutoverProcess.run(["check-config", "--config", "/nonexistent/cutover.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("/nonexistent/cutover.yaml: (document): the configuration file does not exist"))
    }

    @Test func serveRefusesAnInvalidConfigurationWithExit2() async throws {
        let folder = try TemporaryFolder()
        defer { folder.remove() }
        let file = try folder.write("broken.yaml", "listen: nowhere\n")
        let result = try await CutoverProcess.run(["serve", "--config", file])
        #expect(result.status == 2)
        #expect(result.stderr.contains("refusing to start"))
    }

    @Test func unknownCommandOrOptionIsAUsageError() async throws {
        let result = try await CutoverProcess.run(["serve", "--confg", "x.yaml"])
        #expect(result.status == 2)
        #expect(result.stderr.contains("Error: "))
        #expect(result.stderr.contains("Usage: cutover serve"))
    }
}
