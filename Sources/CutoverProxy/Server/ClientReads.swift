/// Whether the gateway reads from a client now, as a value: the reasons it holds reads back, and whether a read was
/// asked for meanwhile (owed once every reason is gone). Reads are the gateway's backpressure on a client: a
/// pipelined request waits for the current one, a request body waits for a backend that is not taking it or for a
/// connection being made, a closing connection reads nothing more.
struct ClientReads {
    /// Reasons for not reading from the client.
    struct Hold: OptionSet {
        let rawValue: UInt8
        /// A pipelined request waits for the current one to finish.
        static let pipelined = Hold(rawValue: 1)
        /// The backend is not taking request-body bytes as fast as they come.
        static let upstreamBackpressure = Hold(rawValue: 2)
        /// Body bytes are piling up while a connection is being made.
        static let buffering = Hold(rawValue: 4)
        /// The connection closes after the current response.
        static let closing = Hold(rawValue: 8)
    }

    private(set) var holds: Hold = []
    /// A read was asked for while reads were held.
    private(set) var owed = false

    /// Reads are held for `reason` (until it is released).
    mutating func hold(_ reason: Hold) {
        holds.insert(reason)
    }

    /// `reason` no longer holds reads back. True when a read is owed now: it was the last reason and a read was asked for.
    mutating func release(_ reason: Hold) -> Bool {
        guard holds.contains(reason) else { return false }
        holds.remove(reason)
        guard holds.isEmpty, owed else { return false }
        owed = false
        return true
    }

    /// The pipeline asks for a read. True to pass it on now; false when reads are held (it is owed until released).
    mutating func readRequested() -> Bool {
        guard !holds.isEmpty else { return true }
        owed = true
        return false
    }

    /// Whether the gateway itself holds the body back (its backend is not taking it, or a connection is being made):
    /// the client is then not the one that is slow.
    var gatewayHoldsBody: Bool { !holds.isDisjoint(with: [.upstreamBackpressure, .buffering]) }
}
