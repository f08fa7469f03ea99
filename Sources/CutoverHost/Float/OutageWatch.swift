import CutoverCore
import Foundation

/// Watches who answers for an address from a vantage point on the segment while it floats: a probe every `every`,
/// each answer's MAC and time kept. The IP outage is the time from the last answer by the old holder's MAC to the
/// first answer by the new holder's.
public final class OutageWatch: @unchecked Sendable {
    // `answers` is guarded by `lock`; the probe and `next` are used by the watching thread only.
    private let probe: NeighbourProbe
    private let every: Duration
    private var answers: [(at: ContinuousClock.Instant, mac: MACAddress)] = []
    private let lock = NSLock()
    private let loop = LoopThread()
    private var next = ContinuousClock.now

    public init(address: IPAddress, interface: String, namespace: String?, every: Duration = .milliseconds(1)) throws {
        probe = try NeighbourProbe(address: address, interface: interface, namespace: namespace)
        self.every = every
    }

    /// Starts probing on a thread of its own: a probe every `every`, every answer kept with its time.
    public func start() {
        loop.start(name: "cutover-outage-watch") { [self] in
            let clock = ContinuousClock()
            if clock.now >= next {
                try? probe.ask()
                next = clock.now + every
            }
            if let frame = try? probe.receive(within: max(.zero, next - clock.now)), let mac = probe.heard(frame) {
                let at = clock.now
                lock.lock()
                answers.append((at, mac))
                lock.unlock()
            }
        }
    }

    /// Stops probing and waits for the watching thread to end.
    public func stop() {
        loop.stop()
    }

    /// Whether `mac` has answered yet.
    public func hasHeard(_ mac: MACAddress) -> Bool {
        lock.lock()
        defer { lock.unlock() }
        return answers.contains { $0.mac == mac }
    }

    /// After `stop()`: the time from `old`'s last answer to `new`'s first answer after it; nil when either was never heard.
    public func outage(old: MACAddress, new: MACAddress) -> Duration? {
        guard let firstNew = answers.first(where: { $0.mac == new })?.at else { return nil }
        guard let lastOld = answers.last(where: { $0.mac == old && $0.at < firstNew })?.at else { return nil }
        return firstNew - lastOld
    }

    /// After `stop()`: the MACs heard answering, each once, in order.
    public var heardMACs: [MACAddress] {
        var seen: [MACAddress] = []
        for answer in answers where !seen.contains(answer.mac) { seen.append(answer.mac) }
        return seen
    }
}
