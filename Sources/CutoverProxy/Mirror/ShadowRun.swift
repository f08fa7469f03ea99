import CutoverCore
import NIOCore

/// One request of a route in phase shadow: the copies sent to new (and to the
/// second old instance), old's captured answer, and the pair they make once all
/// are in, handed to the comparator's queue. The client's exchange feeds it and
/// never waits for it. Confined to the event loop.
final class ShadowRun: MirrorOwner {
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
    private let mirrorPool: UpstreamPool
    private let timeout: TimeAmount
    private var mirror: MirrorExchange?
    private var noise: MirrorExchange?
    private var old: AnswerCapture
    private var oldDone = false
    private var newOutcome: MirrorOutcome?
    private var noiseOutcome: MirrorOutcome?
    private var noiseAsked: Bool
    private var abandoned = false
    private var bodyBytes = 0
    /// With `after-primary`: the body, kept until old has answered.
    private var heldBody: [ByteBuffer] = []
    private var requestComplete = false
    /// A gray read comparison where new answered the client: the captured answer is new's and the copy goes to old.
    var swapped = false
    /// When the copy to new was sent.
    private var mirrorStarted = NIODeadline.now()

    /// Why a request of a shadow route is not copied, or nil to copy it.
    static func skipReason(settings: ShadowSettings, method: RequestHead.Method, requestID: String, bodyLength: Int?) -> String? {
        let isWrite = !(method == .get || method == .head || method == .options || method == .trace)
        if isWrite, settings.writes == .skip { return "write" }
        if settings.sample < 1, Self.sampleFraction(requestID) >= settings.sample { return "sample" }
        if let bodyLength, bodyLength > settings.maxBody { return "body_too_large" }
        return nil
    }

    /// Where a request ID falls in [0, 1): the same ID always lands in the same place.
    static func sampleFraction(_ requestID: String) -> Double {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for byte in requestID.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 }
        return Double(hash >> 11) / Double(1 << 53)
    }

    init(loop: LoopContext, route: String, rules: CompareRules, settings: ShadowSettings, timeout: TimeAmount, requestID: String,
         requestHead: ByteBuffer, isHEAD: Bool, chunked: Bool, mirrorPool: UpstreamPool, noisePool: UpstreamPool?,
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
        self.mirrorPool = mirrorPool
        self.makeHead = makeHead
        self.old = AnswerCapture(cap: settings.maxBody)
        self.noiseAsked = noisePool != nil
        if let noisePool, let head = makeNoiseHead?([]) {
            noise = MirrorExchange(role: .noise, run: self, loop: loop, pool: noisePool, head: head, chunked: chunked,
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
        if settings.order == .parallel { startMirror(extra: [], now: now) }
    }

    /// Sends the copy to new. A copy that cannot have a connection at once is dropped and counted (`skipped`,
    /// reason `new_busy`): a slow or hanging new never builds a queue on the gateway; one held back because new
    /// keeps failing copies is counted as `new_failing`.
    private func startMirror(extra: [(String, String)], now: NIODeadline) {
        guard let head = makeHead(extra) else {
            newOutcome = .failed("could not build the request for new")
            return
        }
        mirrorStarted = now
        let mirror = MirrorExchange(role: .new, run: self, loop: loop, pool: mirrorPool, head: head, chunked: chunked,
                                    isHEAD: isHEAD, timeout: timeout, cap: settings.maxBody)
        // Held before it starts: a copy that finishes at once (a pool being retired) reports to a run that knows it.
        self.mirror = mirror
        if let refusal = mirror.start(now: now) {
            self.mirror = nil
            loop.shadowCounts.skipped(route: route, reason: refusal == .busy ? "new_busy" : "new_failing")
            return abandon()
        }
        loop.shadowCounts.mirrored(route: route)
        guard self.mirror === mirror else { return }
        for part in heldBody { mirror.send(body: part) }
        heldBody.removeAll()
        if requestComplete { mirror.endOfRequest() }
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
        if let mirror {
            mirror.send(body: part)
        } else if settings.order == .afterPrimary {
            heldBody.append(part)
        }
    }

    func requestEnd() {
        guard !abandoned else { return }
        requestComplete = true
        noise?.endOfRequest()
        mirror?.endOfRequest()
    }

    func oldHead(_ head: ResponseHead, chunkedBody: Bool) {
        old.head(head)
        old.chunked = chunkedBody
    }

    func oldBody(_ bytes: ByteBuffer) {
        guard !abandoned else { return }
        old.body(bytes)
    }

    func oldFinished() {
        guard !abandoned else { return }
        oldDone = true
        if settings.order == .afterPrimary, mirror == nil, newOutcome == nil {
            guard (200..<300).contains(old.status) else {
                loop.shadowCounts.skipped(route: route, reason: "old_not_2xx")
                return abandon()
            }
            startMirror(extra: primaryHeaderValues(), now: loop.eventLoop.now)
        }
        completeIfReady()
    }

    /// Old gave no complete answer: there is nothing to compare.
    func oldFailed() {
        guard !abandoned else { return }
        loop.shadowCounts.skipped(route: route, reason: "old_failed")
        abandon()
    }

    private func abandon() {
        abandoned = true
        mirror?.abandon()
        noise?.abandon()
        mirror = nil
        noise = nil
        heldBody.removeAll()
    }

    /// Values from old's answer for new's headers (`primary_headers`), read with JSON pointers.
    private func primaryHeaderValues() -> [(String, String)] {
        guard !settings.primaryHeaders.isEmpty, !old.truncated else { return [] }
        var body = old.body
        if old.chunked { body = ShadowRun.dechunk(body) ?? body }
        guard let document = JSONDocument.parse(Array(body.readableBytesView)) else { return [] }
        return settings.primaryHeaders.compactMap { header in
            guard let value = document.root.value(at: header.pointer) else { return nil }
            let text = value.kind == .string ? (value.string ?? "") : value.text
            guard !text.utf8.contains(where: { $0 == 0x0D || $0 == 0x0A }) else { return nil }
            return (header.name, text)
        }
    }

    // MARK: - From the copies

    func mirrorError(_ exchange: MirrorExchange, kind: String) {
        if exchange.role == .new { loop.shadowCounts.mirrorFailed(route: route, kind: kind) }
    }

    func mirrorFinished(_ exchange: MirrorExchange, _ outcome: MirrorOutcome) {
        guard !abandoned else { return }
        switch exchange.role {
        case .new:
            newOutcome = outcome
            mirror = nil
            // New's answers in shadow count toward its error rate (the gates read them).
            if !swapped {
                let error = outcome.answer.map { $0.status >= 500 } ?? true
                loop.newAnswer(route: route, error: error, latency: .nanoseconds((loop.eventLoop.now - mirrorStarted).nanoseconds))
            }
        case .noise:
            noiseOutcome = outcome
            noise = nil
        case .old:
            break
        }
        completeIfReady()
    }

    private func completeIfReady() {
        guard oldDone, !abandoned, let newOutcome, !noiseAsked || noiseOutcome != nil else { return }
        abandoned = true
        if swapped {
            // The client's answer came from new; the copy's from old.
            guard let oldAnswer = newOutcome.answer else {
                loop.shadowCounts.skipped(route: route, reason: "old_failed")
                return
            }
            loop.diffQueue.offer(ShadowPair(route: route, rules: rules, requestID: requestID, requestHead: requestHead, old: oldAnswer,
                                            new: .answered(old.answer), noise: nil))
            return
        }
        let pair = ShadowPair(route: route, rules: rules, requestID: requestID, requestHead: requestHead, old: old.answer,
                              new: newOutcome, noise: noiseOutcome?.answer)
        loop.diffQueue.offer(pair)
    }

    /// A chunked body's data, or nil when its framing is broken or cut short.
    static func dechunk(_ body: ByteBuffer) -> ByteBuffer? {
        var decoder = ChunkedDecoder()
        var input = body
        var output = ByteBufferAllocator().buffer(capacity: body.readableBytes)
        while true {
            guard let event = try? decoder.next(&input, mode: .decoded) else { return nil }
            switch event {
            case .bytes(var data, _): output.writeBuffer(&data)
            case .end: return output
            case .needMoreData: return decoder.isDone ? output : nil
            }
        }
    }
}
