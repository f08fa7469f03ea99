import CutoverCore
import NIOCore

extension ClientConnectionHandler {
    // MARK: - Input (requests parsed, reads held and released, flushes)

    /// Parses requests out of `input` and hands their parts to the exchange.
    /// Stops (leaving the bytes in `input`) when a complete request is still
    /// being answered: the next one waits its turn.
    func process(_ input: inout ByteBuffer) {
        while !closed {
            switch session.turn {
            case .parse:
                break
            case .holdPipelined:
                if input.readableBytes > 0 { hold(.pipelined) }
                return
            case .discard:
                input.moveReaderIndex(to: input.writerIndex)
                return
            }
            let event: RequestParser.Event
            do {
                event = try parser.next(&input)
            } catch {
                input.moveReaderIndex(to: input.writerIndex)
                requestFailed(error)
                return
            }
            switch event {
            case .head(let head):
                startExchange(head)
            case .body(let body):
                if session.takesBody { receiveBody(body) }
            case .end:
                if session.takesBody { receiveEnd() }
            case .needMoreData:
                return
            }
        }
    }

    /// Continues with requests that arrived while the previous one was in flight.
    func processStash() {
        if var input = stash {
            stash = nil
            process(&input)
            if input.readableBytes > 0, session.acceptingRequests, !closed { stash = input }
        }
        if stash == nil { release(.pipelined) }
        flushUpstreamIfNeeded()
        flushClientIfNeeded()
    }

    /// The request could not be parsed: refuse it (or, mid-response, close).
    func requestFailed(_ error: RequestParseError) {
        loop.metrics.rejected(error.metricReason)
        if active {
            guard !exchange.response.started else {
                context.close(promise: nil)
                return
            }
            abandonUpstream()
        } else {
            beginBareExchange()
        }
        session.closeAfterAnswer()
        respondLocally(status: error.status, reason: error.description, recordMetrics: false)
    }

    /// Starts waiting for the client, up to the client timeout.
    func awaitClient(now: NIODeadline) {
        waiting = .client
        deadline = now + runtime.clientTimeout
        loop.sweeper.register(self)
    }

    // MARK: - Reading control

    func hold(_ reason: ReadHold) {
        reads.hold(reason)
    }

    func release(_ reason: ReadHold) {
        if reads.release(reason) { context.read() }
    }

    // MARK: - Flushing

    func flushUpstreamIfNeeded() {
        if upstreamNeedsFlush {
            upstreamNeedsFlush = false
            upstream?.flush()
        }
    }

    func flushClientIfNeeded() {
        if clientNeedsFlush {
            clientNeedsFlush = false
            context.flush()
        }
    }
}
