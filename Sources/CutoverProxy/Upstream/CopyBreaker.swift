import NIOCore

/// Keeps shadow copies away from a backend that keeps failing them (connections refused or reset, answers that
/// are not HTTP, timeouts): after five failures in a row the copies' pool stops sending for a second, then lets one
/// trial copy through; a trial that fails doubles the pause (up to 30 s), one that is answered closes the breaker.
/// A failing new so costs the gateway almost nothing, instead of a connection attempt per request. A value type
/// confined to its pool's event loop; the clock is read only while the breaker is open.
struct CopyBreaker {
    /// Failures in a row that open the breaker.
    static let threshold = 5
    /// The first pause, and the longest.
    static let defaultFirstPause = TimeAmount.seconds(1)
    static let longestPause = TimeAmount.seconds(30)
    /// The pause after the threshold is reached (tests lengthen it so that their copies never race the clock).
    var firstPause = Self.defaultFirstPause

    enum State: Equatable {
        /// Copies go; this many failed in a row.
        case closed(failures: Int)
        /// No copy goes until `until`.
        case open(until: NIODeadline, pause: TimeAmount)
        /// One trial copy is under way since `since`.
        case trial(pause: TimeAmount, since: NIODeadline)
    }

    /// A trial with no outcome for this long (it was lost: abandoned by its request, refused a connection) lets the
    /// next copy be the trial.
    static let trialBound = TimeAmount.seconds(60)

    private(set) var state = State.closed(failures: 0)

    /// Whether a copy may go now (in the open state, the first one asked for once the pause is over is the trial).
    mutating func admits(now: () -> NIODeadline) -> Bool {
        switch state {
        case .closed:
            return true
        case .open(let until, let pause):
            let time = now()
            guard time >= until else { return false }
            state = .trial(pause: pause, since: time)
            return true
        case .trial(let pause, let since):
            let time = now()
            guard time >= since + Self.trialBound else { return false }
            state = .trial(pause: pause, since: time)
            return true
        }
    }

    /// A copy ended without an outcome (its request was abandoned, or it was refused a connection after the breaker
    /// let it go): if it was the trial, the next copy may be the trial at once.
    mutating func recordNoOutcome(now: () -> NIODeadline) {
        if case .trial(let pause, _) = state { state = .open(until: now(), pause: pause) }
    }

    /// A copy ended: answered (`success`) or failed.
    mutating func record(success: Bool, now: () -> NIODeadline) {
        switch (state, success) {
        case (_, true):
            state = .closed(failures: 0)
        case (.closed(let failures), false):
            state = failures + 1 >= Self.threshold ? .open(until: now() + firstPause, pause: firstPause) : .closed(failures: failures + 1)
        case (.trial(let pause, _), false):
            let next = min(pause * 2, Self.longestPause)
            state = .open(until: now() + next, pause: next)
        case (.open, false):
            // A copy sent before the breaker opened failed late: the pause stands.
            break
        }
    }

    /// Ends a pause under way as if it had run out: the next copy asked for is the trial.
    mutating func endPause(now: () -> NIODeadline) {
        if case .open(_, let pause) = state { state = .open(until: now(), pause: pause) }
    }

    /// Whether copies are held back now.
    var isOpen: Bool {
        if case .closed = state { return false }
        return true
    }
}
