@testable import CutoverProxy
import Testing

/// The answer to the client as it goes out, without a socket: what each event says to write.
@Suite("Response side")
struct ResponseSideTests {
    static let lengthFramed = ClientFraming.decide(.contentLength(5), clientMinor: 1, clientKeepAlive: true)
    static let closeDelimited = ClientFraming.decide(.untilClose, clientMinor: 1, clientKeepAlive: true)
    static let bodyless = ClientFraming.decide(.none, clientMinor: 1, clientKeepAlive: false)

    @Test func interimAnswersReachOnlyHTTP11ClientsBeforeTheFinalHeadAndNever100() {
        var response = ResponseSide()
        #expect(response.passesInterim(status: 103, clientMinor: 1))
        #expect(!response.passesInterim(status: 100, clientMinor: 1), "the gateway answers Expect itself")
        #expect(!response.passesInterim(status: 103, clientMinor: 0), "HTTP/1.0 has no 1xx")
        response.head(status: 200, framing: Self.lengthFramed)
        #expect(!response.passesInterim(status: 103, clientMinor: 1), "not after the final head")
    }

    @Test func nothingIsWrittenBeforeTheHead() {
        var response = ResponseSide()
        #expect(!response.started)
        let step1 = response.body(count: 3)
        #expect(step1 == .drop)
        let step2 = response.end()
        #expect(step2 == nil)
    }

    @Test func aSmallFirstBodyPartTravelsInTheHeadsBuffer() {
        var response = ResponseSide()
        response.head(status: 200, framing: Self.lengthFramed)
        #expect(response.started)
        #expect(response.headPending)
        let step3 = response.body(count: 5)
        #expect(step3 == .withHead)
        #expect(!response.headPending)
        let step4 = response.body(count: 5)
        #expect(step4 == .plain(headFirst: false), "later parts go as they are")
    }

    @Test func aLargeFirstBodyPartFollowsTheHead() {
        var response = ResponseSide()
        response.head(status: 200, framing: Self.lengthFramed)
        let step5 = response.body(count: ResponseSide.coalescedBodyLimit + 1)
        #expect(step5 == .plain(headFirst: true))
        let step6 = response.body(count: 1)
        #expect(step6 == .plain(headFirst: false))
    }

    @Test func aCloseDelimitedBodyIsChunkedAndEndsWithTheLastChunk() {
        var response = ResponseSide()
        response.head(status: 200, framing: Self.closeDelimited)
        let step7 = response.body(count: 0)
        #expect(step7 == .chunk(headFirst: true), "an empty part still lets the head out")
        let step8 = response.body(count: 4)
        #expect(step8 == .chunk(headFirst: false))
        let step9 = response.end()
        #expect(step9 == ResponseSide.Ending(writeHead: false, lastChunk: true, close: false))
    }

    @Test func aBodylessAnswerWritesItsHeadAtTheEnd() {
        var response = ResponseSide()
        response.head(status: 204, framing: Self.bodyless)
        let step10 = response.body(count: 2)
        #expect(step10 == .drop)
        let step11 = response.end()
        #expect(step11 == ResponseSide.Ending(writeHead: true, lastChunk: false, close: true))
        #expect(response.status == 204)
    }

    @Test func aHeadTakenForAFailureIsNotWrittenTwice() {
        var response = ResponseSide()
        response.head(status: 200, framing: Self.lengthFramed)
        let step12 = response.takePendingHead()
        #expect(step12)
        let step13 = response.takePendingHead()
        #expect(!step13)
        let step14 = response.end()
        #expect(step14?.writeHead == false)
    }

    @Test func aLocalAnswerCountsAsStartedAndSaysWhetherItCloses() {
        var response = ResponseSide()
        response.answeredLocally(status: 503, close: true)
        #expect(response.started)
        #expect(response.status == 503)
        #expect(!response.headPending)
        let step15 = response.end()
        #expect(step15 == ResponseSide.Ending(writeHead: false, lastChunk: false, close: true))
    }
}
