/// One problem found in a configuration document: where it is, what is wrong
/// and how to fix it.
public struct ConfigIssue: Sendable, Hashable, CustomStringConvertible {
    /// Where in the document the problem is.
    public var path: ConfigPath
    /// The 1-based line of the offending value, when the document is YAML text.
    public var line: Int?
    /// The 1-based column of the offending value.
    public var column: Int?
    /// What is wrong, in one sentence.
    public var message: String
    /// How to fix it, when there is more to say than the message.
    public var fix: String?

    /// Creates an issue.
    public init(path: ConfigPath, line: Int? = nil, column: Int? = nil, message: String, fix: String? = nil) {
        self.path = path
        self.line = line
        self.column = column
        self.message = message
        self.fix = fix
    }

    /// The issue as one line, prefixed the way compilers do: `FILE:LINE:COLUMN: path: message (fix: …)`.
    public func formatted(source: String) -> String {
        var text = source
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        text += ": \(path): \(message)"
        if let fix { text += " (fix: \(fix))" }
        return text
    }

    public var description: String { formatted(source: "config") }
}

/// A configuration that was refused, with every problem found in it.
public struct ConfigError: Error, Sendable, CustomStringConvertible {
    /// The file (or other source) the document came from.
    public var source: String
    /// All problems, in document order.
    public var issues: [ConfigIssue]

    /// Creates the error for a source and its issues.
    public init(source: String, issues: [ConfigIssue]) {
        self.source = source
        self.issues = issues
    }

    public var description: String {
        let noun = issues.count == 1 ? "error" : "errors"
        var lines = ["\(source): \(issues.count) configuration \(noun)"]
        for issue in issues {
            lines.append(issue.formatted(source: source))
        }
        return lines.joined(separator: "\n")
    }
}
