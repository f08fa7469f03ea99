import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
import NIOSSL

/// A response as the test client read it off the wire.
public struct TestResponse: Sendable, CustomStringConvertible {
    public var version: String
    public var status: Int
    public var headers: [(name: String, value: String)]
    public var body: [UInt8]
    /// Interim (1xx) responses that came before this one.
    public var informational: [Int]

    /// The first value of a header (case-insensitive).
    public func value(_ name: String) -> String? {
        headers.first { $0.name.lowercased() == name.lowercased() }?.value
    }

    /// All values of a header.
    public func values(_ name: String) -> [String] {
        headers.filter { $0.name.lowercased() == name.lowercased() }.map(\.value)
    }

    /// The body as text.
    public var text: String { String(decoding: body, as: UTF8.self) }

    public var description: String { "\(status) \(headers.map { "\($0.name): \($0.value)" }) \(text.prefix(200))" }
}

/// Errors of the test client.
public enum TestClientError: Error {
    case closedBeforeResponse(received: String)
    case malformed(String)
}

/// A raw TCP client for tests: sends exactly the bytes it is given and reads
/// responses with its own small HTTP/1.1 parser (independent of Cutover's).
public final class TestConnection: Sendable {
    private let channel: any Channel
    private let inbox: Inbox

    /// Connects to 127.0.0.1:`port`.
    /// With `trusting`, the connection speaks TLS and trusts that authority (checking the IP address).
    public static func connect(port: Int, group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                               autoRead: Bool = true, trusting caFile: String? = nil) async throws -> TestConnection {
        let inbox = Inbox()
        let tlsContext = try caFile.map { file in
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.trustRoots = .file(file)
            return try NIOSSLContext(configuration: configuration)
        }
        let channel = try await ClientBootstrap(group: group)
            .channelOption(.autoRead, value: autoRead)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLClientHandler(context: tlsContext, serverHostname: nil))
                    }
                    try channel.pipeline.syncOperations.addHandler(Collector(inbox: inbox))
                }
            }
            .connect(host: "127.0.0.1", port: port)
            .get()
        return TestConnection(channel: channel, inbox: inbox)
    }

    private init(channel: any Channel, inbox: Inbox) {
        self.channel = channel
        self.inbox = inbox
    }

    /// Sends bytes.
    public func send(_ text: String) async throws {
        try await channel.writeAndFlush(ByteBuffer(string: text))
    }

    /// Sends bytes.
    public func send(_ buffer: ByteBuffer) async throws {
        try await channel.writeAndFlush(buffer)
    }

    /// Reads the next complete response. `head` tells the parser the request was HEAD (no body).
    public func response(head: Bool = false) async throws -> TestResponse {
        while true {
            // The version is read with the attempt, so bytes arriving right after it still wake the wait.
            let version = inbox.version
            if let response = try inbox.takeResponse(head: head) { return response }
            guard try await inbox.waitForData(after: version) else {
                if let response = try inbox.takeResponse(head: head, atEOF: true) { return response }
                throw TestClientError.closedBeforeResponse(received: inbox.pendingText)
            }
        }
    }

    /// Reads the next interim (1xx) response's status without waiting for the final response.
    public func interimResponse() async throws -> Int {
        while true {
            let version = inbox.version
            if let status = try inbox.takeInterim() { return status }
            guard try await inbox.waitForData(after: version) else {
                throw TestClientError.closedBeforeResponse(received: inbox.pendingText)
            }
        }
    }

    /// Waits until the server closes the connection; returns the bytes that came after the last response.
    @discardableResult
    public func closed() async throws -> String {
        var version = inbox.version
        while try await inbox.waitForData(after: version) { version = inbox.version }
        return inbox.pendingText
    }

    /// Whether the server has closed the connection.
    public var isClosed: Bool { inbox.isClosed }

    /// Asks the channel to read (when created with autoRead off).
    public func read() {
        channel.read()
    }

    /// Bytes received and not yet consumed by `response()`.
    public var pendingBytes: Int { inbox.pendingCount }

    /// Closes the connection.
    public func close() async {
        try? await channel.close()
    }
}

/// Received bytes and a way to wait for more.
final class Inbox: Sendable {
    private struct State {
        var buffer = ByteBuffer()
        var closed = false
        var waiter: CheckedContinuation<Bool, Never>?
        var version = 0
    }

    private let state = NIOLockedValueBox(State())

    func append(_ bytes: ByteBuffer) {
        var bytes = bytes
        let waiter = state.withLockedValue { state -> CheckedContinuation<Bool, Never>? in
            state.buffer.writeBuffer(&bytes)
            state.version += 1
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: true)
    }

    func close() {
        let waiter = state.withLockedValue { state -> CheckedContinuation<Bool, Never>? in
            state.closed = true
            defer { state.waiter = nil }
            return state.waiter
        }
        waiter?.resume(returning: false)
    }

    var isClosed: Bool { state.withLockedValue { $0.closed } }
    var pendingCount: Int { state.withLockedValue { $0.buffer.readableBytes } }
    var pendingText: String { state.withLockedValue { String(buffer: $0.buffer) } }

    /// How many times bytes have arrived.
    var version: Int { state.withLockedValue { $0.version } }

    /// Waits for bytes that arrived after `seen` (a `version` read before the caller last looked at the
    /// buffer, so nothing that came in between is missed); false once the connection is closed and no new bytes came.
    func waitForData(after seen: Int) async throws -> Bool {
        await withCheckedContinuation { continuation in
            let resumeNow: Bool? = state.withLockedValue { state in
                if state.version != seen { return true }
                if state.closed { return false }
                state.waiter = continuation
                return nil
            }
            if let resumeNow { continuation.resume(returning: resumeNow) }
        }
    }

    func takeInterim() throws -> Int? {
        try state.withLockedValue { state in
            var copy = state.buffer
            guard let response = try ResponseReader.read(&copy, head: false, atEOF: false), response.status < 200 else { return nil }
            state.buffer = copy
            return response.status
        }
    }

    func takeResponse(head: Bool, atEOF: Bool = false) throws -> TestResponse? {
        try state.withLockedValue { state in
            var informational: [Int] = []
            var copy = state.buffer
            while true {
                guard var response = try ResponseReader.read(&copy, head: head, atEOF: atEOF) else { return nil }
                if response.status >= 100, response.status < 200 {
                    informational.append(response.status)
                    continue
                }
                response.informational = informational
                state.buffer = copy
                return response
            }
        }
    }
}

private final class Collector: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer
    let inbox: Inbox
    init(inbox: Inbox) { self.inbox = inbox }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        inbox.append(unwrapInboundIn(data))
    }

    func channelInactive(context: ChannelHandlerContext) {
        inbox.close()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// A deliberately plain HTTP/1.1 response parser for tests.
enum ResponseReader {
    static func read(_ buffer: inout ByteBuffer, head isHEAD: Bool, atEOF: Bool) throws -> TestResponse? {
        let bytes = Array(buffer.readableBytesView)
        guard let headEnd = find(bytes, [13, 10, 13, 10], from: 0) else { return nil }
        let headText = String(decoding: bytes[0..<headEnd], as: UTF8.self)
        var lines = headText.components(separatedBy: "\r\n")
        let statusLine = lines.removeFirst().split(separator: " ", maxSplits: 2)
        guard statusLine.count >= 2, let status = Int(statusLine[1]) else { throw TestClientError.malformed(headText) }
        var headers: [(name: String, value: String)] = []
        for line in lines {
            guard let colon = line.firstIndex(of: ":") else { throw TestClientError.malformed(line) }
            headers.append((String(line[..<colon]), line[line.index(after: colon)...].trimmingCharacters(in: " \t")))
        }
        var response = TestResponse(version: String(statusLine[0]), status: status, headers: headers, body: [], informational: [])
        var position = headEnd + 4
        let noBody = isHEAD || status < 200 || status == 204 || status == 304
        if noBody {
        } else if let encoding = response.value("transfer-encoding"), encoding.lowercased().contains("chunked") {
            while true {
                guard let lineEnd = find(bytes, [13, 10], from: position) else { return nil }
                let sizeText = String(decoding: bytes[position..<lineEnd], as: UTF8.self).split(separator: ";")[0]
                guard let size = Int(sizeText, radix: 16) else { throw TestClientError.malformed("chunk size \(sizeText)") }
                position = lineEnd + 2
                if size == 0 {
                    // Trailers until an empty line.
                    while true {
                        guard let end = find(bytes, [13, 10], from: position) else { return nil }
                        let empty = end == position
                        position = end + 2
                        if empty { break }
                    }
                    break
                }
                guard bytes.count >= position + size + 2 else { return nil }
                response.body.append(contentsOf: bytes[position..<(position + size)])
                // A chunk's data ends with CRLF; anything else is a framing error the test must see.
                guard bytes[position + size] == 13, bytes[position + size + 1] == 10 else {
                    throw TestClientError.malformed("chunk data of \(size) bytes not followed by CRLF")
                }
                position += size + 2
            }
        } else if let length = response.value("content-length").flatMap({ Int($0) }) {
            guard bytes.count >= position + length else { return nil }
            response.body = Array(bytes[position..<(position + length)])
            position += length
        } else {
            guard atEOF else { return nil }
            response.body = Array(bytes[position...])
            position = bytes.count
        }
        buffer.moveReaderIndex(forwardBy: position)
        return response
    }

    static func find(_ bytes: [UInt8], _ pattern: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= pattern.count else { return nil }
        var index = start
        while index + pattern.count <= bytes.count {
            if bytes[index..<(index + pattern.count)].elementsEqual(pattern) { return index }
            index += 1
        }
        return nil
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
