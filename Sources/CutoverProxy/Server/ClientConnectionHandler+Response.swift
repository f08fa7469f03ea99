import CutoverCore
import NIOCore

/// The response side of an exchange: what the backend answers, failures and
/// deadlines, and finishing the exchange.
extension ClientConnectionHandler {
    // MARK: - UpstreamExchange

    func upstreamAcquired(_ connection: UpstreamConnection) {
        guard active, waiting == .connection, !closed else {
            connection.release(reusable: true)
            return
        }
        inLine = false
        attach(connection, now: loop.eventLoop.now)
    }

    func upstreamLeftLine() {
        inLine = false
    }

    func upstreamAcquireFailed(_ failure: UpstreamFailure) {
        guard active, waiting == .connection else { return }
        inLine = false
        waiting = .nothing
        fail(failure)
    }

    func upstream(_ connection: UpstreamConnection, didReceive head: ResponseHead) {
        if head.isInformational {
            // Cutover answers `Expect: 100-continue` itself; other interim responses reach HTTP/1.1 clients.
            if exchange.response.passesInterim(status: head.status, clientMinor: clientMinor) {
                var buffer = allocator.buffer(capacity: head.raw.readableBytes)
                ResponseHeadWriter.writeInformational(head, into: &buffer)
                context.write(wrapOutboundOut(buffer), promise: nil)
                clientNeedsFlush = true
            }
            return
        }
        let keepAlive = session.answerStarts()
        let framing = ClientFraming.decide(head.framing, clientMinor: clientMinor, clientKeepAlive: keepAlive)
        exchange.response.head(status: head.status, framing: framing)
        exchange.shadowRun?.primaryHead(head, chunkedBody: head.framing == .chunked && framing.chunkMode == .raw)
        if exchange.evidence != nil {
            exchange.evidence?.head(head)
            exchange.evidence?.chunked = head.framing == .chunked && framing.chunkMode == .raw
        }
        // Reuse the previous response head's memory when its write has completed (the usual case).
        // The head is written with the first body bytes, so a small response leaves in one write.
        responseHead.clear()
        ResponseHeadWriter.write(head, framing: framing, clientMinor: clientMinor, into: &responseHead)
    }

    /// Writes the response head if it is still waiting for body bytes.
    func writePendingHead() {
        if exchange.response.takePendingHead() { writeHead() }
    }

    private func writeHead() {
        context.write(wrapOutboundOut(responseHead), promise: nil)
        clientNeedsFlush = true
    }

    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer) {
        guard exchange.response.started else { return }
        exchangeState.moved()
        exchange.shadowRun?.primaryBody(body)
        exchange.evidence?.body(body)
        switch exchange.response.body(count: body.readableBytes) {
        case .drop:
            return
        case .withHead:
            var body = body
            responseHead.writeBuffer(&body)
            writeHead()
        case .plain(let headFirst):
            if headFirst { writeHead() }
            context.write(wrapOutboundOut(body), promise: nil)
        case .chunk(let headFirst):
            if headFirst { writeHead() }
            guard body.readableBytes > 0 else { return }
            ChunkWriter.write(body, allocator: allocator) { context.write(wrapOutboundOut($0), promise: nil) }
        }
        clientNeedsFlush = true
        if !clientWritable { connection.pauseReading() }
    }

    func upstreamDidFinishResponse(_ connection: UpstreamConnection) {
        guard let ending = exchange.response.end() else { return }
        if ending.writeHead { writeHead() }
        if ending.lastChunk {
            context.write(wrapOutboundOut(ChunkWriter.lastChunk), promise: nil)
        }
        clientNeedsFlush = true
        upstream = nil
        connection.release(reusable: requestSide == .complete)
        exchange.shadowRun?.primaryFinished()
        exchange.shadowRun = nil
        finishEvidence()
        recordAnswered()
        finishExchange(close: ending.close)
    }

    func upstreamDidCompleteRead(_ connection: UpstreamConnection) {
        writePendingHead()
        flushClientIfNeeded()
    }

    func upstream(_ connection: UpstreamConnection, didFail failure: UpstreamFailure) {
        guard upstream === connection else { return }
        upstream = nil
        exchange.pool?.metricsForFailures.upstreamError(failure)
        switch exchangeState.upstreamFailed(failure, reused: connection.completedResponses > 0, responseStarted: exchange.response.started,
                                            idempotent: exchange.request.isIdempotent, hasBody: hasBody) {
        case .retryOnFreshConnection:
            // A pooled connection the backend had already closed: try once more on a new one.
            acquireUpstream(fresh: true, now: loop.eventLoop.now)
        case .fail(let failure):
            fail(failure)
        }
    }

    func upstreamWritabilityDidChange(_ connection: UpstreamConnection) {
        if connection.isWritable { release(.upstreamBackpressure) }
    }

    // MARK: - Deadlines

    func deadlinePassed() {
        guard context != nil else { return }
        switch exchangeState.deadlinePassed(active: active, inMessage: parser.isInMessage) {
        case .none:
            return
        case .requestTimedOut:
            // A request was under way and the client stopped sending it.
            if !active { beginBareExchange() }
            abandonUpstream()
            loop.metrics.rejected("client_timeout")
            session.closeAfterAnswer()
            respondLocally(status: 408, reason: "the client took longer than \(Quantities.format(.nanoseconds(runtime.clientTimeout.nanoseconds))) to send its request", recordMetrics: false)
        case .closeIdle:
            context.close(promise: nil)
        case .extend:
            deadline = loop.eventLoop.now + runtime.targets[routeTarget.backend].responseTimeout
            loop.sweeper.register(self)
        case .fail(let failure):
            if waiting == .connection {
                stopWaitingForConnection()
            } else {
                let connection = upstream
                upstream = nil
                connection?.close()
            }
            exchange.pool?.metricsForFailures.upstreamError(failure)
            fail(failure)
        }
    }

    // MARK: - Ending exchanges

    /// The backend could not answer: a local error response if nothing was sent yet, otherwise the connection closes.
    func fail(_ failure: UpstreamFailure) {
        writePendingHead()
        exchange.shadowRun?.primaryFailed()
        exchange.shadowRun = nil
        switch ExchangeState.answer(for: failure, responseStarted: exchange.response.started, requestComplete: requestSide == .complete) {
        case .cutResponse:
            recordAnswered()
            finishExchange(close: true)
        case .respond(let status, let retryAfter, let close):
            if close { session.closeAfterAnswer() }
            let headers = retryAfter ? [("Retry-After", LocalResponse.retryAfterSeconds)] : []
            respondLocally(status: status, reason: failure.description, recordMetrics: true, headers: headers)
        }
    }

    /// Writes a response of Cutover's own and finishes the exchange.
    func respondLocally(status: Int, reason: String, recordMetrics: Bool, headers: [(String, String)] = []) {
        exchange.shadowRun?.primaryFailed()
        exchange.shadowRun = nil
        let route = routeTarget.route.map { runtime.routeNames[$0] }
        let backendName = recordMetrics ? runtime.targets[routeTarget.backend].backend.name : nil
        let local = LocalResponse(status: status, reason: reason, route: route, backend: backendName, requestID: currentRequestID())
        answerLocally(status: status, headers: [("Content-Type", "application/json")] + headers, body: local.body, requestID: local.requestID,
                      recordMetrics: recordMetrics)
    }

    /// Writes a whole answer of the gateway's making (an error, a merged list page) and finishes the exchange.
    func answerLocally(status: Int, headers: [(String, String)], body: String, requestID: String?, recordMetrics: Bool) {
        let close = !session.keepsAlive
        var buffer = allocator.buffer(capacity: body.utf8.count + 256)
        LocalResponse.write(status: status, headers: headers, body: body, requestID: requestID, bodyless: isHEAD, close: close,
                            clientMinor: clientMinor, into: &buffer)
        context.write(wrapOutboundOut(buffer), promise: nil)
        clientNeedsFlush = true
        exchange.response.answeredLocally(status: status, close: close)
        if recordMetrics { recordAnswered() }
        finishExchange(close: close)
    }

    /// The request ID the backend got, or a new one when the request never got that far.
    func currentRequestID() -> String {
        if let location = exchange.requestIDLocation { return location.read(from: requestHead) }
        return exchange.clientRequestID ?? loop.requestIDs.make()
    }

    func recordAnswered() {
        let elapsed = loop.eventLoop.now - exchange.startTime
        loop.routeMetrics(runtime: runtime, route: routeTarget.route, backend: routeTarget.backend).record(status: exchange.response.status, nanoseconds: elapsed.nanoseconds)
        recordNewAnswer()
    }

    /// Ends the exchange; the connection either takes the next request or closes once its bytes are out.
    func finishExchange(close: Bool) {
        waiting = .nothing
        dropHeldBody()
        loop.sweeper.unregister(bodyPace)
        if session.finish(close: close) == .close {
            hold(.closing)
            stash = nil
            clientNeedsFlush = false
            loop.sweeper.unregister(self)
            let context = self.context!
            context.writeAndFlush(wrapOutboundOut(allocator.buffer(capacity: 0))).assumeIsolated().whenComplete { _ in
                context.close(promise: nil)
            }
            return
        }
        awaitClient(now: loop.eventLoop.now)
        flushClientIfNeeded()
        processStash()
    }

    /// The client went away mid-exchange: let go of the backend.
    func abandonExchange() {
        exchange.shadowRun?.primaryFailed()
        exchange.shadowRun = nil
        exchange.awaitingBody = nil
        exchange.aggregateRun?.abandon()
        exchange.aggregateRun = nil
        exchange.awaitingID = nil
        abandonUpstream()
    }

    /// Drops the backend side of the exchange: the connection closes (it holds an unfinished request) or the wait ends.
    func abandonUpstream() {
        if let connection = upstream {
            upstream = nil
            connection.close()
        }
        if waiting == .connection { stopWaitingForConnection() }
        waiting = .nothing
    }

    /// Stops waiting for a connection: a connection still to arrive for the old ticket is not taken, and a place in line is given up.
    func stopWaitingForConnection() {
        upstreamTicket &+= 1
        if inLine { exchange.pool?.withdraw() }
        inLine = false
        waiting = .nothing
    }
}
