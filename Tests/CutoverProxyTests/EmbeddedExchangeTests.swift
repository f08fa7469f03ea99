@testable import CutoverCore
@testable import CutoverProxy
import MetricsTestKit
import NIOCore
import NIOEmbedded
import Testing

/// Counts `read` events that reach the head of a pipeline.
final class ReadCounter: ChannelOutboundHandler {
    typealias OutboundIn = Any
    var reads = 0
    func read(context: ChannelHandlerContext) {
        reads += 1
        context.read()
    }
}

/// A client connection handler and its backend connections, all on `EmbeddedChannel`s: no sockets, virtual time.
final class EmbeddedExchange {
    let loop = EmbeddedEventLoop()
    let context: LoopContext
    let client: EmbeddedChannel
    var upstreams: [EmbeddedChannel] = []
    var readCounters: [ReadCounter] = []
    let metrics = TestMetrics()

    init(yaml: String = """
        listen: "127.0.0.1:0"
        admin: { listen: "127.0.0.1:0" }
        backends: { old: { url: "http://127.0.0.1:9001", response_timeout: 1s } }
        """) throws {
        let config = try ConfigLoader.load(yaml: yaml).get()
        let runtime = try RuntimeConfig(config)
        let proxyMetrics = ProxyMetrics(factory: metrics)
        let comparatorMetrics = ComparatorMetrics(factory: metrics)
        context = LoopContext(eventLoop: loop, runtime: runtime, metrics: proxyMetrics,
                              backendMetrics: config.backends.map { proxyMetrics.backend($0.name) },
                              diffQueue: DiffQueue(settings: config.diffQueue, metrics: comparatorMetrics),
                              comparatorMetrics: comparatorMetrics, signals: RouteSignals(), flagSet: nil)
        client = EmbeddedChannel(handler: ClientConnectionHandler(loop: context, scheme: "http"), loop: loop)
        for pool in context.pools {
            pool.connector = { [unowned self] connection in
                let counter = ReadCounter()
                let channel = EmbeddedChannel(handlers: [counter, connection], loop: loop)
                upstreams.append(channel)
                readCounters.append(counter)
                _ = channel.connect(to: try! SocketAddress(ipAddress: "127.0.0.1", port: 9001))
            }
        }
        try client.connect(to: SocketAddress(ipAddress: "192.0.2.1", port: 40000)).wait()
    }

    /// Everything the client channel has written so far, as text.
    func clientOutput() throws -> String {
        var text = ""
        while let buffer = try client.readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }

    /// Everything an upstream channel has written so far, as text.
    func upstreamOutput(_ index: Int = 0) throws -> String {
        var text = ""
        while let buffer = try upstreams[index].readOutbound(as: ByteBuffer.self) { text += String(buffer: buffer) }
        return text
    }
}

@Suite("Exchanges on EmbeddedChannel", .timeLimit(.minutes(1)))
struct EmbeddedExchangeTests {
    @Test func requestIsForwardedAndResponseReturned() throws {
        let exchange = try EmbeddedExchange()
        try exchange.client.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: shop\r\n\r\n"))
        #expect(exchange.upstreams.count == 1)
        let sent = try exchange.upstreamOutput()
        #expect(sent.hasPrefix("GET /a HTTP/1.1\r\nHost: shop\r\nX-Forwarded-For: 192.0.2.1\r\nX-Forwarded-Proto: http\r\nX-Request-Id: "))
        try exchange.upstreams[0].writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        #expect(try exchange.clientOutput() == "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        // The connection went back to the pool: the next request reuses it.
        try exchange.client.writeInbound(ByteBuffer(string: "GET /b HTTP/1.1\r\nHost: shop\r\n\r\n"))
        #expect(exchange.upstreams.count == 1)
        #expect(try exchange.upstreamOutput().hasPrefix("GET /b HTTP/1.1\r\n"))
    }

    @Test func backendReadsPauseWhileTheClientCannotTakeMore() throws {
        let exchange = try EmbeddedExchange()
        try exchange.client.writeInbound(ByteBuffer(string: "GET /big HTTP/1.1\r\nHost: shop\r\n\r\n"))
        let upstream = exchange.upstreams[0]
        let counter = exchange.readCounters[0]
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n" + String(repeating: "a", count: 10000)))
        upstream.pipeline.read()
        let readsWhileWritable = counter.reads

        exchange.client.isWritable = false
        exchange.client.pipeline.fireChannelWritabilityChanged()
        try upstream.writeInbound(ByteBuffer(string: String(repeating: "b", count: 10000)))
        upstream.pipeline.read()
        #expect(counter.reads == readsWhileWritable, "no read from the backend while the client is not writable")

        exchange.client.isWritable = true
        exchange.client.pipeline.fireChannelWritabilityChanged()
        #expect(counter.reads == readsWhileWritable + 1, "the held read goes out once the client drains")
        try upstream.writeInbound(ByteBuffer(string: String(repeating: "c", count: 10000)))
        let output = try exchange.clientOutput()
        #expect(output.hasSuffix(String(repeating: "c", count: 10000)))
        #expect(output.utf8.count == "HTTP/1.1 200 OK\r\nContent-Length: 30000\r\n\r\n".utf8.count + 30000)
    }

    @Test func clientReadsPauseWhileTheBackendCannotTakeTheBody() throws {
        let exchange = try EmbeddedExchange()
        let clientReads = ReadCounter()
        try exchange.client.pipeline.syncOperations.addHandler(clientReads, position: .first)
        // The first 64 KiB (request_buffer) are read before the backend is contacted; then the body streams.
        try exchange.client.writeInbound(ByteBuffer(string: "PUT /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 70000)))
        let upstream = try #require(exchange.upstreams.first)
        upstream.isWritable = false
        upstream.pipeline.fireChannelWritabilityChanged()
        try exchange.client.writeInbound(ByteBuffer(string: String(repeating: "y", count: 1000)))
        let before = clientReads.reads
        exchange.client.pipeline.read()
        #expect(clientReads.reads == before, "no read from the client while the backend is not writable")
        upstream.isWritable = true
        upstream.pipeline.fireChannelWritabilityChanged()
        #expect(clientReads.reads == before + 1)
    }

    @Test func responseTimeoutOnVirtualTimeAnswers504() throws {
        let exchange = try EmbeddedExchange()
        try exchange.client.writeInbound(ByteBuffer(string: "GET /slow HTTP/1.1\r\nHost: shop\r\n\r\n"))
        exchange.loop.advanceTime(by: .milliseconds(900))
        #expect(try exchange.clientOutput().isEmpty)
        exchange.loop.advanceTime(by: .milliseconds(300))
        let output = try exchange.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 504 Gateway Timeout\r\n"))
        #expect(output.contains("upstream response timeout"))
        #expect(!exchange.upstreams[0].isActive, "the timed-out backend connection is closed, not reused")
    }

    @Test func streamingBodyKeepsTheDeadlineMoving() throws {
        let exchange = try EmbeddedExchange()
        try exchange.client.writeInbound(ByteBuffer(string: "GET /stream HTTP/1.1\r\nHost: shop\r\n\r\n"))
        try exchange.upstreams[0].writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"))
        for piece in ["a", "b", "c", "d"] {
            exchange.loop.advanceTime(by: .milliseconds(700))
            try exchange.upstreams[0].writeInbound(ByteBuffer(string: piece))
        }
        exchange.loop.advanceTime(by: .milliseconds(700))
        try exchange.upstreams[0].writeInbound(ByteBuffer(string: "e"))
        #expect(try exchange.clientOutput() == "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nabcde")
    }

    @Test func idleClientConnectionIsClosedAfterTheClientTimeout() throws {
        let exchange = try EmbeddedExchange(yaml: """
            listen: "127.0.0.1:0"
            client_timeout: 2s
            admin: { listen: "127.0.0.1:0" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """)
        try exchange.client.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: shop\r\n\r\n"))
        try exchange.upstreams[0].writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"))
        _ = try exchange.clientOutput()
        exchange.loop.advanceTime(by: .milliseconds(1900))
        #expect(exchange.client.isActive)
        exchange.loop.advanceTime(by: .milliseconds(300))
        #expect(!exchange.client.isActive)
        #expect(try exchange.clientOutput().isEmpty, "an idle connection is closed without an answer")
    }

    @Test func clientThatStopsHalfwayThroughItsHeadGets408() throws {
        let exchange = try EmbeddedExchange(yaml: """
            listen: "127.0.0.1:0"
            client_timeout: 1s
            admin: { listen: "127.0.0.1:0" }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """)
        try exchange.client.writeInbound(ByteBuffer(string: "GET /a HTTP/1.1\r\nHost: sh"))
        exchange.loop.advanceTime(by: .milliseconds(1200))
        let output = try exchange.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(!exchange.client.isActive)
        #expect(exchange.upstreams.isEmpty)
    }

    @Test func malformedRequestIsAnswered400AndClosedWithoutABackend() throws {
        let exchange = try EmbeddedExchange()
        try exchange.client.writeInbound(ByteBuffer(string: "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n"))
        let output = try exchange.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 400 Bad Request\r\n"))
        #expect(output.contains("Connection: close"))
        #expect(output.contains("conflicting Content-Length"))
        #expect(exchange.upstreams.isEmpty)
        #expect(!exchange.client.isActive)
    }

    @Test func pipelinedRequestWaitsForThePreviousAnswer() throws {
        let exchange = try EmbeddedExchange()
        try exchange.client.writeInbound(ByteBuffer(string: "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\nHost: a\r\n\r\n"))
        #expect(exchange.upstreams.count == 1)
        #expect(try exchange.upstreamOutput().hasPrefix("GET /1 "), "only the first request is sent")
        try exchange.upstreams[0].writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"))
        #expect(try exchange.upstreamOutput().hasPrefix("GET /2 "), "the second goes once the first is answered")
        try exchange.upstreams[0].writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2"))
        #expect(try exchange.clientOutput() == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2")
    }

    // MARK: - Request bodies: read before a backend is contacted, and bounded in pace

    static var paceYAML: String {
        """
        listen: "127.0.0.1:0"
        admin: { listen: "127.0.0.1:0" }
        limits: { body_timeout: 1s, body_min_rate: 100 }
        backends: { old: { url: "http://127.0.0.1:9001", response_timeout: 30s } }
        """
    }

    @Test func aBodyThatFitsTheRequestBufferIsReadWholeBeforeABackendIsContacted() throws {
        let exchange = try EmbeddedExchange(yaml: Self.paceYAML)
        try exchange.client.writeInbound(ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 10\r\n\r\n01234"))
        #expect(exchange.upstreams.isEmpty, "no backend connection while the body is still arriving")
        try exchange.client.writeInbound(ByteBuffer(string: "56789"))
        let upstream = try #require(exchange.upstreams.first)
        #expect(try exchange.upstreamOutput().hasSuffix("\r\n\r\n0123456789"), "the whole body goes with the head")
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n"))
        #expect(try exchange.clientOutput().hasPrefix("HTTP/1.1 201 Created\r\n"))
        #expect(exchange.context.heldBodyBytes == 0, "nothing is left counted against the buffer memory")
    }

    @Test func aBodyThatStopsIsCutAfterTheBodyTimeoutWithoutABackend() throws {
        let exchange = try EmbeddedExchange(yaml: Self.paceYAML)
        try exchange.client.writeInbound(ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 100000\r\n\r\nabc"))
        exchange.loop.advanceTime(by: .milliseconds(900))
        #expect(try exchange.clientOutput().isEmpty)
        exchange.loop.advanceTime(by: .milliseconds(1200))
        let output = try exchange.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 408 Request Timeout\r\n"), "\(output)")
        #expect(output.contains("the request body arrived too slowly: 3 bytes"))
        #expect(!exchange.client.isActive)
        #expect(exchange.upstreams.isEmpty, "a slow client never held a backend connection")
        #expect(exchange.context.heldBodyBytes == 0)
    }

    @Test func aBodyDribbledFasterThanTheTimeoutButBelowTheRateIsCut() throws {
        let exchange = try EmbeddedExchange(yaml: Self.paceYAML)
        try exchange.client.writeInbound(ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 100000\r\n\r\n"))
        // A byte every 100 ms (10 B/s): never a pause of a whole body_timeout, but far below 100 B/s.
        var cutAt: Int?
        for tick in 1...40 {
            exchange.loop.advanceTime(by: .milliseconds(100))
            guard exchange.client.isActive else {
                cutAt = tick
                break
            }
            try exchange.client.writeInbound(ByteBuffer(string: "x"))
        }
        let at = try #require(cutAt, "the dribbling body must be cut")
        #expect(at <= 15, "cut soon after the 1 s grace, at tick \(at)")
        #expect(try exchange.clientOutput().hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(exchange.upstreams.isEmpty)
    }

    @Test func aBodyAtTheMinimumRateIsNeverCut() throws {
        let exchange = try EmbeddedExchange(yaml: Self.paceYAML)
        try exchange.client.writeInbound(ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 3000\r\n\r\n"))
        // 15 bytes every 100 ms (150 B/s, above the 100 B/s minimum) for 20 s of virtual time.
        for _ in 0..<200 {
            exchange.loop.advanceTime(by: .milliseconds(100))
            #expect(exchange.client.isActive)
            try exchange.client.writeInbound(ByteBuffer(string: String(repeating: "y", count: 15)))
        }
        let upstream = try #require(exchange.upstreams.first, "the body is complete: now it goes to the backend")
        #expect(try exchange.upstreamOutput().hasSuffix(String(repeating: "y", count: 3000)))
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(try exchange.clientOutput().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }

    @Test func aBodyLargerThanTheBufferThatSlowsDownAfterwardsIsCutAndItsBackendConnectionClosed() throws {
        let exchange = try EmbeddedExchange(yaml: Self.paceYAML)
        try exchange.client.writeInbound(ByteBuffer(string: "PUT /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 200000\r\n\r\n" + String(repeating: "z", count: 70000)))
        let upstream = try #require(exchange.upstreams.first)
        // 70,000 bytes earned 700 s at 100 B/s; a pause of a whole body_timeout still ends it.
        exchange.loop.advanceTime(by: .milliseconds(2100))
        #expect(try exchange.clientOutput().hasPrefix("HTTP/1.1 408 Request Timeout\r\n"))
        #expect(!upstream.isActive, "the backend connection holding half a request is closed")
    }

    @Test func bodiesBeyondTheBufferMemoryAreShedWith503() throws {
        let exchange = try EmbeddedExchange(yaml: """
            listen: "127.0.0.1:0"
            admin: { listen: "127.0.0.1:0" }
            limits: { buffer_memory: 64KiB }
            backends: { old: { url: "http://127.0.0.1:9001" } }
            """)
        exchange.context.heldBodyBytes = 64 * 1024
        try exchange.client.writeInbound(ByteBuffer(string: "POST /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 10\r\n\r\n0123456789"))
        let output = try exchange.clientOutput()
        #expect(output.hasPrefix("HTTP/1.1 503 Service Unavailable\r\n"))
        #expect(output.contains("Retry-After: 1\r\n"))
        #expect(exchange.upstreams.isEmpty)
        exchange.context.heldBodyBytes = 0
    }

    /// The backend stops taking an upload for longer than body_timeout: the gateway stops reading the client, and the
    /// time is not held against the client (no 408); once the backend takes bytes again the body goes on.
    @Test func aBackendThatStopsTakingTheBodyIsNotTheClientsPause() throws {
        let exchange = try EmbeddedExchange(yaml: Self.paceYAML)
        try exchange.client.writeInbound(ByteBuffer(string: "PUT /up HTTP/1.1\r\nHost: shop\r\nContent-Length: 100000\r\n\r\n" + String(repeating: "x", count: 70000)))
        let upstream = try #require(exchange.upstreams.first)
        upstream.isWritable = false
        upstream.pipeline.fireChannelWritabilityChanged()
        // More bytes arrive while the backend is not writable: the gateway stops reading the client.
        try exchange.client.writeInbound(ByteBuffer(string: String(repeating: "w", count: 1000)))
        for _ in 0..<6 { exchange.loop.advanceTime(by: .milliseconds(1000)) }
        #expect(try exchange.clientOutput().isEmpty, "no 408 while the gateway itself held the body back")
        #expect(exchange.client.isActive)
        upstream.isWritable = true
        upstream.pipeline.fireChannelWritabilityChanged()
        try exchange.client.writeInbound(ByteBuffer(string: String(repeating: "y", count: 29000)))
        #expect(try exchange.upstreamOutput().hasSuffix(String(repeating: "y", count: 29000)))
        try upstream.writeInbound(ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"))
        #expect(try exchange.clientOutput().hasPrefix("HTTP/1.1 200 OK\r\n"))
    }
}
