/// Reading and rewriting the query of a request target (`a=1&b=2`), byte by byte.
public enum QueryString {
    /// The byte range (within `query`) of the first value of parameter `name`, if present.
    /// Names are compared as written (no percent-decoding).
    public static func value(of name: String, in query: UnsafeRawBufferPointer) -> Range<Int>? {
        var start = 0
        let nameBytes = Array(name.utf8)
        while start <= query.count {
            var end = start
            while end < query.count, query[end] != UInt8(ascii: "&") { end += 1 }
            var equals = start
            while equals < end, query[equals] != UInt8(ascii: "=") { equals += 1 }
            if equals - start == nameBytes.count, query[start..<equals].elementsEqual(nameBytes) {
                return (equals < end ? equals + 1 : end)..<end
            }
            start = end + 1
        }
        return nil
    }

    /// The first value of parameter `name` in a query, percent-decoded.
    public static func value(of name: String, in query: Substring) -> String? {
        var query = query
        return query.withUTF8 { bytes in
            let raw = UnsafeRawBufferPointer(bytes)
            return value(of: name, in: raw).map { decode(raw[$0]) }
        }
    }

    /// The query with every `name` parameter removed and `replacements` appended, in order.
    public static func rewriting(_ query: Substring, removing names: Set<String>, appending replacements: [(String, String)]) -> String {
        var parts = query.split(separator: "&", omittingEmptySubsequences: true).filter { part in
            let name = part.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false).first.map(String.init) ?? ""
            return !names.contains(name)
        }.map(String.init)
        parts += replacements.map { "\($0.0)=\(encode($0.1))" }
        return parts.joined(separator: "&")
    }

    /// Percent-encodes everything but unreserved characters.
    public static func encode(_ text: String) -> String {
        var result = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                result.unicodeScalars.append(UnicodeScalar(byte))
            default:
                let hex = String(byte, radix: 16, uppercase: true)
                result += "%" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return result
    }

    /// Percent-decodes (and `+` as space); malformed escapes are kept as written.
    public static func decode(_ bytes: some Collection<UInt8>) -> String {
        var output: [UInt8] = []
        let input = Array(bytes)
        var index = 0
        while index < input.count {
            let byte = input[index]
            if byte == UInt8(ascii: "%"), index + 2 < input.count,
               let value = UInt8(String(decoding: input[(index + 1)...(index + 2)], as: UTF8.self), radix: 16) {
                output.append(value)
                index += 3
                continue
            }
            output.append(byte == UInt8(ascii: "+") ? UInt8(ascii: " ") : byte)
            index += 1
        }
        return String(decoding: output, as: UTF8.self)
    }
}
