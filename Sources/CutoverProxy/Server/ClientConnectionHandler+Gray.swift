import CutoverCore
import NIOCore

/// A routed request whose body is being read before it is sent on.
struct PendingLaunch {
    var head: RequestHead
    var targetOverride: String?
    var hostOverride: String?
}

/// A request held while its ID is read from its body.
struct HeldRequest {
    var head: RequestHead
    var route: Int
    var source: IDSource
    var targetOverride: String?
    var hostOverride: String?
}

/// The gray release on the data plane: routing by an ID read from a header or
/// the body, merging list pages from both sides, and the evidence the control
/// plane needs (IDs seen in answers, new's answers).
extension ClientConnectionHandler {
    /// The body is in (or has passed the bound): the ID decides the backend and the held request goes on.
    func resolveHeldID() {
        guard let held = exchange.awaitingID else { return }
        exchange.awaitingID = nil
        var id: Int64?
        if requestSide == .complete, requestBody.held <= IDSource.maxBodyBytes {
            var bytes: [UInt8] = []
            bytes.reserveCapacity(requestBody.held)
            // Held parts are body data (a chunked request's framing is already removed by the parser).
            for part in pendingBody { bytes.append(contentsOf: part.readableBytesView) }
            id = held.source.id(inBody: bytes)
        }
        exchange.plan = runtime.routing.resolve(route: held.route, id: id, method: held.head.method, flags: flags)
        dispatch(held.head, targetOverride: held.targetOverride, hostOverride: held.hostOverride)
    }

    /// Answers a list request of a route in `gray` from both sides' pages, merged.
    func startAggregate(_ head: RequestHead, _ list: RequestAdmission.ListRead, hostOverride: String?) {
        let (route, settings, path, query, limit) = (list.route, list.settings, list.path, list.query, list.limit)
        let routeName = runtime.routeNames[route]
        let requestID = currentRequestID()
        let (oldIndex, newIndex) = runtime.routing.sides(of: route)
        let run = AggregateRun(settings: settings, cursor: list.cursor, limit: limit) { [weak self] answer in
            guard let self, self.active else { return }
            self.exchange.aggregateRun = nil
            self.loop.metrics.aggregated(route: routeName, result: answer.error != nil ? "failed"
                                         : answer.headers.contains { $0.0 == "X-Cutover-Partial" } ? "partial" : "merged")
            if let error = answer.error {
                // A list shed at a full line says when to try again, like every 503 of the gateway.
                let headers = answer.status == 503 ? [("Retry-After", LocalResponse.retryAfterSeconds)] : []
                self.respondLocally(status: answer.status, reason: error, recordMetrics: true, headers: headers)
            } else {
                self.answerLocally(status: answer.status, headers: answer.headers, body: answer.body, requestID: requestID, recordMetrics: true)
            }
        }
        exchange.aggregateRun = run
        let raw = ByteBuffer(buffer: head.raw)
        let forwarding = self.forwarding
        run.start(now: exchange.startTime) { role, side in
            let index = role == .old ? oldIndex : newIndex
            let backend = runtime.targets[index]
            let sideTarget = AggregateRun.target(path: path, query: query, side: side, limit: limit, settings: settings)
            guard let buffer = RequestHeadWriter.head(from: raw, for: backend, targetOverride: sideTarget, hostOverride: hostOverride,
                                                      forwarding: forwarding, requestID: requestID, extraHeaders: []) else { return nil }
            return SideExchange(role: role, run: run, loop: loop, pool: loop.pools[index], head: buffer, chunked: false,
                                  isHEAD: false, timeout: backend.responseTimeout, cap: AggregateRun.cap)
        }
    }

    // MARK: - Evidence

    /// Starts keeping the answer's body when the route names where IDs are in it.
    func prepareEvidence(route: Int) {
        guard runtime.gray[route].maxIDSeen != nil else { return }
        exchange.evidence = AnswerCapture(cap: 1024 * 1024)
    }

    /// The answer is complete: the highest ID it names is the route's evidence for its side.
    func finishEvidence() {
        guard let capture = exchange.evidence, let route = routeTarget.route, let pointer = runtime.gray[route].maxIDSeen else { return }
        exchange.evidence = nil
        let response = PairEvaluation.response(capture.answer)
        guard (200..<300).contains(response.status), !response.truncated,
              let id = IDSource.maxID(in: response.body, at: pointer) else { return }
        loop.signals.sawID(route: runtime.routeNames[route], side: routeTarget.side, id: id)
    }

    /// Tells the control plane how new answered, for the gates and automatic rollback.
    func recordNewAnswer() {
        guard routeTarget.side == .new, let route = routeTarget.route else { return }
        let elapsed = loop.eventLoop.now - exchange.startTime
        loop.newAnswer(route: runtime.routeNames[route], error: exchange.response.status >= 500 || exchange.response.status == 0, latency: .nanoseconds(elapsed.nanoseconds))
    }
}
