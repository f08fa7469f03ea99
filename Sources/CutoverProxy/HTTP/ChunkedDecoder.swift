import NIOCore

/// Why a chunked body was refused.
struct InvalidChunkedEncoding: Error, Equatable {}

/// Walks a chunked message body (RFC 9112 §7.1) strictly: hex sizes without
/// overflow, extensions as the grammar has them (`;name[=value]`, a name a token, a
/// value a token or a quoted string; bounded, and without the whitespace senders
/// must not generate, which llhttp refuses too), CRLF line ends everywhere, trailer
/// fields (`name: value`, a token name, never a framing or connection field) up to the final empty line. A value-type state machine.
struct ChunkedDecoder {
    /// How chunked bytes are reported.
    enum Mode {
        /// Wire bytes, framing included: to forward as they are.
        case raw
        /// Only the data.
        case decoded
    }

    /// What the decoder found next.
    enum Event {
        /// Bytes (wire or data, per mode) and how many of them are data.
        case bytes(ByteBuffer, dataCount: Int)
        /// The body is complete; input after it does not belong to it.
        case end
        /// The input is used up.
        case needMoreData
    }

    private enum State {
        case size(value: Int, digits: Int)
        /// Right after a `;`: an extension's name starts.
        case extensionNameStart
        case extensionName
        /// Right after `=`: a token or a quoted string starts.
        case extensionValueStart
        case extensionToken
        case extensionQuoted
        /// After a backslash inside a quoted string.
        case extensionQuotedPair
        /// After a quoted string's closing quote: `;` or the line's end.
        case extensionQuotedEnd
        case sizeLF
        case data(remaining: Int)
        case dataCR
        case dataLF
        case trailerStart
        /// A trailer field's name: a token up to its colon.
        case trailerName
        /// A trailer field's value, up to the line's end.
        case trailerLine
        case trailerLF(last: Bool)
        case done
    }

    private var state = State.size(value: 0, digits: 0)
    private var pendingSize = 0
    /// The most bytes of chunk extensions accepted on one chunk-size line, from the first `;` through the line's CR
    /// (llhttp and nginx bound them too).
    static let maxExtensionBytes = 4096
    private var extensionBytes = 0
    /// The most trailer bytes accepted.
    let maxTrailerBytes: Int
    private var trailerBytes = 0
    private var trailerName = FramingName()

    init(maxTrailerBytes: Int = 16 * 1024) {
        self.maxTrailerBytes = maxTrailerBytes
    }

    /// Starts a new body.
    mutating func reset() {
        state = .size(value: 0, digits: 0)
        pendingSize = 0
        trailerBytes = 0
    }

    /// The next event in `input`, consuming the bytes it covers.
    mutating func next(_ input: inout ByteBuffer, mode: Mode) throws(InvalidChunkedEncoding) -> Event {
        if case .done = state { return .end }
        guard input.readableBytes > 0 else { return .needMoreData }
        let start = input.readerIndex
        var offset = 0
        let count = input.readableBytes
        var finished = false
        var failed = false
        var dataRange: Range<Int>?
        var dataCount = 0
        input.withUnsafeReadableBytes { bytes in
            scan: while offset < count {
                let byte = bytes[offset]
                switch state {
                case .size(let value, let digits):
                    if let hex = Self.hexValue(byte) {
                        guard digits < 15 else { failed = true; break scan }
                        state = .size(value: value * 16 + hex, digits: digits + 1)
                    } else if digits == 0 {
                        failed = true
                        break scan
                    } else if byte == 0x0D {
                        pendingSize = value
                        state = .sizeLF
                    } else if byte == UInt8(ascii: ";") {
                        pendingSize = value
                        extensionBytes = 0
                        state = .extensionNameStart
                    } else {
                        failed = true
                        break scan
                    }
                    offset += 1
                case .extensionNameStart, .extensionName, .extensionValueStart, .extensionToken, .extensionQuoted,
                     .extensionQuotedPair, .extensionQuotedEnd:
                    extensionBytes += 1
                    guard extensionBytes <= Self.maxExtensionBytes, let next = Self.extension(state, byte) else {
                        failed = true
                        break scan
                    }
                    state = next
                    offset += 1
                case .sizeLF:
                    guard byte == 0x0A else { failed = true; break scan }
                    offset += 1
                    state = pendingSize == 0 ? .trailerStart : .data(remaining: pendingSize)
                case .data(let remaining):
                    let take = min(remaining, count - offset)
                    if mode == .decoded { dataRange = offset..<(offset + take) }
                    dataCount += take
                    offset += take
                    state = take == remaining ? .dataCR : .data(remaining: remaining - take)
                    if mode == .decoded { break scan }
                case .dataCR:
                    guard byte == 0x0D else { failed = true; break scan }
                    offset += 1
                    state = .dataLF
                case .dataLF:
                    guard byte == 0x0A else { failed = true; break scan }
                    offset += 1
                    state = .size(value: 0, digits: 0)
                case .trailerStart, .trailerName, .trailerLine, .trailerLF:
                    trailerBytes += 1
                    guard trailerBytes <= maxTrailerBytes, let next = trailer(state, byte) else {
                        failed = true
                        break scan
                    }
                    offset += 1
                    state = next
                    if case .done = next {
                        finished = true
                        break scan
                    }
                case .done:
                    break scan
                }
            }
        }
        if failed { throw InvalidChunkedEncoding() }
        switch mode {
        case .raw:
            let slice = input.readSlice(length: offset)!
            if slice.readableBytes == 0, finished { return .end }
            return .bytes(slice, dataCount: dataCount)
        case .decoded:
            if let dataRange, !dataRange.isEmpty {
                input.moveReaderIndex(to: start + dataRange.lowerBound)
                let slice = input.readSlice(length: dataRange.count)!
                return .bytes(slice, dataCount: dataRange.count)
            }
            input.moveReaderIndex(to: start + offset)
            return finished ? .end : .needMoreData
        }
    }

    /// Whether the final chunk and trailers have been read.
    var isDone: Bool {
        if case .done = state { return true }
        return false
    }

    /// The state after `byte` inside a chunk's extensions, or nil when the byte breaks the grammar there.
    private static func `extension`(_ state: State, _ byte: UInt8) -> State? {
        switch state {
        case .extensionNameStart:
            return HTTPSyntax.isToken(byte) ? .extensionName : nil
        case .extensionName, .extensionToken:
            if HTTPSyntax.isToken(byte) { return state }
            if byte == UInt8(ascii: ";") { return .extensionNameStart }
            if byte == 0x0D { return .sizeLF }
            if byte == UInt8(ascii: "="), case .extensionName = state { return .extensionValueStart }
            return nil
        case .extensionValueStart:
            if byte == UInt8(ascii: "\"") { return .extensionQuoted }
            return HTTPSyntax.isToken(byte) ? .extensionToken : nil
        case .extensionQuoted:
            // qdtext: HTAB, SP, visible characters but `"` and `\`, obs-text.
            if byte == UInt8(ascii: "\"") { return .extensionQuotedEnd }
            if byte == UInt8(ascii: "\\") { return .extensionQuotedPair }
            return HTTPSyntax.isFieldValue(byte) ? .extensionQuoted : nil
        case .extensionQuotedPair:
            return HTTPSyntax.isFieldValue(byte) ? .extensionQuoted : nil
        case .extensionQuotedEnd:
            if byte == UInt8(ascii: ";") { return .extensionNameStart }
            return byte == 0x0D ? .sizeLF : nil
        default:
            return nil
        }
    }

    /// The state after `byte` inside the trailer section, or nil when the byte breaks its grammar there.
    private mutating func trailer(_ state: State, _ byte: UInt8) -> State? {
        switch state {
        case .trailerStart:
            if byte == 0x0D { return .trailerLF(last: true) }
            guard HTTPSyntax.isToken(byte) else { return nil }
            trailerName = FramingName()
            trailerName.add(byte)
            return .trailerName
        case .trailerName:
            if byte == UInt8(ascii: ":") {
                // Framing and connection fields have no place in trailers (RFC 9110 §6.5.1): a recipient that
                // merged one into the head would frame the message anew (llhttp closes on a trailing
                // `Connection: close`, where a parser ignoring it reads the next request).
                return trailerName.isForbiddenInTrailers ? nil : .trailerLine
            }
            guard HTTPSyntax.isToken(byte) else { return nil }
            trailerName.add(byte)
            return .trailerName
        case .trailerLine:
            if byte == 0x0D { return .trailerLF(last: false) }
            return HTTPSyntax.isFieldValue(byte) ? .trailerLine : nil
        case .trailerLF(let last):
            guard byte == 0x0A else { return nil }
            return last ? .done : .trailerStart
        default:
            return nil
        }
    }

    @inline(__always)
    private static func hexValue(_ byte: UInt8) -> Int? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return Int(byte - 48)
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return Int(byte - 87)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return Int(byte - 55)
        default: return nil
        }
    }
}

extension ChunkedDecoder {
    /// Follows a field name byte by byte, telling whether it is one that must not come as a trailer:
    /// `Content-Length`, `Transfer-Encoding` or `Connection` (any case).
    struct FramingName {
        private static let forbidden = [Array("content-length".utf8), Array("transfer-encoding".utf8), Array("connection".utf8)]
        private var length = 0
        /// Bit `i`: the name so far is a prefix of `forbidden[i]`.
        private var candidates: UInt8 = 0b111

        mutating func add(_ byte: UInt8) {
            let lower = byte | 0x20
            for (index, name) in Self.forbidden.enumerated() where candidates & (1 << index) != 0 {
                if length >= name.count || name[length] != lower { candidates &= ~(1 << index) }
            }
            length += 1
        }

        var isForbiddenInTrailers: Bool {
            Self.forbidden.indices.contains { candidates & (1 << $0) != 0 && length == Self.forbidden[$0].count }
        }
    }

    /// A whole chunked body's data, or nil when its framing is broken or cut short.
    static func dechunk(_ body: ByteBuffer) -> ByteBuffer? {
        var decoder = ChunkedDecoder()
        var input = body
        var output = ByteBufferAllocator().buffer(capacity: body.readableBytes)
        while true {
            guard let event = try? decoder.next(&input, mode: .decoded) else { return nil }
            switch event {
            case .bytes(var data, _): output.writeBuffer(&data)
            case .end: return output
            case .needMoreData: return decoder.isDone ? output : nil
            }
        }
    }
}
