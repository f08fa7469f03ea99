import NIOCore

/// An entry of a pool's line: it knows whether the exchange it stands for still waits for it (an exchange that
/// gave up, or moved on to another acquisition, leaves a stale entry behind).
protocol PoolLineEntry {
    var isCurrent: Bool { get }
}

/// What one event loop's pool to one backend holds, as a value: connections idle (most recently used last),
/// being opened and open in all, the line of exchanges waiting, the limits, whether the pool was retired. Each
/// event returns what the pool must do; ``UpstreamPool`` carries that out and holds no counts of its own, so
/// every transition is tested here without a socket. Connections are told apart by identity.
///
/// A connection counts as open from `acquire` answering `.connect` until `closed` (or `connectFailed`, when no
/// channel was ever made); it counts as connecting until `ready`, `setupFailed` or `connectFailed`.
struct UpstreamPoolState<Connection: AnyObject, Waiter: PoolLineEntry> {
    /// What an acquisition comes to.
    enum Acquisition {
        /// This idle connection (now leased; the pool must check it is still usable, and close it and ask again when not).
        case lease(Connection)
        /// Open a connection for the waiter (counted open and connecting now).
        case connect
        /// The waiter is in line.
        case queue
        /// Every connection is busy and the pool does not queue, or its line is full.
        case refuse
    }

    /// What becomes of a connection that is free (set up, or released by its exchange).
    enum Handover {
        /// Lease it to this waiter: one taken out of the line (`fromLine`), or the one it was opened for.
        case lease(to: Waiter, fromLine: Bool)
        /// Keep it idle.
        case park
        /// Close it: the pool was retired.
        case close
    }

    /// At most this many connections are open.
    let size: Int
    /// At most this many exchanges wait in line (stale entries not counted).
    let maxQueue: Int
    /// Whether exchanges wait in line when every connection is busy.
    let queues: Bool

    private(set) var idle: [Connection] = []
    /// Connections open or being opened.
    private(set) var open = 0
    /// Connections being opened (TCP, and TLS when the backend speaks it).
    private(set) var connecting = 0
    private(set) var isRetired = false
    /// Waiting exchanges, oldest first, stale entries included until they are reached or the line is compacted.
    private var line = CircularBuffer<Waiter>()
    /// Entries of `line` known to be stale.
    private var withdrawn = 0

    init(size: Int, maxQueue: Int, queues: Bool) {
        self.size = size
        self.maxQueue = maxQueue
        self.queues = queues
    }

    /// How many entries the line holds, stale ones included.
    var lineLength: Int { line.count }
    /// Connections leased to exchanges, or closing and not yet closed.
    var leasedOrClosing: Int { open - connecting - idle.count }

    /// An exchange asks for a connection: the most recently used idle one (unless `fresh`: a retry after a stale
    /// connection failed), a new one while fewer than `size` are open, a place in line, or a refusal.
    mutating func acquire(for waiter: Waiter, fresh: Bool = false) -> Acquisition {
        precondition(!isRetired, "a retired pool takes no new requests")
        if !fresh, let connection = idle.popLast() {
            return .lease(connection)
        }
        if open < size {
            open += 1
            connecting += 1
            return .connect
        }
        guard queues, line.count - withdrawn < maxQueue else { return .refuse }
        line.append(waiter)
        return .queue
    }

    /// An exchange in line stopped waiting (its entry has gone stale). Its entry is dropped lazily: O(1) now, the
    /// line compacted once at least 64 entries, and at least half of it, are stale.
    mutating func withdraw() {
        withdrawn += 1
        guard withdrawn >= 64, withdrawn * 2 >= line.count else { return }
        var live = CircularBuffer<Waiter>(initialCapacity: max(line.count - withdrawn, 1))
        for waiter in line where waiter.isCurrent { live.append(waiter) }
        line = live
        withdrawn = 0
    }

    /// A leased connection's exchange completed cleanly and the connection can take another request.
    mutating func release(_ connection: Connection) -> Handover {
        if isRetired { return .close }
        if let waiter = nextWaiter() { return .lease(to: waiter, fromLine: true) }
        idle.append(connection)
        return .park
    }

    /// A connection finished setting up; `initial` is the exchange it was opened for, when there was one.
    mutating func ready(_ connection: Connection, initial: Waiter?) -> Handover {
        connecting -= 1
        if let initial, initial.isCurrent { return .lease(to: initial, fromLine: false) }
        return release(connection)
    }

    /// A connection's channel closed while it was being set up (`closed` follows). Returns the exchange to tell,
    /// when the one it was opened for still waits for it.
    mutating func setupFailed(initial: Waiter?) -> Waiter? {
        connecting -= 1
        guard let initial, initial.isCurrent else { return nil }
        return initial
    }

    /// A connect failed before any channel was made (no `closed` follows). Returns the exchange to tell, when the
    /// one it was opened for still waits. The place it frees goes to the line with ``nextToConnect()``, once that
    /// exchange was told (it may ask again at once, for a request pipelined behind the failed one).
    mutating func connectFailed(initial: Waiter) -> Waiter? {
        connecting -= 1
        open -= 1
        return initial.isCurrent ? initial : nil
    }

    /// A connection closed, for whatever reason. Returns the next waiter to open a connection for, when the
    /// closing made room and someone is in line.
    mutating func closed(_ connection: Connection) -> Waiter? {
        open -= 1
        if let index = idle.lastIndex(where: { $0 === connection }) {
            idle.remove(at: index)
        }
        return nextToConnect()
    }

    /// The pool is replaced (a reload): returns the idle connections to close now and the waiters to fail;
    /// connections leased now close when released.
    mutating func retire() -> (close: [Connection], fail: [Waiter]) {
        isRetired = true
        let closing = idle
        idle.removeAll()
        let stranded = Array(line.lazy.filter(\.isCurrent))
        line.removeAll()
        withdrawn = 0
        return (closing, stranded)
    }

    /// Takes the oldest current waiter out of the line.
    private mutating func nextWaiter() -> Waiter? {
        while let waiter = line.popFirst() {
            if waiter.isCurrent { return waiter }
            if withdrawn > 0 { withdrawn -= 1 }
        }
        return nil
    }

    /// The next waiter to open a connection for, when there is room and someone current is in line (counted open
    /// and connecting now).
    mutating func nextToConnect() -> Waiter? {
        guard !isRetired, open < size, let waiter = nextWaiter() else { return nil }
        open += 1
        connecting += 1
        return waiter
    }
}
