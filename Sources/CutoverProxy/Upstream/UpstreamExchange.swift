/// The party using an upstream connection for one request at a time: it is told
/// when the pool hands it a connection and what the backend answers.
/// All calls happen on the event loop that owns the connection.
protocol UpstreamExchange: AnyObject {
    /// Identifies the current acquisition; a connection that arrives for an older ticket is not taken.
    var upstreamTicket: UInt64 { get }
    /// The pool leased a ready connection for the acquisition with `ticket`.
    func upstreamAcquired(_ connection: UpstreamConnection)
    /// No connection could be had for the acquisition with `ticket`.
    func upstreamAcquireFailed(_ failure: UpstreamFailure)
    /// The pool took the exchange out of its line (to lease it a connection, or to make one for it): it no longer
    /// withdraws from the line when it stops waiting.
    func upstreamLeftLine()
    /// The backend's response head (interim 1xx heads too).
    func upstream(_ connection: UpstreamConnection, didReceive head: ResponseHead)
    /// Body bytes, framed as the parser's chunk mode says.
    func upstream(_ connection: UpstreamConnection, didReceiveBody body: ByteBuffer)
    /// The response is complete.
    func upstreamDidFinishResponse(_ connection: UpstreamConnection)
    /// The backend's bytes of one read have all been delivered.
    func upstreamDidCompleteRead(_ connection: UpstreamConnection)
    /// The exchange cannot complete: the connection is gone or the response is invalid.
    func upstream(_ connection: UpstreamConnection, didFail failure: UpstreamFailure)
    /// The connection's writability changed (request-body backpressure).
    func upstreamWritabilityDidChange(_ connection: UpstreamConnection)
}

import NIOCore
