@testable import CutoverProxy
import Testing

/// The exchange's failure and deadline decisions, without a socket, for every failure kind.
@Suite("Exchange state: failures and deadlines")
struct ExchangeStateTests {
    static let failures: [UpstreamFailure] = [
        .connectFailed("refused"), .connectTimeout, .poolExhausted, .queueFull, .tls("alert"), .reset, .responseTimeout, .protocolError("bad"),
    ]

    @Test func onlyAResetPooledConnectionBeforeTheResponseOfAnIdempotentBodilessRequestIsRetriedOnce() {
        for failure in Self.failures {
            for reused in [false, true] {
                for responseStarted in [false, true] {
                    for idempotent in [false, true] {
                        for hasBody in [false, true] {
                            var state = ExchangeState()
                            let first = state.upstreamFailed(failure, reused: reused, responseStarted: responseStarted, idempotent: idempotent, hasBody: hasBody)
                            let retry = failure == .reset && reused && !responseStarted && idempotent && !hasBody
                            #expect(first == (retry ? .retryOnFreshConnection : .fail(failure)),
                                    "\(failure) reused=\(reused) started=\(responseStarted) idempotent=\(idempotent) body=\(hasBody)")
                            let second = state.upstreamFailed(failure, reused: reused, responseStarted: responseStarted, idempotent: idempotent, hasBody: hasBody)
                            #expect(second == .fail(failure), "a retry is spent once")
                            state.reset()
                            let next = state.upstreamFailed(failure, reused: reused, responseStarted: responseStarted, idempotent: idempotent, hasBody: hasBody)
                            #expect(next == first, "the next exchange has its own retry")
                        }
                    }
                }
            }
        }
    }

    @Test func failuresAreAnsweredWithTheirStatusUnlessTheResponseStarted() {
        let expected: [UpstreamFailure: Int] = [
            .connectFailed("refused"): 502, .connectTimeout: 502, .poolExhausted: 503, .queueFull: 503, .tls("alert"): 502, .reset: 502,
            .responseTimeout: 504, .protocolError("bad"): 502,
        ]
        for failure in Self.failures {
            let status = expected[failure]!
            #expect(ExchangeState.answer(for: failure, responseStarted: false, requestComplete: true)
                    == .respond(status: status, retryAfter: status == 503, close: false), "\(failure)")
            #expect(ExchangeState.answer(for: failure, responseStarted: false, requestComplete: false)
                    == .respond(status: status, retryAfter: status == 503, close: true), "\(failure): the rest of the body is not read")
            #expect(ExchangeState.answer(for: failure, responseStarted: true, requestComplete: true) == .cutResponse, "\(failure)")
        }
    }

    @Test func aClientDeadlineTimesOutARequestUnderWayAndClosesAnIdleConnection() {
        var underWay = ExchangeState()
        underWay.waiting = .client
        let timedOut = underWay.deadlinePassed(active: true, inMessage: false)
        #expect(timedOut == .requestTimedOut)
        #expect(underWay.waiting == .nothing)
        var halfHead = ExchangeState()
        halfHead.waiting = .client
        let partial = halfHead.deadlinePassed(active: false, inMessage: true)
        #expect(partial == .requestTimedOut, "part of a head arrived: the client hears why")
        var idle = ExchangeState()
        idle.waiting = .client
        let quiet = idle.deadlinePassed(active: false, inMessage: false)
        #expect(quiet == .closeIdle)
        var nothing = ExchangeState()
        let none = nothing.deadlinePassed(active: true, inMessage: true)
        #expect(none == .none)
    }

    @Test func aConnectionDeadlineFailsAsTheWaitWas() {
        var inLine = ExchangeState()
        inLine.waiting = .connection
        inLine.inLine = true
        let exhausted = inLine.deadlinePassed(active: true, inMessage: false)
        #expect(exhausted == .fail(.poolExhausted), "no connection came free in time")
        var connecting = ExchangeState()
        connecting.waiting = .connection
        let slow = connecting.deadlinePassed(active: true, inMessage: false)
        #expect(slow == .fail(.connectTimeout), "the connection made for it did not connect in time")
        var finished = ExchangeState()
        finished.waiting = .connection
        let late = finished.deadlinePassed(active: false, inMessage: false)
        #expect(late == .none, "an exchange that ended has no deadline")
    }

    @Test func aResponseDeadlineIsExtendedWhileTheBodyMovesAndFailsWhenItStalls() {
        var state = ExchangeState()
        state.waiting = .response
        state.responseDeadlineSet()
        state.moved()
        let moving = state.deadlinePassed(active: true, inMessage: false)
        #expect(moving == .extend)
        let stalled = state.deadlinePassed(active: true, inMessage: false)
        #expect(stalled == .fail(.responseTimeout), "nothing moved since it was extended")
        state.moved()
        state.responseDeadlineSet()
        let reset = state.deadlinePassed(active: true, inMessage: false)
        #expect(reset == .fail(.responseTimeout), "progress before the deadline was set does not extend it")
    }

    @Test func anExchangeThatEndedHasNoResponseDeadlineAndANewOneStartsClean() {
        var ended = ExchangeState()
        ended.waiting = .response
        let none = ended.deadlinePassed(active: false, inMessage: false)
        #expect(none == .none)

        var state = ExchangeState()
        state.waiting = .connection
        state.inLine = true
        _ = state.upstreamFailed(.reset, reused: true, responseStarted: false, idempotent: true, hasBody: false)
        state.reset()
        #expect(state.waiting == .nothing)
        #expect(!state.inLine)
        #expect(!state.retried)
    }
}
