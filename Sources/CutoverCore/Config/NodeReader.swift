import Yams

/// Reads YAML nodes into typed values, collecting every problem it meets
/// instead of stopping at the first, each with its path and line.
final class NodeReader {
    private(set) var issues: [ConfigIssue] = []

    /// Records a problem at a node.
    func report(_ path: ConfigPath, _ node: Node?, _ message: String, fix: String? = nil) {
        issues.append(ConfigIssue(path: path, line: node?.mark?.line, column: node?.mark?.column, message: message, fix: fix))
    }

    /// A short name for the kind of node, for messages.
    func kind(_ node: Node) -> String {
        switch node {
        case .scalar(let scalar):
            if scalar.style == .plain, scalar.string.isEmpty || scalar.string == "~" || scalar.string == "null" { return "null" }
            return "a scalar"
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        }
    }

    /// The node as a mapping whose keys are all among `keys`; every other key is reported.
    func mapping(_ node: Node, at path: ConfigPath, keys: [String]) -> MappingView? {
        guard case .mapping(let mapping) = node else {
            report(path, node, "expected a mapping with keys \(keys.joined(separator: ", ")), found \(kind(node))")
            return nil
        }
        var entries: [(key: String, keyNode: Node, value: Node)] = []
        for (keyNode, value) in mapping {
            guard let key = keyNode.scalar?.string else {
                report(path, keyNode, "mapping keys must be plain words")
                continue
            }
            if keys.contains(key) {
                entries.append((key, keyNode, value))
            } else {
                var fix = "allowed keys here: \(keys.joined(separator: ", "))"
                if let near = Self.nearest(key, in: keys) { fix = "did you mean '\(near)'? " + fix }
                report(path.appending(key), keyNode, "unknown key '\(key)'", fix: fix)
            }
        }
        return MappingView(node: node, path: path, entries: entries)
    }

    /// A mapping key that names something (a backend, a header, an array): a scalar. Any other key (a mapping or
    /// a list used as a key) is reported, never skipped: a configuration whose backends have no names has none.
    func name(_ keyNode: Node, at path: ConfigPath, of what: String) -> String? {
        guard let name = keyNode.scalar?.string else {
            report(path, keyNode, "\(what) must be a plain word, found \(kind(keyNode))")
            return nil
        }
        return name
    }

    /// The node as a list.
    func list(_ node: Node, at path: ConfigPath) -> [Node]? {
        guard case .sequence(let sequence) = node else {
            report(path, node, "expected a list, found \(kind(node))")
            return nil
        }
        return Array(sequence)
    }

    /// The node as text (any scalar).
    func string(_ node: Node, at path: ConfigPath) -> String? {
        guard case .scalar(let scalar) = node, kind(node) != "null" else {
            report(path, node, "expected a text value, found \(kind(node))")
            return nil
        }
        return scalar.string
    }

    /// The node as an integer within `range`.
    func int(_ node: Node, at path: ConfigPath, in range: ClosedRange<Int>) -> Int? {
        guard let text = string(node, at: path) else { return nil }
        guard let value = Int(text) else {
            report(path, node, "'\(text)' is not a whole number")
            return nil
        }
        guard range.contains(value) else {
            report(path, node, "\(value) is out of range", fix: "use a value from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    /// The node as a number within `range`.
    func double(_ node: Node, at path: ConfigPath, in range: ClosedRange<Double>) -> Double? {
        guard let text = string(node, at: path) else { return nil }
        guard let value = Double(text), value.isFinite else {
            report(path, node, "'\(text)' is not a number")
            return nil
        }
        guard range.contains(value) else {
            report(path, node, "\(text) is out of range", fix: "use a value from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return value
    }

    /// The node as `true` or `false`.
    func bool(_ node: Node, at path: ConfigPath) -> Bool? {
        guard let text = string(node, at: path) else { return nil }
        switch text {
        case "true": return true
        case "false": return false
        default:
            report(path, node, "'\(text)' is not true or false")
            return nil
        }
    }

    /// The node as a duration (`250ms`, `2s`, `1m30s`), at least `minimum`.
    func duration(_ node: Node, at path: ConfigPath, minimum: Duration = .zero) -> Duration? {
        guard let text = string(node, at: path) else { return nil }
        guard let value = Quantities.duration(text) else {
            report(path, node, "'\(text)' is not a duration", fix: "write a number with a unit: ms, s, m or h, as 250ms, 2s or 1m30s")
            return nil
        }
        guard value >= minimum else {
            report(path, node, "\(text) is too short", fix: "use at least \(Quantities.format(minimum))")
            return nil
        }
        return value
    }

    /// The node as a byte size (`64KiB`, `10MiB`, or plain bytes), at least `minimum`.
    func byteSize(_ node: Node, at path: ConfigPath, minimum: Int = 0) -> Int? {
        guard let text = string(node, at: path) else { return nil }
        guard let value = Quantities.byteSize(text) else {
            report(path, node, "'\(text)' is not a size", fix: "write bytes or a number with a unit: KiB, MiB or GiB, as 64KiB")
            return nil
        }
        guard value >= minimum else {
            report(path, node, "\(text) is too small", fix: "use at least \(minimum) bytes")
            return nil
        }
        return value
    }

    /// The node as one of the raw values of `T`.
    func choice<T: RawRepresentable & CaseIterable>(_ node: Node, at path: ConfigPath, as type: T.Type) -> T? where T.RawValue == String {
        guard let text = string(node, at: path) else { return nil }
        guard let value = T(rawValue: text) else {
            let allowed = T.allCases.map(\.rawValue).joined(separator: " | ")
            report(path, node, "'\(text)' is not one of \(allowed)")
            return nil
        }
        return value
    }

    /// The closest allowed word to a misspelt one, if close enough to suggest.
    static func nearest(_ word: String, in candidates: [String]) -> String? {
        let scored = candidates.map { ($0, editDistance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= max(1, best.0.count / 3) else { return nil }
        return best.0
    }

    static func editDistance(_ a: String, _ b: String) -> Int {
        let a = Array(a.utf8), b = Array(b.utf8)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }
}

/// A mapping whose keys have been checked, with the path it sits at.
struct MappingView {
    let node: Node
    let path: ConfigPath
    let entries: [(key: String, keyNode: Node, value: Node)]

    /// The value under `key`, if present.
    subscript(key: String) -> Node? {
        entries.first { $0.key == key }?.value
    }

    /// The path of a key in this mapping.
    func path(_ key: String) -> ConfigPath { path.appending(key) }
}
