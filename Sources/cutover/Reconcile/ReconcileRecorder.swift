import CutoverCore
import CutoverStore
import Foundation

/// Keeps a reconciliation run in the store: the run is created when the first
/// table pair has something to keep (bad input writes nothing), then every
/// checkpoint and finished pair is kept, and the run's end.
actor ReconcileRecorder {
    let store: Store
    let tables: [String]
    private(set) var runID: Int64?

    init(store: Store, tables: [String], resuming run: Int64? = nil) {
        self.store = store
        self.tables = tables
        self.runID = run
    }

    private func ensureRun() async throws -> Int64 {
        if let runID { return runID }
        let id = try await store.startReconcileRun(tables: tables, at: Self.now())
        runID = id
        return id
    }

    func checkpoint(_ table: String, _ checkpoint: ReconcileCheckpoint) async throws {
        try await store.saveReconcileCheckpoint(run: try await ensureRun(), table: table, checkpoint)
    }

    func finished(_ report: TableReport) async throws {
        try await store.recordReconcileTable(run: try await ensureRun(), report)
    }

    /// Ends the run (when one was started).
    func end(error: String?) async throws {
        guard let runID else { return }
        try await store.finishReconcileRun(runID, status: error == nil ? .finished : .failed, error: error, at: Self.now())
    }

    static func now() -> Int64 { Int64(Date().timeIntervalSince1970 * 1000) }
}
