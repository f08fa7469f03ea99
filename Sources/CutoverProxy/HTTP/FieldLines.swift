/// The parts of a head both parsers read the same way (RFC 9112 §5, RFC 9110 §7.6.1 and §8.6): a field line split
/// and checked, a Content-Length value, the options of a Connection header.
enum FieldLines {
    /// The field line between `start` and `end` (its line ending left out) as name and value, or nil when it is not
    /// one: the name a token right before the colon (so a line starting with whitespace, an obsolete fold, is none),
    /// the value of field-value bytes only (a bare CR or a NUL never passes), optional whitespace trimmed.
    @inline(__always)
    static func split(_ bytes: UnsafeRawBufferPointer, _ start: Int, _ end: Int) -> (name: Range<Int>, value: Range<Int>)? {
        guard let colon = HTTPSyntax.shortIndex(of: UInt8(ascii: ":"), in: bytes, from: start, to: end), colon > start else { return nil }
        for index in start..<colon where !HTTPSyntax.isToken(bytes[index]) { return nil }
        for index in (colon + 1)..<end where !HTTPSyntax.isFieldValue(bytes[index]) { return nil }
        return (start..<colon, HTTPSyntax.trimmingWhitespace(bytes, (colon + 1)..<end))
    }

    /// What a Content-Length value says, given the length an earlier one said.
    enum ContentLength: Equatable {
        case length(Int)
        /// Not a list of decimal lengths, or a list with an empty element (`5, , 5`, `,`, nothing): no length at all.
        case invalid
        /// Lengths that disagree, in this value or with an earlier one.
        case conflicting
    }

    static func contentLength(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>, after previous: Int?) -> ContentLength {
        if HTTPSyntax.hasEmptyElement(bytes, value) { return .invalid }
        var length = previous
        var result: ContentLength?
        HTTPSyntax.forEachElement(bytes, value) { element in
            guard result == nil else { return }
            guard let parsed = HTTPSyntax.decimal(bytes, element) else {
                result = .invalid
                return
            }
            if let length, length != parsed { result = .conflicting }
            length = parsed
        }
        if let result { return result }
        return length.map(ContentLength.length) ?? .invalid
    }

    /// The options of the Connection headers of a head.
    struct ConnectionOptions {
        var close = false
        var keepAlive = false
        /// `upgrade` was listed.
        var upgrade = false
        /// Every other option, lower-cased: the names of hop-by-hop fields to leave out when forwarding. `host` is
        /// never one: Host is end to end, and `Connection: host` must not strip it.
        var tokens: [[UInt8]] = []

        mutating func add(_ bytes: UnsafeRawBufferPointer, _ value: Range<Int>) {
            HTTPSyntax.forEachElement(bytes, value) { token in
                if HTTPSyntax.equalsIgnoringCase(bytes, token, "close") {
                    close = true
                } else if HTTPSyntax.equalsIgnoringCase(bytes, token, "keep-alive") {
                    keepAlive = true
                } else if !HTTPSyntax.equalsIgnoringCase(bytes, token, "host") {
                    if HTTPSyntax.equalsIgnoringCase(bytes, token, "upgrade") { upgrade = true }
                    tokens.append(bytes[token].map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 })
                }
            }
        }
    }
}
