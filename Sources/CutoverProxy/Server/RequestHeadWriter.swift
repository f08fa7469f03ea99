import NIOCore

/// Writes the head of the request Cutover sends to a backend: HTTP/1.1,
/// hop-by-hop headers removed (and those `Connection` names), `Host` kept or
/// overridden, `X-Forwarded-For`/`-Proto` and `X-Request-Id` set, framing
/// re-declared. The client's other header lines are copied byte for byte.
struct RequestHeadWriter {
    /// The target to send instead of the client's (an absolute-form target reduced to origin form).
    var targetOverride: String?
    /// The `Host` to send instead of the client's (backend override or absolute-form authority).
    var hostOverride: String?
    /// The `Host` to send when the client sent none.
    var defaultHost: String
    /// What this hop adds for the client's connection: its address and scheme.
    var forwarding: ForwardingLines
    /// The request ID to send (a copy carries the primary's); nil keeps the client's or makes one.
    var requestID: String? = nil
    /// Header lines to add (`X-Cutover-Shadow: 1`, values from old's answer).
    var extraHeaders: [(String, String)] = []

    /// What a request header line becomes on its way to the backend.
    private enum Disposition {
        case copy
        case drop
        case forwardedFor
        case requestID
    }

    /// The head of a request of the gateway's own (a shadow copy, one side of a merged list) written from the
    /// client's raw head (a copy kept after the exchange moved on) for `target`; nil when it no longer parses.
    static func head(from raw: ByteBuffer, for target: BackendTarget, targetOverride: String?, hostOverride: String?,
                     forwarding: ForwardingLines, requestID: String, extraHeaders: [(String, String)]) -> ByteBuffer? {
        guard let parsed = try? RequestParser.parse(head: raw) else { return nil }
        let writer = RequestHeadWriter(targetOverride: targetOverride, hostOverride: target.backend.hostHeader ?? hostOverride,
                                       defaultHost: target.authority, forwarding: forwarding, requestID: requestID, extraHeaders: extraHeaders)
        var buffer = ByteBufferAllocator().buffer(capacity: raw.readableBytes + 128)
        var ids = RequestIDGenerator()
        _ = writer.write(parsed, into: &buffer, ids: &ids)
        return buffer
    }

    /// Writes the head; generates an `X-Request-Id` when the client sent none, and returns where the ID sits in `buffer`.
    func write(_ head: RequestHead, into buffer: inout ByteBuffer, ids: inout RequestIDGenerator) -> RequestIDLocation {
        head.raw.withUnsafeReadableBytes { bytes in
            if targetOverride == nil, head.minorVersion == 1 {
                // The request line is already what the backend gets: copy it whole.
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<HeaderLines.endOfLine(bytes, from: 0)]))
            } else {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.methodRange]))
                buffer.writeStaticString(" ")
                if let targetOverride {
                    buffer.writeString(targetOverride)
                } else {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[head.targetRange]))
                }
                buffer.writeStaticString(" HTTP/1.1\r\n")
            }

            var requestID: RequestIDLocation?
            var forwardedFor: [Range<Int>] = []
            var runStart = -1, runEnd = -1
            HeaderLines.forEach(in: bytes) { line in
                let disposition = self.disposition(of: line, in: bytes, head: head)
                if disposition == .copy || (disposition == .requestID && self.requestID == nil) {
                    if runStart < 0 { runStart = line.line.lowerBound }
                    if disposition == .requestID, requestID == nil {
                        // The run is written contiguously from the buffer's current end.
                        let offset = buffer.writerIndex + (line.value.lowerBound - runStart)
                        requestID = RequestIDLocation(offset: offset, length: line.value.count)
                    }
                    runEnd = line.line.upperBound
                    return
                }
                if runStart >= 0 {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
                    runStart = -1
                    runEnd = -1
                }
                if disposition == .forwardedFor { forwardedFor.append(line.value) }
            }
            if runStart >= 0 {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
            }

            if let hostOverride {
                buffer.writeStaticString("Host: ")
                buffer.writeString(hostOverride)
                buffer.writeStaticString("\r\n")
            } else if head.hostCount == 0 {
                buffer.writeStaticString("Host: ")
                buffer.writeString(defaultHost)
                buffer.writeStaticString("\r\n")
            }
            if forwardedFor.isEmpty {
                buffer.writeBytes(forwarding.lines)
            } else {
                buffer.writeStaticString("X-Forwarded-For: ")
                for value in forwardedFor where !value.isEmpty {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[value]))
                    buffer.writeStaticString(", ")
                }
                buffer.writeBytes(forwarding.lines[forwarding.addressStart...])
            }
            for (name, value) in extraHeaders {
                buffer.writeString(name)
                buffer.writeStaticString(": ")
                buffer.writeString(value)
                buffer.writeStaticString("\r\n")
            }
            if let given = self.requestID {
                buffer.writeStaticString("X-Request-Id: ")
                requestID = RequestIDLocation(offset: buffer.writerIndex, length: given.utf8.count)
                buffer.writeString(given)
                buffer.writeStaticString("\r\n")
            } else if requestID == nil {
                requestID = RequestIDLocation(offset: buffer.writerIndex + 14, length: 32)
                ids.writeHeader(into: &buffer)
            }
            switch head.framing {
            case .none:
                buffer.writeStaticString("\r\n")
            case .contentLength(let length):
                buffer.writeStaticString("Content-Length: ")
                buffer.writeString(String(length))
                buffer.writeStaticString("\r\n\r\n")
            case .chunked:
                buffer.writeStaticString("Transfer-Encoding: chunked\r\n\r\n")
            }
            return requestID!
        }
    }

    @inline(__always)
    private func disposition(of line: HeaderLine, in bytes: UnsafeRawBufferPointer, head: RequestHead) -> Disposition {
        let name = line.name
        if HeaderLines.isHopByHop(bytes, name) { return .drop }
        switch bytes[name.lowerBound] | 0x20 {
        case UInt8(ascii: "c"):
            if HTTPSyntax.equalsIgnoringCase(bytes, name, "content-length") { return .drop }
        case UInt8(ascii: "e"):
            if HTTPSyntax.equalsIgnoringCase(bytes, name, "expect") { return .drop }
        case UInt8(ascii: "h"):
            if hostOverride != nil, HTTPSyntax.equalsIgnoringCase(bytes, name, "host") { return .drop }
        case UInt8(ascii: "x"):
            if HTTPSyntax.equalsIgnoringCase(bytes, name, "x-forwarded-for") { return .forwardedFor }
            if HTTPSyntax.equalsIgnoringCase(bytes, name, "x-forwarded-proto") { return .drop }
            if HTTPSyntax.equalsIgnoringCase(bytes, name, "x-request-id") { return .requestID }
        default:
            break
        }
        if !head.connectionTokens.isEmpty, HeaderLines.isListed(bytes, name, in: head.connectionTokens) { return .drop }
        return .copy
    }
}

/// The `X-Forwarded-For` and `X-Forwarded-Proto` lines for one client
/// connection, built once when it opens: `X-Forwarded-For: ADDRESS\r\nX-Forwarded-Proto: SCHEME\r\n`.
struct ForwardingLines {
    /// The two lines.
    let lines: [UInt8]
    /// Where the address starts in `lines` (what follows existing `X-Forwarded-For` values).
    let addressStart: Int

    init(clientAddress: String, scheme: StaticString) {
        let prefix = Array("X-Forwarded-For: ".utf8)
        var lines = prefix
        lines += clientAddress.utf8
        lines += Array("\r\nX-Forwarded-Proto: ".utf8)
        lines += UnsafeBufferPointer(start: scheme.utf8Start, count: scheme.utf8CodeUnitCount)
        lines += Array("\r\n".utf8)
        self.lines = lines
        self.addressStart = prefix.count
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
