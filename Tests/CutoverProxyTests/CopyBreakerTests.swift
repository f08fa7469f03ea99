@testable import CutoverProxy
import NIOCore
import Testing

/// The breaker that keeps shadow copies away from a failing new, transition by transition, on a clock the test moves.
@Suite("Copy breaker", .timeLimit(.minutes(1)))
struct CopyBreakerTests {
    var clock = NIODeadline.uptimeNanoseconds(1_000_000_000)

    @Test func fiveFailuresInARowOpenItAndASuccessBetweenStartsTheCountAgain() {
        var breaker = CopyBreaker()
        let now = clock
        for _ in 0..<4 { breaker.record(success: false, now: { now }) }
        breaker.record(success: true, now: { now })
        for _ in 0..<4 { breaker.record(success: false, now: { now }) }
        #expect(breaker.state == .closed(failures: 4))
        let admitted1 = breaker.admits(now: { now })
        #expect(admitted1)
        breaker.record(success: false, now: { now })
        #expect(breaker.state == .open(until: now + .seconds(1), pause: .seconds(1)))
        let admitted2 = breaker.admits(now: { now + .milliseconds(999) })
        #expect(!admitted2)
    }

    @Test func aLongerFirstPauseHoldsUntilItIsEndedAndTheTrialKeepsThatPause() {
        var breaker = CopyBreaker()
        breaker.firstPause = .hours(1)
        let now = clock
        for _ in 0..<5 { breaker.record(success: false, now: { now }) }
        let early = breaker.admits(now: { now + .seconds(59 * 60) })
        #expect(!early)
        breaker.endPause(now: { now + .seconds(60) })
        let trial = breaker.admits(now: { now + .seconds(60) })
        #expect(trial, "an ended pause lets the next copy be the trial")
        breaker.record(success: false, now: { now + .seconds(60) })
        #expect(breaker.state == .open(until: now + .seconds(90), pause: .seconds(30)), "a failed trial's pause is 30 s at most")
        breaker.endPause(now: { now })
        #expect(breaker.isOpen, "ending the pause opens no closed breaker and closes no open one")
    }

    @Test func afterThePauseOneTrialGoesAndItsOutcomeDecides() {
        var breaker = CopyBreaker()
        let now = clock
        for _ in 0..<5 { breaker.record(success: false, now: { now }) }
        let later = now + .seconds(1)
        let admitted3 = breaker.admits(now: { later })
        #expect(admitted3, "the first copy after the pause is the trial")
        let admitted4 = breaker.admits(now: { later })
        #expect(!admitted4, "one trial at a time")
        breaker.record(success: false, now: { later })
        #expect(breaker.state == .open(until: later + .seconds(2), pause: .seconds(2)), "a failed trial doubles the pause")
        let again = later + .seconds(2)
        let admitted5 = breaker.admits(now: { again })
        #expect(admitted5)
        breaker.record(success: true, now: { again })
        #expect(breaker.state == .closed(failures: 0))
        let admitted6 = breaker.admits(now: { again })
        #expect(admitted6)
    }

    @Test func thePauseStopsDoublingAtThirtySeconds() {
        var breaker = CopyBreaker()
        var now = clock
        for _ in 0..<5 { breaker.record(success: false, now: { now }) }
        for _ in 0..<10 {
            guard case .open(let until, _) = breaker.state else { Issue.record("open"); return }
            now = until
            let admitted7 = breaker.admits(now: { now })
            #expect(admitted7)
            breaker.record(success: false, now: { now })
        }
        #expect(breaker.state == .open(until: now + .seconds(30), pause: .seconds(30)))
    }

    @Test func lateFailuresOfCopiesSentBeforeItOpenedDoNotProlongThePause() {
        var breaker = CopyBreaker()
        let now = clock
        for _ in 0..<5 { breaker.record(success: false, now: { now }) }
        breaker.record(success: false, now: { now + .milliseconds(500) })
        #expect(breaker.state == .open(until: now + .seconds(1), pause: .seconds(1)))
    }

    @Test func aTrialThatEndsWithoutAnOutcomeLetsTheNextCopyBeTheTrial() {
        var breaker = CopyBreaker()
        let now = clock
        for _ in 0..<5 { breaker.record(success: false, now: { now }) }
        let later = now + .seconds(1)
        let trial = breaker.admits(now: { later })
        #expect(trial)
        // The trial's request was abandoned (old failed, the client left): no outcome will ever come.
        breaker.recordNoOutcome(now: { later })
        let next = breaker.admits(now: { later })
        #expect(next, "the next copy is the trial at once")
        #expect(breaker.state == .trial(pause: .seconds(1), since: later))
    }

    @Test func aLostTrialExpires() {
        var breaker = CopyBreaker()
        let now = clock
        for _ in 0..<5 { breaker.record(success: false, now: { now }) }
        let start = now + .seconds(1)
        let trial = breaker.admits(now: { start })
        #expect(trial)
        let held = breaker.admits(now: { start + .seconds(59) })
        #expect(!held)
        let again = breaker.admits(now: { start + .seconds(60) })
        #expect(again, "a trial with no outcome for a minute is lost: another goes")
    }
}
