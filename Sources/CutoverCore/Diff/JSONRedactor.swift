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

    /// The differences with every value that is, or contains, a redacted path replaced: a difference at
    /// a redacted path (or below one) shows `[redacted]` on both sides; a difference at a parent of one
    /// (`/card` when `/card/number` is redacted) keeps its value with the redacted members replaced, or
    /// `[redacted]` whole when the value cannot be searched (shortened for display).
    public static func redact(_ differences: [FieldDifference], patterns: [PointerPattern]) -> [FieldDifference] {
        guard !patterns.isEmpty else { return differences }
        return differences.map { difference in
            // A length difference carries element counts, not values.
            guard difference.kind != .length, let tokens = pointerTokens(difference.path) else { return difference }
            var redacted = difference
            if isRedacted(difference.path, patterns: patterns) {
                if redacted.old != nil { redacted.old = placeholder }
                if redacted.new != nil { redacted.new = placeholder }
                return redacted
            }
            let below = patterns.compactMap { pattern -> PointerPattern? in
                guard pattern.tokens.count > tokens.count,
                      PointerPattern(tokens: Array(pattern.tokens.prefix(tokens.count))).matches(tokens) else { return nil }
                return PointerPattern(tokens: Array(pattern.tokens.dropFirst(tokens.count)))
            }
            guard !below.isEmpty else { return difference }
            redacted.old = difference.old.map { redact(value: $0, patterns: below) }
            redacted.new = difference.new.map { redact(value: $0, patterns: below) }
            return redacted
        }
    }

    /// A difference's path as pointer tokens (`/` is the whole document), or nil for status, header and body fields.
    private static func pointerTokens(_ path: String) -> [String]? {
        JSONPointer.parse(path == "/" ? "" : path)?.tokens
    }

    /// A value's JSON text with the members at `patterns` (relative to the value) replaced.
    private static func redact(value text: String, patterns: [PointerPattern]) -> String {
        let bytes = Array(text.utf8)
        guard JSONDocument.parse(bytes) != nil else { return placeholder }
        return String(decoding: redact(bytes, patterns: patterns), as: UTF8.self)
    }

    /// Query parameters never stored as sent, whatever a route configures (names compared without case).
    public static let secretQueryParameters: Set<String> = [
        "access_token", "refresh_token", "id_token", "token", "api_key", "apikey", "api-key", "key", "secret", "client_secret",
        "password", "passwd", "pwd", "auth", "authorization", "signature", "sig", "session", "sessionid", "session_id", "jwt",
        "x-amz-signature", "x-amz-credential", "x-amz-security-token",
    ]

    /// A request target with the values of the secret query parameters (``secretQueryParameters`` and `extra`,
    /// names percent-decoded and compared without case) replaced by `[redacted]`.
    public static func redact(target: String, extra: Set<String> = []) -> String {
        guard let question = target.firstIndex(of: "?") else { return target }
        let query = target[target.index(after: question)...]
        var changed = false
        let parts = query.split(separator: "&", omittingEmptySubsequences: false).map { part -> String in
            let pieces = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = QueryString.decode(pieces[0].utf8).lowercased()
            guard pieces.count == 2, secretQueryParameters.contains(name) || extra.contains(name) else { return String(part) }
            changed = true
            return pieces[0] + "=" + placeholder
        }
        guard changed else { return target }
        return target[...question] + parts.joined(separator: "&")
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
