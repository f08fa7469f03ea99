import NIOCore

/// A message body as both parsers frame it (RFC 9112 §6): a known length, chunks, or — for responses — everything
/// until the connection closes. It hands out the body's bytes and then its end as an event of its own.
struct BodyReader {
    enum Framing: Equatable {
        case fixed(remaining: Int)
        case chunked
        case untilClose
    }

    enum Event {
        /// Body bytes: the wire bytes including chunk framing in `.raw` mode, the data only in `.decoded` mode.
        case body(ByteBuffer)
        case end
        case needMoreData
    }

    private(set) var framing = Framing.fixed(remaining: 0)
    private var chunks = ChunkedDecoder()

    /// Starts the body of a new message.
    mutating func start(_ framing: Framing) {
        self.framing = framing
        if framing == .chunked { chunks.reset() }
    }

    /// The next event in `input`, consuming the bytes it covers. A fixed-length body's last bytes come out as
    /// `.body`, and its `.end` on the next call (an empty body's at once).
    mutating func next(_ input: inout ByteBuffer, mode: ChunkedDecoder.Mode) throws(InvalidChunkedEncoding) -> Event {
        switch framing {
        case .fixed(let remaining):
            guard remaining > 0 else { return .end }
            guard input.readableBytes > 0 else { return .needMoreData }
            let count = min(remaining, input.readableBytes)
            framing = .fixed(remaining: remaining - count)
            return .body(input.readSlice(length: count)!)
        case .untilClose:
            guard input.readableBytes > 0 else { return .needMoreData }
            return .body(input.readSlice(length: input.readableBytes)!)
        case .chunked:
            switch try chunks.next(&input, mode: mode) {
            case .bytes(let data, _): return .body(data)
            case .end: return .end
            case .needMoreData: return .needMoreData
            }
        }
    }
}
