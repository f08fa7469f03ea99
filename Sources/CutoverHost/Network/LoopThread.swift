import Foundation

/// A loop on a thread of its own, run until stopped: the watchers of a float and of a run probe on one, so their
/// probes never wait for the async world. `stop()` returns once the loop's last round has ended.
final class LoopThread: @unchecked Sendable {
    // `stopping`, `started` and `finished` are guarded by `lock`.
    private let lock = NSCondition()
    private var stopping = false
    private var started = false
    private var finished = false

    /// Starts running `round` over and over on a new thread named `name`, until ``stop()``.
    func start(name: String, _ round: @escaping @Sendable () -> Void) {
        lock.lock()
        started = true
        lock.unlock()
        let thread = Thread { [self] in
            while !isStopping { round() }
            lock.lock()
            finished = true
            lock.broadcast()
            lock.unlock()
        }
        thread.name = name
        thread.start()
    }

    private var isStopping: Bool {
        lock.lock()
        defer { lock.unlock() }
        return stopping
    }

    /// Stops the loop and waits for its thread to end (at once when it never started).
    func stop() {
        lock.lock()
        stopping = true
        while started, !finished { lock.wait() }
        lock.unlock()
    }
}
