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
        var path = path
        return path.withUTF8 { matches(UnsafeRawBufferPointer($0)) }
    }

    /// Whether the template matches the path given as bytes (no query).
    public func matches(_ path: UnsafeRawBufferPointer) -> Bool {
        matchParameters(path) { _, _ in }
    }

    /// The value of the named parameter in the path, if the template matches and has it.
    public func parameter(_ name: String, in path: Substring) -> Substring? {
        var path = path
        return path.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            return parameterRange(name, in: raw).map { Substring(decoding: UnsafeRawBufferPointer(rebasing: raw[$0]), as: UTF8.self) }
        }
    }

    /// The byte range of the named parameter in the path (bytes, no query), if the template matches and has it.
    public func parameterRange(_ name: String, in path: UnsafeRawBufferPointer) -> Range<Int>? {
        var found: Range<Int>?
        let matched = matchParameters(path) { parameterName, value in
            if parameterName == name { found = value }
        }
        return matched ? found : nil
    }

    /// Walks the path against the template, reporting each parameter's byte range.
    private func matchParameters(_ path: UnsafeRawBufferPointer, _ report: (String, Range<Int>) -> Void) -> Bool {
        guard path.first == UInt8(ascii: "/") else { return false }
        var position = 1
        for (offset, segment) in segments.enumerated() {
            var end = position
            while end < path.count, path[end] != UInt8(ascii: "/") { end += 1 }
            switch segment {
            case .literal(let bytes):
                guard end - position == bytes.count, path[position..<end].elementsEqual(bytes) else { return false }
            case .parameter(let name):
                guard position != end else { return false }
                report(name, position..<end)
            }
            if offset == segments.count - 1 {
                return end == path.count
            }
            guard end != path.count else { return false }
            position = end + 1
        }
        return path.count == 1
    }

    public var description: String { text }
}
