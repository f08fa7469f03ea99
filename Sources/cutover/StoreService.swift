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

    /// The store, once open.
    var current: Store? { opened.withLockedValue { $0 } }

    func run() async throws {
        var delay: Duration = .milliseconds(500)
        while current == nil, !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                let store = try await Store.open(location, logger: logger)
                opened.withLockedValue { $0 = store }
                logger.info("store open", metadata: ["store": "\(location.redacted)"])
            } catch {
                logger.error("cannot open the store; retrying", metadata: ["store": "\(location.redacted)", "error": "\(error)"])
                try? await Task.sleep(for: delay)
                delay = min(delay * 2, .seconds(30))
            }
        }
        try? await gracefulShutdown()
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
