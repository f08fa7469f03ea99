import NIOCore

/// Chunked framing on the way out (RFC 9112 §7.1): each chunk is its size in hexadecimal and CRLF, the data, CRLF;
/// the body ends with a chunk of size zero and an empty trailer section. Used for request bodies sent to backends
/// (and copies) and for responses re-chunked to clients.
enum ChunkWriter {
    /// The CRLF that ends a chunk's data.
    static let dataEnd = ByteBuffer(staticString: "\r\n")
    /// The last chunk and the empty trailer section.
    static let lastChunk = ByteBuffer(staticString: "0\r\n\r\n")

    private static let hexDigits: [UInt8] = Array("0123456789abcdef".utf8)

    /// The size line of a chunk of `count` bytes (`count` > 0).
    static func sizeLine(_ count: Int, allocator: ByteBufferAllocator) -> ByteBuffer {
        var line = allocator.buffer(capacity: 18)
        var shift = 0
        while shift < Int.bitWidth - 4, count >> (shift + 4) > 0 { shift += 4 }
        while shift >= 0 {
            line.writeInteger(hexDigits[(count >> shift) & 0xF])
            shift -= 4
        }
        line.writeStaticString("\r\n")
        return line
    }

    /// Frames `data` as one chunk, handing its three parts to `write`; nothing for empty data (a chunk of size zero
    /// would end the body).
    @inline(__always)
    static func write(_ data: ByteBuffer, allocator: ByteBufferAllocator, _ write: (ByteBuffer) -> Void) {
        guard data.readableBytes > 0 else { return }
        write(sizeLine(data.readableBytes, allocator: allocator))
        write(data)
        write(dataEnd)
    }
}
