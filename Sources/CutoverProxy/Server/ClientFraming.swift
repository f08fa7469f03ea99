/// How a backend's response is framed toward the client, decided from the
/// response's own framing and the client's HTTP version and keep-alive wish.
struct ClientFraming: Equatable {
    /// What happens to body bytes on their way to the client.
    enum Body: Equatable {
        /// There is no body.
        case none
        /// Bytes go out as the parser reports them (with or without chunk framing, per its mode).
        case passthrough
        /// Each slice is wrapped in a chunk; the end writes the last chunk.
        case rechunk
    }

    /// What happens to body bytes.
    var body: Body
    /// Whether the client head declares `Transfer-Encoding: chunked`.
    var chunkedHeader: Bool
    /// Whether the client connection closes after this response.
    var closeAfter: Bool
    /// The parser mode the body needs.
    var chunkMode: ChunkedDecoder.Mode

    /// Decides the framing for a response to a client speaking HTTP/1.`clientMinor`.
    static func decide(_ framing: ResponseHead.Framing, clientMinor: Int, clientKeepAlive: Bool) -> ClientFraming {
        let modern = clientMinor >= 1
        switch framing {
        case .none:
            return ClientFraming(body: .none, chunkedHeader: false, closeAfter: !clientKeepAlive, chunkMode: .raw)
        case .contentLength:
            return ClientFraming(body: .passthrough, chunkedHeader: false, closeAfter: !clientKeepAlive, chunkMode: .raw)
        case .chunked:
            return modern
                ? ClientFraming(body: .passthrough, chunkedHeader: true, closeAfter: !clientKeepAlive, chunkMode: .raw)
                : ClientFraming(body: .passthrough, chunkedHeader: false, closeAfter: true, chunkMode: .decoded)
        case .untilClose:
            return modern
                ? ClientFraming(body: .rechunk, chunkedHeader: true, closeAfter: !clientKeepAlive, chunkMode: .raw)
                : ClientFraming(body: .passthrough, chunkedHeader: false, closeAfter: true, chunkMode: .raw)
        }
    }

    /// The parser mode for a client of this version: only HTTP/1.0 clients need chunks decoded.
    static func chunkMode(clientMinor: Int) -> ChunkedDecoder.Mode {
        clientMinor >= 1 ? .raw : .decoded
    }
}
