import CutoverCore
import NIOCore
import NIOHTTP1

/// The request side of an exchange: admitting a request, routing it, and
/// streaming its body to the backend.
extension ClientConnectionHandler {
    /// Handles one decoded request part for the current (or a new) exchange.
    func dispatch(_ part: HTTPServerRequestPart) {
        switch part {
        case .head(let head):
            if active {
                queued.append(part)
                hold(.pipelined)
                return
            }
            guard acceptingRequests, !closed else { return }
            startExchange(head)
        case .body(let body):
            guard active, requestSide == .receiving else { return }
            receiveBody(body)
        case .end(let trailers):
            guard active, requestSide == .receiving else { return }
            receiveEnd(trailers)
        }
    }

    /// Begins an exchange with no request head (a request that could not be parsed).
    func beginBareExchange() {
        resetExchange()
        active = true
        startTime = .now()
    }

    func resetExchange() {
        runtime = loop.runtime
        decision = RoutingDecision(route: nil, backend: runtime.routing.defaultBackend, side: .old)
        isHEAD = false
        isIdempotent = false
        clientMinor = 1
        clientKeepAlive = true
        chunkedRequest = false
        hasBody = false
        expectContinue = false
        sentContinue = false
        requestSide = .receiving
        bodyBytes = 0
        pendingBody.removeAll()
        pendingBodyBytes = 0
        pendingTrailers = nil
        requestIDLocation = nil
        framing = nil
        status = 0
        waiting = .nothing
        retried = false
        pool = nil
    }

    /// Admits, routes and starts forwarding a request.
    func startExchange(_ head: HTTPRequestHead) {
        resetExchange()
        active = true
        startTime = .now()
        clientMinor = Int(head.version.minor)
        clientKeepAlive = head.isKeepAlive
        isHEAD = head.method == .HEAD
        switch head.method {
        case .GET, .HEAD, .OPTIONS, .PUT, .DELETE, .TRACE: isIdempotent = true
        default: isIdempotent = false
        }

        // One pass over the headers for everything admission needs.
        var hostCount = 0
        var contentLength = 0
        var expect: String?
        var transferEncoding: String?
        var upgrade = false
        for (name, value) in head.headers {
            switch RequestHeaderKind.of(name) {
            case .host: hostCount += 1
            case .contentLength: contentLength = Int(value) ?? 0
            case .expect: expect = value
            case .hopByHop:
                if RequestHeaderKind.name(name, is: "transfer-encoding") { transferEncoding = value }
                if RequestHeaderKind.name(name, is: "upgrade") { upgrade = true }
            default: break
            }
        }
        if let transferEncoding {
            guard transferEncoding.trimmingCharacters(in: " \t").lowercased() == "chunked" else {
                return refuse(501, "Transfer-Encoding '\(transferEncoding)' is not supported; only chunked is", label: "framing", body: true)
            }
            chunkedRequest = true
        }
        hasBody = chunkedRequest || contentLength > 0
        if upgrade {
            // The decoder stops at a protocol upgrade, which Cutover does not proxy: answer this request, then close.
            closeAfterResponse = true
        }

        guard head.version.major == 1 else { return refuse(505, "unsupported HTTP version", label: "version", body: hasBody) }
        guard head.method != .CONNECT else { return refuse(405, "CONNECT is not supported: Cutover is not a forward proxy", label: "method", body: hasBody) }
        if clientMinor >= 1, hostCount == 0 { return refuse(400, "missing Host header", label: "host", body: hasBody) }
        if hostCount > 1 { return refuse(400, "more than one Host header", label: "host", body: hasBody) }

        var hostOverride: String?
        let target: Substring
        switch RequestTarget.parse(head.uri) {
        case .origin(let path):
            target = path
        case .asterisk:
            guard head.method == .OPTIONS else { return refuse(400, "'*' is a target for OPTIONS only", label: "target", body: hasBody) }
            target = "*"
        case .absolute(let authority, let host, let path):
            let lowered = host.lowercased()
            guard runtime.serverNames.contains(lowered) || lowered == localHost else {
                return refuse(421, "host '\(host)' is not served here: Cutover is not an open proxy", label: "foreign_host", body: hasBody)
            }
            hostOverride = String(authority)
            target = path
        case .invalid:
            return refuse(400, "invalid request target", label: "target", body: hasBody)
        }

        decision = runtime.routing.decide(method: head.method.rawValue, target: target)
        let limits = decision.route.map { runtime.config.routes[$0].limits } ?? runtime.config.limits
        if limits.maxHeaderBytes < runtime.config.limits.maxHeaderBytes, Self.headerBytes(head) > limits.maxHeaderBytes {
            return refuse(431, "request header fields larger than the route's \(limits.maxHeaderBytes) bytes", label: "header_too_large", body: hasBody)
        }
        bodyLimit = limits.maxBodyBytes
        if contentLength > bodyLimit {
            return refuse(413, "request body of \(contentLength) bytes is larger than the limit of \(bodyLimit)", label: "body_too_large", body: true)
        }
        if let expect {
            guard expect.trimmingCharacters(in: " \t").lowercased() == "100-continue", clientMinor >= 1 else {
                return refuse(417, "unsupported expectation '\(expect)'", label: "expect", body: hasBody)
            }
            expectContinue = true
        }

        let backend = runtime.targets[decision.backend]
        let writer = RequestHeadWriter(target: target, hostOverride: backend.backend.hostHeader ?? hostOverride,
                                       defaultHost: backend.authority, clientAddress: clientAddress,
                                       scheme: scheme, chunked: chunkedRequest)
        var buffer = context.channel.allocator.buffer(capacity: 256 + head.uri.utf8.count + head.headers.count * 48)
        requestIDLocation = writer.write(head, into: &buffer, ids: &loop.requestIDs)
        requestHead = buffer
        pool = loop.pools[decision.backend]
        acquireUpstream(fresh: false)
    }

    /// Asks the route's pool for a connection; the exchange waits (with a deadline) when none is ready.
    func acquireUpstream(fresh: Bool) {
        guard let pool, !pool.isRetired else {
            return fail(.poolExhausted)
        }
        upstreamTicket &+= 1
        waiting = .connection
        deadline = .now() + pool.target.connectTimeout
        loop.sweeper.register(self)
        if let connection = pool.acquire(for: self, fresh: fresh) {
            attach(connection)
        }
    }

    /// Starts sending the request on a leased connection.
    func attach(_ connection: UpstreamConnection) {
        upstream = connection
        waiting = .response
        connection.expectResponse(toHEAD: isHEAD, chunkMode: ClientFraming.chunkMode(clientMinor: clientMinor))
        connection.write(requestHead)
        if expectContinue, !sentContinue {
            sentContinue = true
            var buffer = context.channel.allocator.buffer(capacity: 25)
            buffer.writeStaticString("HTTP/1.1 100 Continue\r\n\r\n")
            context.writeAndFlush(wrapOutboundOut(buffer), promise: nil)
        }
        while let part = pendingBody.popFirst() {
            writeBodyUpstream(part)
        }
        pendingBodyBytes = 0
        if requestSide == .complete {
            writeEndUpstream(pendingTrailers)
            pendingTrailers = nil
        }
        upstreamNeedsFlush = false
        connection.flush()
        deadline = .now() + runtime.targets[decision.backend].responseTimeout
        loop.sweeper.register(self)
        release(.buffering)
        if !connection.isWritable { hold(.upstreamBackpressure) }
    }

    func receiveBody(_ body: ByteBuffer) {
        bodyBytes += body.readableBytes
        if bodyBytes > bodyLimit {
            return bodyTooLarge()
        }
        if let upstream {
            writeBodyUpstream(body)
            upstreamNeedsFlush = true
            deadline = .now() + runtime.targets[decision.backend].responseTimeout
            if !upstream.isWritable { hold(.upstreamBackpressure) }
        } else {
            pendingBody.append(body)
            pendingBodyBytes += body.readableBytes
            if pendingBodyBytes >= Self.maxBufferedBody { hold(.buffering) }
        }
    }

    func receiveEnd(_ trailers: HTTPHeaders?) {
        requestSide = .complete
        if upstream != nil {
            writeEndUpstream(trailers)
            upstreamNeedsFlush = true
        } else {
            pendingTrailers = trailers
        }
    }

    func writeBodyUpstream(_ body: ByteBuffer) {
        guard let upstream else { return }
        if chunkedRequest {
            guard body.readableBytes > 0 else { return }
            var size = context.channel.allocator.buffer(capacity: 18)
            size.writeString(String(body.readableBytes, radix: 16))
            size.writeStaticString("\r\n")
            upstream.write(size)
            upstream.write(body)
            var crlf = context.channel.allocator.buffer(capacity: 2)
            crlf.writeStaticString("\r\n")
            upstream.write(crlf)
        } else {
            upstream.write(body)
        }
    }

    func writeEndUpstream(_ trailers: HTTPHeaders?) {
        guard chunkedRequest, let upstream else { return }
        var buffer = context.channel.allocator.buffer(capacity: 5)
        buffer.writeStaticString("0\r\n")
        for (name, value) in trailers ?? [:] where RequestHeaderKind.of(name) != .hopByHop {
            buffer.writeString("\(name): \(value)\r\n")
        }
        buffer.writeStaticString("\r\n")
        upstream.write(buffer)
    }

    func bodyTooLarge() {
        loop.metrics.rejected("body_too_large")
        guard framing == nil else {
            context.close(promise: nil)
            return
        }
        abandonUpstream()
        closeAfterResponse = true
        respondLocally(status: 413, reason: "request body is larger than the limit of \(bodyLimit) bytes", recordMetrics: false)
    }

    /// Refuses a request before it reaches a backend. `body` says whether a body may follow, in which case the connection closes.
    func refuse(_ status: Int, _ reason: String, label: String, body: Bool) {
        loop.metrics.rejected(label)
        if body { closeAfterResponse = true }
        respondLocally(status: status, reason: reason, recordMetrics: false)
    }

    /// The bytes of the request line and headers, as the client sent them (about).
    static func headerBytes(_ head: HTTPRequestHead) -> Int {
        var total = head.method.rawValue.utf8.count + head.uri.utf8.count + 12
        for (name, value) in head.headers { total += name.utf8.count + value.utf8.count + 4 }
        return total
    }
}
