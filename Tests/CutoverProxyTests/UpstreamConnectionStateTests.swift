@testable import CutoverProxy
import NIOCore
import Testing

/// Every transition of a backend connection, without a socket.
@Suite("Upstream connection state")
struct UpstreamConnectionStateTests {
    /// A connection set up, leased, expecting a response to a GET.
    func leased() -> UpstreamConnectionState {
        var state = UpstreamConnectionState()
        _ = state.ready()
        state.lease()
        state.expectResponse(toHEAD: false, chunkMode: .raw)
        return state
    }

    /// Feeds `text` and returns the events up to the first `.needMoreData` or `.end`.
    func feed(_ state: inout UpstreamConnectionState, _ text: String) throws -> [String] {
        var input = ByteBuffer(string: text)
        var events: [String] = []
        while true {
            switch try state.next(&input) {
            case .head(let head): events.append("head \(head.status)")
            case .body(let body): events.append("body \(body.readableBytes)")
            case .end: events.append("end"); return events
            case .needMoreData: return events
            }
        }
    }

    @Test func readyOnceThenLeasedThenBackToThePool() throws {
        var state = UpstreamConnectionState()
        #expect(state.phase == .connecting)
        #expect(!state.isUsable)
        let ready1 = state.ready()
        #expect(ready1, "the pool is told once")
        let ready2 = state.ready()
        #expect(!ready2, "a second readiness (TLS after TCP) tells nobody")
        #expect(state.isUsable)
        state.lease()
        #expect(state.phase == .leased)
        state.expectResponse(toHEAD: false, chunkMode: .raw)
        #expect(try feed(&state, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok") == ["head 200", "body 2", "end"])
        let release3 = state.release(reusable: true)
        #expect(release3 == .toPool(read: false))
        #expect(state.isUsable)
        #expect(state.completedResponses == 1)
        let release4 = state.release(reusable: true)
        #expect(release4 == .none, "an idle connection has no lease to end")
    }

    @Test func aResponseThatClosesOrLeavesBytesBehindIsNotReused() throws {
        var closing = leased()
        _ = try feed(&closing, "HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n")
        let release5 = closing.release(reusable: true)
        #expect(release5 == .close)

        var trailing = leased()
        _ = try feed(&trailing, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n")
        #expect(!trailing.responseReusable, "bytes nobody asked for follow the response")
        let release6 = trailing.release(reusable: true)
        #expect(release6 == .close)

        var unfinished = leased()
        _ = try feed(&unfinished, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        let release7 = unfinished.release(reusable: false)
        #expect(release7 == .close, "the exchange did not complete cleanly")
        #expect(unfinished.completedResponses == 0)
    }

    @Test func heldReadsAreOwedUntilResumedOrReleased() {
        var state = leased()
        let readRequested8 = state.readRequested()
        #expect(readRequested8, "reads pass while not held")
        state.pauseReading()
        let readRequested9 = state.readRequested()
        #expect(!readRequested9)
        #expect(state.readPending)
        let resumeReading10 = state.resumeReading()
        #expect(resumeReading10, "the owed read goes now")
        let resumeReading11 = state.resumeReading()
        #expect(!resumeReading11, "and only once")
        state.pauseReading()
        let resumeReading12 = state.resumeReading()
        #expect(!resumeReading12, "nothing was asked while held: nothing is owed")

        var released = leased()
        _ = try? feed(&released, "HTTP/1.1 204 No Content\r\n\r\n")
        released.pauseReading()
        _ = released.readRequested()
        let release13 = released.release(reusable: true)
        #expect(release13 == .toPool(read: true), "an idle connection reads again (to see the backend close it)")
        #expect(!released.readHeld)
    }

    @Test func closingIsDoneOnce() {
        var state = leased()
        let close14 = state.close()
        #expect(close14)
        let close15 = state.close()
        #expect(!close15)
        let release16 = state.release(reusable: true)
        #expect(release16 == .none)
        let channelEnded17 = state.channelEnded()
        #expect(channelEnded17 == .quiet, "a connection the gateway closed tells nobody when it ends")
    }

    @Test func aSetupThatEndsTellsThePoolWhy() {
        var plain = UpstreamConnectionState()
        let channelEnded18 = plain.channelEnded()
        #expect(channelEnded18 == .setupFailed(.connectFailed("connection closed during setup")))

        var tls = UpstreamConnectionState()
        tls.errorCaught(tls: "handshake failed", reset: false)
        let channelEnded19 = tls.channelEnded()
        #expect(channelEnded19 == .setupFailed(.tls("handshake failed")))

        var slow = UpstreamConnectionState()
        let abandonSetup20 = slow.abandonSetup()
        #expect(abandonSetup20, "its deadline passed: the channel closes")
        let channelEnded21 = slow.channelEnded()
        #expect(channelEnded21 == .setupFailed(.connectTimeout))

        var ready = UpstreamConnectionState()
        _ = ready.ready()
        let abandonSetup22 = ready.abandonSetup()
        #expect(!abandonSetup22, "a connection set up is not abandoned")
        let channelEnded23 = ready.channelEnded()
        #expect(channelEnded23 == .quiet, "an idle connection closed by its backend")
    }

    @Test func aLeasedConnectionThatEndsFailsItsExchangeUnlessTheBodyEndsWithIt() throws {
        var midResponse = leased()
        _ = try feed(&midResponse, "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
        let channelEnded24 = midResponse.channelEnded()
        #expect(channelEnded24 == .failed(.reset))

        var closeDelimited = leased()
        _ = try feed(&closeDelimited, "HTTP/1.1 200 OK\r\n\r\nuntil the end")
        let channelEnded25 = closeDelimited.channelEnded()
        #expect(channelEnded25 == .responseComplete, "a body read until close ends when the backend closes")
        #expect(!closeDelimited.responseReusable)

        var cut = leased()
        _ = try feed(&cut, "HTTP/1.1 200 OK\r\n\r\nuntil the")
        cut.errorCaught(tls: nil, reset: true)
        let channelEnded26 = cut.channelEnded()
        #expect(channelEnded26 == .failed(.reset), "a reset cuts a body read until close: it is not complete")

        var invalid = leased()
        invalid.failed(.protocolError("bad"))
        let close27 = invalid.close()
        #expect(close27)
        let channelEnded28 = invalid.channelEnded()
        #expect(channelEnded28 == .quiet, "the exchange was told already")
    }

    @Test func aMorePreciseErrorIsNotOverwrittenByALaterReset() {
        var state = leased()
        state.failed(.responseTimeout)
        state.errorCaught(tls: nil, reset: false)
        #expect(state.lastError == .responseTimeout)
        state.errorCaught(tls: "alert", reset: false)
        #expect(state.lastError == .tls("alert"), "a TLS error names itself")
    }

    @Test func aConnectionClosedByTheGatewayDuringSetupStillEndsAsASetupFailure() {
        var state = UpstreamConnectionState()
        let closing = state.close()
        #expect(closing)
        let ready = state.ready()
        #expect(!ready, "a closed connection is never ready")
        let ended = state.channelEnded()
        #expect(ended == .setupFailed(.connectFailed("connection closed during setup")), "the pool counts it out of the connecting ones")
        let abandoned = state.abandonSetup()
        #expect(!abandoned)
    }

    @Test func aLeasedConnectionEndingInATLSErrorOrAfterAFailureFailsWithIt() {
        var tls = leased()
        tls.errorCaught(tls: "bad record mac", reset: false)
        let tlsEnd = tls.channelEnded()
        #expect(tlsEnd == .failed(.tls("bad record mac")))

        var invalid = leased()
        invalid.failed(.protocolError("bad chunk"))
        let invalidEnd = invalid.channelEnded()
        #expect(invalidEnd == .failed(.protocolError("bad chunk")), "the channel ended before the gateway closed it")
    }

    @Test func aReusedConnectionFramesEachResponseAfresh() throws {
        var state = leased()
        _ = try feed(&state, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        state.pauseReading()
        let released = state.release(reusable: true)
        #expect(released == .toPool(read: false), "reads were held but none was asked for")
        #expect(!state.readHeld)
        state.lease()
        state.expectResponse(toHEAD: false, chunkMode: .raw)
        #expect(!state.responseReusable, "the last response's keep-alive says nothing of the next")
        #expect(try feed(&state, "HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx") == ["head 404", "body 1", "end"])
        let again = state.release(reusable: true)
        #expect(again == .toPool(read: false))
        #expect(state.completedResponses == 2)
    }

    @Test func aResponseThatCannotBeFramedThrows() {
        var state = leased()
        var input = ByteBuffer(string: "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")
        #expect(throws: ResponseParseError.self) { try state.next(&input) }
    }
}
