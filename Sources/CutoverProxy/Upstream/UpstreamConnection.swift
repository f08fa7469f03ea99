import NIOCore
import NIOSSL
import NIOTLS
#if canImport(Glibc)
import Glibc
#endif

/// One connection to a backend: it writes requests, frames the responses as
/// they arrive and hands the pieces to the exchange that leased it.
/// Confined to its channel's event loop.
final class UpstreamConnection: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    private enum State {
        /// TCP (and TLS) not yet ready.
        case connecting
        /// Ready, in the pool.
        case idle
        /// Leased to an exchange.
        case leased
        /// Closed or closing.
        case closed
    }

    private let pool: UpstreamPool
    private var state: State = .connecting
    private var context: ChannelHandlerContext?
    private var parser = ResponseParser()
    private var lastError: UpstreamFailure?
    /// The backend reset the connection (ECONNRESET): a body that ends with the connection was cut, not ended.
    private var sawReset = false
    private var readHeld = false
    private var readPending = false
    private var responseReusable = false

    /// The exchange the connection is leased to.
    private(set) var owner: (any UpstreamExchange)?
    /// The acquisition the connection is being established for.
    var initialWaiter: UpstreamPool.Waiter?
    /// How many responses this connection has completed; above zero means it came from the pool.
    private(set) var completedResponses = 0
    /// Whether TLS must finish its handshake before the connection is ready.
    let usesTLS: Bool

    init(pool: UpstreamPool, usesTLS: Bool) {
        self.pool = pool
        self.usesTLS = usesTLS
    }

    // MARK: - Used by the pool and the exchange

    /// Whether the connection can take a request now. A closed channel always
    /// delivers `channelInactive`, which moves the state to `.closed`.
    var isUsable: Bool { state == .idle }

    /// Whether request bytes can be written without building up a backlog.
    private(set) var isWritable = true

    /// Hands the connection to an exchange.
    func lease(to exchange: any UpstreamExchange) {
        precondition(state == .idle, "only an idle connection can be leased")
        state = .leased
        owner = exchange
    }

    /// Prepares the parser for the response to the request about to be written.
    func expectResponse(toHEAD isHEAD: Bool, chunkMode: ChunkedDecoder.Mode) {
        parser.expectResponse(toHEAD: isHEAD, chunkMode: chunkMode)
        responseReusable = false
    }

    /// Writes request bytes; `flush()` sends them.
    func write(_ buffer: ByteBuffer) {
        context?.write(wrapOutboundOut(buffer), promise: nil)
    }

    /// Sends what has been written.
    func flush() {
        context?.flush()
    }

    /// Stops reading from the backend (the client is not keeping up).
    func pauseReading() {
        readHeld = true
    }

    /// Resumes reading from the backend.
    func resumeReading() {
        guard readHeld else { return }
        readHeld = false
        if readPending, let context {
            readPending = false
            context.read()
        }
    }

    /// Ends the lease: back to the pool when the exchange completed cleanly and
    /// the backend allows reuse, otherwise closed.
    func release(reusable: Bool) {
        guard state == .leased else { return }
        owner = nil
        readHeld = false
        if reusable, responseReusable {
            completedResponses += 1
            state = .idle
            if readPending, let context {
                readPending = false
                context.read()
            }
            pool.release(self)
        } else {
            close()
        }
    }

    /// Closes the connection; an owner still attached is not told.
    func close() {
        owner = nil
        guard state != .closed else { return }
        state = .closed
        context?.close(promise: nil)
    }

    // MARK: - Channel events

    func handlerAdded(context: ChannelHandlerContext) {
        self.context = context
        if context.channel.isActive, !usesTLS { becameReady() }
    }

    func channelActive(context: ChannelHandlerContext) {
        if !usesTLS { becameReady() }
        context.fireChannelActive()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if let event = event as? TLSUserEvent, case .handshakeCompleted = event {
            becameReady()
        }
        context.fireUserInboundEventTriggered(event)
    }

    private func becameReady() {
        guard state == .connecting else { return }
        state = .idle
        pool.connectionReady(self)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        guard state == .leased, let owner else {
            // Bytes nobody asked for: the connection cannot be trusted for another request.
            close()
            return
        }
        do {
            while true {
                switch try parser.next(&input) {
                case .head(let head):
                    responseReusable = head.keepAlive
                    owner.upstream(self, didReceive: head)
                case .body(let body):
                    owner.upstream(self, didReceiveBody: body)
                case .end:
                    if input.readableBytes > 0 { responseReusable = false }
                    owner.upstreamDidFinishResponse(self)
                    return
                case .needMoreData:
                    return
                }
                guard state == .leased, self.owner === owner else { return }
            }
        } catch {
            fail(.protocolError(error.description))
        }
    }

    func channelReadComplete(context: ChannelHandlerContext) {
        owner?.upstreamDidCompleteRead(self)
        context.fireChannelReadComplete()
    }

    func channelWritabilityChanged(context: ChannelHandlerContext) {
        isWritable = context.channel.isWritable
        owner?.upstreamWritabilityDidChange(self)
        context.fireChannelWritabilityChanged()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        if error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError {
            lastError = .tls(String(describing: error))
        } else if lastError == nil {
            lastError = .reset
        }
        if let error = error as? IOError, error.errnoCode == ECONNRESET { sawReset = true }
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        let previous = state
        state = .closed
        switch previous {
        case .connecting:
            pool.connectionFailed(self, lastError ?? .connectFailed("connection closed during setup"))
        case .leased:
            if let owner {
                // A body that ends with the connection is complete when the backend closed it (a TLS backend that
                // skips close_notify included, as browsers and nginx take it); a reset cut it.
                if parser.readsUntilClose, !sawReset, case .end? = parser.inputClosed() {
                    responseReusable = false
                    owner.upstreamDidFinishResponse(self)
                } else {
                    self.owner = nil
                    owner.upstream(self, didFail: lastError ?? .reset)
                }
            }
        case .idle, .closed:
            break
        }
        owner = nil
        pool.connectionClosed(self)
        self.context = nil
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if readHeld {
            readPending = true
        } else {
            context.read()
        }
    }

    /// Reports a failure to the owner and closes.
    private func fail(_ failure: UpstreamFailure) {
        let owner = self.owner
        lastError = failure
        close()
        owner?.upstream(self, didFail: failure)
    }

    /// Closes the connection if it is still being set up (its connect deadline passed).
    func abandonSetup() {
        guard state == .connecting else { return }
        lastError = .connectTimeout
        context?.close(promise: nil)
    }
}
