import CutoverCore
import NIOCore

/// One request of a route in phase shadow (or a gray read comparison): the answer the client got from the primary
/// side, the copy sent to the other side (and, in shadow, to the second old instance for the noise baseline), and
/// the pair they make once all are in, handed to the comparator's queue with old's answer as old and new's as new.
/// The client's exchange feeds it and never waits for it. Confined to the event loop.
final class ShadowRun: SideExchangeOwner {
    let loop: LoopContext
    let route: String
    let rules: CompareRules
    let settings: ShadowSettings
    let requestID: String
    /// The client's head (a copy), for the sample and, with `after-primary`, to build new's head late.
    let requestHead: ByteBuffer
    private let makeHead: (_ extra: [(String, String)]) -> ByteBuffer?
    private let isHEAD: Bool
    private let chunked: Bool
    private let copyPool: UpstreamPool
    private let timeout: TimeAmount
    private var copy: SideExchange?
    private var noise: SideExchange?
    private var primary: AnswerCapture
    private var primaryDone = false
    private var copyOutcome: SideOutcome?
    private var noiseOutcome: SideOutcome?
    private var noiseAsked: Bool
    private var abandoned = false
    private var bodyBytes = 0
    /// With `after-primary`: the body, kept until the primary side has answered.
    private var heldBody: [ByteBuffer] = []
    private var requestComplete = false
    /// The side that answers the client: old in shadow; in a gray read comparison, the side the ID routes to (the
    /// copy goes to the other one).
    let primarySide: RoutingTarget.Side
    /// When the copy to new was sent.
    private var copyStarted = NIODeadline.now()

    init(loop: LoopContext, route: String, rules: CompareRules, settings: ShadowSettings, timeout: TimeAmount, requestID: String,
         requestHead: ByteBuffer, isHEAD: Bool, chunked: Bool, primarySide: RoutingTarget.Side = .old, copyPool: UpstreamPool,
         noisePool: UpstreamPool?,
         makeHead: @escaping (_ extra: [(String, String)]) -> ByteBuffer?,
         makeNoiseHead: ((_ extra: [(String, String)]) -> ByteBuffer?)?) {
        self.loop = loop
        self.route = route
        self.rules = rules
        self.settings = settings
        self.timeout = timeout
        self.requestID = requestID
        self.requestHead = requestHead
        self.isHEAD = isHEAD
        self.chunked = chunked
        self.copyPool = copyPool
        self.primarySide = primarySide
        self.makeHead = makeHead
        self.primary = AnswerCapture(cap: settings.maxBody)
        self.noiseAsked = noisePool != nil
        if let noisePool, let head = makeNoiseHead?([]) {
            noise = SideExchange(role: .noise, run: self, loop: loop, pool: noisePool, head: head, chunked: chunked,
                                   isHEAD: isHEAD, timeout: timeout, cap: settings.maxBody)
        } else {
            noiseAsked = false
        }
    }

    /// Sends the copies that go out with the request (all but an `after-primary` one).
    func start(now: NIODeadline) {
        if let noise, noise.start(now: now) != nil {
            // The second old instance has no connection free: the pair goes without its noise baseline.
            self.noise = nil
            noiseAsked = false
        }
        if settings.order == .parallel { startCopy(extra: [], now: now) }
    }

    /// Sends the copy to new. A copy that cannot have a connection at once is dropped and counted (`skipped`,
    /// reason `new_busy`): a slow or hanging new never builds a queue on the gateway; one held back because new
    /// keeps failing copies is counted as `new_failing`.
    private func startCopy(extra: [(String, String)], now: NIODeadline) {
        guard let head = makeHead(extra) else {
            copyOutcome = .failed("could not build the request for new")
            return
        }
        copyStarted = now
        let copy = SideExchange(role: .copy, run: self, loop: loop, pool: copyPool, head: head, chunked: chunked,
                                    isHEAD: isHEAD, timeout: timeout, cap: settings.maxBody)
        // Held before it starts: a copy that finishes at once (a pool being retired) reports to a run that knows it.
        self.copy = copy
        if let refusal = copy.start(now: now) {
            self.copy = nil
            loop.shadowCounts.skipped(route: route, reason: refusal == .busy ? "new_busy" : "new_failing")
            return abandon()
        }
        loop.shadowCounts.mirrored(route: route)
        guard self.copy === copy else { return }
        for part in heldBody { copy.send(body: part) }
        heldBody.removeAll()
        if requestComplete { copy.endOfRequest() }
    }

    // MARK: - From the client's exchange

    func requestBody(_ part: ByteBuffer) {
        guard !abandoned else { return }
        bodyBytes += part.readableBytes
        if bodyBytes > settings.maxBody {
            loop.shadowCounts.skipped(route: route, reason: "body_too_large")
            return abandon()
        }
        noise?.send(body: part)
        if let copy {
            copy.send(body: part)
        } else if settings.order == .afterPrimary {
            heldBody.append(part)
        }
    }

    func requestEnd() {
        guard !abandoned else { return }
        requestComplete = true
        noise?.endOfRequest()
        copy?.endOfRequest()
    }

    func primaryHead(_ head: ResponseHead, chunkedBody: Bool) {
        primary.head(head)
        primary.chunked = chunkedBody
    }

    func primaryBody(_ bytes: ByteBuffer) {
        guard !abandoned else { return }
        primary.body(bytes)
    }

    func primaryFinished() {
        guard !abandoned else { return }
        primaryDone = true
        if settings.order == .afterPrimary, copy == nil, copyOutcome == nil {
            guard (200..<300).contains(primary.status) else {
                loop.shadowCounts.skipped(route: route, reason: "old_not_2xx")
                return abandon()
            }
            startCopy(extra: primaryHeaderValues(), now: loop.eventLoop.now)
        }
        completeIfReady()
    }

    /// Old gave no complete answer: there is nothing to compare.
    func primaryFailed() {
        guard !abandoned else { return }
        loop.shadowCounts.skipped(route: route, reason: "old_failed")
        abandon()
    }

    private func abandon() {
        abandoned = true
        copy?.abandon()
        noise?.abandon()
        copy = nil
        noise = nil
        heldBody.removeAll()
    }

    /// Values from the primary's answer for the copy's headers (`primary_headers`), read with JSON pointers.
    private func primaryHeaderValues() -> [(String, String)] {
        guard !settings.primaryHeaders.isEmpty, !primary.truncated else { return [] }
        var body = primary.body
        if primary.chunked { body = ChunkedDecoder.dechunk(body) ?? body }
        guard let document = JSONDocument.parse(Array(body.readableBytesView)) else { return [] }
        return settings.primaryHeaders.compactMap { header in
            guard let value = document.root.value(at: header.pointer) else { return nil }
            let text = value.kind == .string ? (value.string ?? "") : value.text
            guard !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else { return nil }
            return (header.name, text)
        }
    }

    // MARK: - From the copies

    func sideExchangeFailed(_ exchange: SideExchange, kind: String) {
        if exchange.role == .copy { loop.shadowCounts.mirrorFailed(route: route, kind: kind) }
    }

    func sideExchangeFinished(_ exchange: SideExchange, _ outcome: SideOutcome) {
        guard !abandoned else { return }
        switch exchange.role {
        case .copy:
            copyOutcome = outcome
            copy = nil
            // New's answers in shadow count toward its error rate (the gates read them).
            if primarySide == .old {
                let error = outcome.answer.map { $0.status >= 500 } ?? true
                loop.newAnswer(route: route, error: error, latency: .nanoseconds((loop.eventLoop.now - copyStarted).nanoseconds))
            }
        case .noise:
            noiseOutcome = outcome
            noise = nil
        case .old, .new:
            break
        }
        completeIfReady()
    }

    private func completeIfReady() {
        guard primaryDone, !abandoned, let copyOutcome, !noiseAsked || noiseOutcome != nil else { return }
        abandoned = true
        switch primarySide {
        case .old:
            loop.diffQueue.offer(ShadowPair(route: route, rules: rules, requestID: requestID, requestHead: requestHead, old: primary.answer,
                                            new: copyOutcome, noise: noiseOutcome?.answer))
        case .new:
            // The client's answer came from new; old's is the copy's, and without it there is nothing to hold new to.
            guard let oldAnswer = copyOutcome.answer else {
                loop.shadowCounts.skipped(route: route, reason: "old_failed")
                return
            }
            loop.diffQueue.offer(ShadowPair(route: route, rules: rules, requestID: requestID, requestHead: requestHead, old: oldAnswer,
                                            new: .answered(primary.answer), noise: nil))
        }
    }
}
