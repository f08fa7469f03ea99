// A backend for benchmarks: answers every request with a fixed JSON document
// after a fixed delay (scheduled on the event loop, so many requests wait at once).
//
//   bench-backend --port PORT [--delay-ms MS] [--threads N] [--name NAME]
//
// With --name, every answer carries `X-Backend: NAME`, and `GET /__count` answers
// the number of other requests received so far (not counted itself).
import Foundation
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import NIOPosix

var port = 0
var delay = 0.0
var threads = 1
var name: String?
let received = NIOLockedValueBox(0)
var arguments = CommandLine.arguments.dropFirst().makeIterator()
while let argument = arguments.next() {
    switch argument {
    case "--port": port = Int(arguments.next() ?? "") ?? 0
    case "--delay-ms": delay = Double(arguments.next() ?? "") ?? 0
    case "--threads": threads = Int(arguments.next() ?? "") ?? 1
    case "--name": name = arguments.next()
    default:
        FileHandle.standardError.write(Data("bench-backend: unknown argument \(argument)\n".utf8))
        exit(2)
    }
}

let backendName = name
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
            if delay.nanoseconds > 0, !isCount {
                context.eventLoop.assumeIsolated().scheduleTask(in: delay) { answer() }
            } else {
                answer()
            }
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
