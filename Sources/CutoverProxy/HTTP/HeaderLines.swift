import NIOCore

/// One `name: value` line inside a raw head, as byte ranges.
struct HeaderLine {
    /// The whole line including its line ending.
    var line: Range<Int>
    /// The name, without the colon.
    var name: Range<Int>
    /// The value without surrounding whitespace.
    var value: Range<Int>

    /// Whether the name equals `lowercase` ignoring ASCII case.
    @inline(__always)
    func nameEquals(_ lowercase: StaticString, in bytes: UnsafeRawBufferPointer) -> Bool {
        HTTPSyntax.equalsIgnoringCase(bytes, name, lowercase)
    }
}

/// Scanning of raw header blocks that a parser has already validated.
enum HeaderLines {
    /// Calls `body` for each header line after the start line of a raw head.
    static func forEach(in bytes: UnsafeRawBufferPointer, _ body: (HeaderLine) -> Void) {
        var position = endOfLine(bytes, from: 0)
        while position < bytes.count {
            let lineEnd = endOfLine(bytes, from: position)
            var contentEnd = lineEnd
            if contentEnd > position, bytes[contentEnd - 1] == UInt8(ascii: "\n") { contentEnd -= 1 }
            if contentEnd > position, bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            if contentEnd == position { break }
            if let colon = HTTPSyntax.shortIndex(of: UInt8(ascii: ":"), in: bytes, from: position, to: contentEnd) {
                body(HeaderLine(line: position..<lineEnd, name: position..<colon,
                                value: HTTPSyntax.trimmingWhitespace(bytes, (colon + 1)..<contentEnd)))
            }
            position = lineEnd
        }
    }

    /// The value of the first header line of `raw` (a whole head) with this lower-case name, as text. For tests and
    /// diagnostics, not the hot path.
    static func firstValue(named lowercaseName: StaticString, in raw: ByteBuffer) -> String? {
        var found: String?
        raw.withUnsafeReadableBytes { bytes in
            forEach(in: bytes) { line in
                if found == nil, line.nameEquals(lowercaseName, in: bytes) {
                    found = String(decoding: bytes[line.value], as: UTF8.self)
                }
            }
        }
        return found
    }

    /// The index just past the next `\n` at or after `start`, or the end.
    @inline(__always)
    static func endOfLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        HTTPSyntax.index(of: UInt8(ascii: "\n"), in: bytes, from: start, to: bytes.count).map { $0 + 1 } ?? bytes.count
    }

    /// Whether a header name is hop-by-hop: never forwarded by a proxy.
    /// Connection, Keep-Alive, Proxy-* (and bare Proxy), TE, Trailer, Transfer-Encoding, Upgrade.
    @inline(__always)
    static func isHopByHop(_ bytes: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        guard let first = name.first else { return false }
        switch bytes[first] | 0x20 {
        case UInt8(ascii: "c"): return HTTPSyntax.equalsIgnoringCase(bytes, name, "connection")
        case UInt8(ascii: "k"): return HTTPSyntax.equalsIgnoringCase(bytes, name, "keep-alive")
        case UInt8(ascii: "p"):
            return HTTPSyntax.equalsIgnoringCase(bytes, name, "proxy")
                || (name.count > 6 && HTTPSyntax.equalsIgnoringCase(bytes, name.lowerBound..<(name.lowerBound + 6), "proxy-"))
        case UInt8(ascii: "t"):
            return HTTPSyntax.equalsIgnoringCase(bytes, name, "te") || HTTPSyntax.equalsIgnoringCase(bytes, name, "trailer")
                || HTTPSyntax.equalsIgnoringCase(bytes, name, "transfer-encoding")
        case UInt8(ascii: "u"): return HTTPSyntax.equalsIgnoringCase(bytes, name, "upgrade")
        default: return false
        }
    }

    /// Whether a name is one of the lower-case names `tokens` holds (from a `Connection` header).
    static func isListed(_ bytes: UnsafeRawBufferPointer, _ name: Range<Int>, in tokens: [[UInt8]]) -> Bool {
        tokens.contains { token in
            token.count == name.count && zip(token, bytes[name]).allSatisfy { $0 == ($1 >= 65 && $1 <= 90 ? $1 | 0x20 : $1) }
        }
    }
}
