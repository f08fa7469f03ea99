import CutoverCore
import NIOCore

/// The request side of an exchange: admitting a request, routing it, and
/// streaming its body to the backend.
extension ClientConnectionHandler {
    /// Begins an exchange with no usable request head (a request that could not be parsed).
    func beginBareExchange() {
        resetExchange()
        session.begin(keepAlive: true)
        exchange.startTime = loop.eventLoop.now
    }

    /// Starts a new exchange from nothing: the loop's current configuration and flags, a new exchange value, and the
    /// previous exchange's held body and pace given up.
    func resetExchange() {
        snapshot = loop.snapshot
        exchange = CurrentExchange(defaultBackend: runtime.routing.defaultBackend)
        dropHeldBody()
        requestBody.reset()
        loop.sweeper.unregister(bodyPace)
        exchangeState.reset()
    }

    /// Admits, routes and starts forwarding a request (``RequestAdmission`` decides; this carries it out).
    func startExchange(_ head: RequestHead) {
        resetExchange()
        session.begin(keepAlive: head.keepAlive)
        exchange.startTime = loop.eventLoop.now
        parser.maxHeadBytes = runtime.limits.maxHeaderBytes
        exchange.request = RequestFacts(head)
        if head.upgrade {
            // Cutover does not proxy protocol upgrades: the request is answered without one, then the connection closes.
            session.closeAfterAnswer()
        }
        if let range = head.requestID { exchange.clientRequestID = head.text(range) }

        let admission = RequestAdmission.admit(head, runtime: runtime, flags: flags, localHost: localHost,
                                               bodyMemoryFull: loop.heldBodyBytes >= loop.bufferBudget)
        exchange.plan = admission.plan
        let limits = admission.limits
        requestBody.bound(limit: limits.maxBodyBytes, readAhead: limits.requestBuffer)
        let targetOverride = admission.targetOverride, hostOverride = admission.hostOverride
        switch admission.next {
        case .refuse(let refusal):
            refuse(refusal.status, refusal.reason, label: refusal.label,
                   headers: refusal.retryAfter ? [("Retry-After", LocalResponse.retryAfterSeconds)] : [])
        case .dispatch:
            admitBody(admission)
            dispatch(head, targetOverride: targetOverride, hostOverride: hostOverride)
        case .holdForBodyID(let route, let source):
            admitBody(admission)
            exchange.awaitingID = HeldRequest(head: head, route: route, source: source, targetOverride: targetOverride, hostOverride: hostOverride)
            // The body is needed before a backend is chosen: ask for it now (its pace is bounded by `body_timeout`).
            if requestBody.bodyWanted() { sendContinue() }
        case .aggregate(let list):
            startAggregate(head, list, hostOverride: hostOverride)
        }
    }

    /// An admitted request's body is expected: its pace is watched, and the client is told to send it when it asked.
    private func admitBody(_ admission: RequestAdmission) {
        if hasBody {
            bodyPace.begin(now: exchange.startTime, limits: admission.limits)
            loop.sweeper.register(bodyPace)
        }
        if admission.expectsContinue { requestBody.clientExpectsContinue() }
    }

    /// Sends a routed request on its way: its head written for the decided backend, copies started
    /// for a shadow route, and a connection asked for (a chunked body's first bytes are held first).
    func dispatch(_ head: RequestHead, targetOverride: String?, hostOverride: String?) {
        let target = routeTarget
        if target.missingID, let route = target.route { loop.metrics.missingID(route: runtime.routeNames[route]) }
        if case .reject(_, let status, let reason, let label) = exchange.plan {
            return refuse(status, reason, label: label)
        }
        let backend = runtime.targets[target.backend]
        let writer = RequestHeadWriter(targetOverride: targetOverride, hostOverride: backend.backend.hostHeader ?? hostOverride,
                                       defaultHost: backend.authority, forwarding: forwarding)
        // The head is written into the buffer of the previous request: by now that write has
        // completed, so clearing it reuses its memory instead of allocating.
        requestHead.clear()
        exchange.requestIDLocation = writer.write(head, into: &requestHead, ids: &loop.requestIDs)
        exchange.pool = loop.pools[target.backend]
        if let route = target.route { prepareEvidence(route: route) }
        let pending = PendingLaunch(head: head, targetOverride: targetOverride, hostOverride: hostOverride)
        if hasBody, requestSide != .complete, requestBody.readsAhead {
            // Read the body (up to `request_buffer`) before anything reaches a backend: a body that fits is checked
            // whole (framing, size limit) first, and a slow client never holds a backend connection while it sends.
            exchange.awaitingBody = pending
            if requestBody.bodyWanted() { sendContinue() }
            return
        }
        launch(pending, now: exchange.startTime)
    }

    /// Sends a request that passed every check: copies started for a shadow route (or a gray read comparison),
    /// and a connection asked for. The body held so far reaches the copies too.
    func launch(_ pending: PendingLaunch, now: NIODeadline) {
        let head = pending.head
        switch CopyDecision.decide(exchange.plan, runtime: runtime, method: head.method, framing: head.framing, requestID: currentRequestID) {
        case .none:
            break
        case .skipped(let route, let reason):
            loop.shadowCounts.skipped(route: runtime.routeNames[route], reason: reason)
        case .copy(let copies):
            startShadow(head, copies, targetOverride: pending.targetOverride, hostOverride: pending.hostOverride)
        }
        if let shadowRun = exchange.shadowRun {
            for part in pendingBody { shadowRun.requestBody(part) }
            if requestSide == .complete { shadowRun.requestEnd() }
        }
        acquireUpstream(fresh: false, now: now)
    }

    /// Tells an HTTP/1.1 client that asked (`Expect: 100-continue`) to send its body.
    func sendContinue() {
        context.writeAndFlush(wrapOutboundOut(ByteBuffer(staticString: "HTTP/1.1 100 Continue\r\n\r\n")), promise: nil)
    }

    /// Starts a request's copies (``CopyDecision`` decided where they go).
    func startShadow(_ head: RequestHead, _ copies: CopyDecision.Copies, targetOverride: String?, hostOverride: String?) {
        let (mirror, noise) = (copies.mirror, copies.noise)
        let routeName = runtime.routeNames[copies.route]
        let requestID = currentRequestID()
        let raw = ByteBuffer(buffer: head.raw)
        let forwarding = self.forwarding
        let mirrorTarget = runtime.targets[mirror]
        let noiseTarget = noise.map { runtime.targets[$0] }
        // Each copy's head is written from the client's, for its own backend, marked as a shadow copy.
        func headFor(_ target: BackendTarget) -> ([(String, String)]) -> ByteBuffer? {
            { extra in
                RequestHeadWriter.head(from: raw, for: target, targetOverride: targetOverride, hostOverride: hostOverride, forwarding: forwarding,
                                       requestID: requestID, extraHeaders: [("X-Cutover-Shadow", "1")] + extra)
            }
        }
        let run = ShadowRun(loop: loop, route: routeName, rules: runtime.compare[copies.route], settings: copies.settings, timeout: copies.timeout,
                            requestID: requestID, requestHead: raw, isHEAD: isHEAD, chunked: exchange.request.isChunked,
                            primarySide: copies.primarySide, copyPool: loop.mirrorPools[mirror], noisePool: noise.map { loop.mirrorPools[$0] },
                            makeHead: headFor(mirrorTarget), makeNoiseHead: noiseTarget.map(headFor))
        exchange.shadowRun = run
        run.start(now: exchange.startTime)
    }

    /// Asks the route's pool for a connection; the exchange waits (with a deadline) when none is ready.
    /// `now` is the loop's time, read once by the caller.
    func acquireUpstream(fresh: Bool, now: NIODeadline) {
        guard let pool = exchange.pool, !pool.isRetired else {
            return fail(.poolExhausted)
        }
        upstreamTicket &+= 1
        waiting = .connection
        let acquisition = pool.acquire(for: self, fresh: fresh)
        switch acquisition {
        case .leased(let connection):
            attach(connection, now: now)
        case .queued, .connecting:
            if case .queued = acquisition { inLine = true }
            guard waiting == .connection else { return }
            // Not failed synchronously: wait for the pool, up to the connect timeout.
            deadline = now + pool.target.connectTimeout
            loop.sweeper.register(self)
        case .refused:
            // The main pools queue, and have no breaker: a refusal is a full line.
            pool.metricsForFailures.upstreamError(.queueFull)
            fail(.queueFull)
        }
    }

    /// Starts sending the request on a leased connection.
    func attach(_ connection: UpstreamConnection, now: NIODeadline) {
        upstream = connection
        waiting = .response
        connection.expectResponse(toHEAD: isHEAD, chunkMode: ClientFraming.chunkMode(clientMinor: clientMinor))
        connection.write(requestHead)
        if requestBody.bodyWanted() { sendContinue() }
        for part in pendingBody { writeBodyUpstream(part) }
        dropHeldBody()
        if requestSide == .complete { writeEndUpstream() }
        upstreamNeedsFlush = false
        connection.flush()
        deadline = now + runtime.targets[routeTarget.backend].responseTimeout
        exchangeState.responseDeadlineSet()
        loop.sweeper.register(self)
        release(.buffering)
        if !connection.isWritable { hold(.upstreamBackpressure) }
    }

    /// Refuses a request before it reaches a backend. When a body may follow, the connection closes after the answer.
    func refuse(_ status: Int, _ reason: String, label: String, headers: [(String, String)] = []) {
        loop.metrics.rejected(label)
        if hasBody {
            session.closeAfterAnswer()
        } else {
            // Nothing follows the head: the connection can take the next request.
            session.requestCompleted()
        }
        respondLocally(status: status, reason: reason, recordMetrics: false, headers: headers)
    }
}
