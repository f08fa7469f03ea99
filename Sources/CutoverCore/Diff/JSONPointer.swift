/// A JSON pointer (RFC 6901): `/items/0/id`. The empty pointer is the whole document.
public struct JSONPointer: Sendable, Hashable, CustomStringConvertible {
    /// The reference tokens, unescaped.
    public let tokens: [String]

    /// Creates a pointer from its tokens.
    public init(tokens: [String]) {
        self.tokens = tokens
    }

    /// Parses `""` or `/token/token…` (`~0` is `~`, `~1` is `/`).
    public static func parse(_ text: String) -> JSONPointer? {
        if text.isEmpty { return JSONPointer(tokens: []) }
        guard text.hasPrefix("/") else { return nil }
        var tokens: [String] = []
        for raw in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            var token = ""
            var iterator = raw.makeIterator()
            while let character = iterator.next() {
                if character == "~" {
                    switch iterator.next() {
                    case "0": token.append("~")
                    case "1": token.append("/")
                    default: return nil
                    }
                } else {
                    token.append(character)
                }
            }
            tokens.append(token)
        }
        return JSONPointer(tokens: tokens)
    }

    /// Escapes one token for a pointer's text.
    public static func escape(_ token: String) -> String {
        guard token.utf8.contains(where: { $0 == UInt8(ascii: "~") || $0 == UInt8(ascii: "/") }) else { return token }
        var escaped = ""
        for character in token {
            switch character {
            case "~": escaped += "~0"
            case "/": escaped += "~1"
            default: escaped.append(character)
            }
        }
        return escaped
    }

    public var description: String { tokens.map { "/" + Self.escape($0) }.joined() }
}

/// A pointer pattern such as `/items/*/etag`: `*` stands for any one token.
/// It matches a value at exactly its depth; what it matches is ignored (or
/// redacted) with everything below it.
public struct PointerPattern: Sendable, Hashable, CustomStringConvertible {
    /// Tokens; nil is the `*` wildcard.
    public let tokens: [String?]

    /// Parses a pattern; `*` as a whole token is the wildcard.
    public static func parse(_ text: String) -> PointerPattern? {
        guard let pointer = JSONPointer.parse(text) else { return nil }
        return PointerPattern(tokens: pointer.tokens.map { $0 == "*" ? nil : $0 })
    }

    /// Creates a pattern from tokens (nil: any token).
    public init(tokens: [String?]) {
        self.tokens = tokens
    }

    /// Whether the pattern matches a path given as tokens.
    public func matches(_ path: [String]) -> Bool {
        guard path.count == tokens.count else { return false }
        for (token, component) in zip(tokens, path) where token != nil && token != component { return false }
        return true
    }

    public var description: String { tokens.map { "/" + ($0.map(JSONPointer.escape) ?? "*") }.joined() }
}
