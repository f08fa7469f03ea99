import CutoverCore
import NIOCore
import NIOExtras

/// Serves one client connection: each request is parsed in place, routed,
/// forwarded to the backend its route's phase names over a pooled connection,
/// and the backend's response is streamed back with backpressure both ways.
/// Pipelined requests are answered in order, one at a time. Confined to the
/// channel's event loop.
final class ClientConnectionHandler: ChannelDuplexHandler, DeadlineTracked, UpstreamExchange, LoopClient {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    /// Reasons for not reading from the client.
    typealias ReadHold = ClientReads.Hold

    /// What the connection is waiting for, which decides what its deadline means.
    typealias Waiting = ExchangeState.Waiting

    let loop: LoopContext
    let scheme: StaticString
    var context: ChannelHandlerContext!
    /// The channel's allocator, read once.
    var allocator = ByteBufferAllocator()
    var clientAddress = "unknown"
    var localHost: String?
    /// The forwarding headers for this client, built when it connects.
    var forwarding = ForwardingLines(clientAddress: "unknown", scheme: "http")

    // Reading.
    var parser: RequestParser
    /// Bytes of requests that arrived while the current one was in flight.
    var stash: ByteBuffer?
    /// Whether the client is read now, and the read owed while it is not.
    var reads = ClientReads()
    /// Whether an exchange is under way, its request complete, and whether the connection stays for the next one.
    var session = ClientSession()
    var active: Bool { session.active }
    var requestSide: ClientSession.RequestSide { session.requestSide }
    var closed: Bool { session.closed }
    /// The connection came beyond `limits.max_client_connections`: it was answered 503 and is closing.
    var refused = false

    // The current exchange.
    /// The configuration and flags the exchange runs under, taken together when it starts (a reload or a flag change
    /// mid-exchange cannot mismatch them).
    var snapshot: LoopSnapshot
    var runtime: RuntimeConfig { snapshot.runtime }
    var flags: [RouteFlags] { snapshot.flags }
    /// The exchange under way (a new value for each).
    var exchange = CurrentExchange(defaultBackend: 0)
    /// Where the plan sends the request (the answering side).
    var routeTarget: RoutingTarget { exchange.plan.target }
    var isHEAD: Bool { exchange.request.isHEAD }
    var clientMinor: Int { exchange.request.minorVersion }
    var hasBody: Bool { exchange.request.hasBody }
    /// Bounds how slowly the request body may arrive.
    var bodyPace: BodyPace!
    /// How much of the body came and is held, against the route's bounds.
    var requestBody = RequestBodyState()
    var pendingBody = CircularBuffer<ByteBuffer>()
    /// The head sent to the backend; reused from request to request.
    var requestHead = ByteBuffer()
    /// The head sent to the client; reused from response to response.
    var responseHead = ByteBuffer()
    var upstream: UpstreamConnection?
    var upstreamTicket: UInt64 = 0
    /// What the exchange waits for, and the decisions about its failures and deadlines.
    var exchangeState = ExchangeState()
    var waiting: Waiting {
        get { exchangeState.waiting }
        set { exchangeState.waiting = newValue }
    }
    /// While waiting for a connection: whether the exchange is in the pool's line (rather than having one made for it).
    var inLine: Bool {
        get { exchangeState.inLine }
        set { exchangeState.inLine = newValue }
    }
    var upstreamNeedsFlush = false
    var clientNeedsFlush = false

    // DeadlineTracked.
    var deadline = NIODeadline.distantFuture
    var sweepIndex = -1
    /// Whether the client channel takes writes without building a backlog.
    var clientWritable = true

    init(loop: LoopContext, scheme: StaticString) {
        self.loop = loop
        self.scheme = scheme
        self.snapshot = loop.snapshot
        self.parser = RequestParser(maxHeadBytes: loop.runtime.limits.maxHeaderBytes)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        bodyPace = BodyPace(owner: self)
        allocator = context.channel.allocator
        requestHead = allocator.buffer(capacity: 1024)
        responseHead = allocator.buffer(capacity: 512)
    }

    /// The pipeline let go of the handler: so does the handler of its context (NIO's context keeps its handler,
    /// so a handler that kept its context would keep both alive for ever: a leak per connection).
    func handlerRemoved(context: ChannelHandlerContext) {
        self.context = nil
    }

    func channelActive(context: ChannelHandlerContext) {
        guard loop.clients.count < loop.maxClientConnections else {
            // One connection more than the gateway takes: said so at once, and closed before it costs anything more.
            loop.metrics.rejected("too_many_connections")
            refused = true
            session.refused()
            context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: LocalResponse.tooManyConnections))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        clientAddress = context.channel.remoteAddress?.ipAddress ?? "unknown"
        localHost = context.channel.localAddress?.ipAddress
        forwarding = ForwardingLines(clientAddress: clientAddress, scheme: scheme)
        loop.clients[ObjectIdentifier(self)] = self
        loop.metrics.clientConnections.increment()
        awaitClient(now: loop.eventLoop.now)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        let wasActive = session.clientClosed()
        guard !refused else { return context.fireChannelInactive() }
        loop.clients.removeValue(forKey: ObjectIdentifier(self))
        loop.metrics.clientConnections.decrement()
        if wasActive { abandonExchange() }
        loop.sweeper.unregister(self)
        loop.sweeper.unregister(bodyPace)
        dropHeldBody()
        stash = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        if var pending = stash {
            stash = nil
            pending.writeBuffer(&input)
            input = pending
        }
        process(&input)
        if input.readableBytes > 0, session.acceptingRequests, !closed { stash = input }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        flushUpstreamIfNeeded()
        flushClientIfNeeded()
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        clientWritable = context.channel.isWritable
        if clientWritable { upstream?.resumeReading() }
        context.fireChannelWritabilityChanged()
    }

    func read(context: ChannelHandlerContext) {
        if reads.readRequested() { context.read() }
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is ChannelShouldQuiesceEvent {
            if session.quiesce(partialRequest: parser.isInMessage || stash != nil) == .closeNow {
                context.close(promise: nil)
            }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        context.close(promise: nil)
    }

    /// Closes the connection now (the drain timeout ran out).
    func forceClose() {
        context.close(promise: nil)
    }
}
