import CutoverCore
import NIOCore

/// Parses client requests (RFC 9112) strictly, in place: CRLF line ends,
/// token names, no obsolete folding, one agreed Content-Length, Transfer-Encoding
/// only as `chunked` and never beside Content-Length. Anything else is refused
/// before a byte reaches a backend. Bodies come out as data (chunks decoded).
///
/// A value-type state machine; after `.end` it expects the next request.
struct RequestParser {
    /// What the parser found next in the input.
    enum Event {
        case head(RequestHead)
        /// Body data (chunk framing removed).
        case body(ByteBuffer)
        case end
        case needMoreData
    }

    private enum State {
        case head
        case body
    }

    private var state = State.head
    private var partialHead: ByteBuffer?
    private var body = BodyReader()
    /// The largest request line plus headers accepted (431 beyond).
    var maxHeadBytes: Int

    init(maxHeadBytes: Int) {
        self.maxHeadBytes = maxHeadBytes
    }

    /// True while a head is partly received or a body is being read.
    var isInMessage: Bool {
        if partialHead != nil { return true }
        if case .head = state { return false }
        return true
    }

    /// The next event in `input`, consuming the bytes it covers.
    mutating func next(_ input: inout ByteBuffer) throws(RequestParseError) -> Event {
        switch state {
        case .head:
            return try parseHead(&input)
        case .body:
            let event: BodyReader.Event
            do {
                event = try body.next(&input, mode: .decoded)
            } catch {
                throw .invalidChunk
            }
            switch event {
            case .body(let data): return .body(data)
            case .end:
                state = .head
                return .end
            case .needMoreData: return .needMoreData
            }
        }
    }

    private mutating func parseHead(_ input: inout ByteBuffer) throws(RequestParseError) -> Event {
        if partialHead == nil {
            // A server ignores empty lines before a request line (RFC 9112 §2.2).
            while let byte = input.getInteger(at: input.readerIndex, as: UInt8.self), byte == 0x0D || byte == 0x0A {
                input.moveReaderIndex(forwardBy: 1)
            }
        }
        guard input.readableBytes > 0 else { return .needMoreData }
        let head: ByteBuffer
        if var partial = partialHead {
            let searchFrom = max(0, partial.readableBytes - 3)
            partial.writeBuffer(&input)
            guard let end = try Self.headEnd(partial, from: searchFrom) else {
                if partial.readableBytes > maxHeadBytes { throw tooLarge(partial) }
                partialHead = partial
                return .needMoreData
            }
            head = partial.readSlice(length: end)!
            input = partial
            partialHead = nil
        } else {
            guard let end = try Self.headEnd(input, from: 0) else {
                if input.readableBytes > maxHeadBytes { throw tooLarge(input) }
                partialHead = input
                input.moveReaderIndex(forwardBy: input.readableBytes)
                return .needMoreData
            }
            head = input.readSlice(length: end)!
        }
        if head.readableBytes > maxHeadBytes { throw tooLarge(head) }
        let parsed = try Self.parse(head: head)
        switch parsed.framing {
        case .none: body.start(.fixed(remaining: 0))
        case .contentLength(let length): body.start(.fixed(remaining: length))
        case .chunked: body.start(.chunked)
        }
        state = .body
        return .head(parsed)
    }

    /// A head over the limit: 414 when even its request line does not end within it, 431 otherwise.
    private func tooLarge(_ buffer: ByteBuffer) -> RequestParseError {
        let lineEnds = buffer.withUnsafeReadableBytes { bytes in
            HTTPSyntax.index(of: 0x0A, in: bytes, from: 0, to: min(bytes.count, maxHeadBytes)) != nil
        }
        return lineEnds ? .headTooLarge(limit: maxHeadBytes) : .targetTooLong(limit: maxHeadBytes)
    }

    /// The length of the head through its blank line (`\r\n\r\n`), if `buffer` holds all of it. A line that ends in
    /// a bare LF is refused as soon as it is seen (instead of waiting for a blank line that never comes as CRLF).
    static func headEnd(_ buffer: ByteBuffer, from start: Int) throws(RequestParseError) -> Int? {
        let found: Result<Int?, RequestParseError> = buffer.withUnsafeReadableBytes { bytes in
            var index = start
            while let newline = HTTPSyntax.index(of: 0x0A, in: bytes, from: index, to: bytes.count) {
                guard newline >= 1, bytes[newline - 1] == 0x0D else { return .failure(.bareLineFeed) }
                if newline >= 3, bytes[newline - 2] == 0x0A, bytes[newline - 3] == 0x0D {
                    return .success(newline + 1)
                }
                index = newline + 1
            }
            return .success(nil)
        }
        return try found.get()
    }

    /// Parses and validates a complete raw head.
    static func parse(head: ByteBuffer) throws(RequestParseError) -> RequestHead {
        let result: Result<RequestHead, RequestParseError> = head.withUnsafeReadableBytes { bytes in
            // Request line: method SP target SP HTTP/1.x CRLF
            guard let lineFeed = HTTPSyntax.index(of: 0x0A, in: bytes, from: 0, to: bytes.count),
                  lineFeed >= 1, bytes[lineFeed - 1] == 0x0D
            else { return .failure(.malformedRequestLine) }
            let lineEnd = lineFeed - 1
            guard let firstSpace = HTTPSyntax.index(of: 0x20, in: bytes, from: 0, to: lineEnd), firstSpace > 0,
                  let secondSpace = HTTPSyntax.index(of: 0x20, in: bytes, from: firstSpace + 1, to: lineEnd),
                  secondSpace > firstSpace + 1
            else { return .failure(.malformedRequestLine) }
            for index in 0..<firstSpace where !HTTPSyntax.isToken(bytes[index]) { return .failure(.malformedRequestLine) }
            for index in (firstSpace + 1)..<secondSpace where !HTTPSyntax.isTarget(bytes[index]) { return .failure(.malformedRequestLine) }
            let versionStart = secondSpace + 1
            guard lineEnd - versionStart == 8,
                  bytes[versionStart] == UInt8(ascii: "H"), bytes[versionStart + 1] == UInt8(ascii: "T"),
                  bytes[versionStart + 2] == UInt8(ascii: "T"), bytes[versionStart + 3] == UInt8(ascii: "P"),
                  bytes[versionStart + 4] == UInt8(ascii: "/"), bytes[versionStart + 6] == UInt8(ascii: "."),
                  (48...57).contains(bytes[versionStart + 5]), (48...57).contains(bytes[versionStart + 7])
            else { return .failure(.malformedRequestLine) }
            guard bytes[versionStart + 5] == UInt8(ascii: "1"), bytes[versionStart + 7] <= UInt8(ascii: "1") else {
                return .failure(.unsupportedVersion)
            }
            let minor = Int(bytes[versionStart + 7] - 48)
            let methodRange = 0..<firstSpace

            var contentLength: Int?
            var transferEncodings = 0
            var chunked = false
            var hostCount = 0
            var expect: Range<Int>?
            var requestID: Range<Int>?
            var forwardedForCount = 0
            var upgrade = false
            var connection = FieldLines.ConnectionOptions()
            var failure: RequestParseError?

            var position = lineFeed + 1
            while position < bytes.count {
                guard let newline = HTTPSyntax.index(of: 0x0A, in: bytes, from: position, to: bytes.count),
                      newline > position, bytes[newline - 1] == 0x0D
                else { return .failure(.malformedHeader) }
                let contentEnd = newline - 1
                if contentEnd == position { break }
                let first = bytes[position]
                if first == 0x20 || first == 0x09 { return .failure(.obsoleteLineFolding) }
                guard let (name, value) = FieldLines.split(bytes, position, contentEnd) else { return .failure(.malformedHeader) }

                switch first | 0x20 {
                case UInt8(ascii: "c"):
                    if HTTPSyntax.equalsIgnoringCase(bytes, name, "content-length") {
                        switch FieldLines.contentLength(bytes, value, after: contentLength) {
                        case .length(let length): contentLength = length
                        case .invalid: failure = failure ?? .invalidContentLength
                        case .conflicting: failure = failure ?? .conflictingContentLength
                        }
                    } else if HTTPSyntax.equalsIgnoringCase(bytes, name, "connection") {
                        connection.add(bytes, value)
                    }
                case UInt8(ascii: "e"):
                    if HTTPSyntax.equalsIgnoringCase(bytes, name, "expect") { expect = value }
                case UInt8(ascii: "h"):
                    if HTTPSyntax.equalsIgnoringCase(bytes, name, "host") {
                        hostCount += 1
                        if !HTTPSyntax.isHostValue(bytes, value) { failure = failure ?? .invalidHost }
                    }
                case UInt8(ascii: "t"):
                    if HTTPSyntax.equalsIgnoringCase(bytes, name, "transfer-encoding") {
                        transferEncodings += 1
                        var codings = 0
                        var last: Range<Int>?
                        HTTPSyntax.forEachElement(bytes, value) { coding in
                            codings += 1
                            last = coding
                        }
                        let lastIsChunked = last.map { HTTPSyntax.equalsIgnoringCase(bytes, $0, "chunked") } ?? false
                        // An empty element (`chunked,`) is refused rather than skipped: llhttp and nginx read such
                        // a value as not ending in chunked, and no two parsers may frame one request differently.
                        if !lastIsChunked || HTTPSyntax.hasEmptyElement(bytes, value) {
                            failure = failure ?? .invalidTransferEncoding
                        } else if codings > 1 {
                            failure = failure ?? .unsupportedTransferEncoding
                        }
                        chunked = lastIsChunked
                    }
                case UInt8(ascii: "u"):
                    if HTTPSyntax.equalsIgnoringCase(bytes, name, "upgrade") { upgrade = true }
                case UInt8(ascii: "x"):
                    if requestID == nil, HTTPSyntax.equalsIgnoringCase(bytes, name, "x-request-id") {
                        requestID = value
                    } else if HTTPSyntax.equalsIgnoringCase(bytes, name, "x-forwarded-for") {
                        forwardedForCount += 1
                    }
                default:
                    break
                }
                position = newline + 1
            }
            if let failure { return .failure(failure) }

            let framing: RequestHead.Framing
            if transferEncodings > 0, minor == 0 { return .failure(.transferEncodingInHTTP10) }
            if transferEncodings > 0 {
                guard contentLength == nil else { return .failure(.contentLengthWithTransferEncoding) }
                guard transferEncodings == 1, chunked else { return .failure(.invalidTransferEncoding) }
                framing = .chunked
            } else if let contentLength {
                framing = .contentLength(contentLength)
            } else {
                framing = .none
            }
            return .success(RequestHead(
                raw: head, methodRange: methodRange, targetRange: (firstSpace + 1)..<secondSpace,
                method: RequestMethod(UnsafeRawBufferPointer(rebasing: bytes[methodRange])), minorVersion: minor, framing: framing,
                keepAlive: !connection.close && (minor == 1 || connection.keepAlive), hostCount: hostCount, expect: expect,
                requestID: requestID, forwardedForCount: forwardedForCount, upgrade: upgrade || connection.upgrade,
                connectionTokens: connection.tokens))
        }
        return try result.get()
    }
}
