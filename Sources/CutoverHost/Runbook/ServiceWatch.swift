import CutoverCore
import Foundation

/// Probes the service's health URL through its address for the length of a run, on a thread of its own, keeping
/// each probe's time, whether it answered, and how long it took: the run's downtime (from the last answer before
/// the old service stopped to the first after the address moved) and the latency before and after come from it.
final class ServiceWatch: @unchecked Sendable {
    // `probes` is guarded by `lock`; `next` is used by the watching thread only.
    private let probe: HTTPProbe
    private let every: Duration
    private let lock = NSLock()
    private let loop = LoopThread()
    private var probes: [(at: ContinuousClock.Instant, answered: Bool, latency: Duration)] = []
    private var next = ContinuousClock.now

    init(probe: HTTPProbe, every: Duration) {
        self.probe = probe
        self.every = max(every, .milliseconds(1))
    }

    func start() {
        next = ContinuousClock.now
        loop.start(name: "cutover-service-watch") { [self] in
            let clock = ContinuousClock()
            let at = clock.now
            let status = probe.get(timeout: min(every * 5, .seconds(1)))
            let latency = clock.now - at
            lock.lock()
            probes.append((at, status.map { (200..<400).contains($0) } ?? false, latency))
            lock.unlock()
            next = next + every
            if next > clock.now { Thread.sleep(forTimeInterval: (next - clock.now).seconds) } else { next = clock.now }
        }
    }

    func stop() {
        loop.stop()
    }

    /// The downtime and the latencies, in seconds: `downtime_seconds` from the last answer before `stopAt` to the
    /// first after `upAfter`; `latency_before_p50/p99_seconds` and `latency_after_…` over the answers before the
    /// stop and after the address moved.
    func summary(stopAt: ContinuousClock.Instant, upAfter: ContinuousClock.Instant) -> [String: Double] {
        lock.lock()
        let all = probes
        lock.unlock()
        var figures: [String: Double] = [:]
        if let lastUp = all.last(where: { $0.answered && $0.at <= stopAt }), let firstUp = all.first(where: { $0.answered && $0.at >= upAfter }) {
            figures["downtime_seconds"] = (firstUp.at + firstUp.latency - (lastUp.at + lastUp.latency)).seconds
        }
        func percentiles(_ latencies: [Duration], _ name: String) {
            let sorted = latencies.map(\.seconds).sorted()
            guard !sorted.isEmpty else { return }
            figures["latency_\(name)_p50_seconds"] = sorted[sorted.count / 2]
            figures["latency_\(name)_p99_seconds"] = sorted[min(sorted.count - 1, Int(Double(sorted.count) * 0.99))]
        }
        percentiles(all.filter { $0.answered && $0.at < stopAt }.map(\.latency), "before")
        percentiles(all.filter { $0.answered && $0.at > upAfter }.map(\.latency), "after")
        return figures
    }
}
