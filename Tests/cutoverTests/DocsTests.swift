import CutoverTestSupport
import Foundation
import Testing

/// The README against what ships: every configuration key its table documents is used by `Config/example.yaml`
/// (which a test loads, and which uses every key), and every command `cutover --help` lists has its row.
@Suite("README agrees with the product", .timeLimit(.minutes(1)))
struct DocsTests {
    static func file(_ name: String) throws -> String {
        try String(contentsOfFile: TestTools.packageRoot + "/" + name, encoding: .utf8)
    }

    /// The first cells of a README table whose header row starts with `header`.
    static func firstCells(of header: String, in readme: String) -> [String] {
        let lines = readme.components(separatedBy: "\n")
        guard let start = lines.firstIndex(where: { $0.hasPrefix(header) }) else { return [] }
        return lines[(start + 2)...].prefix { $0.hasPrefix("|") }.map { line in
            String(line.dropFirst().prefix { $0 != "|" }).trimmingCharacters(in: .whitespaces)
        }
    }

    @Test func everyDocumentedConfigurationKeyIsInTheExampleConfiguration() throws {
        let readme = try Self.file("README.md")
        let example = try Self.file("Config/example.yaml")
        let cells = Self.firstCells(of: "| key | default | meaning |", in: readme)
        #expect(cells.count > 40, "the configuration table was found: \(cells.count) rows")
        var missing: [String] = []
        for cell in cells {
            for key in cell.components(separatedBy: "`").enumerated().filter({ $0.offset % 2 == 1 }).map(\.element) {
                let name = key.split(separator: ".").last.map(String.init)?.replacingOccurrences(of: "[]", with: "") ?? key
                if example.range(of: "\\b\(NSRegularExpression.escapedPattern(for: name)):", options: .regularExpression) == nil {
                    missing.append(key)
                }
            }
        }
        #expect(missing.isEmpty, "documented in the README but not used by Config/example.yaml: \(missing)")
    }

    @Test func everyCommandHasItsRowInTheCommandTable() async throws {
        let readme = try Self.file("README.md")
        let rows = Self.firstCells(of: "| command | what it does | exit status |", in: readme)
        let help = try await CutoverProcess.run(["--help"])
        #expect(help.status == 0)
        let section = help.stdout.components(separatedBy: "SUBCOMMANDS:").last ?? ""
        let commands = section.split(separator: "\n").compactMap { line -> String? in
            let trimmed = line.drop { $0 == " " }
            guard line.hasPrefix("  "), !line.hasPrefix("    "), let word = trimmed.split(separator: " ").first else { return nil }
            return String(word)
        }.filter { $0 != "See" }
        #expect(commands.count >= 10, "\(commands)")
        for command in commands {
            #expect(rows.contains { $0.hasPrefix("`cutover \(command)") }, "`cutover \(command)` has no row in the README's command table")
        }
    }
}
