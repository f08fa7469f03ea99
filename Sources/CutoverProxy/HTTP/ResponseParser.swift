import NIOCore

/// Frames a backend's HTTP/1.x response as its bytes arrive, without decoding
/// the body: it finds the head, then tracks the body's framing so the bytes can
/// be forwarded as they are and the end of the message is known.
///
/// A value-type state machine: feed it bytes with ``next(_:)`` until it asks for
/// more; tests drive it without sockets.
struct ResponseParser {
    /// What the parser found next in the input.
    enum Event {
        /// A complete head (interim 1xx heads are reported too; another head follows them).
        case head(ResponseHead)
        /// Body bytes: the wire bytes including chunk framing in `.raw` mode, the data only in `.decoded` mode.
        case body(ByteBuffer)
        /// The response is complete; bytes left in the input do not belong to it.
        case end
        /// The input is used up.
        case needMoreData
    }

    private enum State {
        case head
        case body
        case done
    }

    private var state: State = .head
    private var partialHead: ByteBuffer?
    /// The status line of the head being read has been checked (it is checked once, as soon as it is in).
    private var statusLineChecked = false
    private var requestIsHEAD = false
    private var body = BodyReader()
    /// How chunked bodies are reported for the current response.
    private(set) var chunkMode: ChunkedDecoder.Mode = .raw
    /// The largest head accepted.
    let maxHeadBytes: Int

    init(maxHeadBytes: Int = 64 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Prepares for the response to a new request.
    mutating func expectResponse(toHEAD isHEAD: Bool, chunkMode: ChunkedDecoder.Mode = .raw) {
        state = .head
        partialHead = nil
        statusLineChecked = false
        requestIsHEAD = isHEAD
        self.chunkMode = chunkMode
    }

    /// True when the current body ends only when the backend closes.
    var readsUntilClose: Bool {
        state == .body && body.framing == .untilClose
    }

    /// The next event found in `input`, consuming the bytes it covers.
    mutating func next(_ input: inout ByteBuffer) throws(ResponseParseError) -> Event {
        switch state {
        case .done:
            return .needMoreData
        case .head:
            return try parseHead(&input)
        case .body:
            let event: BodyReader.Event
            do {
                event = try body.next(&input, mode: chunkMode)
            } catch {
                throw .invalidChunk
            }
            switch event {
            case .body(let bytes): return .body(bytes)
            case .end:
                state = .done
                return .end
            case .needMoreData: return .needMoreData
            }
        }
    }

    /// The backend closed the connection: the end of an until-close body, otherwise nil (the response is cut short).
    mutating func inputClosed() -> Event? {
        guard readsUntilClose else { return nil }
        state = .done
        return .end
    }

    // MARK: - Head

    private mutating func parseHead(_ input: inout ByteBuffer) throws(ResponseParseError) -> Event {
        guard input.readableBytes > 0 else { return .needMoreData }
        let head: ByteBuffer
        if var partial = partialHead {
            // Let go of the stored copy first, so the bytes are appended in place rather than into a new buffer.
            partialHead = nil
            let searchFrom = max(0, partial.readableBytes - 3)
            partial.writeBuffer(&input)
            guard let end = Self.headEnd(partial, from: searchFrom) else {
                if partial.readableBytes > maxHeadBytes { throw .headTooLarge(limit: maxHeadBytes) }
                if !statusLineChecked { statusLineChecked = try Self.checkStatusLine(ofPartial: partial, from: searchFrom) }
                partialHead = partial
                return .needMoreData
            }
            head = partial.readSlice(length: end)!
            input = partial
            partialHead = nil
        } else {
            guard let end = Self.headEnd(input, from: 0) else {
                if input.readableBytes > maxHeadBytes { throw .headTooLarge(limit: maxHeadBytes) }
                statusLineChecked = try Self.checkStatusLine(ofPartial: input, from: 0)
                partialHead = input
                input.moveReaderIndex(forwardBy: input.readableBytes)
                return .needMoreData
            }
            head = input.readSlice(length: end)!
        }
        if head.readableBytes > maxHeadBytes { throw .headTooLarge(limit: maxHeadBytes) }
        statusLineChecked = false
        let parsed = try Self.parse(head: head, requestIsHEAD: requestIsHEAD)
        if parsed.isInformational {
            if parsed.status == 101 { throw .upgradeNotRequested }
            state = .head
            return .head(parsed)
        }
        switch parsed.framing {
        case .none: body.start(.fixed(remaining: 0))
        case .contentLength(let length): body.start(.fixed(remaining: length))
        case .chunked: body.start(.chunked)
        case .untilClose: body.start(.untilClose)
        }
        state = .body
        return .head(parsed)
    }

    /// The length of the head (through the blank line) if `buffer` holds all of it.
    /// Backends may end lines with a bare LF; both forms are accepted.
    static func headEnd(_ buffer: ByteBuffer, from start: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            var index = start
            let count = bytes.count
            while let newline = HTTPSyntax.index(of: 0x0A, in: bytes, from: index, to: count) {
                if newline + 1 < count, bytes[newline + 1] == 0x0A { return newline + 2 }
                if newline + 2 < count, bytes[newline + 1] == 0x0D, bytes[newline + 2] == 0x0A { return newline + 3 }
                index = newline + 1
            }
            return nil
        }
    }

    /// Checks the status line at the start of `bytes` (`HTTP/1.x SSS[ reason]`, through its line end):
    /// the version and status it names.
    static func statusLine(_ bytes: UnsafeRawBufferPointer) -> Result<(minor: Int, status: Int), ResponseParseError> {
        guard bytes.count >= 13,
              bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
              bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[5] == UInt8(ascii: "1"),
              bytes[6] == UInt8(ascii: "."), bytes[8] == 0x20
        else { return .failure(.malformedStatusLine) }
        let minor: Int
        switch bytes[7] {
        case UInt8(ascii: "0"): minor = 0
        case UInt8(ascii: "1"): minor = 1
        default: return .failure(.malformedStatusLine)
        }
        var status = 0
        for index in 9..<12 {
            let digit = bytes[index]
            guard digit >= 48, digit <= 57 else { return .failure(.malformedStatusLine) }
            status = status * 10 + Int(digit - 48)
        }
        guard bytes[12] == 0x20 || bytes[12] == 0x0D || bytes[12] == 0x0A else { return .failure(.malformedStatusLine) }
        guard (100...599).contains(status) else { return .failure(.invalidStatus) }
        guard status >= 200 || minor == 1 else { return .failure(.informationalFromHTTP10) }
        // The reason phrase is copied to the client: HTAB, SP, visible characters and obs-text only.
        let statusLineEnd = HeaderLines.endOfLine(bytes, from: 0)
        var reasonEnd = statusLineEnd - 1
        if reasonEnd > 12, bytes[reasonEnd - 1] == 0x0D { reasonEnd -= 1 }
        // From byte 12 on: a CR right after the status code, not followed by LF, is a bare CR too.
        if reasonEnd > 12 {
            for index in 12..<reasonEnd where !HTTPSyntax.isFieldValue(bytes[index]) { return .failure(.invalidReasonPhrase) }
        }
        return .success((minor, status))
    }

    /// Checks as much of a head still incomplete as can be: once its status line is in, a broken one is refused at
    /// once (a backend answering garbage is a prompt 502, not a response timeout; and a line llhttp would read
    /// leniently as a whole response never waits for more). The status line's end is looked for from `start` (the
    /// bytes before it held none). True when the status line is in and good; false while it is still coming.
    static func checkStatusLine(ofPartial head: ByteBuffer, from start: Int) throws(ResponseParseError) -> Bool {
        let result: Result<Bool, ResponseParseError> = head.withUnsafeReadableBytes { bytes in
            guard HTTPSyntax.index(of: 0x0A, in: bytes, from: start, to: bytes.count) != nil else { return .success(false) }
            if case .failure(let error) = statusLine(bytes) { return .failure(error) }
            return .success(true)
        }
        return try result.get()
    }

    /// Parses a complete raw head.
    static func parse(head: ByteBuffer, requestIsHEAD: Bool) throws(ResponseParseError) -> ResponseHead {
        let result: Result<ResponseHead, ResponseParseError> = head.withUnsafeReadableBytes { bytes in
            let minor: Int, status: Int
            switch statusLine(bytes) {
            case .success(let line): (minor, status) = line
            case .failure(let error): return .failure(error)
            }

            var contentLength: Int?
            var chunked = false
            var transferEncoding = false
            var connection = FieldLines.ConnectionOptions()

            // One pass: every line after the status line is `token: value`, no obsolete folding.
            var position = HeaderLines.endOfLine(bytes, from: 0)
            while position < bytes.count {
                let lineEnd = HeaderLines.endOfLine(bytes, from: position)
                var contentEnd = lineEnd - 1
                if contentEnd > position, bytes[contentEnd - 1] == 0x0D { contentEnd -= 1 }
                if contentEnd <= position { break }
                // Values are copied to the client as they are: a bare CR or a NUL must not get through.
                guard let (name, value) = FieldLines.split(bytes, position, contentEnd) else { return .failure(.malformedHeader) }
                switch bytes[position] | 0x20 {
                case UInt8(ascii: "c"):
                    if HTTPSyntax.equalsIgnoringCase(bytes, name, "content-length") {
                        switch FieldLines.contentLength(bytes, value, after: contentLength) {
                        case .length(let length): contentLength = length
                        case .invalid: return .failure(.invalidContentLength)
                        case .conflicting: return .failure(.conflictingContentLength)
                        }
                    } else if HTTPSyntax.equalsIgnoringCase(bytes, name, "connection") {
                        connection.add(bytes, value)
                    }
                case UInt8(ascii: "t"):
                    if HTTPSyntax.equalsIgnoringCase(bytes, name, "transfer-encoding") {
                        // Only `chunked`, once, alone (`chunked,` too is refused): another coding would lose its label
                        // when the gateway frames the answer afresh (nginx refuses these too).
                        var codings = 0
                        var onlyChunked = true
                        HTTPSyntax.forEachElement(bytes, value) { coding in
                            codings += 1
                            if !HTTPSyntax.equalsIgnoringCase(bytes, coding, "chunked") { onlyChunked = false }
                        }
                        guard !transferEncoding, codings == 1, onlyChunked, !HTTPSyntax.hasEmptyElement(bytes, value) else {
                            return .failure(.unsupportedTransferEncoding)
                        }
                        transferEncoding = true
                        chunked = true
                    }
                default:
                    break
                }
                position = lineEnd
            }

            // Both framings at once is how responses are smuggled: refused, the connection never reused.
            if transferEncoding, contentLength != nil { return .failure(.contentLengthWithTransferEncoding) }
            let framing: ResponseHead.Framing
            if requestIsHEAD || (status >= 100 && status < 200) || status == 204 || status == 304 {
                framing = .none
            } else if transferEncoding {
                framing = chunked ? .chunked : .untilClose
            } else if let contentLength {
                framing = .contentLength(contentLength)
            } else {
                framing = .untilClose
            }
            let keepAlive = framing != .untilClose && !connection.close && (minor == 1 || connection.keepAlive)
            return .success(ResponseHead(raw: head, status: status, minorVersion: minor, framing: framing, keepAlive: keepAlive,
                                         connectionTokens: connection.tokens))
        }
        return try result.get()
    }
}
