import CutoverCore
import Foundation

/// Reconciliation runs: each run, each table pair's counts and differences, and
/// the checkpoint an interrupted pair resumes from.
extension Store {
    /// Starts a run over the given table pairs; returns its ID.
    public func startReconcileRun(tables: [String], at time: Int64) async throws -> Int64 {
        let encoded = try Self.encode(JSONEncoder(), tables)
        return try await database.withTransaction { session in
            let rows = try await session.run("INSERT INTO reconcile_runs (started_ms, status, tables) VALUES (?, 'running', ?) RETURNING id",
                                              .integer(time), .text(encoded))
            guard let id = rows.first?.first?.integer else { throw StoreError.corrupt("no id for a new reconcile run") }
            return id
        }
    }

    /// Keeps where a table pair got to, with the differences found so far (replacing the previous checkpoint).
    public func saveReconcileCheckpoint(run: Int64, table: String, _ checkpoint: ReconcileCheckpoint) async throws {
        let encoded = try Self.encode(JSONEncoder(), checkpoint)
        try await database.withTransaction { session in
            try await session.run("DELETE FROM reconcile_checkpoints WHERE run_id = ? AND table_name = ?", .integer(run), .text(table))
            try await session.run("INSERT INTO reconcile_checkpoints (run_id, table_name, checkpoint) VALUES (?, ?, ?)",
                                  .integer(run), .text(table), .text(encoded))
        }
    }

    /// The checkpoints of a run's unfinished table pairs.
    public func reconcileCheckpoints(run: Int64) async throws -> [String: ReconcileCheckpoint] {
        let rows = try await database.withSession { session in
            try await session.run("SELECT table_name, checkpoint FROM reconcile_checkpoints WHERE run_id = ?", .integer(run))
        }
        var result: [String: ReconcileCheckpoint] = [:]
        let decoder = JSONDecoder()
        for row in rows {
            guard let table = row[0].text, let text = row[1].text else { throw StoreError.corrupt("reconcile_checkpoints row") }
            result[table] = try Self.decode(decoder, ReconcileCheckpoint.self, text)
        }
        return result
    }

    /// Records a table pair's finished comparison (its checkpoint goes).
    public func recordReconcileTable(run: Int64, _ report: TableReport) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let summary = try Self.encode(encoder, TableSummary(report))
        let differences = try report.differences.map { try Self.encode(encoder, $0) }
        try await database.withTransaction { session in
            try await session.run("DELETE FROM reconcile_checkpoints WHERE run_id = ? AND table_name = ?", .integer(run), .text(report.table))
            try await session.run("DELETE FROM reconcile_differences WHERE run_id = ? AND table_name = ?", .integer(run), .text(report.table))
            try await session.run("DELETE FROM reconcile_results WHERE run_id = ? AND table_name = ?", .integer(run), .text(report.table))
            try await session.run("INSERT INTO reconcile_results (run_id, table_name, summary) VALUES (?, ?, ?)",
                                  .integer(run), .text(report.table), .text(summary))
            for (index, (difference, text)) in zip(report.differences, differences).enumerated() {
                try await session.run("INSERT INTO reconcile_differences (run_id, table_name, seq, kind, difference) VALUES (?, ?, ?, ?, ?)",
                                      .integer(run), .text(report.table), .integer(Int64(index)), .text(difference.kind.rawValue), .text(text))
            }
        }
    }

    /// Ends a run.
    public func finishReconcileRun(_ run: Int64, status: ReconcileRun.Status, error: String?, at time: Int64) async throws {
        _ = try await database.withSession { session in
            try await session.run("UPDATE reconcile_runs SET status = ?, finished_ms = ?, error = ? WHERE id = ?",
                                  .text(status.rawValue), .integer(time), error.map(SQLValue.text) ?? .null, .integer(run))
        }
    }

    /// The most recent runs, newest first (one run with `id`).
    public func reconcileRuns(id: Int64? = nil, limit: Int = 50) async throws -> [ReconcileRun] {
        let (runs, results) = try await database.withSession { session -> ([[SQLValue]], [[SQLValue]]) in
            let filter = id == nil ? "" : " WHERE id = ?"
            let binds: [SQLValue] = (id.map { [SQLValue.integer($0)] } ?? []) + [.integer(Int64(limit))]
            let runs = try await session.run(
                "SELECT id, started_ms, finished_ms, status, tables, error FROM reconcile_runs\(filter) ORDER BY id DESC LIMIT ?", binds)
            let ids = runs.compactMap { $0.first?.integer }
            guard let low = ids.min(), let high = ids.max() else { return (runs, []) }
            let results = try await session.run(
                "SELECT run_id, summary FROM reconcile_results WHERE run_id >= ? AND run_id <= ? ORDER BY run_id, table_name",
                .integer(low), .integer(high))
            return (runs, results)
        }
        let decoder = JSONDecoder()
        var summaries: [Int64: [TableSummary]] = [:]
        for row in results {
            guard let run = row[0].integer, let text = row[1].text else { throw StoreError.corrupt("reconcile_results row") }
            summaries[run, default: []].append(try Self.decode(decoder, TableSummary.self, text))
        }
        return try runs.map { row in
            guard let id = row[0].integer, let started = row[1].integer, let statusText = row[3].text,
                  let status = ReconcileRun.Status(rawValue: statusText), let tablesText = row[4].text
            else { throw StoreError.corrupt("reconcile_runs row") }
            return ReconcileRun(id: id, startedAt: started, finishedAt: row[2].integer, status: status,
                                tables: try Self.decode(decoder, [String].self, tablesText), results: summaries[id] ?? [], error: row[5].text)
        }
    }

    /// A run's differences in key order per table pair; `table` picks one pair.
    public func reconcileDifferences(run: Int64, table: String?, limit: Int, offset: Int) async throws -> [(table: String, difference: RowDifference)] {
        let rows = try await database.withSession { session in
            let filter = table == nil ? "" : " AND table_name = ?"
            let binds: [SQLValue] = [.integer(run)] + (table.map { [SQLValue.text($0)] } ?? []) + [.integer(Int64(limit)), .integer(Int64(offset))]
            return try await session.run("""
                SELECT table_name, difference FROM reconcile_differences WHERE run_id = ?\(filter)
                ORDER BY table_name, seq LIMIT ? OFFSET ?
                """, binds)
        }
        let decoder = JSONDecoder()
        return try rows.map { row in
            guard let table = row[0].text, let text = row[1].text else { throw StoreError.corrupt("reconcile_differences row") }
            return (table, try Self.decode(decoder, RowDifference.self, text))
        }
    }

    /// The most recent finished run that covered `table` and found it equal: the evidence a phase gate can use.
    public func latestCleanReconcile(table: String) async throws -> ReconcileRun? {
        for run in try await reconcileRuns(limit: 200) where run.status == .finished {
            if let result = run.results.first(where: { $0.table == table }) { return result.isEqual ? run : nil }
        }
        return nil
    }
}
