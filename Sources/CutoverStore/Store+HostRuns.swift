import CutoverCore
import Foundation
import SQLKit

/// The host cutover's journal: each run with the hosts it holds, and each step written when it begins and again
/// when it ends, before the next begins.
extension Store {
    /// What a step's row keeps beside its name and times.
    private struct StepDetail: Codable {
        var figures: [String: Double]
        var commands: [HostStepRecord.Command]
        var failure: String?
    }

    /// Starts a run of `task` on `hosts`, as part of `group` when it is run in one. Refused (``StoreError/conflict(_:)``)
    /// while another running run holds one of the hosts (naming it), or when `group` is not running yet and
    /// `maxParallelGroups` groups already are (naming them). Returns the run's ID.
    public func startHostRun(task: String, group: String? = nil, hosts: [String], maxParallelGroups: Int = .max, at time: Int64) async throws -> Int64 {
        let encoded = try Self.encode(JSONEncoder(), hosts)
        let postgres = database.dialect == .postgres
        return try await database.withTransaction { session in
            // The check and the insert are one step for every writer: on PostgreSQL the table is locked against
            // other starts first (SQLite's transactions already take the write lock at their start).
            if postgres { try await session.run("LOCK TABLE host_runs IN SHARE ROW EXCLUSIVE MODE") }
            let running = try await session.run("SELECT id, task, hosts, group_name FROM host_runs WHERE status = 'running' ORDER BY id")
            var groups: [String] = []
            for row in running {
                guard let id = row[0].integer, let other = row[1].text, let text = row[2].text else { throw StoreError.corrupt("host_runs row") }
                let held = try Self.decode(JSONDecoder(), [String].self, text)
                if let host = hosts.first(where: held.contains) {
                    throw StoreError.conflict("host '\(host)' is in run \(id) (task '\(other)'), which is still running: resume or roll it back first")
                }
                if let name = row[3].text, !groups.contains(name) { groups.append(name) }
            }
            if let group, !groups.contains(group), groups.count >= maxParallelGroups {
                throw StoreError.conflict("\(groups.count) groups are running (\(groups.joined(separator: ", "))) and max_parallel_groups is \(maxParallelGroups): group '\(group)' is not started")
            }
            let rows = try await session.run("""
                INSERT INTO host_runs (task, group_name, hosts, started_ms, status, figures)
                VALUES (\(bind: task), \(bind: group.map(SQLValue.text) ?? .null), \(bind: encoded), \(bind: time), 'running', '{}') RETURNING id
                """)
            guard let id = rows.first?.first?.integer else { throw StoreError.corrupt("no id for a new host run") }
            return id
        }
    }

    /// Marks a run as running again (a rollback of a finished run is under way).
    public func reopenHostRun(_ run: Int64) async throws {
        _ = try await database.withSession { session in
            try await session.run("UPDATE host_runs SET status = 'running', finished_ms = NULL WHERE id = \(bind: run)")
        }
    }

    /// Journals that `step` (sync pass `pass`) begins; returns its sequence number in the run.
    public func beginHostStep(run: Int64, step: String, pass: Int, at time: Int64) async throws -> Int64 {
        let detail = try Self.encode(JSONEncoder(), StepDetail(figures: [:], commands: [], failure: nil))
        return try await database.withTransaction { session in
            let last = try await session.run("SELECT MAX(seq) FROM host_steps WHERE run_id = \(bind: run)").first?.first?.integer ?? 0
            let seq = last + 1
            try await session.run("""
                INSERT INTO host_steps (run_id, seq, step, pass, started_ms, result, detail)
                VALUES (\(bind: run), \(bind: seq), \(bind: step), \(bind: Int64(pass)), \(bind: time), 'running', \(bind: detail))
                """)
            return seq
        }
    }

    /// Journals how step `seq` of `run` ended, with its figures, the commands it ran and why it failed.
    public func finishHostStep(run: Int64, seq: Int64, result: HostStepRecord.Result, figures: [String: Double],
                               commands: [HostStepRecord.Command], failure: String?, at time: Int64) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let detail = try Self.encode(encoder, StepDetail(figures: figures, commands: commands, failure: failure))
        _ = try await database.withSession { session in
            try await session.run("""
                UPDATE host_steps SET result = \(bind: result.rawValue), finished_ms = \(bind: time), detail = \(bind: detail)
                WHERE run_id = \(bind: run) AND seq = \(bind: seq)
                """)
        }
    }

    /// Ends a run with its status, the reason for it, and its figures.
    public func finishHostRun(_ run: Int64, status: HostRun.Status, reason: String?, figures: [String: Double], at time: Int64) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let encoded = try Self.encode(encoder, figures)
        _ = try await database.withSession { session in
            try await session.run("""
                UPDATE host_runs SET status = \(bind: status.rawValue), reason = \(bind: reason.map(SQLValue.text) ?? .null),
                  figures = \(bind: encoded), finished_ms = \(bind: time) WHERE id = \(bind: run)
                """)
        }
    }

    /// The most recent runs with their steps, newest first (one run with `id`).
    public func hostRuns(id: Int64? = nil, limit: Int = 50) async throws -> [HostRun] {
        let (runs, steps) = try await database.withSession { session -> ([[SQLValue]], [[SQLValue]]) in
            let filter: SQLQueryString = id.map { " WHERE id = \(bind: $0)" } ?? ""
            let runs = try await session.run(
                "SELECT id, task, hosts, started_ms, finished_ms, status, reason, figures, group_name FROM host_runs\(filter) ORDER BY id DESC LIMIT \(bind: Int64(limit))")
            let ids = runs.compactMap { $0.first?.integer }
            guard let low = ids.min(), let high = ids.max() else { return (runs, []) }
            let steps = try await session.run("""
                SELECT run_id, seq, step, pass, started_ms, finished_ms, result, detail FROM host_steps
                WHERE run_id >= \(bind: low) AND run_id <= \(bind: high) ORDER BY run_id, seq
                """)
            return (runs, steps)
        }
        let decoder = JSONDecoder()
        var byRun: [Int64: [HostStepRecord]] = [:]
        for row in steps {
            guard let run = row[0].integer, let seq = row[1].integer, let step = row[2].text, let pass = row[3].integer,
                  let started = row[4].integer, let resultText = row[6].text, let result = HostStepRecord.Result(rawValue: resultText),
                  let detailText = row[7].text else { throw StoreError.corrupt("host_steps row") }
            let detail = try Self.decode(decoder, StepDetail.self, detailText)
            byRun[run, default: []].append(HostStepRecord(seq: seq, step: step, pass: Int(pass), startedAt: started, finishedAt: row[5].integer,
                                                          result: result, figures: detail.figures, commands: detail.commands, failure: detail.failure))
        }
        return try runs.map { row in
            guard let id = row[0].integer, let task = row[1].text, let hostsText = row[2].text, let started = row[3].integer,
                  let statusText = row[5].text, let status = HostRun.Status(rawValue: statusText), let figuresText = row[7].text
            else { throw StoreError.corrupt("host_runs row") }
            return HostRun(id: id, task: task, group: row[8].text, hosts: try Self.decode(decoder, [String].self, hostsText), startedAt: started,
                           finishedAt: row[4].integer, status: status, reason: row[6].text,
                           figures: try Self.decode(decoder, [String: Double].self, figuresText), steps: byRun[id] ?? [])
        }
    }
}
