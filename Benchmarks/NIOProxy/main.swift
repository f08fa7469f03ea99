// The reverse proxy of `Benchmarks/proxy.sh` built on NIOHTTP1 instead of Cutover's own HTTP/1 unit: requests read
// by NIO's `HTTPRequestDecoder` and answers by its `HTTPResponseDecoder` (both llhttp), heads written by NIO's
// encoders, one event loop, keep-alive connections to the backend reused from a pool on that loop, the request
// given `X-Forwarded-For` and `X-Forwarded-Proto` and stripped of hop-by-hop fields both ways, as Cutover does in
// phase `old`. It measures what the data plane would cost on NIOHTTP1's decoders; it is lighter than Cutover in
// what it leaves out (no routing, no metrics, no deadlines, no backpressure, no validation of what the backend
// sends), so its figures err in its favour.
//
//   nio-proxy --port PORT --upstream-port PORT
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix

var port = 0
var upstreamPort = 0
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "") ?? 0
    case "--upstream-port": upstreamPort = Int(arguments.next() ?? "") ?? 0
    default:
        FileHandle.standardError.write(Data("nio-proxy: unknown argument \(argument)\n".utf8))
        exit(2)
    }
}
guard port > 0, upstreamPort > 0 else {
    FileHandle.standardError.write(Data("nio-proxy: --port and --upstream-port are required\n".utf8))
    exit(2)
}

/// Fields that belong to one connection, never forwarded (RFC 9110 §7.6.1).
let hopByHop = ["connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade", "trailer"]

func strippingHopByHop(_ headers: HTTPHeaders) -> HTTPHeaders {
    var result = headers
    for option in headers[canonicalForm: "connection"] { result.remove(name: String(option)) }
    for name in hopByHop { result.remove(name: name) }
    return result
}

/// Idle keep-alive connections to the backend, confined to the one event loop.
final class UpstreamPool {
    let loop: any EventLoop
    let address: SocketAddress
    var idle: [any Channel] = []

    init(loop: any EventLoop, address: SocketAddress) {
        self.loop = loop
        self.address = address
    }

    func acquire() -> EventLoopFuture<any Channel> {
        while let channel = idle.popLast() {
            if channel.isActive { return loop.makeSucceededFuture(channel) }
        }
        return ClientBootstrap(group: loop)
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler())
                }
            }
            .connect(to: address)
    }

    func release(_ channel: any Channel) {
        idle.append(channel)
    }
}

/// Relays a backend's answer to the client exchange that leased the connection.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    var owner: ClientHandler?

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard let owner else { return }
        switch unwrapInboundIn(data) {
        case .head(let head):
            owner.respond(.head(HTTPResponseHead(version: .http1_1, status: head.status, headers: strippingHopByHop(head.headers))),
                          keepAlive: head.isKeepAlive)
        case .body(let body):
            owner.respond(.body(.byteBuffer(body)), keepAlive: true)
        case .end(let trailers):
            self.owner = nil
            owner.finish(trailers, upstream: context.channel)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        owner?.upstreamFailed()
        owner = nil
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }
}

/// One client connection: each request (NIO's pipelining handler gives them one at a time) goes to the backend over a
/// pooled connection, and its answer comes back.
final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let pool: UpstreamPool
    var context: ChannelHandlerContext?
    var forwardedFor = "unknown"
    var upstream: (any Channel)?
    /// Request parts that came before the backend connection.
    var pending: [HTTPClientRequestPart] = []
    var upstreamKeepAlive = true

    init(pool: UpstreamPool) {
        self.pool = pool
    }

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        forwardedFor = context.channel.remoteAddress?.ipAddress ?? "unknown"
        context.fireChannelActive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            var headers = strippingHopByHop(head.headers)
            headers.add(name: "X-Forwarded-For", value: forwardedFor)
            headers.add(name: "X-Forwarded-Proto", value: "http")
            pending.append(.head(HTTPRequestHead(version: .http1_1, method: head.method, uri: head.uri, headers: headers)))
            let loopBound = NIOLoopBound(self, eventLoop: context.eventLoop)
            pool.acquire().assumeIsolated().whenComplete { result in
                let handler = loopBound.value
                switch result {
                case .success(let channel):
                    guard let upstreamHandler = try? channel.pipeline.syncOperations.handler(type: UpstreamHandler.self) else {
                        return handler.upstreamFailed()
                    }
                    upstreamHandler.owner = handler
                    handler.upstream = channel
                    for part in handler.pending { channel.write(part, promise: nil) }
                    handler.pending.removeAll(keepingCapacity: true)
                    channel.flush()
                case .failure:
                    handler.upstreamFailed()
                }
            }
        case .body(let body):
            send(.body(.byteBuffer(body)))
        case .end(let trailers):
            send(.end(trailers))
        }
    }

    func send(_ part: HTTPClientRequestPart) {
        if let upstream {
            upstream.writeAndFlush(part, promise: nil)
        } else {
            pending.append(part)
        }
    }

    func respond(_ part: HTTPServerResponsePart, keepAlive: Bool) {
        if case .head = part { upstreamKeepAlive = keepAlive }
        context?.write(wrapOutboundOut(part), promise: nil)
    }

    func finish(_ trailers: HTTPHeaders?, upstream channel: any Channel) {
        upstream = nil
        if upstreamKeepAlive { pool.release(channel) } else { channel.close(promise: nil) }
        context?.writeAndFlush(wrapOutboundOut(.end(trailers)), promise: nil)
    }

    func upstreamFailed() {
        upstream = nil
        pending.removeAll()
        context?.close(promise: nil)
    }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
let loop = group.next()
let upstreamAddress = try SocketAddress(ipAddress: "127.0.0.1", port: upstreamPort)
let pool = try loop.submit { NIOLoopBound(UpstreamPool(loop: loop, address: upstreamAddress), eventLoop: loop) }.wait()
let server = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline(withPipeliningAssistance: true, withErrorHandling: true)
            try channel.pipeline.syncOperations.addHandler(ClientHandler(pool: pool.value))
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
try server.closeFuture.wait()
