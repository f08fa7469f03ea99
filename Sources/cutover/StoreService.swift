import CutoverCore
import CutoverProxy
import CutoverStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Keeps the gateway's store open and knows whether it answers. An SQLite file opens before the gateway starts
/// (a failure stops the start). A PostgreSQL store is served by this service: its connection pool runs as a
/// child task for the service's whole life, its schema is prepared as soon as the server answers (retried with
/// backoff while the proxy serves), and a probe every second tells up from down, so that the admin API refuses
/// at once with the reason while the store is down, and `/healthz` says so. Whoever needs the store waits for it
/// with ``ready(within:)`` (a continuation, no polling). Until it is ready, the comparator's batches wait (within
/// their bound) and the configured phases serve.
final class StoreService: Service, DiffRecorder, Sendable {
    let location: StoreLocation
    private let logger: Logger
    /// How often a PostgreSQL store is probed, and how long a probe may take.
    let probeInterval: Duration
    private let state: NIOLockedValueBox<State>

    private struct State {
        var store: Store?
        /// Prepared: usable once up.
        var prepared = false
        var status: StoreStatus
        /// Probes failed in a row.
        var failures = 0
        /// The service has ended: nobody waits any longer.
        var finished = false
        var waiters: [UUID: CheckedContinuation<Store?, Never>] = [:]
    }

    init(location: StoreLocation, logger: Logger, probeInterval: Duration = .seconds(1)) {
        self.location = location
        self.logger = logger
        self.probeInterval = probeInterval
        self.state = NIOLockedValueBox(State(status: StoreStatus(state: .opening, since: Date())))
    }

    /// Opens an SQLite store now; a PostgreSQL store opens in `run()`.
    func openIfEmbedded() async throws {
        guard case .sqlite = location else { return }
        let store = try await Store.open(location, logger: logger)
        becameReady(store)
    }

    /// The store while it is open and answering; nil while it is opening or down.
    var current: Store? {
        state.withLockedValue { $0.prepared && $0.status.state == .up ? $0.store : nil }
    }

    /// Whether the store is up, opening or down, since when and why.
    var status: StoreStatus { state.withLockedValue { $0.status } }

    /// The store once it is ready: at once if it is, else when it becomes so, or nil after `limit` (nil: no
    /// limit), on cancellation, or when the service ends.
    func ready(within limit: Duration?) async -> Store? {
        if let store = current { return store }
        return await withTaskGroup(of: Store?.self) { group in
            group.addTask { await self.waitForReady() }
            if let limit {
                group.addTask {
                    try? await Task.sleep(for: limit)
                    return nil
                }
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first
        }
    }

    private func waitForReady() async -> Store? {
        let id = UUID()
        return await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let answer: Store?? = state.withLockedValue { state in
                    if state.prepared, let store = state.store { return .some(store) }
                    if state.finished || Task.isCancelled { return .some(nil) }
                    state.waiters[id] = continuation
                    return nil
                }
                if let answer { continuation.resume(returning: answer) }
            }
        } onCancel: {
            state.withLockedValue { $0.waiters.removeValue(forKey: id) }?.resume(returning: nil)
        }
    }

    private func becameReady(_ store: Store) {
        let waiters = state.withLockedValue { state in
            state.store = store
            state.prepared = true
            state.status = StoreStatus(state: .up, since: Date())
            state.failures = 0
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: store) }
    }

    private func finish() {
        let waiters = state.withLockedValue { state in
            state.finished = true
            defer { state.waiters.removeAll() }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume(returning: nil) }
    }

    func run() async throws {
        defer { finish() }
        guard case .postgres = location else {
            // An SQLite store is open already and needs nothing running; it closes at the end.
            try? await gracefulShutdown()
            await state.withLockedValue { $0.store }?.close()
            return
        }
        let store: Store
        do {
            store = try await Store.make(location, logger: logger)
        } catch {
            logger.error("cannot use the store", metadata: ["store": "\(location.redacted)", "error": "\(error)"])
            try? await gracefulShutdown()
            return
        }
        state.withLockedValue { $0.store = store }
        await withTaskGroup(of: Void.self) { group in
            // The connection pool, until the graceful shutdown reaches this service.
            group.addTask { try? await store.run() }
            group.addTask { await self.prepareAndWatch(store) }
            await group.waitForAll()
        }
    }

    /// Prepares the schema once the server answers (retrying with backoff), then probes it every `probeInterval`.
    private func prepareAndWatch(_ store: Store) async {
        var delay: Duration = .milliseconds(200)
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            do {
                try await store.prepare()
                logger.info("store open", metadata: ["store": "\(location.redacted)"])
                becameReady(store)
                break
            } catch {
                let reason = StoreStatus.reason(error)
                state.withLockedValue { $0.status.reason = reason }
                logger.error("cannot open the store; retrying", metadata: ["store": "\(location.redacted)", "error": "\(reason)"])
                let wait = delay
                try? await cancelWhenGracefulShutdown { try await Task.sleep(for: wait) }
                delay = min(delay * 2, .seconds(10))
            }
        }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await cancelWhenGracefulShutdown { try await Task.sleep(for: self.probeInterval) }
            guard !Task.isShuttingDownGracefully, !Task.isCancelled else { break }
            do {
                try await store.ping(timeout: probeInterval)
                probed(failure: nil)
            } catch {
                probed(failure: StoreStatus.reason(error))
            }
        }
    }

    /// Counts a probe: the store is down after a failed probe (a trivial statement unanswered for a second), and up
    /// again after one answered.
    private func probed(failure: String?) {
        let change: StoreStatus? = state.withLockedValue { state in
            if let failure {
                state.failures += 1
                guard state.status.state != .down else { return nil }
                state.status = StoreStatus(state: .down, since: Date(), reason: failure)
                return state.status
            }
            state.failures = 0
            guard state.status.state != .up else { return nil }
            state.status = StoreStatus(state: .up, since: Date())
            return state.status
        }
        guard let change else { return }
        if change.state == .down {
            logger.error("the store does not answer", metadata: ["store": "\(location.redacted)", "reason": "\(change.reason ?? "")"])
        } else {
            logger.info("the store answers again", metadata: ["store": "\(location.redacted)"])
        }
    }

    func record(_ batch: DiffBatch) async throws {
        guard let store = current else { throw StoreError.timeout(.zero) }
        try await store.record(batch)
    }
}

/// Runs the comparator until the proxy has drained and closed its queue (it
/// then flushes once more), and ends when its turn in the shutdown comes.
struct ComparatorService: Service {
    let pipeline: DiffPipeline

    func run() async throws {
        await pipeline.run()
        try? await gracefulShutdown()
    }
}
