@testable import CutoverProxy
import Testing

/// A client connection's standing between and within exchanges, without a socket.
@Suite("Client session")
struct ClientSessionTests {
    @Test func anIdleConnectionParsesWhatComes() {
        let session = ClientSession()
        #expect(session.turn == .parse)
        #expect(!session.takesBody)
        #expect(session.keepsAlive)
    }

    @Test func aRequestStillComingIsParsedAndItsBodyTaken() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        #expect(session.turn == .parse)
        #expect(session.takesBody)
    }

    @Test func bytesBehindACompleteRequestWaitTheirTurn() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        session.requestCompleted()
        #expect(session.turn == .holdPipelined)
        #expect(!session.takesBody, "a body part after the end belongs to no exchange")
    }

    @Test func aKeptConnectionTakesTheNextRequest() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        session.requestCompleted()
        let keepAlive = session.answerStarts()
        #expect(keepAlive)
        let finish = session.finish(close: false)
        #expect(finish == .nextRequest)
        #expect(session.turn == .parse)
        #expect(session.acceptingRequests)
    }

    @Test func theClientsWishToCloseIsKept() {
        var session = ClientSession()
        session.begin(keepAlive: false)
        session.requestCompleted()
        let keepAlive = session.answerStarts()
        #expect(!keepAlive)
        #expect(!session.keepsAlive)
    }

    @Test func anAnswerStartingBeforeTheRequestEndedClosesTheConnection() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        let keepAlive = session.answerStarts()
        #expect(!keepAlive, "the rest of the body would be read as the next request")
        let finish = session.finish(close: false)
        #expect(finish == .close)
        #expect(session.turn == .discard)
    }

    @Test func anExchangeEndingWithItsRequestUnreadCloses() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        let finish = session.finish(close: false)
        #expect(finish == .close)
        #expect(!session.acceptingRequests)
    }

    @Test func aFramingThatNeedsACloseCloses() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        session.requestCompleted()
        let finish = session.finish(close: true)
        #expect(finish == .close)
        #expect(session.turn == .discard)
    }

    @Test func aRefusedRequestWithABodyToComeClosesAfterItsAnswer() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        session.closeAfterAnswer()
        #expect(!session.keepsAlive)
        session.requestCompleted()
        let finish = session.finish(close: false)
        #expect(finish == .close)
    }

    @Test func drainingAnIdleConnectionClosesItAtOnce() {
        var session = ClientSession()
        let quiesce = session.quiesce(partialRequest: false)
        #expect(quiesce == .closeNow)
    }

    @Test func drainingWithPartOfARequestInWaitsForItsAnswer() {
        var session = ClientSession()
        let quiesce = session.quiesce(partialRequest: true)
        #expect(quiesce == .afterResponse)
        session.begin(keepAlive: true)
        session.requestCompleted()
        #expect(!session.keepsAlive, "the answer says the connection closes")
        let finish = session.finish(close: false)
        #expect(finish == .close)
    }

    @Test func drainingMidExchangeEndsTheConnectionAfterTheAnswer() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        session.requestCompleted()
        let quiesce = session.quiesce(partialRequest: false)
        #expect(quiesce == .afterResponse)
        let keepAlive = session.answerStarts()
        #expect(!keepAlive)
        let finish = session.finish(close: false)
        #expect(finish == .close)
    }

    @Test func aClientGoneMidExchangeLeavesItToBeAbandoned() {
        var session = ClientSession()
        session.begin(keepAlive: true)
        let wasActive = session.clientClosed()
        #expect(wasActive)
        #expect(!session.active)
        #expect(session.closed)
        let finish = session.finish(close: false)
        #expect(finish == .close)
    }

    @Test func aClientGoneBetweenExchangesHasNothingToAbandon() {
        var session = ClientSession()
        let wasActive = session.clientClosed()
        #expect(!wasActive)
    }

    @Test func aConnectionRefusedAtOnceReadsNothing() {
        var session = ClientSession()
        session.refused()
        #expect(session.turn == .discard)
    }
}
