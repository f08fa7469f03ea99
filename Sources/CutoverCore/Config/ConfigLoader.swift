import Foundation
import Yams

/// Turns a YAML document into a validated ``CutoverConfig``, or into a
/// ``ConfigError`` listing every problem with its YAML path and line.
public enum ConfigLoader {
    /// Reads and validates a configuration file.
    public static func load(file path: String) -> Result<CutoverConfig, ConfigError> {
        read(file: path).flatMap { text, baseDirectory in load(yaml: text, source: path, baseDirectory: baseDirectory) }
    }

    /// Reads what `cutover reconcile` needs from a configuration file.
    public static func loadReconcile(file path: String) -> Result<ReconcileConfig, ConfigError> {
        read(file: path).flatMap { text, baseDirectory in
            parse(yaml: text, source: path, baseDirectory: baseDirectory) { builder, root in builder.buildReconcile(root) }
        }
    }

    /// The configuration for `cutover reconcile`, given as text.
    public static func loadReconcile(yaml: String, source: String = "config") -> Result<ReconcileConfig, ConfigError> {
        parse(yaml: yaml, source: source, baseDirectory: ".") { builder, root in builder.buildReconcile(root) }
    }

    /// Reads what `cutover host` needs from a configuration file.
    public static func loadHost(file path: String) -> Result<HostConfig, ConfigError> {
        read(file: path).flatMap { text, baseDirectory in
            parse(yaml: text, source: path, baseDirectory: baseDirectory) { builder, root in builder.buildHost(root) }
        }
    }

    /// The configuration for `cutover host`, given as text.
    public static func loadHost(yaml: String, source: String = "config") -> Result<HostConfig, ConfigError> {
        parse(yaml: yaml, source: source, baseDirectory: ".") { builder, root in builder.buildHost(root) }
    }

    private static func read(file path: String) -> Result<(String, String), ConfigError> {
        let text: String
        do {
            text = try String(contentsOfFile: path, encoding: .utf8)
        } catch {
            let reason = FileManager.default.fileExists(atPath: path) ? "cannot be read as UTF-8 text" : "does not exist"
            return .failure(ConfigError(source: path, issues: [
                ConfigIssue(path: .root, message: "the configuration file \(reason)", fix: "pass an existing YAML file with --config")
            ]))
        }
        let baseDirectory = (path as NSString).deletingLastPathComponent
        return .success((text, baseDirectory.isEmpty ? "." : baseDirectory))
    }

    /// Validates a configuration given as text. Relative file names inside it
    /// (certificates, keys, CA files) are resolved against `baseDirectory`.
    public static func load(yaml: String, source: String = "config", baseDirectory: String = ".") -> Result<CutoverConfig, ConfigError> {
        parse(yaml: yaml, source: source, baseDirectory: baseDirectory) { builder, root in builder.build(root) }
    }

    private static func parse<T>(yaml: String, source: String, baseDirectory: String,
                                 build: (ConfigBuilder, Node) -> T?) -> Result<T, ConfigError> {
        let root: Node?
        do {
            root = try Yams.compose(yaml: yaml)
        } catch let error as YamlError {
            return .failure(ConfigError(source: source, issues: [yamlIssue(error)]))
        } catch {
            return .failure(ConfigError(source: source, issues: [ConfigIssue(path: .root, line: 1, column: 1, message: "not valid YAML: \(error)")]))
        }
        guard let root else {
            return .failure(ConfigError(source: source, issues: [
                ConfigIssue(path: .root, line: 1, column: 1, message: "the document is empty", fix: "start from Config/example.yaml")
            ]))
        }
        let builder = ConfigBuilder(reader: NodeReader(), baseDirectory: baseDirectory)
        let config = build(builder, root)
        // Every issue names a line: one about something absent points at the document's start.
        let start = (line: root.mark?.line ?? 1, column: root.mark?.column ?? 1)
        let issues = builder.reader.issues.map { issue in
            var issue = issue
            if issue.line == nil { (issue.line, issue.column) = (start.line, start.column) }
            return issue
        }.sorted { ($0.line ?? 0, $0.column ?? 0) < ($1.line ?? 0, $1.column ?? 0) }
        if let config, issues.isEmpty { return .success(config) }
        return .failure(ConfigError(source: source, issues: issues))
    }

    private static func yamlIssue(_ error: YamlError) -> ConfigIssue {
        switch error {
        case .scanner(let context, let problem, let mark, _),
             .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let contextText = context.map { "\($0.text) " } ?? ""
            return ConfigIssue(path: .root, line: mark.line, column: mark.column, message: "not valid YAML: \(contextText)\(problem)")
        case .duplicatedKeysInMapping(let duplicates, let context):
            return ConfigIssue(path: .root, line: context.mark.line, column: context.mark.column,
                               message: "key \(duplicates.joined(separator: ", ")) appears twice in one mapping",
                               fix: "keep one of them")
        default:
            return ConfigIssue(path: .root, line: 1, column: 1, message: "not valid YAML: \(error)")
        }
    }
}
