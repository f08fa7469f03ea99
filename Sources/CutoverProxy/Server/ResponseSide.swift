/// The answer to the client as it goes out, as a value: whether it started (its framing decided), its status, and
/// whether its head waits to leave with the first body bytes. Each event says what to write: whether an interim
/// answer is passed on, whether body bytes travel in the head's buffer (one write for a small answer) or after it,
/// plain or as a chunk, and what ending the answer takes (the head of a bodyless answer, the last chunk, a close).
/// The channel handler writes what it is told; every decision is tested without a socket.
struct ResponseSide {
    /// How body bytes go to the client.
    enum BodyWrite: Equatable {
        /// Not at all: the answer has no body toward the client (or has not started).
        case drop
        /// In the pending head's buffer, written with it as one.
        case withHead
        /// As they are, after the pending head when `headFirst`.
        case plain(headFirst: Bool)
        /// As one chunk (nothing when there are no bytes), after the pending head when `headFirst`.
        case chunk(headFirst: Bool)
    }

    /// What ending the answer takes.
    struct Ending: Equatable {
        /// The head is still to be written (an answer without body bytes).
        var writeHead: Bool
        /// The last chunk follows (a body re-chunked by the gateway).
        var lastChunk: Bool
        /// The client connection closes after it.
        var close: Bool
    }

    /// Body bytes up to this size travel in the head's buffer (a copy) rather than as a second write.
    static let coalescedBodyLimit = 8 * 1024

    /// How the answer is framed toward the client; nil until its head is decided.
    private(set) var framing: ClientFraming?
    private(set) var status = 0
    /// The head is built and waits for the first body bytes (or the end).
    private(set) var headPending = false

    /// Whether part of the answer is decided: from here on a failure can only cut the connection.
    var started: Bool { framing != nil }

    /// Whether an interim (1xx) answer from the backend reaches the client: never 100 (the gateway answers
    /// `Expect: 100-continue` itself), others only to an HTTP/1.1 client and before the final head.
    func passesInterim(status: Int, clientMinor: Int) -> Bool {
        status != 100 && clientMinor >= 1 && framing == nil
    }

    /// The backend's final head is in and framed for the client; it waits for the first body bytes.
    mutating func head(status: Int, framing: ClientFraming) {
        self.framing = framing
        self.status = status
        headPending = true
    }

    /// The gateway wrote an answer of its own, whole.
    mutating func answeredLocally(status: Int, close: Bool) {
        framing = ClientFraming(body: .none, chunkedHeader: false, closeAfter: close, chunkMode: .raw)
        self.status = status
        headPending = false
    }

    /// Takes the pending head for writing now: true when there was one.
    mutating func takePendingHead() -> Bool {
        defer { headPending = false }
        return headPending
    }

    /// `count` body bytes came from the backend.
    mutating func body(count: Int) -> BodyWrite {
        guard let framing else { return .drop }
        switch framing.body {
        case .none:
            return .drop
        case .passthrough:
            if headPending, count <= Self.coalescedBodyLimit {
                headPending = false
                return .withHead
            }
            return .plain(headFirst: takePendingHead())
        case .rechunk:
            return .chunk(headFirst: takePendingHead())
        }
    }

    /// The backend's answer ended; nil when none had started.
    mutating func end() -> Ending? {
        guard let framing else { return nil }
        return Ending(writeHead: takePendingHead(), lastChunk: framing.body == .rechunk, close: framing.closeAfter)
    }
}
