import CutoverCore
import CutoverProxy
import CutoverStore
import Logging
import NIOConcurrencyHelpers
import ServiceLifecycle

/// Keeps the gateway's store open: an SQLite file opens at start (a failure
/// stops the start); a PostgreSQL database that cannot be reached is retried in
/// the background while the proxy serves. Until it is open, the comparator's
/// batches wait (within their bound) and the admin API answers 503.
final class StoreService: Service, DiffRecorder, Sendable {
    let location: StoreLocation
    private let logger: Logger
    private let opened = NIOLockedValueBox<Store?>(nil)
    /// The first attempt to open a PostgreSQL store, started before the proxy serves, and whether it has ended.
    private let firstAttempt = NIOLockedValueBox<Task<Void, Never>?>(nil)
    private let firstAttemptEnded = NIOLockedValueBox(true)

    init(location: StoreLocation, logger: Logger) {
        self.location = location
        self.logger = logger
    }

    /// Opens an SQLite store now; other stores open in `run()`.
    func openIfEmbedded() async throws {
        if case .sqlite = location {
            let store = try await Store.open(location, logger: logger)
            opened.withLockedValue { $0 = store }
        }
    }

    /// Starts opening a PostgreSQL store and waits for it at most `limit`, so that the stored switch
    /// flags can apply from the first request; past that, the attempt goes on while the proxy serves.
    func openEarly(waitingAtMost limit: Duration) async {
        guard case .postgres = location else { return }
        firstAttemptEnded.withLockedValue { $0 = false }
        let attempt = Task {
            defer { self.firstAttemptEnded.withLockedValue { $0 = true } }
            await self.attemptOpen()
        }
        firstAttempt.withLockedValue { $0 = attempt }
        let deadline = ContinuousClock.now + limit
        while current == nil, ContinuousClock.now < deadline {
            try? await Task.sleep(for: .milliseconds(20))
        }
        if current == nil {
            logger.warning("the store is not reachable yet: serving the configured phases until it is", metadata: ["store": "\(location.redacted)"])
        }
    }

    /// Tries once to open the store; true when it is open.
    @discardableResult
    private func attemptOpen() async -> Bool {
        do {
            let store = try await Store.open(location, logger: logger)
            opened.withLockedValue { $0 = store }
            logger.info("store open", metadata: ["store": "\(location.redacted)"])
            return true
        } catch {
            logger.error("cannot open the store; retrying", metadata: ["store": "\(location.redacted)", "error": "\(error)"])
            return false
        }
    }

    /// The store, once open.
    var current: Store? { opened.withLockedValue { $0 } }

    func run() async throws {
        // The first attempt may still be waiting for the server; a stop does not wait for it.
        while !firstAttemptEnded.withLockedValue({ $0 }), !Task.isCancelled, !Task.isShuttingDownGracefully {
            try? await Task.sleep(for: .milliseconds(50))
        }
        var delay: Duration = .milliseconds(500)
        while current == nil, !Task.isCancelled, !Task.isShuttingDownGracefully {
            if await attemptOpen() { break }
            try? await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(30))
        }
        try? await gracefulShutdown()
        firstAttempt.withLockedValue { $0 }?.cancel()
        await current?.close()
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
