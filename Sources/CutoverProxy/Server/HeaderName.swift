/// The request header names the proxy treats specially, recognised without allocating.
enum RequestHeaderKind {
    case hopByHop
    case host
    case forwardedFor
    case forwardedProto
    case requestID
    case expect
    case contentLength
    case other

    /// Classifies a header name, ignoring ASCII case.
    static func of(_ name: String) -> RequestHeaderKind {
        var name = name
        return name.withUTF8 { bytes in
            guard let first = bytes.first else { return .other }
            switch first | 0x20 {
            case UInt8(ascii: "c"):
                if equals(bytes, "connection") { return .hopByHop }
                if equals(bytes, "content-length") { return .contentLength }
            case UInt8(ascii: "e"):
                if equals(bytes, "expect") { return .expect }
            case UInt8(ascii: "h"):
                if equals(bytes, "host") { return .host }
            case UInt8(ascii: "k"):
                if equals(bytes, "keep-alive") { return .hopByHop }
            case UInt8(ascii: "p"):
                if equals(bytes, "proxy") { return .hopByHop }
                if bytes.count > 6, equals(UnsafeBufferPointer(rebasing: bytes[0..<6]), "proxy-") { return .hopByHop }
            case UInt8(ascii: "t"):
                if equals(bytes, "te") || equals(bytes, "trailer") || equals(bytes, "transfer-encoding") { return .hopByHop }
            case UInt8(ascii: "u"):
                if equals(bytes, "upgrade") { return .hopByHop }
            case UInt8(ascii: "x"):
                if equals(bytes, "x-forwarded-for") { return .forwardedFor }
                if equals(bytes, "x-forwarded-proto") { return .forwardedProto }
                if equals(bytes, "x-request-id") { return .requestID }
            default:
                break
            }
            return .other
        }
    }

    @inline(__always)
    static func equals(_ bytes: UnsafeBufferPointer<UInt8>, _ lowercase: StaticString) -> Bool {
        guard bytes.count == lowercase.utf8CodeUnitCount else { return false }
        let expected = lowercase.utf8Start
        for index in 0..<bytes.count {
            var byte = bytes[index]
            if byte >= 65 && byte <= 90 { byte |= 0x20 }
            if byte != expected[index] { return false }
        }
        return true
    }

    /// Whether a header name equals a lower-case name, ignoring ASCII case.
    static func name(_ name: String, is lowercase: StaticString) -> Bool {
        var name = name
        return name.withUTF8 { equals($0, lowercase) }
    }
}
