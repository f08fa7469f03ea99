// A backend for benchmarks: answers every request with a fixed JSON document
// after a fixed delay (scheduled on the event loop, so many requests wait at once).
//
//   bench-backend --port PORT [--delay-ms MS] [--threads N] [--name NAME] [--fault hang|reset|half-close|garbage]
//
// With --name, every answer carries `X-Backend: NAME`, and `GET /__count` answers
// the number of other requests received so far (not counted itself).
// With --fault, every request (but `/__count`) is met with the fault instead of an answer: `hang` reads it and
// never answers, `reset` resets the connection (RST), `half-close` shuts its sending side and keeps reading,
// `garbage` answers bytes that are not HTTP.
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

var port = 0
var delay = 0.0
var threads = 1
var name: String?
var fault: String?
let received = NIOLockedValueBox(0)
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "") ?? 0
    case "--delay-ms": delay = Double(arguments.next() ?? "") ?? 0
    case "--threads": threads = Int(arguments.next() ?? "") ?? 1
    case "--name": name = arguments.next()
    case "--fault":
        fault = arguments.next()
        guard ["hang", "reset", "half-close", "garbage"].contains(fault ?? "") else {
            FileHandle.standardError.write(Data("bench-backend: --fault is hang, reset, half-close or garbage\n".utf8))
            exit(2)
        }
    default:
        FileHandle.standardError.write(Data("bench-backend: unknown argument \(argument)\n".utf8))
        exit(2)
    }
}

let backendName = name
let backendFault = fault
let document = #"{"id":4711,"customer":"ada","status":"open","total":129.5,"currency":"EUR","items":[{"sku":"A-100","qty":2},{"sku":"B-200","qty":1}],"created_at":"2026-11-23T10:00:00Z","note":"benchmark document abcdefghijk"}"#

final class DelayedAnswer: ChannelInboundHandler, @unchecked Sendable {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart
    let delay: TimeAmount
    var keepAlive = true
    var isCount = false

    init(delay: TimeAmount) { self.delay = delay }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            keepAlive = head.isKeepAlive
            isCount = head.uri == "/__count"
            if !isCount { received.withLockedValue { $0 += 1 } }
        case .body:
            break
        case .end:
            let keepAlive = self.keepAlive
            let body = isCount ? "{\"count\":\(received.withLockedValue { $0 })}" : document
            let answer = {
                var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(body.utf8.count)")])
                if let backendName { headers.add(name: "X-Backend", value: backendName) }
                if !keepAlive { headers.add(name: "Connection", value: "close") }
                context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
                context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: body)))), promise: nil)
                let done = context.writeAndFlush(self.wrapOutboundOut(.end(nil)))
                if !keepAlive { done.assumeIsolated().whenComplete { _ in context.close(promise: nil) } }
            }
            if let backendFault, !isCount {
                meet(backendFault, context: context)
                return
            }
            if delay.nanoseconds > 0, !isCount {
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) { answer() }
            } else {
                answer()
            }
        }
    }
}

/// Meets a request with a fault instead of an answer.
func meet(_ fault: String, context: ChannelHandlerContext) {
    let channel = context.channel
    switch fault {
    case "hang":
        break
    case "reset":
        // Lingering for 0 s makes the close a reset.
        (channel as? any SocketOptionProvider)?.setSoLinger(linger(l_onoff: 1, l_linger: 0)).whenComplete { _ in
            channel.close(promise: nil)
        }
    case "half-close":
        channel.close(mode: .output, promise: nil)
    default:
        // Raw bytes past the HTTP encoder: written from its own context, so nothing re-frames them.
        if let encoder = try? channel.pipeline.syncOperations.context(handlerType: HTTPResponseEncoder.self) {
            encoder.writeAndFlush(NIOAny(ByteBuffer(string: "\u{0}\u{7f}GARBAGE that is not HTTP at all\r\n\r\n")), promise: nil)
        }
    }
}

let group = MultiThreadedEventLoopGroup(numberOfThreads: threads)
let delayAmount = TimeAmount.nanoseconds(Int64(delay * 1_000_000))
let channel = try ServerBootstrap(group: group)
    .serverChannelOption(.backlog, value: 1024)
    .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
    .childChannelInitializer { channel in
        channel.eventLoop.makeCompletedFuture {
            try channel.pipeline.syncOperations.configureHTTPServerPipeline()
            try channel.pipeline.syncOperations.addHandler(DelayedAnswer(delay: delayAmount))
        }
    }
    .bind(host: "127.0.0.1", port: port)
    .wait()
print("bench-backend listening on 127.0.0.1:\(channel.localAddress?.port ?? 0) with a delay of \(delay) ms")
try channel.closeFuture.wait()
