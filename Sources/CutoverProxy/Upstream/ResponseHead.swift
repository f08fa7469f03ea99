import NIOCore

/// The head of a backend's response, parsed just enough to forward it: status,
/// framing and keep-alive, plus the raw bytes so headers can be copied through
/// without being decoded into strings.
struct ResponseHead {
    /// How the body that follows the head is delimited.
    enum Framing: Equatable {
        /// No body (HEAD request, 1xx, 204, 304).
        case none
        /// Exactly this many bytes.
        case contentLength(Int)
        /// `Transfer-Encoding: chunked`.
        case chunked
        /// The body ends when the backend closes the connection.
        case untilClose
    }

    /// The raw head: status line, header lines and the blank line.
    var raw: ByteBuffer
    /// The status code.
    var status: Int
    /// 0 for an HTTP/1.0 response, 1 for HTTP/1.1.
    var minorVersion: Int
    /// The body's framing.
    var framing: Framing
    /// Whether the backend lets the connection be reused after this response.
    var keepAlive: Bool
    /// Header names the `Connection` header listed (lower case), which are hop-by-hop too.
    var connectionTokens: [String]
    /// True when the head carried both Transfer-Encoding and Content-Length: the latter must not be forwarded.
    var dropsContentLength: Bool

    /// Whether this is an interim (1xx) response that another head follows.
    var isInformational: Bool { status >= 100 && status < 200 }

    /// The value of the first header with this (lower-case) name, decoded as text. For tests and diagnostics, not the hot path.
    func header(_ lowercaseName: String) -> String? {
        var found: String?
        raw.withUnsafeReadableBytes { bytes in
            HeaderLines.forEach(in: bytes) { line in
                if found == nil, line.nameEquals(lowercaseName, in: bytes) {
                    found = String(decoding: bytes[line.value], as: UTF8.self)
                }
            }
        }
        return found
    }
}

/// One `name: value` line inside a raw head, as byte ranges.
struct HeaderLine {
    /// The whole line including its line ending.
    var line: Range<Int>
    /// The name, without the colon.
    var name: Range<Int>
    /// The value without surrounding whitespace.
    var value: Range<Int>

    /// Whether the name equals `lowercase` ignoring ASCII case.
    func nameEquals(_ lowercase: String, in bytes: UnsafeRawBufferPointer) -> Bool {
        HeaderLines.equalsIgnoringCase(bytes, name, lowercase)
    }
}

/// Scanning of raw header blocks.
enum HeaderLines {
    /// Calls `body` for each header line after the start line of a raw head.
    /// Lines that are not `name: value` are skipped; the parser refuses them earlier.
    static func forEach(in bytes: UnsafeRawBufferPointer, _ body: (HeaderLine) -> Void) {
        var position = endOfLine(bytes, from: 0)
        while position < bytes.count {
            let lineEnd = endOfLine(bytes, from: position)
            var contentEnd = lineEnd
            if contentEnd > position, bytes[contentEnd - 1] == UInt8(ascii: "\n") { contentEnd -= 1 }
            if contentEnd > position, bytes[contentEnd - 1] == UInt8(ascii: "\r") { contentEnd -= 1 }
            if contentEnd == position { break }
            if let colon = bytes[position..<contentEnd].firstIndex(of: UInt8(ascii: ":")) {
                var valueStart = colon + 1
                while valueStart < contentEnd, bytes[valueStart] == UInt8(ascii: " ") || bytes[valueStart] == UInt8(ascii: "\t") { valueStart += 1 }
                var valueEnd = contentEnd
                while valueEnd > valueStart, bytes[valueEnd - 1] == UInt8(ascii: " ") || bytes[valueEnd - 1] == UInt8(ascii: "\t") { valueEnd -= 1 }
                body(HeaderLine(line: position..<lineEnd, name: position..<colon, value: valueStart..<valueEnd))
            }
            position = lineEnd
        }
    }

    /// The index just past the next `\n` at or after `start`, or the end.
    static func endOfLine(_ bytes: UnsafeRawBufferPointer, from start: Int) -> Int {
        var index = start
        while index < bytes.count {
            if bytes[index] == UInt8(ascii: "\n") { return index + 1 }
            index += 1
        }
        return bytes.count
    }

    /// Compares a byte range with a lower-case ASCII string, ignoring case.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: String) -> Bool {
        var utf8 = lowercase.utf8.makeIterator()
        var count = 0
        for index in range {
            guard let expected = utf8.next() else { return false }
            var byte = bytes[index]
            if byte >= 65 && byte <= 90 { byte |= 0x20 }
            guard byte == expected else { return false }
            count += 1
        }
        return utf8.next() == nil && count == range.count
    }

    /// Whether a header name is hop-by-hop: never forwarded by a proxy.
    /// Connection, Keep-Alive, Proxy-* (and bare Proxy), TE, Trailer, Transfer-Encoding, Upgrade.
    @inline(__always)
    static func isHopByHop(_ bytes: UnsafeRawBufferPointer, _ name: Range<Int>) -> Bool {
        guard let first = name.first else { return false }
        switch bytes[first] | 0x20 {
        case UInt8(ascii: "c"): return equalsIgnoringCase(bytes, name, "connection")
        case UInt8(ascii: "k"): return equalsIgnoringCase(bytes, name, "keep-alive")
        case UInt8(ascii: "p"):
            return equalsIgnoringCase(bytes, name, "proxy")
                || (name.count > 6 && equalsIgnoringCase(bytes, name.lowerBound..<(name.lowerBound + 6), "proxy-"))
        case UInt8(ascii: "t"):
            return equalsIgnoringCase(bytes, name, "te") || equalsIgnoringCase(bytes, name, "trailer")
                || equalsIgnoringCase(bytes, name, "transfer-encoding")
        case UInt8(ascii: "u"): return equalsIgnoringCase(bytes, name, "upgrade")
        default: return false
        }
    }
}
