import NIOCore

/// Why a backend's response could not be framed.
enum ResponseParseError: Error, Equatable, CustomStringConvertible {
    case headTooLarge(limit: Int)
    case malformedStatusLine
    case malformedHeader
    case conflictingContentLength
    case invalidContentLength
    case invalidChunk
    case upgradeNotRequested

    var description: String {
        switch self {
        case .headTooLarge(let limit): return "response head larger than \(limit) bytes"
        case .malformedStatusLine: return "malformed status line"
        case .malformedHeader: return "malformed header line"
        case .conflictingContentLength: return "conflicting Content-Length headers"
        case .invalidContentLength: return "invalid Content-Length"
        case .invalidChunk: return "invalid chunked encoding"
        case .upgradeNotRequested: return "101 Switching Protocols without an upgrade request"
        }
    }
}

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

    /// How chunked bodies are reported.
    enum ChunkMode {
        /// Wire bytes, framing included: forwarded as they are to an HTTP/1.1 client.
        case raw
        /// Only the data: for an HTTP/1.0 client, or for comparison.
        case decoded
    }

    private enum State {
        case head
        case fixed(remaining: Int)
        case chunkSize(value: Int, digits: Int, inExtension: Bool)
        case chunkSizeLF
        case chunkData(remaining: Int)
        case chunkDataCR
        case chunkDataLF
        case trailerLineStart
        case trailerLine
        case trailerLF(lastLine: Bool)
        case untilClose
        case done
    }

    private var state: State = .head
    private var pendingChunkSize = 0
    private var partialHead: ByteBuffer?
    private var endPending = false
    private var requestIsHEAD = false
    /// How chunked bodies are reported for the current response.
    var chunkMode: ChunkMode = .raw
    /// The largest head accepted.
    let maxHeadBytes: Int

    init(maxHeadBytes: Int = 64 * 1024) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// Prepares for the response to a new request.
    mutating func expectResponse(toHEAD isHEAD: Bool, chunkMode: ChunkMode = .raw) {
        state = .head
        partialHead = nil
        endPending = false
        requestIsHEAD = isHEAD
        self.chunkMode = chunkMode
    }

    /// True once a head has been parsed and the body is being read.
    var isInBody: Bool {
        switch state {
        case .head, .done: return false
        default: return true
        }
    }

    /// True when the current body ends only when the backend closes.
    var readsUntilClose: Bool {
        if case .untilClose = state { return true }
        return false
    }

    /// The next event found in `input`, consuming the bytes it covers.
    mutating func next(_ input: inout ByteBuffer) throws(ResponseParseError) -> Event {
        if endPending {
            endPending = false
            state = .done
            return .end
        }
        switch state {
        case .done:
            return .needMoreData
        case .head:
            return try parseHead(&input)
        case .fixed(let remaining):
            guard input.readableBytes > 0 else { return .needMoreData }
            let count = min(remaining, input.readableBytes)
            let slice = input.readSlice(length: count)!
            if count == remaining { endPending = true } else { state = .fixed(remaining: remaining - count) }
            return .body(slice)
        case .untilClose:
            guard input.readableBytes > 0 else { return .needMoreData }
            return .body(input.readSlice(length: input.readableBytes)!)
        case .chunkSize, .chunkSizeLF, .chunkData, .chunkDataCR, .chunkDataLF, .trailerLineStart, .trailerLine, .trailerLF:
            guard input.readableBytes > 0 else { return .needMoreData }
            return try chunked(&input)
        }
    }

    /// The backend closed the connection: the end of an until-close body, otherwise nil (the response is cut short).
    mutating func inputClosed() -> Event? {
        if case .untilClose = state {
            state = .done
            return .end
        }
        return nil
    }

    // MARK: - Head

    private mutating func parseHead(_ input: inout ByteBuffer) throws(ResponseParseError) -> Event {
        guard input.readableBytes > 0 else { return .needMoreData }
        var head: ByteBuffer
        if var partial = partialHead {
            let searchFrom = max(0, partial.readableBytes - 3)
            partial.writeBuffer(&input)
            guard let end = Self.headEnd(partial, from: searchFrom) else {
                if partial.readableBytes > maxHeadBytes { throw .headTooLarge(limit: maxHeadBytes) }
                partialHead = partial
                return .needMoreData
            }
            head = partial.readSlice(length: end)!
            input = partial
            partialHead = nil
        } else {
            guard let end = Self.headEnd(input, from: 0) else {
                if input.readableBytes > maxHeadBytes { throw .headTooLarge(limit: maxHeadBytes) }
                partialHead = input
                input.moveReaderIndex(forwardBy: input.readableBytes)
                return .needMoreData
            }
            head = input.readSlice(length: end)!
        }
        if head.readableBytes > maxHeadBytes { throw .headTooLarge(limit: maxHeadBytes) }
        let parsed = try Self.parse(head: head, requestIsHEAD: requestIsHEAD)
        switch parsed.framing {
        case _ where parsed.isInformational:
            if parsed.status == 101 { throw .upgradeNotRequested }
            state = .head
        case .none:
            endPending = true
        case .contentLength(let length):
            if length == 0 { endPending = true } else { state = .fixed(remaining: length) }
        case .chunked:
            state = .chunkSize(value: 0, digits: 0, inExtension: false)
        case .untilClose:
            state = .untilClose
        }
        return .head(parsed)
    }

    /// The length of the head (through the blank line) if `buffer` holds all of it.
    static func headEnd(_ buffer: ByteBuffer, from start: Int) -> Int? {
        buffer.withUnsafeReadableBytes { bytes -> Int? in
            var index = start
            let count = bytes.count
            while index < count {
                guard let newline = bytes[index..<count].firstIndex(of: UInt8(ascii: "\n")) else { return nil }
                if newline + 1 < count, bytes[newline + 1] == UInt8(ascii: "\n") { return newline + 2 }
                if newline + 2 < count, bytes[newline + 1] == UInt8(ascii: "\r"), bytes[newline + 2] == UInt8(ascii: "\n") {
                    return newline + 3
                }
                index = newline + 1
            }
            return nil
        }
    }

    /// Parses a complete raw head.
    static func parse(head: ByteBuffer, requestIsHEAD: Bool) throws(ResponseParseError) -> ResponseHead {
        let result: Result<ResponseHead, ResponseParseError> = head.withUnsafeReadableBytes { bytes in
            // Status line: HTTP/1.x SSS[ reason]
            guard bytes.count >= 12,
                  bytes[0] == UInt8(ascii: "H"), bytes[1] == UInt8(ascii: "T"), bytes[2] == UInt8(ascii: "T"),
                  bytes[3] == UInt8(ascii: "P"), bytes[4] == UInt8(ascii: "/"), bytes[5] == UInt8(ascii: "1"),
                  bytes[6] == UInt8(ascii: "."), bytes[8] == UInt8(ascii: " ")
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
            guard status >= 100, bytes.count == 12 || bytes[12] == UInt8(ascii: " ") || bytes[12] == UInt8(ascii: "\r") || bytes[12] == UInt8(ascii: "\n") else {
                return .failure(.malformedStatusLine)
            }

            var contentLength: Int?
            var chunked = false
            var transferEncoding = false
            var close = false
            var keepAliveToken = false
            var tokens: [String] = []
            var malformed = false
            var conflicting = false
            var invalidLength = false

            // Every line after the status line must be `name: value` with a token name; no obsolete folding.
            var position = HeaderLines.endOfLine(bytes, from: 0)
            while position < bytes.count {
                let lineEnd = HeaderLines.endOfLine(bytes, from: position)
                let first = bytes[position]
                if first == UInt8(ascii: "\r") || first == UInt8(ascii: "\n") { break }
                if first == UInt8(ascii: " ") || first == UInt8(ascii: "\t") { malformed = true; break }
                guard let colon = bytes[position..<lineEnd].firstIndex(of: UInt8(ascii: ":")), colon > position,
                      bytes[position..<colon].allSatisfy(Self.isTokenByte)
                else { malformed = true; break }
                position = lineEnd
            }
            if malformed { return .failure(.malformedHeader) }

            HeaderLines.forEach(in: bytes) { line in
                switch bytes[line.name.lowerBound] | 0x20 {
                case UInt8(ascii: "c"):
                    if line.nameEquals("content-length", in: bytes) {
                        guard let value = Self.decimal(bytes, line.value) else { invalidLength = true; return }
                        if let existing = contentLength, existing != value { conflicting = true }
                        contentLength = value
                    } else if line.nameEquals("connection", in: bytes) {
                        Self.forEachToken(bytes, line.value) { token in
                            if HeaderLines.equalsIgnoringCase(bytes, token, "close") {
                                close = true
                            } else if HeaderLines.equalsIgnoringCase(bytes, token, "keep-alive") {
                                keepAliveToken = true
                            } else {
                                tokens.append(String(decoding: bytes[token], as: UTF8.self).lowercased())
                            }
                        }
                    }
                case UInt8(ascii: "t"):
                    if line.nameEquals("transfer-encoding", in: bytes) {
                        transferEncoding = true
                        var last: Range<Int>?
                        Self.forEachToken(bytes, line.value) { last = $0 }
                        chunked = last.map { HeaderLines.equalsIgnoringCase(bytes, $0, "chunked") } ?? false
                    }
                default:
                    break
                }
            }
            if invalidLength { return .failure(.invalidContentLength) }
            if conflicting { return .failure(.conflictingContentLength) }

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
            let keepAlive = framing != .untilClose && !close && (minor == 1 || keepAliveToken)
            return .success(ResponseHead(raw: head, status: status, minorVersion: minor, framing: framing, keepAlive: keepAlive,
                                         connectionTokens: tokens, dropsContentLength: transferEncoding && contentLength != nil))
        }
        return try result.get()
    }

    private static func isTokenByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"):
            return true
        case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            return true
        default:
            return false
        }
    }

    private static func decimal(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> Int? {
        guard !range.isEmpty, range.count <= 18 else { return nil }
        var value = 0
        for index in range {
            let digit = bytes[index]
            guard digit >= 48, digit <= 57 else { return nil }
            value = value * 10 + Int(digit - 48)
        }
        return value
    }

    /// Calls `body` with each comma-separated token of a header value, trimmed.
    private static func forEachToken(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>, _ body: (Range<Int>) -> Void) {
        var start = range.lowerBound
        while start <= range.upperBound {
            var end = start
            while end < range.upperBound, bytes[end] != UInt8(ascii: ",") { end += 1 }
            var tokenStart = start, tokenEnd = end
            while tokenStart < tokenEnd, bytes[tokenStart] == UInt8(ascii: " ") || bytes[tokenStart] == UInt8(ascii: "\t") { tokenStart += 1 }
            while tokenEnd > tokenStart, bytes[tokenEnd - 1] == UInt8(ascii: " ") || bytes[tokenEnd - 1] == UInt8(ascii: "\t") { tokenEnd -= 1 }
            if tokenStart < tokenEnd { body(tokenStart..<tokenEnd) }
            start = end + 1
        }
    }

    // MARK: - Chunked bodies

    /// Walks chunk framing through the input. In `.raw` mode returns one slice of
    /// wire bytes (up to the end of the message); in `.decoded` mode one data slice.
    private mutating func chunked(_ input: inout ByteBuffer) throws(ResponseParseError) -> Event {
        let start = input.readerIndex
        var index = start
        let end = input.writerIndex
        var finished = false
        var failed = false
        var dataRange: Range<Int>?
        input.withUnsafeReadableBytes { bytes in
            let base = start
            parse: while index < end {
                let byte = bytes[index - base]
                switch state {
                case .chunkSize(let value, let digits, let inExtension):
                    if byte == UInt8(ascii: "\r") {
                        guard digits > 0 else { failed = true; break parse }
                        state = .chunkSizeLF
                        pendingChunkSize = value
                    } else if inExtension {
                        // Chunk extensions are passed through and otherwise ignored.
                    } else if let hex = Self.hexValue(byte) {
                        guard digits < 15 else { failed = true; break parse }
                        state = .chunkSize(value: value * 16 + hex, digits: digits + 1, inExtension: false)
                    } else if byte == UInt8(ascii: ";") || byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") {
                        guard digits > 0 else { failed = true; break parse }
                        state = .chunkSize(value: value, digits: digits, inExtension: true)
                    } else {
                        failed = true
                        break parse
                    }
                    index += 1
                case .chunkSizeLF:
                    guard byte == UInt8(ascii: "\n") else { failed = true; break parse }
                    index += 1
                    state = pendingChunkSize == 0 ? .trailerLineStart : .chunkData(remaining: pendingChunkSize)
                case .chunkData(let remaining):
                    let count = min(remaining, end - index)
                    if chunkMode == .decoded {
                        dataRange = index..<(index + count)
                    }
                    index += count
                    state = count == remaining ? .chunkDataCR : .chunkData(remaining: remaining - count)
                    if chunkMode == .decoded { break parse }
                case .chunkDataCR:
                    guard byte == UInt8(ascii: "\r") else { failed = true; break parse }
                    index += 1
                    state = .chunkDataLF
                case .chunkDataLF:
                    guard byte == UInt8(ascii: "\n") else { failed = true; break parse }
                    index += 1
                    state = .chunkSize(value: 0, digits: 0, inExtension: false)
                case .trailerLineStart:
                    if byte == UInt8(ascii: "\r") {
                        state = .trailerLF(lastLine: true)
                    } else {
                        state = .trailerLine
                    }
                    index += 1
                case .trailerLine:
                    if byte == UInt8(ascii: "\r") { state = .trailerLF(lastLine: false) }
                    index += 1
                case .trailerLF(let lastLine):
                    guard byte == UInt8(ascii: "\n") else { failed = true; break parse }
                    index += 1
                    if lastLine {
                        finished = true
                        break parse
                    }
                    state = .trailerLineStart
                case .head, .fixed, .untilClose, .done:
                    preconditionFailure("chunked() called outside a chunked body")
                }
            }
        }
        if failed { throw .invalidChunk }
        let consumed = index - start
        if finished { endPending = true }
        switch chunkMode {
        case .raw:
            let slice = input.readSlice(length: consumed)!
            return .body(slice)
        case .decoded:
            if let dataRange {
                input.moveReaderIndex(to: dataRange.lowerBound)
                let slice = input.readSlice(length: dataRange.count)!
                input.moveReaderIndex(to: index)
                return .body(slice)
            }
            input.moveReaderIndex(to: index)
            if finished {
                endPending = false
                state = .done
                return .end
            }
            return .needMoreData
        }
    }

    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - 48)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - 87)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - 55)
        default: return nil
        }
    }
}
