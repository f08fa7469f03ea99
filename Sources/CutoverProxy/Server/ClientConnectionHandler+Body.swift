import CutoverCore
import NIOCore

/// The request body on its way: held (and counted against the loop's `buffer_memory`) until a connection takes it,
/// paced (``BodyPace``), bounded by the route's `max_body_bytes`, and written to the backend as it was framed.
extension ClientConnectionHandler {
    /// Body bytes of the request: held, or written to the backend.
    func receiveBody(_ body: ByteBuffer) {
        switch requestBody.arrived(body.readableBytes, holdingForID: exchange.awaitingID != nil, readingAhead: exchange.awaitingBody != nil,
                                   connected: upstream != nil) {
        case .tooLarge:
            bodyTooLarge()
        case .holdForID(let resolve):
            keep(body)
            if resolve { resolveHeldID() }
        case .forward:
            exchange.shadowRun?.requestBody(body)
            guard let upstream else { return }
            writeBodyUpstream(body)
            upstreamNeedsFlush = true
            exchangeState.moved()
            if !upstream.isWritable { hold(.upstreamBackpressure) }
        case .hold(let launchNow, let pauseReads):
            exchange.shadowRun?.requestBody(body)
            keep(body)
            if launchNow, let pending = exchange.awaitingBody {
                exchange.awaitingBody = nil
                launch(pending, now: loop.eventLoop.now)
            }
            if pauseReads { hold(.buffering) }
        }
    }

    /// Keeps body bytes until a connection takes them, counted against the loop's `buffer_memory` share.
    private func keep(_ part: ByteBuffer) {
        pendingBody.append(part)
        loop.heldBodyBytes += part.readableBytes
    }

    /// Lets go of the held body bytes (written to the backend, or no longer wanted).
    func dropHeldBody() {
        loop.heldBodyBytes -= requestBody.release()
        if !pendingBody.isEmpty { pendingBody.removeAll(keepingCapacity: true) }
    }

    /// The body has not kept pace (``BodyPace``): unless it picked up, the request is refused with 408
    /// (or, with the answer under way, the connection closes).
    func bodyPaceDeadlinePassed() {
        guard session.takesBody, context != nil else { return }
        let now = loop.eventLoop.now
        if reads.gatewayHoldsBody {
            // The gateway is not reading the body (its backend is not taking it): the client is not the one pausing.
            bodyPace.deadline = bodyPace.excuse(bytes: requestBody.received, now: now)
            loop.sweeper.register(bodyPace)
            return
        }
        if let next = bodyPace.check(bytes: requestBody.received, now: now) {
            bodyPace.deadline = next
            loop.sweeper.register(bodyPace)
            return
        }
        loop.metrics.rejected("body_timeout")
        guard !exchange.response.started else {
            context.close(promise: nil)
            return
        }
        abandonUpstream()
        session.closeAfterAnswer()
        let limits = routeTarget.route.map { runtime.routing.routeLimits[$0] } ?? runtime.limits
        respondLocally(status: 408, reason: "the request body arrived too slowly: \(requestBody.received) bytes in \(Quantities.format(.nanoseconds((now - exchange.startTime).nanoseconds))) "
                       + "(nothing for \(Quantities.format(limits.bodyTimeout)) or below \(limits.bodyMinRate) bytes/s after it)", recordMetrics: false)
    }

    func receiveEnd() {
        session.requestCompleted()
        loop.sweeper.unregister(bodyPace)
        if exchange.awaitingID != nil { return resolveHeldID() }
        exchange.shadowRun?.requestEnd()
        if upstream != nil, exchange.request.isChunked {
            writeEndUpstream()
            upstreamNeedsFlush = true
        } else if let pending = exchange.awaitingBody {
            exchange.awaitingBody = nil
            launch(pending, now: loop.eventLoop.now)
        }
    }

    /// Writes body data to the backend, re-chunked when the request is chunked.
    func writeBodyUpstream(_ body: ByteBuffer) {
        guard let upstream, body.readableBytes > 0 else { return }
        if exchange.request.isChunked {
            ChunkWriter.write(body, allocator: allocator) { upstream.write($0) }
        } else {
            upstream.write(body)
        }
    }

    /// Ends a chunked request body (its trailers are not forwarded).
    func writeEndUpstream() {
        guard exchange.request.isChunked, let upstream else { return }
        upstream.write(ChunkWriter.lastChunk)
    }

    func bodyTooLarge() {
        loop.metrics.rejected("body_too_large")
        guard !exchange.response.started else {
            context.close(promise: nil)
            return
        }
        abandonUpstream()
        session.closeAfterAnswer()
        respondLocally(status: 413, reason: "request body is larger than the limit of \(requestBody.limit) bytes", recordMetrics: false)
    }
}
