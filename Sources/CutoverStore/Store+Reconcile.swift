import CutoverCore
import Foundation
import SQLKit

/// Reconciliation runs: each run, each table pair's counts and differences, and
/// the checkpoint an interrupted pair resumes from.
extension Store {
    /// Starts a run over the given table pairs; returns its ID.
    public func startReconcileRun(tables: [String], at time: Int64) async throws -> Int64 {
        let encoded = try Self.encode(JSONEncoder(), tables)
        return try await database.withTransaction { session in
            let rows = try await session.run("INSERT INTO reconcile_runs (started_ms, status, tables) VALUES (\(bind: time), 'running', \(bind: encoded)) RETURNING id")
            guard let id = rows.first?.first?.integer else { throw StoreError.corrupt("no id for a new reconcile run") }
            return id
        }
    }

    /// Keeps where a table pair got to, with the differences found so far (replacing the previous checkpoint).
    public func saveReconcileCheckpoint(run: Int64, table: String, _ checkpoint: ReconcileCheckpoint) async throws {
        let encoded = try Self.encode(JSONEncoder(), checkpoint)
        try await database.withTransaction { session in
            try await session.run("DELETE FROM reconcile_checkpoints WHERE run_id = \(bind: run) AND table_name = \(bind: table)")
            try await session.run("INSERT INTO reconcile_checkpoints (run_id, table_name, checkpoint) VALUES (\(bind: run), \(bind: table), \(bind: encoded))")
        }
    }

    /// The checkpoints of a run's unfinished table pairs.
    public func reconcileCheckpoints(run: Int64) async throws -> [String: ReconcileCheckpoint] {
        let rows = try await database.withSession { session in
            try await session.run("SELECT table_name, checkpoint FROM reconcile_checkpoints WHERE run_id = \(bind: run)")
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
            try await session.run("DELETE FROM reconcile_checkpoints WHERE run_id = \(bind: run) AND table_name = \(bind: report.table)")
            try await session.run("DELETE FROM reconcile_differences WHERE run_id = \(bind: run) AND table_name = \(bind: report.table)")
            try await session.run("DELETE FROM reconcile_results WHERE run_id = \(bind: run) AND table_name = \(bind: report.table)")
            try await session.run("INSERT INTO reconcile_results (run_id, table_name, summary) VALUES (\(bind: run), \(bind: report.table), \(bind: summary))")
            for (index, (difference, text)) in zip(report.differences, differences).enumerated() {
                try await session.run("INSERT INTO reconcile_differences (run_id, table_name, seq, kind, difference) VALUES (\(bind: run), \(bind: report.table), \(bind: Int64(index)), \(bind: difference.kind.rawValue), \(bind: text))")
            }
        }
    }

    /// Ends a run.
    public func finishReconcileRun(_ run: Int64, status: ReconcileRun.Status, error: String?, at time: Int64) async throws {
        _ = try await database.withSession { session in
            try await session.run("UPDATE reconcile_runs SET status = \(bind: status.rawValue), finished_ms = \(bind: time), error = \(bind: error.map(SQLValue.text) ?? .null) WHERE id = \(bind: run)")
        }
    }

    /// The most recent runs, newest first (one run with `id`).
    public func reconcileRuns(id: Int64? = nil, limit: Int = 50) async throws -> [ReconcileRun] {
        let (runs, results) = try await database.withSession { session -> ([[SQLValue]], [[SQLValue]]) in
            let filter: SQLQueryString = id.map { " WHERE id = \(bind: $0)" } ?? ""
            let runs = try await session.run(
                "SELECT id, started_ms, finished_ms, status, tables, error FROM reconcile_runs\(filter) ORDER BY id DESC LIMIT \(bind: Int64(limit))")
            let ids = runs.compactMap { $0.first?.integer }
            guard let low = ids.min(), let high = ids.max() else { return (runs, []) }
            let results = try await session.run(
                "SELECT run_id, summary FROM reconcile_results WHERE run_id >= \(bind: low) AND run_id <= \(bind: high) ORDER BY run_id, table_name")
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
            let filter: SQLQueryString = table.map { " AND table_name = \(bind: $0)" } ?? ""
            return try await session.run("""
                SELECT table_name, difference FROM reconcile_differences WHERE run_id = \(bind: run)\(filter)
                ORDER BY table_name, seq LIMIT \(bind: Int64(limit)) OFFSET \(bind: Int64(offset))
                """)
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
