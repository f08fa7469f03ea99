@testable import CutoverProxy
import Testing

/// Stands for a connection: told apart by identity.
private final class Conn: CustomStringConvertible {
    let name: String
    init(_ name: String) { self.name = name }
    var description: String { name }
}

/// Stands for an exchange's acquisition: current until the test says it moved on.
private final class Wait: PoolLineEntry, CustomStringConvertible {
    let name: String
    var isCurrent = true
    init(_ name: String) { self.name = name }
    var description: String { name }
}

private typealias State = UpstreamPoolState<Conn, Wait>

extension State.Acquisition {
    fileprivate var leased: Conn? {
        if case .lease(let connection) = self { return connection }
        return nil
    }
    fileprivate var isConnect: Bool {
        if case .connect = self { return true }
        return false
    }
    fileprivate var isQueue: Bool {
        if case .queue = self { return true }
        return false
    }
    fileprivate var isRefuse: Bool {
        if case .refuse = self { return true }
        return false
    }
}

extension State.Handover {
    fileprivate var leasedTo: Wait? {
        if case .lease(let waiter, _) = self { return waiter }
        return nil
    }
    fileprivate var isPark: Bool {
        if case .park = self { return true }
        return false
    }
    fileprivate var isClose: Bool {
        if case .close = self { return true }
        return false
    }
}

/// Brings a state to `count` connections set up and leased to `waiters`, returning the connections.
private func leaseAll(_ state: inout State, _ waiters: [Wait]) -> [Conn] {
    waiters.map { waiter in
        #expect(state.acquire(for: waiter).isConnect)
        let connection = Conn("c-\(waiter.name)")
        #expect(state.ready(connection, initial: waiter).leasedTo === waiter)
        return connection
    }
}

@Suite("Upstream pool state")
struct UpstreamPoolStateTests {
    @Test func aConnectionIsOpenedWhileFewerThanTheSizeAreOpen() {
        var state = State(size: 2, maxQueue: 10, queues: true)
        #expect(state.acquire(for: Wait("a")).isConnect)
        #expect(state.acquire(for: Wait("b")).isConnect)
        #expect(state.open == 2)
        #expect(state.connecting == 2)
        #expect(state.acquire(for: Wait("c")).isQueue, "the third waits: two are open")
        #expect(state.open == 2)
        #expect(state.lineLength == 1)
    }

    @Test func aReadyConnectionGoesToTheWaiterItWasOpenedFor() {
        var state = State(size: 1, maxQueue: 10, queues: true)
        let waiter = Wait("a")
        _ = state.acquire(for: waiter)
        let connection = Conn("c")
        let handover = state.ready(connection, initial: waiter)
        #expect(handover.leasedTo === waiter)
        guard case .lease(_, fromLine: false) = handover else {
            Issue.record("the waiter a connection was opened for was never in line")
            return
        }
        #expect(state.connecting == 0)
        #expect(state.leasedOrClosing == 1)
        #expect(state.idle.isEmpty)
    }

    @Test func aReadyConnectionWhoseWaiterMovedOnGoesToTheLineOrIdle() {
        var state = State(size: 1, maxQueue: 10, queues: true)
        let gone = Wait("gone"), next = Wait("next")
        _ = state.acquire(for: gone)
        #expect(state.acquire(for: next).isQueue)
        gone.isCurrent = false
        let connection = Conn("c")
        let handover = state.ready(connection, initial: gone)
        #expect(handover.leasedTo === next, "the line's first waiter takes it")
        guard case .lease(_, fromLine: true) = handover else {
            Issue.record("a waiter from the line is leased as one that left the line")
            return
        }
        #expect(state.lineLength == 0)

        var alone = State(size: 1, maxQueue: 10, queues: true)
        let left = Wait("left")
        _ = alone.acquire(for: left)
        left.isCurrent = false
        #expect(alone.ready(connection, initial: left).isPark)
        #expect(alone.idle.map(\.name) == ["c"])
        #expect(alone.open == 1)
    }

    @Test func anIdleConnectionIsReusedMostRecentFirst() {
        var state = State(size: 3, maxQueue: 10, queues: true)
        let connections = leaseAll(&state, [Wait("a"), Wait("b")])
        #expect(state.release(connections[0]).isPark)
        #expect(state.release(connections[1]).isPark)
        #expect(state.acquire(for: Wait("c")).leased === connections[1], "the most recently used first")
        #expect(state.acquire(for: Wait("d")).leased === connections[0])
        #expect(state.acquire(for: Wait("e")).isConnect, "none idle, one more may open")
        #expect(state.open == 3)
    }

    @Test func aFreshAcquisitionSkipsIdleConnections() {
        var state = State(size: 2, maxQueue: 10, queues: true)
        let connection = leaseAll(&state, [Wait("a")])[0]
        _ = state.release(connection)
        #expect(state.acquire(for: Wait("retry"), fresh: true).isConnect)
        #expect(state.idle.count == 1, "the idle one stays for someone else")
        #expect(state.acquire(for: Wait("f"), fresh: true).isQueue, "a fresh acquisition in a full pool waits")
    }

    @Test func aReleasedConnectionGoesToTheOldestCurrentWaiter() {
        var state = State(size: 1, maxQueue: 10, queues: true)
        let connection = leaseAll(&state, [Wait("holder")])[0]
        let first = Wait("first"), second = Wait("second"), third = Wait("third")
        for waiter in [first, second, third] { #expect(state.acquire(for: waiter).isQueue) }
        first.isCurrent = false
        state.withdraw()
        #expect(state.release(connection).leasedTo === second, "a stale entry is skipped")
        #expect(state.release(connection).leasedTo === third)
        #expect(state.release(connection).isPark)
        #expect(state.lineLength == 0)
    }

    @Test func theLineIsBoundedByMaxQueueCountingOnlyCurrentWaiters() {
        var state = State(size: 1, maxQueue: 2, queues: true)
        _ = leaseAll(&state, [Wait("holder")])
        let a = Wait("a")
        #expect(state.acquire(for: a).isQueue)
        #expect(state.acquire(for: Wait("b")).isQueue)
        #expect(state.acquire(for: Wait("c")).isRefuse, "two wait: the line is full")
        a.isCurrent = false
        state.withdraw()
        #expect(state.acquire(for: Wait("d")).isQueue, "a withdrawn entry leaves room")
        #expect(state.acquire(for: Wait("e")).isRefuse)
    }

    @Test func aPoolThatDoesNotQueueRefusesWhenFull() {
        var state = State(size: 1, maxQueue: 10, queues: false)
        #expect(state.acquire(for: Wait("a")).isConnect)
        #expect(state.acquire(for: Wait("b")).isRefuse)
        #expect(state.lineLength == 0)
    }

    @Test func withdrawingCompactsTheLineOnceHalfOfItIsStale() {
        var state = State(size: 1, maxQueue: 100_000, queues: true)
        _ = leaseAll(&state, [Wait("holder")])
        var longest = 0
        for index in 0..<10_000 {
            let waiter = Wait("w\(index)")
            _ = state.acquire(for: waiter)
            waiter.isCurrent = false
            state.withdraw()
            longest = max(longest, state.lineLength)
        }
        #expect(longest <= 128, "stale entries never pile up: at most \(longest)")
        let kept = Wait("kept")
        _ = state.acquire(for: kept)
        for index in 0..<200 {
            let waiter = Wait("x\(index)")
            _ = state.acquire(for: waiter)
            waiter.isCurrent = false
            state.withdraw()
        }
        let holder = Conn("holder")
        #expect(state.release(holder).leasedTo === kept, "compaction keeps the current waiter, in order")
        #expect(state.release(holder).isPark, "only stale entries remain behind it")
    }

    @Test func aClosedConnectionMakesRoomForTheNextWaiter() {
        var state = State(size: 1, maxQueue: 10, queues: true)
        let connection = leaseAll(&state, [Wait("holder")])[0]
        let waiter = Wait("w")
        _ = state.acquire(for: waiter)
        #expect(state.closed(connection) === waiter, "a connection is opened for the line's first")
        #expect(state.open == 1)
        #expect(state.connecting == 1)
        #expect(state.lineLength == 0)
    }

    @Test func aClosedIdleConnectionLeavesTheIdleSet() {
        var state = State(size: 2, maxQueue: 10, queues: true)
        let connections = leaseAll(&state, [Wait("a"), Wait("b")])
        _ = state.release(connections[0])
        _ = state.release(connections[1])
        #expect(state.closed(connections[0]) == nil)
        #expect(state.idle.map(\.name) == ["c-b"])
        #expect(state.open == 1)
        #expect(state.acquire(for: Wait("c")).leased === connections[1])
    }

    @Test func aClosedConnectionOpensNothingWhenTheLineHoldsOnlyStaleEntries() {
        var state = State(size: 1, maxQueue: 10, queues: true)
        let connection = leaseAll(&state, [Wait("holder")])[0]
        let waiter = Wait("gone")
        _ = state.acquire(for: waiter)
        waiter.isCurrent = false
        #expect(state.closed(connection) == nil)
        #expect(state.open == 0)
        #expect(state.connecting == 0)
    }

    @Test func aSetupFailureTellsTheWaiterOnlyWhenItStillWaits() {
        var state = State(size: 2, maxQueue: 10, queues: true)
        let waiting = Wait("waiting"), gone = Wait("gone")
        _ = state.acquire(for: waiting)
        _ = state.acquire(for: gone)
        gone.isCurrent = false
        #expect(state.setupFailed(initial: waiting) === waiting)
        #expect(state.setupFailed(initial: gone) == nil, "its deadline passed: it counted the failure itself")
        #expect(state.connecting == 0)
        #expect(state.open == 2, "the channels' closes follow")
        #expect(state.closed(Conn("1")) == nil)
        #expect(state.closed(Conn("2")) == nil)
        #expect(state.open == 0)
    }

    @Test func aConnectFailedWithoutAChannelFreesItsPlaceForTheNextWaiter() {
        var state = State(size: 1, maxQueue: 10, queues: true)
        let first = Wait("first"), second = Wait("second")
        #expect(state.acquire(for: first).isConnect)
        #expect(state.acquire(for: second).isQueue)
        #expect(state.connectFailed(initial: first) === first)
        #expect(state.open == 0, "the place is free until the line takes it, after the failed exchange was told")
        #expect(state.lineLength == 1)
        #expect(state.nextToConnect() === second, "the next waiter gets a connect of its own")
        #expect(state.open == 1)
        #expect(state.connecting == 1)

        second.isCurrent = false
        #expect(state.connectFailed(initial: second) == nil, "its deadline passed: it counted the failure itself")
        #expect(state.nextToConnect() == nil)
        #expect(state.open == 0)
    }

    @Test func aFailedExchangeThatAsksAgainAtOnceTakesThePlaceBeforeTheLineDoes() {
        // A request pipelined behind the failed one asks while the failure is being told: as before, it finds room.
        var state = State(size: 1, maxQueue: 10, queues: true)
        let failed = Wait("failed"), waiting = Wait("waiting")
        _ = state.acquire(for: failed)
        _ = state.acquire(for: waiting)
        _ = state.connectFailed(initial: failed)
        #expect(state.acquire(for: Wait("pipelined")).isConnect)
        #expect(state.nextToConnect() == nil, "no room left: the waiter stays in line")
        #expect(state.lineLength == 1)
    }

    @Test func aRetiredPoolOpensNothingAndClosesWhatNobodyWaitsFor() {
        var state = State(size: 2, maxQueue: 10, queues: true)
        let gone = Wait("gone"), failing = Wait("failing")
        _ = state.acquire(for: gone)
        _ = state.acquire(for: failing)
        _ = state.acquire(for: Wait("in line"))
        _ = state.retire()
        gone.isCurrent = false
        let connection = Conn("late")
        let handover = state.ready(connection, initial: gone)
        #expect(handover.isClose, "set up for a waiter that left, in a retired pool: it closes")
        #expect(state.connectFailed(initial: failing) === failing)
        #expect(state.nextToConnect() == nil, "a retired pool opens nothing")
        #expect(state.closed(connection) == nil)
        #expect(state.open == 0)
    }

    @Test func aPoolWithNoLineRefusesAtOnceAndCompactionKeepsTheOrder() {
        var none = State(size: 1, maxQueue: 0, queues: true)
        _ = leaseAll(&none, [Wait("holder")])
        #expect(none.acquire(for: Wait("a")).isRefuse, "max_queue 0: nobody waits")

        var state = State(size: 1, maxQueue: 1000, queues: true)
        let holder = leaseAll(&state, [Wait("holder")])[0]
        var kept: [Wait] = []
        for index in 0..<300 {
            let waiter = Wait("w\(index)")
            _ = state.acquire(for: waiter)
            if index % 3 == 0 {
                kept.append(waiter)
            } else {
                waiter.isCurrent = false
                state.withdraw()
            }
        }
        #expect(state.lineLength < 300, "the line was compacted")
        for waiter in kept {
            let handover = state.release(holder)
            #expect(handover.leasedTo === waiter, "the waiters that still wait keep their order")
        }
        let last = state.release(holder)
        #expect(last.isPark)
        #expect(state.acquire(for: Wait("next")).leased === holder)
        #expect(state.leasedOrClosing == 1)
    }

    @Test func retiringClosesIdleConnectionsFailsCurrentWaitersAndClosesReleasedOnes() {
        var state = State(size: 3, maxQueue: 10, queues: true)
        let connections = leaseAll(&state, [Wait("a"), Wait("b")])
        let late = Wait("late")
        #expect(state.acquire(for: late).isConnect)
        _ = state.release(connections[0])
        let waiting = Wait("waiting"), gone = Wait("gone")
        // Fresh acquisitions (retries) wait in line even with a connection idle.
        #expect(state.acquire(for: waiting, fresh: true).isQueue)
        #expect(state.acquire(for: gone, fresh: true).isQueue)
        gone.isCurrent = false
        let (closing, failing) = state.retire()
        #expect(closing.map(\.name) == ["c-a"])
        #expect(failing.map(\.name) == ["waiting"])
        #expect(state.isRetired)
        #expect(state.release(connections[1]).isClose)
        #expect(state.ready(Conn("late"), initial: late).leasedTo === late,
                "a connection set up for a waiter that still waits is still leased to it")
        #expect(state.closed(connections[1]) == nil, "a retired pool opens nothing")
        #expect(state.lineLength == 0)
    }

    @Test func countsStayConsistentThroughEveryTransition() {
        // A fixed walk through every event, checking what the counts must be after each.
        var state = State(size: 3, maxQueue: 4, queues: true)
        let a = Wait("a"), b = Wait("b"), c = Wait("c"), d = Wait("d")
        _ = state.acquire(for: a)
        _ = state.acquire(for: b)
        _ = state.acquire(for: c)
        _ = state.acquire(for: d)
        #expect((state.open, state.connecting, state.idle.count, state.lineLength) == (3, 3, 0, 1))
        let ca = Conn("a"), cb = Conn("b")
        _ = state.ready(ca, initial: a)
        _ = state.setupFailed(initial: b)
        #expect((state.open, state.connecting, state.leasedOrClosing) == (3, 1, 2))
        #expect(state.closed(cb) === d, "b's channel closed: d in line gets a connect")
        #expect((state.open, state.connecting, state.lineLength) == (3, 2, 0))
        #expect(state.release(ca).isPark)
        #expect((state.open, state.connecting, state.idle.count, state.leasedOrClosing) == (3, 2, 1, 0))
        _ = state.connectFailed(initial: c)
        _ = state.connectFailed(initial: d)
        #expect(state.nextToConnect() == nil, "nobody is in line")
        #expect((state.open, state.connecting, state.idle.count) == (1, 0, 1))
        #expect(state.closed(ca) == nil)
        #expect((state.open, state.connecting, state.idle.count, state.leasedOrClosing) == (0, 0, 0, 0))
    }
}
