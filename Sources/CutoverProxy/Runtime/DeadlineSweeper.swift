import NIOCore

/// Something with a deadline the sweeper watches.
protocol DeadlineTracked: AnyObject {
    /// When the sweeper should call `deadlinePassed`.
    var deadline: NIODeadline { get }
    /// The sweeper's bookkeeping: the entry's position, -1 when not registered.
    var sweepIndex: Int { get set }
    /// Called on the event loop once `deadline` has passed.
    func deadlinePassed()
}

/// Watches the deadlines of one event loop's in-flight exchanges with a single
/// periodic timer, instead of one scheduled task per request: registering and
/// unregistering are O(1) and allocate nothing. A deadline fires at most one
/// tick late. The timer runs only while something is registered.
final class DeadlineSweeper {
    private let eventLoop: any EventLoop
    private var entries: [any DeadlineTracked] = []
    private var timerRunning = false
    /// How often deadlines are checked.
    var tick: TimeAmount

    init(eventLoop: any EventLoop, tick: TimeAmount) {
        self.eventLoop = eventLoop
        self.tick = tick
    }

    /// Starts watching an entry; registering twice is harmless.
    func register(_ entry: any DeadlineTracked) {
        guard entry.sweepIndex < 0 else { return }
        entry.sweepIndex = entries.count
        entries.append(entry)
        if !timerRunning { schedule() }
    }

    /// Stops watching an entry.
    func unregister(_ entry: any DeadlineTracked) {
        let index = entry.sweepIndex
        guard index >= 0 else { return }
        entry.sweepIndex = -1
        let last = entries.removeLast()
        if index < entries.count {
            entries[index] = last
            last.sweepIndex = index
        }
    }

    /// The number of entries watched.
    var count: Int { entries.count }

    private func schedule() {
        timerRunning = true
        eventLoop.assumeIsolated().scheduleTask(in: tick) { [self] in
            self.sweep()
        }
    }

    private func sweep() {
        timerRunning = false
        let now = eventLoop.now
        var index = 0
        while index < entries.count {
            let entry = entries[index]
            if entry.deadline <= now {
                unregister(entry)
                entry.deadlinePassed()
                // The swap moved another entry into `index`; look at it next.
            } else {
                index += 1
            }
        }
        if !entries.isEmpty { schedule() }
    }
}
