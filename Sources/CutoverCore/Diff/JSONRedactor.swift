/// Replaces the values at a route's `compare.redact` paths before anything is
/// stored: in JSON bodies, and in the differences found at those paths.
public enum JSONRedactor {
    /// What a redacted value becomes.
    public static let placeholder = "[redacted]"

    /// The body with every value matching a pattern replaced by `"[redacted]"`. A body that is
    /// not JSON cannot be searched, so with patterns configured it is replaced whole.
    public static func redact(_ body: [UInt8], patterns: [PointerPattern]) -> [UInt8] {
        guard !patterns.isEmpty, !body.isEmpty else { return body }
        guard let document = JSONDocument.parse(body) else {
            return Array("[not stored: not JSON, and the route redacts fields]".utf8)
        }
        var ranges: [Range<Int>] = []
        var path: [String] = []
        collect(document, index: 0, path: &path, patterns: patterns, into: &ranges)
        guard !ranges.isEmpty else { return body }
        var result: [UInt8] = []
        result.reserveCapacity(body.count)
        var position = 0
        let replacement = Array("\"\(placeholder)\"".utf8)
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) where range.lowerBound >= position {
            result += body[position..<range.lowerBound]
            result += replacement
            position = range.upperBound
        }
        result += body[position...]
        return result
    }

    /// Whether a difference's path falls at or under a redacted pattern.
    public static func isRedacted(_ pointer: String, patterns: [PointerPattern]) -> Bool {
        guard !patterns.isEmpty, let parsed = JSONPointer.parse(pointer == "/" ? "" : pointer) else { return false }
        let tokens = parsed.tokens
        return patterns.contains { pattern in
            tokens.count >= pattern.tokens.count && pattern.matches(Array(tokens.prefix(pattern.tokens.count)))
        }
    }

    /// The differences with values at redacted paths replaced.
    public static func redact(_ differences: [FieldDifference], patterns: [PointerPattern]) -> [FieldDifference] {
        guard !patterns.isEmpty else { return differences }
        return differences.map { difference in
            guard isRedacted(difference.path, patterns: patterns) else { return difference }
            var redacted = difference
            if redacted.old != nil { redacted.old = placeholder }
            if redacted.new != nil { redacted.new = placeholder }
            return redacted
        }
    }

    private static func collect(_ document: JSONDocument, index: Int, path: inout [String], patterns: [PointerPattern],
                                into ranges: inout [Range<Int>]) {
        let node = document.nodes[index]
        if !path.isEmpty, patterns.contains(where: { $0.matches(path) }) {
            let start = node.kind == .string ? Int(node.start) - 1 : Int(node.start)
            let end = node.kind == .string ? Int(node.end) + 1 : Int(node.end)
            ranges.append(start..<end)
            return
        }
        switch node.kind {
        case .object:
            var child = index + 1
            for _ in 0..<node.count {
                path.append(document.string(at: child))
                collect(document, index: child + 1, path: &path, patterns: patterns, into: &ranges)
                path.removeLast()
                child = Int(document.nodes[child + 1].next)
            }
        case .array:
            var child = index + 1
            for position in 0..<Int(node.count) {
                path.append(String(position))
                collect(document, index: child, path: &path, patterns: patterns, into: &ranges)
                path.removeLast()
                child = Int(document.nodes[child].next)
            }
        default:
            break
        }
    }
}
