/// A path pattern with literal and `{param}` segments, such as `/orders/{id}`.
/// It matches a request path with the same number of segments whose literal
/// segments are equal and whose parameter segments are non-empty.
public struct PathTemplate: Sendable, Hashable, CustomStringConvertible {
    /// One `/`-separated piece of the template.
    public enum Segment: Sendable, Hashable {
        /// Must equal the request's segment byte for byte.
        case literal([UInt8])
        /// Matches any non-empty segment; the value is named for ID extraction.
        case parameter(String)
    }

    /// The segments after the leading `/`.
    public let segments: [Segment]
    /// The template as written.
    public let text: String

    /// Parses a template; it must start with `/`, and a `{…}` must fill a whole segment.
    public static func parse(_ text: String) -> Result<PathTemplate, AddressError> {
        guard text.hasPrefix("/") else { return .failure(.init("a path starts with '/'")) }
        var segments: [Segment] = []
        var names: Set<String> = []
        for piece in text.dropFirst().split(separator: "/", omittingEmptySubsequences: false) {
            if piece.hasPrefix("{") || piece.hasSuffix("}") {
                guard piece.hasPrefix("{"), piece.hasSuffix("}"), piece.count > 2 else {
                    return .failure(.init("'\(piece)' is not a parameter: write it as {name}, filling the whole segment"))
                }
                let name = String(piece.dropFirst().dropLast())
                guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                    return .failure(.init("parameter name '\(name)' may use letters, digits, '_' and '-' only"))
                }
                guard names.insert(name).inserted else { return .failure(.init("parameter {\(name)} appears twice")) }
                segments.append(.parameter(name))
            } else {
                if piece.contains("{") || piece.contains("}") {
                    return .failure(.init("'\(piece)' mixes text and a parameter; a {param} must fill a whole segment"))
                }
                segments.append(.literal(Array(piece.utf8)))
            }
        }
        return .success(PathTemplate(segments: segments, text: text))
    }

    private init(segments: [Segment], text: String) {
        self.segments = segments
        self.text = text
    }

    /// Whether the template matches the path (the part of the target before any `?`).
    public func matches(_ path: Substring) -> Bool {
        matchParameters(path) { _, _ in }
    }

    /// The value of the named parameter in the path, if the template matches and has it.
    public func parameter(_ name: String, in path: Substring) -> Substring? {
        var found: Substring?
        let matched = matchParameters(path) { parameterName, value in
            if parameterName == name { found = value }
        }
        return matched ? found : nil
    }

    /// Walks the path against the template, reporting each parameter's value.
    private func matchParameters(_ path: Substring, _ report: (String, Substring) -> Void) -> Bool {
        let utf8 = path.utf8
        guard utf8.first == UInt8(ascii: "/") else { return false }
        var position = utf8.index(after: utf8.startIndex)
        for (offset, segment) in segments.enumerated() {
            let end = utf8[position...].firstIndex(of: UInt8(ascii: "/")) ?? utf8.endIndex
            switch segment {
            case .literal(let bytes):
                guard utf8[position..<end].elementsEqual(bytes) else { return false }
            case .parameter(let name):
                guard position != end else { return false }
                report(name, Substring(utf8[position..<end]))
            }
            if offset == segments.count - 1 {
                return end == utf8.endIndex
            }
            guard end != utf8.endIndex else { return false }
            position = utf8.index(after: end)
        }
        return utf8.count == 1
    }

    public var description: String { text }
}
