import NIOCore
import NIOHTTP1

/// Writes the head of the request Cutover sends to a backend: HTTP/1.1,
/// hop-by-hop headers removed (and those `Connection` names), `Host` kept or
/// overridden, `X-Forwarded-For`/`-Proto` and `X-Request-Id` set, framing re-declared.
struct RequestHeadWriter {
    /// The request's target in origin form (`/path?query`).
    var target: Substring
    /// The `Host` to send when the client's is not to be used (backend override or absolute-form authority).
    var hostOverride: String?
    /// The `Host` to send when the client sent none.
    var defaultHost: String
    /// The client's IP address, appended to `X-Forwarded-For`.
    var clientAddress: String
    /// `http` or `https`: how the client reached Cutover.
    var scheme: StaticString
    /// Whether the body is sent chunked.
    var chunked: Bool

    /// Writes the head; generates an `X-Request-Id` when the client sent none, and returns the ID used.
    func write(_ head: HTTPRequestHead, into buffer: inout ByteBuffer, ids: inout RequestIDGenerator) -> RequestIDLocation {
        buffer.writeString(head.method.rawValue)
        buffer.writeStaticString(" ")
        buffer.writeSubstring(target)
        buffer.writeStaticString(" HTTP/1.1\r\n")

        var connectionTokens: [String] = []
        for (name, value) in head.headers where RequestHeaderKind.name(name, is: "connection") {
            for token in value.split(separator: ",") {
                let trimmed = token.trimmingCharacters(in: " \t").lowercased()
                if !trimmed.isEmpty { connectionTokens.append(trimmed) }
            }
        }

        var wroteHost = false
        var forwardedFor: [String] = []
        var requestID: RequestIDLocation?
        for (name, value) in head.headers {
            switch RequestHeaderKind.of(name) {
            case .hopByHop, .expect, .forwardedProto:
                continue
            case .contentLength:
                if chunked { continue }
            case .host:
                if wroteHost || hostOverride != nil { continue }
                wroteHost = true
            case .forwardedFor:
                forwardedFor.append(value)
                continue
            case .requestID:
                if requestID != nil { continue }
                let start = buffer.writerIndex + name.utf8.count + 2
                requestID = RequestIDLocation(offset: start, length: value.utf8.count)
            case .other:
                if !connectionTokens.isEmpty, connectionTokens.contains(name.lowercased()) { continue }
            }
            buffer.writeString(name)
            buffer.writeStaticString(": ")
            buffer.writeString(value)
            buffer.writeStaticString("\r\n")
        }
        if let hostOverride {
            buffer.writeStaticString("Host: ")
            buffer.writeString(hostOverride)
            buffer.writeStaticString("\r\n")
        } else if !wroteHost {
            buffer.writeStaticString("Host: ")
            buffer.writeString(defaultHost)
            buffer.writeStaticString("\r\n")
        }
        buffer.writeStaticString("X-Forwarded-For: ")
        for value in forwardedFor {
            buffer.writeString(value)
            buffer.writeStaticString(", ")
        }
        buffer.writeString(clientAddress)
        buffer.writeStaticString("\r\nX-Forwarded-Proto: ")
        buffer.writeStaticString(scheme)
        buffer.writeStaticString("\r\n")
        if requestID == nil {
            buffer.writeStaticString("X-Request-Id: ")
            requestID = RequestIDLocation(offset: buffer.writerIndex, length: 32)
            ids.write(into: &buffer)
            buffer.writeStaticString("\r\n")
        }
        if chunked {
            buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
        }
        buffer.writeStaticString("\r\n")
        return requestID!
    }
}

/// Where the request ID sits inside a written head, so it can be read back without a copy.
struct RequestIDLocation {
    var offset: Int
    var length: Int

    /// The ID as text.
    func read(from buffer: ByteBuffer) -> String {
        buffer.getString(at: offset, length: length) ?? ""
    }
}

extension StringProtocol {
    func trimmingCharacters(in set: String) -> String {
        var slice = Substring(self)
        while let first = slice.first, set.contains(first) { slice.removeFirst() }
        while let last = slice.last, set.contains(last) { slice.removeLast() }
        return String(slice)
    }
}
