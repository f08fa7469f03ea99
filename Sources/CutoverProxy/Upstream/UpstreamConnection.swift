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

    private let pool: UpstreamPool
    /// What the connection is and knows; this handler carries out what its events return.
    private var state = UpstreamConnectionState()
    private var context: ChannelHandlerContext?

    /// The exchange the connection is leased to.
    private(set) var owner: (any UpstreamExchange)?
    /// The acquisition the connection is being established for.
    var initialWaiter: UpstreamPool.Waiter?
    /// How many responses this connection has completed; above zero means it came from the pool.
    var completedResponses: Int { state.completedResponses }
    /// Whether TLS must finish its handshake before the connection is ready.
    let usesTLS: Bool

    init(pool: UpstreamPool, usesTLS: Bool) {
        self.pool = pool
        self.usesTLS = usesTLS
    }

    // MARK: - Used by the pool and the exchange

    /// Whether the connection can take a request now. A closed channel always
    /// delivers `channelInactive`, which moves the state to `.closed`.
    var isUsable: Bool { state.isUsable }

    /// Whether request bytes can be written without building up a backlog.
    private(set) var isWritable = true

    /// Hands the connection to an exchange.
    func lease(to exchange: any UpstreamExchange) {
        state.lease()
        owner = exchange
    }

    /// Prepares the parser for the response to the request about to be written.
    func expectResponse(toHEAD isHEAD: Bool, chunkMode: ChunkedDecoder.Mode) {
        state.expectResponse(toHEAD: isHEAD, chunkMode: chunkMode)
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
        state.pauseReading()
    }

    /// Resumes reading from the backend.
    func resumeReading() {
        if state.resumeReading() { context?.read() }
    }

    /// Ends the lease: back to the pool when the exchange completed cleanly and
    /// the backend allows reuse, otherwise closed.
    func release(reusable: Bool) {
        switch state.release(reusable: reusable) {
        case .toPool(let read):
            owner = nil
            if read { context?.read() }
            pool.release(self)
        case .close:
            close()
        case .none:
            break
        }
    }

    /// Closes the connection; an owner still attached is not told.
    func close() {
        owner = nil
        if state.close() { context?.close(promise: nil) }
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
        if state.ready() { pool.connectionReady(self) }
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var input = unwrapInboundIn(data)
        guard state.phase == .leased, let owner else {
            // Bytes nobody asked for: the connection cannot be trusted for another request.
            close()
            return
        }
        do {
            while true {
                switch try state.next(&input) {
                case .head(let head):
                    owner.upstream(self, didReceive: head)
                case .body(let body):
                    owner.upstream(self, didReceiveBody: body)
                case .end:
                    owner.upstreamDidFinishResponse(self)
                    return
                case .needMoreData:
                    return
                }
                guard state.phase == .leased, self.owner === owner else { return }
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
        let isTLS = error is NIOSSLError || error is BoringSSLError || error is NIOSSLExtraError
        let isReset = (error as? IOError)?.errnoCode == ECONNRESET
        state.errorCaught(tls: isTLS ? String(describing: error) : nil, reset: isReset)
        context.close(promise: nil)
    }

    func channelInactive(context: ChannelHandlerContext) {
        switch state.channelEnded() {
        case .setupFailed(let failure):
            pool.connectionFailed(self, failure)
        case .responseComplete:
            owner?.upstreamDidFinishResponse(self)
        case .failed(let failure):
            if let owner {
                self.owner = nil
                owner.upstream(self, didFail: failure)
            }
        case .quiet:
            break
        }
        owner = nil
        pool.connectionClosed(self)
        self.context = nil
        context.fireChannelInactive()
    }

    func read(context: ChannelHandlerContext) {
        if state.readRequested() { context.read() }
    }

    /// Reports a failure to the owner and closes.
    private func fail(_ failure: UpstreamFailure) {
        let owner = self.owner
        state.failed(failure)
        close()
        owner?.upstream(self, didFail: failure)
    }

    /// Closes the connection if it is still being set up (its connect deadline passed).
    func abandonSetup() {
        if state.abandonSetup() { context?.close(promise: nil) }
    }
}
