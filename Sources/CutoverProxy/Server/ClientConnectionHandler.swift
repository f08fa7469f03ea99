import CutoverCore
import NIOCore
import NIOExtras
import NIOHTTP1

/// Serves one client connection: each request is routed, forwarded to the
/// backend its route's phase names over a pooled connection, and the backend's
/// response is streamed back with backpressure both ways. Pipelined requests
/// are answered in order, one at a time. Confined to the channel's event loop.
final class ClientConnectionHandler: ChannelDuplexHandler, DeadlineTracked, UpstreamExchange {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Reasons for not reading from the client.
    struct ReadHold: OptionSet {
        let rawValue: UInt8
        /// A pipelined request waits for the current one to finish.
        static let pipelined = ReadHold(rawValue: 1)
        /// The backend is not taking request-body bytes as fast as they come.
        static let upstreamBackpressure = ReadHold(rawValue: 2)
        /// Body bytes are piling up while a connection is being made.
        static let buffering = ReadHold(rawValue: 4)
        /// The connection closes after the current response.
        static let closing = ReadHold(rawValue: 8)
    }

    /// What the exchange is waiting for, which decides what its deadline means.
    enum Waiting {
        case nothing
        case connection
        case response
    }

    /// Where the client's request stands.
    enum RequestSide {
        case receiving
        case complete
    }

    /// Body bytes held while no connection is ready, before client reads pause.
    static let maxBufferedBody = 256 * 1024

    let loop: LoopContext
    let scheme: StaticString
    var context: ChannelHandlerContext!
    var clientAddress = "unknown"
    var localHost: String?

    // Reading.
    var holds: ReadHold = []
    var readPending = false
    var queued = CircularBuffer<HTTPServerRequestPart>()
    var acceptingRequests = true
    var closed = false
    var quiescing = false

    // The current exchange.
    var active = false
    var runtime: RuntimeConfig
    var decision = RoutingDecision(route: nil, backend: 0, side: .old)
    var isHEAD = false
    var isIdempotent = false
    var clientMinor = 1
    var clientKeepAlive = true
    var chunkedRequest = false
    var hasBody = false
    var expectContinue = false
    var sentContinue = false
    var requestSide = RequestSide.receiving
    var bodyBytes = 0
    var bodyLimit = 0
    var pendingBody = CircularBuffer<ByteBuffer>()
    var pendingBodyBytes = 0
    var pendingTrailers: HTTPHeaders?
    var requestHead = ByteBuffer()
    var requestIDLocation: RequestIDLocation?
    var upstream: UpstreamConnection?
    /// The pool the exchange takes its connection from (fixed at admission, so a reload mid-exchange changes nothing).
    var pool: UpstreamPool?
    var upstreamTicket: UInt64 = 0
    var framing: ClientFraming?
    var status = 0
    var startTime = NIODeadline.uptimeNanoseconds(0)
    var waiting = Waiting.nothing
    var retried = false
    var closeAfterResponse = false
    var upstreamNeedsFlush = false
    var clientNeedsFlush = false

    // DeadlineTracked.
    var deadline = NIODeadline.distantFuture
    var sweepIndex = -1

    init(loop: LoopContext, scheme: StaticString) {
        self.loop = loop
        self.scheme = scheme
        self.runtime = loop.runtime
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
    }

    func channelActive(context: ChannelHandlerContext) {
        clientAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
        localHost = context.channel.localAddress?.ipAddress
        loop.clients[ObjectIdentifier(self)] = self
        loop.metrics.clientConnections.increment()
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        closed = true
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        loop.metrics.clientConnections.decrement()
        if active { abandonExchange() }
        queued.removeAll()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let part = unwrapInboundIn(data)
        if !queued.isEmpty {
            queued.append(part)
            return
        }
        dispatch(part)
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushUpstreamIfNeeded()
        flushClientIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        if context.channel.isWritable { upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if holds.isEmpty {
            context.read()
        } else {
            readPending = true
        }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            quiescing = true
            if !active, queued.isEmpty {
                context.close(promise: nil)
            } else {
                closeAfterResponse = true
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        guard let parseError = error as? HTTPParserError else {
            context.close(promise: nil)
            return
        }
        let (status, reason, label) = Self.describe(parseError)
        loop.metrics.rejected(label)
        if active {
            guard framing == nil else {
                context.close(promise: nil)
                return
            }
            abandonUpstream()
        } else {
            beginBareExchange()
        }
        closeAfterResponse = true
        respondLocally(status: status, reason: reason, recordMetrics: false)
    }

    /// Closes the connection now (the drain timeout ran out).
    func forceClose() {
        context.close(promise: nil)
    }

    // MARK: - Reading control

    func hold(_ reason: ReadHold) {
        holds.insert(reason)
    }

    func release(_ reason: ReadHold) {
        guard holds.contains(reason) else { return }
        holds.remove(reason)
        if holds.isEmpty, readPending {
            readPending = false
            context.read()
        }
    }

    // MARK: - Flushing

    func flushUpstreamIfNeeded() {
        if upstreamNeedsFlush {
            upstreamNeedsFlush = false
            upstream?.flush()
        }
    }

    func flushClientIfNeeded() {
        if clientNeedsFlush {
            clientNeedsFlush = false
            context.flush()
        }
    }

    static func describe(_ error: HTTPParserError) -> (Int, String, String) {
        switch error {
        case .headerOverflow:
            return (431, "request header fields too large", "header_too_large")
        case .unexpectedContentLength:
            return (400, "request has both Content-Length and Transfer-Encoding", "framing")
        case .invalidContentLength:
            return (400, "invalid or conflicting Content-Length", "framing")
        case .invalidChunkSize, .lfExpected, .strictModeAssertion:
            return (400, "invalid chunked encoding or line framing", "framing")
        case .invalidVersion:
            return (505, "unsupported HTTP version", "version")
        default:
            return (400, "malformed request: \(error)", "malformed")
        }
    }
}
