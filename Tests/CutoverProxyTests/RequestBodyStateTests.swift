@testable import CutoverCore
@testable import CutoverProxy
import Testing

/// Where each part of a request body goes, without a socket.
@Suite("Request body state")
struct RequestBodyStateTests {
    func state(limit: Int = 1_000_000, readAhead: Int = 100) -> RequestBodyState {
        var state = RequestBodyState()
        state.bound(limit: limit, readAhead: readAhead)
        return state
    }

    @Test func aBodyOverTheRoutesLimitIsTooLargeWhereverItGoes() {
        for (id, ahead, connected) in [(false, false, false), (true, false, false), (false, true, false), (false, false, true)] {
            var body = state(limit: 10)
            let first = body.arrived(10, holdingForID: id, readingAhead: ahead, connected: connected)
            #expect(first != .tooLarge, "exactly the limit is allowed")
            let second = body.arrived(1, holdingForID: id, readingAhead: ahead, connected: connected)
            #expect(second == .tooLarge)
            #expect(body.received == 11)
        }
    }

    @Test func aBodyHeldForItsIDResolvesOnceTheIDsBoundIsPassed() {
        var body = state()
        let small = body.arrived(IDSource.maxBodyBytes, holdingForID: true, readingAhead: false, connected: false)
        #expect(small == .holdForID(resolve: false))
        let over = body.arrived(1, holdingForID: true, readingAhead: false, connected: false)
        #expect(over == .holdForID(resolve: true), "routing decides with what it has")
        #expect(body.held == IDSource.maxBodyBytes + 1)
    }

    @Test func theReadAheadLaunchesTheRequestOnceFull() {
        var body = state(readAhead: 100)
        #expect(body.readsAhead)
        let part = body.arrived(60, holdingForID: false, readingAhead: true, connected: false)
        #expect(part == .hold(launch: false, pauseReads: false))
        let full = body.arrived(40, holdingForID: false, readingAhead: true, connected: false)
        #expect(full == .hold(launch: true, pauseReads: false))
        #expect(!body.readsAhead)
    }

    @Test func bytesHeldWhileAConnectionIsMadePauseReadsAtTheBound() {
        var body = state(readAhead: 0)
        let below = body.arrived(RequestBodyState.maxBufferedBody - 1, holdingForID: false, readingAhead: false, connected: false)
        #expect(below == .hold(launch: false, pauseReads: false))
        let at = body.arrived(1, holdingForID: false, readingAhead: false, connected: false)
        #expect(at == .hold(launch: false, pauseReads: true))
        let released = body.release()
        #expect(released == RequestBodyState.maxBufferedBody)
        #expect(body.held == 0)
        let forwarded = body.arrived(5, holdingForID: false, readingAhead: false, connected: true)
        #expect(forwarded == .forward)
        #expect(body.held == 0, "what goes to the backend is not held")
        #expect(body.received == RequestBodyState.maxBufferedBody + 5)
        body.reset()
        #expect(body.received == 0)
    }

    @Test func continueIsSentOnceAndOnlyToAClientThatAskedForIt() {
        var body = state()
        let unasked = body.bodyWanted()
        #expect(!unasked, "no Expect: nothing to send")
        body.clientExpectsContinue()
        let first = body.bodyWanted()
        #expect(first)
        let second = body.bodyWanted()
        #expect(!second, "once per exchange")
        body.reset()
        let next = body.bodyWanted()
        #expect(!next, "the next exchange asks for itself")
    }
}

/// Holding and owing reads from a client, without a socket.
@Suite("Client reads")
struct ClientReadsTests {
    @Test func aReadAskedForWhileHeldIsOwedUntilTheLastReasonGoes() {
        var reads = ClientReads()
        let free = reads.readRequested()
        #expect(free, "nothing holds: the read goes")
        reads.hold(.pipelined)
        reads.hold(.buffering)
        let held = reads.readRequested()
        #expect(!held)
        let first = reads.release(.pipelined)
        #expect(!first, "buffering still holds")
        let again = reads.release(.pipelined)
        #expect(!again, "a reason released twice changes nothing")
        let last = reads.release(.buffering)
        #expect(last, "the owed read goes now")
        reads.hold(.closing)
        let none = reads.release(.closing)
        #expect(!none, "nothing was asked for while held")
    }

    @Test func theGatewayHoldsTheBodyOnlyForItsOwnReasons() {
        var reads = ClientReads()
        reads.hold(.pipelined)
        #expect(!reads.gatewayHoldsBody)
        reads.hold(.upstreamBackpressure)
        #expect(reads.gatewayHoldsBody)
        _ = reads.release(.upstreamBackpressure)
        reads.hold(.buffering)
        #expect(reads.gatewayHoldsBody)
    }
}
