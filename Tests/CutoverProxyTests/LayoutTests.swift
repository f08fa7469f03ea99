import Foundation
import Testing

/// The data plane's folders depend one way: a folder uses the types of the folders before it in `order`, never of
/// those after it (HTTP/1 syntax and metrics at the bottom, the client side at the top).
@Suite("Data-plane layout")
struct LayoutTests {
    static let order = ["HTTP", "Metrics", "Upstream", "Comparator", "Runtime", "Mirror", "Server"]
    static var sources: URL {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Sources/CutoverProxy")
    }

    /// The Swift files of a folder, with their text (comment lines left out: only code depends on anything).
    static func files(_ folder: String) throws -> [String: String] {
        let directory = sources.appendingPathComponent(folder)
        var result: [String: String] = [:]
        for name in try FileManager.default.contentsOfDirectory(atPath: directory.path) where name.hasSuffix(".swift") {
            let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
            result[name] = text.split(separator: "\n", omittingEmptySubsequences: false)
                .filter { !$0.drop { $0 == " " }.hasPrefix("//") }.joined(separator: "\n")
        }
        return result
    }

    /// The type names a folder declares at the top level.
    static func declared(in texts: [String: String]) throws -> Set<String> {
        let declaration = try Regex(#"(?m)^(?:public |internal )?(?:final )?(?:class|struct|enum|protocol|typealias|actor) ([A-Z]\w*)"#)
        var names = Set<String>()
        for text in texts.values {
            for match in text.matches(of: declaration) {
                if let name = match.output[1].substring { names.insert(String(name)) }
            }
        }
        return names
    }

    @Test func everyFolderIsInTheOrder() throws {
        let folders = try FileManager.default.contentsOfDirectory(atPath: Self.sources.path).filter { !$0.hasSuffix(".swift") && !$0.hasPrefix(".") }
        #expect(Set(folders) == Set(Self.order), "a new folder needs its place in the order")
    }

    @Test func noFolderUsesAFolderAboveIt() throws {
        let texts = try Dictionary(uniqueKeysWithValues: Self.order.map { ($0, try Self.files($0)) })
        let declared = try texts.mapValues(Self.declared)
        #expect(declared.values.allSatisfy { !$0.isEmpty }, "the declarations are found")
        for (position, folder) in Self.order.enumerated() {
            for above in Self.order[(position + 1)...] {
                for name in declared[above]! {
                    let word = try Regex("\\b\(name)\\b")
                    for (file, text) in texts[folder]! where text.contains(word) {
                        Issue.record("\(folder)/\(file) uses \(name), declared in \(above)/, which depends on \(folder)/")
                    }
                }
            }
        }
    }
}
