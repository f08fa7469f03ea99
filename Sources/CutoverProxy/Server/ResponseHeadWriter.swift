import NIOCore

/// Writes the head Cutover sends to the client from a backend's raw head:
/// `HTTP/1.1`, the backend's status and reason, its end-to-end headers copied
/// byte for byte, then the framing and connection headers of this hop.
enum ResponseHeadWriter {
    static func write(_ head: ResponseHead, framing: ClientFraming, clientMinor: Int, into buffer: inout ByteBuffer) {
        head.raw.withUnsafeReadableBytes { bytes in
            let statusLineEnd = HeaderLines.endOfLine(bytes, from: 0)
            if head.minorVersion == 1, statusLineEnd >= 2, bytes[statusLineEnd - 2] == 0x0D {
                // An HTTP/1.1 status line with CRLF is what the client gets: copy it whole.
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[0..<statusLineEnd]))
            } else {
                // Otherwise the status and reason from after the version, with this hop's version and line end.
                var contentEnd = statusLineEnd
                while contentEnd > 8, bytes[contentEnd - 1] == 0x0A || bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                buffer.writeStaticString("HTTP/1.1")
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[8..<contentEnd]))
                buffer.writeStaticString("\r\n")
            }

            // Copy runs of kept lines in one go.
            var runStart = -1
            var runEnd = -1
            HeaderLines.forEach(in: bytes) { line in
                let endsWithCRLF = line.line.count >= 2 && bytes[line.line.upperBound - 2] == UInt8(ascii: "\r")
                    && bytes[line.line.upperBound - 1] == UInt8(ascii: "\n")
                if keeps(line, head: head, bytes: bytes), endsWithCRLF {
                    if runStart < 0 { runStart = line.line.lowerBound }
                    runEnd = line.line.upperBound
                    return
                }
                if runStart >= 0 {
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
                    runStart = -1
                }
                if keeps(line, head: head, bytes: bytes) {
                    // A line ending in a bare LF: normalise it.
                    buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[line.name.lowerBound..<line.value.upperBound]))
                    buffer.writeStaticString("\r\n")
                }
            }
            if runStart >= 0 {
                buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[runStart..<runEnd]))
            }
        }
        if framing.chunkedHeader {
            buffer.writeStaticString("Transfer-Encoding: chunked\r\n")
        }
        if framing.closeAfter {
            buffer.writeStaticString("Connection: close\r\n")
        } else if clientMinor == 0 {
            buffer.writeStaticString("Connection: keep-alive\r\n")
        }
        buffer.writeStaticString("\r\n")
    }

    /// Writes an interim (1xx) head for an HTTP/1.1 client.
    static func writeInformational(_ head: ResponseHead, into buffer: inout ByteBuffer) {
        let framing = ClientFraming(body: .none, chunkedHeader: false, closeAfter: false, chunkMode: .raw)
        write(head, framing: framing, clientMinor: 1, into: &buffer)
    }

    @inline(__always)
    private static func keeps(_ line: HeaderLine, head: ResponseHead, bytes: UnsafeRawBufferPointer) -> Bool {
        if HeaderLines.isHopByHop(bytes, line.name) { return false }
        if !head.connectionTokens.isEmpty, HeaderLines.isListed(bytes, line.name, in: head.connectionTokens) { return false }
        return true
    }
}
