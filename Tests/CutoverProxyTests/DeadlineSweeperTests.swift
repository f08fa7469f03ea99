@testable import CutoverProxy
import NIOCore
import NIOEmbedded
import Testing

final class Timed: DeadlineTracked {
    var deadline: NIODeadline
    var sweepIndex = -1
    var fired = 0
    init(_ deadline: NIODeadline) { self.deadline = deadline }
    func deadlinePassed() { fired += 1 }
}

@Suite("Deadline sweeper", .timeLimit(.minutes(1)))
struct DeadlineSweeperTests {
    @Test func firesOncePastTheDeadlineWithinATick() {
        let loop = EmbeddedEventLoop()
        let sweeper = DeadlineSweeper(eventLoop: loop, tick: .milliseconds(10))
        let early = Timed(loop.now + .milliseconds(25)), late = Timed(loop.now + .milliseconds(100))
        sweeper.register(early)
        sweeper.register(late)
        loop.advanceTime(by: .milliseconds(20))
        #expect(early.fired == 0)
        loop.advanceTime(by: .milliseconds(10))
        #expect(early.fired == 1)
        #expect(late.fired == 0)
        #expect(sweeper.count == 1)
        loop.advanceTime(by: .milliseconds(100))
        #expect(late.fired == 1)
        #expect(early.fired == 1)
        #expect(sweeper.count == 0)
    }

    @Test func unregisteredEntriesNeverFire() {
        let loop = EmbeddedEventLoop()
        let sweeper = DeadlineSweeper(eventLoop: loop, tick: .milliseconds(10))
        let entries = (0..<5).map { Timed(loop.now + .milliseconds(5 * $0)) }
        entries.forEach(sweeper.register)
        sweeper.unregister(entries[1])
        sweeper.unregister(entries[3])
        sweeper.unregister(entries[3])
        loop.advanceTime(by: .milliseconds(50))
        #expect(entries.map(\.fired) == [1, 0, 1, 0, 1])
        #expect(sweeper.count == 0)
    }
}
