import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// A request as a test backend received it.
public struct ReceivedRequest: Sendable {
    public var method: String
    public var uri: String
    public var version: HTTPVersion
    public var headers: HTTPHeaders
    public var body: [UInt8]
    /// Which accepted connection it arrived on (0, 1, …).
    public var connection: Int

    /// All values of a header (case-insensitive name).
    public func values(_ name: String) -> [String] { headers[name] }
    /// The first value of a header.
    public func value(_ name: String) -> String? { headers.first(name: name) }
}

/// What a test backend does with one complete request: raw bytes back, and
/// whether to close afterwards. Raw bytes let tests send any framing, broken or not.
public enum BackendReply: Sendable {
    /// Write these bytes.
    case send(String)
    /// Write these bytes, then close the connection.
    case sendAndClose(String)
    /// Write a head and a binary body.
    case sendBytes(head: String, body: [UInt8])
    /// Write nothing, never answer.
    case hang
    /// Close the connection without answering (an orderly close: FIN).
    case close
    /// Write these bytes (maybe none), then reset the connection (SO_LINGER 0: the peer sees RST, not FIN).
    case sendAndReset(String)
    /// Write `head`, then `count` bytes of `byte` as they can be sent (with backpressure), then close if asked.
    case stream(head: String, count: Int, byte: UInt8, closeAfter: Bool)
    /// Answer later, when the test calls `releaseHeld(with:)`.
    case hold
}

/// A real HTTP/1.1 server on loopback for tests: it decodes requests with
/// NIO's parser, records them, and answers with raw bytes chosen per request.
public final class TestBackend: Sendable {
    public let port: Int
    private let channel: any Channel
    private let state: NIOLockedValueBox<(requests: [ReceivedRequest], connections: Int, bodyBytes: Int)>
    private let held: NIOLockedValueBox<[any Channel]>

    /// Starts a backend on 127.0.0.1 with a free port. `reply` runs on an event loop for each complete request.
    /// With `countOnly`, request bodies are counted (see `bodyBytes`) but not kept, for large uploads.
    public static func start(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton, countOnly: Bool = false,
                             tls: TestCertificates? = nil,
                             reply: @escaping @Sendable (ReceivedRequest) -> BackendReply) async throws -> TestBackend {
        let tlsContext = try tls.map { certificates in
            try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(certificates.certificateFile).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: certificates.keyFile, format: .pem))))
        }
        let state = NIOLockedValueBox<(requests: [ReceivedRequest], connections: Int, bodyBytes: Int)>(([], 0, 0))
        let held = NIOLockedValueBox<[any Channel]>([])
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let number = state.withLockedValue { state in
                        defer { state.connections += 1 }
                        return state.connections
                    }
                    if let tlsContext {
                        try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tlsContext))
                    }
                    try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(HTTPRequestDecoder()))
                    try channel.pipeline.syncOperations.addHandler(
                        BackendConnectionHandler(connection: number, state: state, held: held, countOnly: countOnly, reply: reply))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return TestBackend(port: channel.localAddress!.port!, channel: channel, state: state, held: held)
    }

    private init(port: Int, channel: any Channel, state: NIOLockedValueBox<(requests: [ReceivedRequest], connections: Int, bodyBytes: Int)>,
                 held: NIOLockedValueBox<[any Channel]>) {
        self.port = port
        self.channel = channel
        self.state = state
        self.held = held
    }

    /// How many requests wait for `releaseHeld`.
    public var heldCount: Int { held.withLockedValue { $0.count } }

    /// Answers every request held by `.hold` with `text`.
    public func releaseHeld(with text: String) {
        let channels = held.withLockedValue { held in
            defer { held.removeAll() }
            return held
        }
        for channel in channels { channel.writeAndFlush(ByteBuffer(string: text), promise: nil) }
    }

    /// The requests received so far, in arrival order.
    public var requests: [ReceivedRequest] { state.withLockedValue { $0.requests } }

    /// Waits until at least `count` requests have arrived (at most `timeout`); returns them.
    @discardableResult
    public func waitForRequests(_ count: Int, timeout: Duration = .seconds(10)) async throws -> [ReceivedRequest] {
        try await waitUntil(timeout: timeout, "\(count) request(s) at the backend") { self.requests.count >= count }
        return requests
    }
    /// Connections accepted so far.
    public var connections: Int { state.withLockedValue { $0.connections } }
    /// Request body bytes received so far (all requests).
    public var bodyBytes: Int { state.withLockedValue { $0.bodyBytes } }
    /// `http://127.0.0.1:PORT`.
    public var url: String { "http://127.0.0.1:\(port)" }
    /// `https://127.0.0.1:PORT`.
    public var httpsURL: String { "https://127.0.0.1:\(port)" }

    /// Stops accepting connections.
    public func stop() async {
        try? await channel.close()
    }
}

private final class BackendConnectionHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = ByteBuffer

    let connection: Int
    let state: NIOLockedValueBox<(requests: [ReceivedRequest], connections: Int, bodyBytes: Int)>
    let held: NIOLockedValueBox<[any Channel]>
    let countOnly: Bool
    let reply: @Sendable (ReceivedRequest) -> BackendReply
    var current: ReceivedRequest?
    var streaming: (remaining: Int, byte: UInt8, closeAfter: Bool)?
    var pumping = false

    init(connection: Int, state: NIOLockedValueBox<(requests: [ReceivedRequest], connections: Int, bodyBytes: Int)>,
         held: NIOLockedValueBox<[any Channel]>, countOnly: Bool, reply: @escaping @Sendable (ReceivedRequest) -> BackendReply) {
        self.connection = connection
        self.state = state
        self.held = held
        self.countOnly = countOnly
        self.reply = reply
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            current = ReceivedRequest(method: head.method.rawValue, uri: head.uri, version: head.version, headers: head.headers,
                                      body: [], connection: connection)
        case .body(let buffer):
            state.withLockedValue { $0.bodyBytes += buffer.readableBytes }
            if !countOnly { current?.body += buffer.readableBytesView }
        case .end:
            guard let request = current else { return }
            current = nil
            let answer = reply(request)
            if case .hold = answer { held.withLockedValue { $0.append(context.channel) } }
            state.withLockedValue { $0.requests.append(request) }
            switch answer {
            case .hold:
                break
            case .send(let text):
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text)), promise: nil)
            case .sendAndClose(let text):
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).assumeIsolated().whenComplete { _ in
                    context.close(promise: nil)
                }
            case .sendBytes(let head, let body):
                var buffer = ByteBuffer(string: head)
                buffer.writeBytes(body)
                context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
            case .hang:
                break
            case .close:
                context.close(promise: nil)
            case .sendAndReset(let text):
                let channel = context.channel
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: text))).assumeIsolated().whenComplete { _ in
                    // Lingering for 0 s makes the close send a reset.
                    guard let provider = channel as? any SocketOptionProvider else { return channel.close(promise: nil) }
                    provider.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
                        channel.close(promise: nil)
                    }
                }
            case .stream(let head, let count, let byte, let closeAfter):
                context.write(wrapOutboundOut(ByteBuffer(string: head)), promise: nil)
                streaming = (count, byte, closeAfter)
                pump(context: context)
            }
        }
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { pump(context: context) }
        context.fireChannelWritabilityChanged()
    }

    /// Writes streamed body bytes while the channel is writable. Not re-entered when a
    /// flush makes the channel writable again (the loop goes on instead).
    func pump(context: ChannelHandlerContext) {
        guard !pumping else { return }
        pumping = true
        defer { pumping = false }
        while var stream = streaming, context.channel.isWritable {
            let size = min(stream.remaining, 64 * 1024)
            if size > 0 {
                context.write(wrapOutboundOut(ByteBuffer(repeating: stream.byte, count: size)), promise: nil)
            }
            stream.remaining -= size
            if stream.remaining == 0 {
                streaming = nil
                let close = stream.closeAfter
                context.writeAndFlush(wrapOutboundOut(ByteBuffer())).assumeIsolated().whenComplete { _ in
                    if close { context.close(promise: nil) }
                }
                return
            }
            streaming = stream
            context.flush()
        }
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

extension BackendReply {
    /// A complete `200 OK` (or other status) response with a body and `Content-Length`.
    public static func ok(_ body: String, status: String = "200 OK", headers: [String] = []) -> BackendReply {
        var text = "HTTP/1.1 \(status)\r\nContent-Type: text/plain\r\nContent-Length: \(body.utf8.count)\r\n"
        for header in headers { text += header + "\r\n" }
        return .send(text + "\r\n" + body)
    }
}
