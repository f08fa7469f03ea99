#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Byte-level HTTP/1.1 grammar (RFC 9110/9112) shared by the request and response parsers.
enum HTTPSyntax {
    /// `tchar` as a 256-bit set: ALPHA / DIGIT / "!#$%&'*+-.^_`|~".
    private static let tokenSet: (UInt64, UInt64, UInt64, UInt64) = {
        var words: [UInt64] = [0, 0, 0, 0]
        let extra = Array("!#$%&'*+-.^_`|~".utf8)
        for byte in 0..<256 {
            let b = UInt8(byte)
            let isToken = (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || extra.contains(b)
            if isToken { words[byte >> 6] |= 1 << UInt64(byte & 63) }
        }
        return (words[0], words[1], words[2], words[3])
    }()

    /// Whether a byte may appear in a token (method, header name, coding).
    @inline(__always)
    static func isToken(_ byte: UInt8) -> Bool {
        let set = tokenSet
        let word: UInt64
        switch byte >> 6 {
        case 0: word = set.0
        case 1: word = set.1
        case 2: word = set.2
        default: word = set.3
        }
        return (word >> UInt64(byte & 63)) & 1 == 1
    }

    /// Whether a byte may appear in a field value: HTAB, SP, visible ASCII, obs-text.
    @inline(__always)
    static func isFieldValue(_ byte: UInt8) -> Bool {
        byte == 0x09 || (byte >= 0x20 && byte != 0x7F)
    }

    /// Whether a byte may appear in a request target: visible ASCII.
    @inline(__always)
    static func isTarget(_ byte: UInt8) -> Bool {
        byte >= 0x21 && byte <= 0x7E
    }

    /// The index of the first `byte` in `bytes[start..<end]`, found with memchr.
    @inline(__always)
    static func index(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        guard start < end, let base = bytes.baseAddress else { return nil }
        guard let found = memchr(base + start, Int32(byte), end - start) else { return nil }
        return base.distance(to: UnsafeRawPointer(found))
    }

    /// The index of the first `byte` in `bytes[start..<end]` by a plain scan: faster than
    /// memchr over the few bytes of a header name.
    @inline(__always)
    static func shortIndex(of byte: UInt8, in bytes: UnsafeRawBufferPointer, from start: Int, to end: Int) -> Int? {
        var index = start
        while index < end {
            if bytes[index] == byte { return index }
            index += 1
        }
        return nil
    }

    /// A non-negative decimal of at most 18 digits, or nil.
    static func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let digit = bytes[index]
            guard digit >= 48, digit <= 57 else { return nil }
            value = value * 10 + Int(digit - 48)
        }
        return value
    }

    /// `range` without the optional whitespace (SP and HTAB, RFC 9110 §5.6.3) at either end.
    @inline(__always)
    static func trimmingWhitespace(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Range<Int> {
        var start = range.lowerBound, end = range.upperBound
        while start < end, bytes[start] == 0x20 || bytes[start] == 0x09 { start += 1 }
        while end > start, bytes[end - 1] == 0x20 || bytes[end - 1] == 0x09 { end -= 1 }
        return start..<end
    }

    /// Calls `body` with each comma-separated element of a field value, trimmed; empty elements are skipped.
    static func forEachElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound, bytes[end] != UInt8(ascii: ",") { end += 1 }
            let element = trimmingWhitespace(bytes, start..<end)
            if !element.isEmpty { body(element) }
            start = end + 1
        }
    }

    /// Whether a comma-separated field value has an empty element (`5, , 5`, `,`, or nothing at all): for fields
    /// such as Content-Length, where an empty element makes the value invalid rather than skippable.
    static func hasEmptyElement(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound, bytes[end] != UInt8(ascii: ",") { end += 1 }
            if trimmingWhitespace(bytes, start..<end).isEmpty { return true }
            start = end + 1
        }
        return false
    }

    /// Whether a Host value is `uri-host [":" port]` (RFC 9112 §3.2, RFC 3986 §3.2.2): a bracketed IPv6 literal,
    /// or a name of unreserved characters, percent escapes and the sub-delimiters but the comma (a list of hosts is
    /// a smuggling attempt, not a host), then an optional port of up to five digits. Empty is valid (no authority).
    static func isHostValue(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Bool {
        var index = range.lowerBound
        let end = range.upperBound
        if index < end, bytes[index] == UInt8(ascii: "[") {
            index += 1
            while index < end, bytes[index] != UInt8(ascii: "]") {
                let byte = bytes[index]
                let hex = (byte >= 48 && byte <= 57) || (byte | 0x20 >= 97 && byte | 0x20 <= 102)
                guard hex || byte == UInt8(ascii: ":") || byte == UInt8(ascii: ".") else { return false }
                index += 1
            }
            guard index < end else { return false }
            index += 1
        } else {
            while index < end, bytes[index] != UInt8(ascii: ":") {
                let byte = bytes[index]
                let alnum = (byte >= 48 && byte <= 57) || (byte >= 65 && byte <= 90) || (byte >= 97 && byte <= 122)
                guard alnum || "-._~%!$&'()*+;=".utf8.contains(byte) else { return false }
                index += 1
            }
        }
        guard index < end else { return true }
        guard bytes[index] == UInt8(ascii: ":") else { return false }
        let digits = (index + 1)..<end
        guard digits.count <= 5, bytes[digits].allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return false }
        return digits.isEmpty || (decimal(bytes, digits) ?? 70_000) <= 65_535
    }

    /// Compares a byte range with a lower-case ASCII string, ignoring case.
    @inline(__always)
    static func equalsIgnoringCase(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ lowercase: StaticString) -> Bool {
        guard range.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        var offset = 0
        for index in range {
            var byte = bytes[index]
            if byte >= 65 && byte <= 90 { byte |= 0x20 }
            guard byte == expected[offset] else { return false }
            offset += 1
        }
        return true
    }
}
