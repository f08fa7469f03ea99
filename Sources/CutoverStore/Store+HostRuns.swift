import CutoverCore
import Foundation
import SQLKit

/// The host cutover's journal: each run with the hosts it holds, and each step written when it begins and again
/// when it ends, before the next begins.
extension Store {
    /// A holder as its column keeps it: one spelling for every writer (keys sorted), so that it compares as text.
    static func holderText(_ holder: RunHolder) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encode(encoder, holder)
    }

    /// The store's own clock, in milliseconds since 1970, as SQL: every lease is reckoned on this one clock, whichever
    /// machine writes it (runners' clocks may differ by more than a lease).
    private var clock: SQLQueryString {
        database.dialect == .postgres ? "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)"
            : "CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER)"
    }

    /// What a step's row keeps beside its name and times.
    private struct StepDetail: Codable {
        var figures: [String: Double]
        var commands: [HostStepRecord.Command]
        var failure: String?
    }

    /// Starts a run of `task` on `hosts`, as part of `group` when it is run in one. Refused (``StoreError/conflict(_:)``)
    /// while another running run holds one of the hosts (naming it), or when `group` is not running yet and
    /// `maxParallelGroups` groups already are (naming them). Returns the run's ID.
    /// `holder`, when given, holds the run's lease for `lease` milliseconds of the store's clock.
    public func startHostRun(task: String, group: String? = nil, hosts: [String], maxParallelGroups: Int = .max, at time: Int64,
                             holder: RunHolder? = nil, lease: Int64 = 0) async throws -> Int64 {
        let encoded = try Self.encode(JSONEncoder(), hosts)
        let holderText: SQLValue = try holder.map { .text(try Self.holderText($0)) } ?? .null
        let clock = self.clock
        let postgres = database.dialect == .postgres
        return try await database.withTransaction { session in
            // The check and the insert are one step for every writer: on PostgreSQL the table is locked against
            // other starts first (SQLite's transactions already take the write lock at their start).
            if postgres { try await session.run("LOCK TABLE host_runs IN SHARE ROW EXCLUSIVE MODE") }
            if let (host, id, other) = try await Self.busyHost(session, hosts) {
                throw StoreError.conflict("host '\(host)' is in run \(id) (task '\(other)'), which is still running: resume or roll it back first")
            }
            var groups: [String] = []
            for row in try await session.run("SELECT group_name FROM host_runs WHERE status = 'running' ORDER BY id") {
                if let name = row[0].text, !groups.contains(name) { groups.append(name) }
            }
            if let group, !groups.contains(group), groups.count >= maxParallelGroups {
                throw StoreError.conflict("\(groups.count) groups are running (\(groups.joined(separator: ", "))) and max_parallel_groups is \(maxParallelGroups): group '\(group)' is not started")
            }
            let rows = try await session.run("""
                INSERT INTO host_runs (task, group_name, hosts, started_ms, status, figures, holder, held_until_ms)
                VALUES (\(bind: task), \(bind: group.map(SQLValue.text) ?? .null), \(bind: encoded), \(bind: time), 'running', '{}',
                  \(bind: holderText), \(clock) + \(bind: lease)) RETURNING id
                """)
            guard let id = rows.first?.first?.integer else { throw StoreError.corrupt("no id for a new host run") }
            return id
        }
    }

    /// Takes the lease of `run` for `holder` for `lease` milliseconds of the store's clock. Refused
    /// (``StoreError/conflict(_:)``) while another holder's lease runs — unless that holder's process is seen gone
    /// (on this machine: a holder killed with `kill -9` gives the run up at once) — and for a run that is not
    /// running. With `reopen` (a rollback) a run that is done or whose rollback failed is marked running again,
    /// refused while another running run holds one of its hosts. With `audit` an audit entry (subject `host_run:ID`)
    /// and with `marker` a finished step (its reason kept as the step's failure text) are written in the same
    /// transaction: all of it or nothing. Returns the audit entry.
    @discardableResult
    public func claimHostRun(_ run: Int64, holder: RunHolder, lease: Int64, now: Int64, reopen: Bool = false,
                             audit: (action: String, actor: String, reason: String)? = nil,
                             marker: (step: String, reason: String)? = nil) async throws -> AuditEntry? {
        let encoded = try Self.holderText(holder)
        let dialect = database.dialect
        let lock = dialect == .postgres ? " FOR UPDATE" : ""
        let detail = try marker.map { try Self.encode(JSONEncoder(), StepDetail(figures: [:], commands: [], failure: $0.reason)) }
        let clock = self.clock
        return try await database.withTransaction { session in
            if dialect == .postgres, reopen { try await session.run("LOCK TABLE host_runs IN SHARE ROW EXCLUSIVE MODE") }
            guard let row = try await session.run("""
                    SELECT holder, held_until_ms, status, hosts, \(clock) FROM host_runs WHERE id = \(bind: run)\(unsafeRaw: lock)
                    """).first,
                  let statusText = row[2].text, let hostsText = row[3].text, let clockNow = row[4].integer else {
                throw StoreError.conflict("there is no host run \(run)")
            }
            let allowed = reopen ? ["running", "done", "rollback_failed"] : ["running"]
            guard allowed.contains(statusText) else {
                throw StoreError.conflict("run \(run) is \(statusText); there is nothing to \(reopen ? "undo" : "resume")")
            }
            if let text = row[0].text, text != encoded {
                let other = try Self.decode(JSONDecoder(), RunHolder.self, text)
                let until = row[1].integer ?? 0
                // A holder whose process is gone holds nothing; any other holds the run while its lease runs (a
                // process that lives on but has not renewed for a whole lease — cut off from the store — gives it up).
                if other.isAlive != false, until > clockNow {
                    let left = other.isAlive == nil ? ", its lease runs \((until - clockNow + 999) / 1000) s more" : ""
                    throw StoreError.conflict("run \(run) is being carried out by \(other)\(left): let it end, or stop that process first")
                }
            }
            // Undoing a finished run touches its hosts again: not while another run holds one of them.
            if reopen, statusText != "running",
               let (host, id, _) = try await Self.busyHost(session, try Self.decode(JSONDecoder(), [String].self, hostsText)) {
                throw StoreError.conflict("host '\(host)' is in run \(id), which is still running: run \(run) is not undone beside it")
            }
            let status: SQLQueryString = reopen ? ", status = 'running', finished_ms = NULL" : ""
            try await session.run("UPDATE host_runs SET holder = \(bind: encoded), held_until_ms = \(clock) + \(bind: lease)\(status) WHERE id = \(bind: run)")
            if let marker, let detail {
                _ = try await Self.insertStep(session, run: run, step: marker.step, pass: 0, at: now, finished: true, detail: detail)
            }
            guard let audit else { return nil }
            let head = try await Self.lockChainHead(session, dialect: dialect)
            return try await Self.appendAudit(session, dialect: dialect, head: head, subject: "host_run:\(run)", action: audit.action, actor: audit.actor,
                                              reason: audit.reason, now: Date(timeIntervalSince1970: Double(now) / 1000)).entry(JSONDecoder())
        }
    }

    /// Gives `holder`'s lease of `run` up (a rollback that failed before its end, in a process that goes on).
    public func releaseHostRun(_ run: Int64, holder: RunHolder) async throws {
        let encoded = try Self.holderText(holder)
        _ = try await database.withSession { session in
            try await session.run("UPDATE host_runs SET holder = NULL, held_until_ms = NULL WHERE id = \(bind: run) AND holder = \(bind: encoded)")
        }
    }

    /// Renews `holder`'s lease of `run` for `lease` milliseconds of the store's clock; false when the run is no
    /// longer its own (it ran out and another holder took it, or the run ended).
    public func renewHostRun(_ run: Int64, holder: RunHolder, lease: Int64) async throws -> Bool {
        let encoded = try Self.holderText(holder)
        let clock = self.clock
        return try await database.withSession { session in
            let rows = try await session.run("""
                UPDATE host_runs SET held_until_ms = \(clock) + \(bind: lease) WHERE id = \(bind: run) AND holder = \(bind: encoded) RETURNING id
                """)
            return !rows.isEmpty
        }
    }

    /// Journals that `step` (sync pass `pass`) begins; returns its sequence number in the run. With `holder`, the
    /// step begins only while the run's lease is that holder's (``StoreError/conflict(_:)`` otherwise).
    public func beginHostStep(run: Int64, step: String, pass: Int, at time: Int64, holder: RunHolder? = nil) async throws -> Int64 {
        let detail = try Self.encode(JSONEncoder(), StepDetail(figures: [:], commands: [], failure: nil))
        let expected = try holder.map { try Self.holderText($0) }
        let lock = database.dialect == .postgres ? " FOR UPDATE" : ""
        return try await database.withTransaction { session in
            if let expected, let holder {
                let current = try await session.run("SELECT holder FROM host_runs WHERE id = \(bind: run)\(unsafeRaw: lock)").first?.first?.text
                guard current == expected else {
                    let other = try current.map { try Self.decode(JSONDecoder(), RunHolder.self, $0).description } ?? "nobody"
                    throw StoreError.conflict("run \(run) is no longer held by \(holder) but by \(other): step \(step) is not begun")
                }
            }
            return try await Self.insertStep(session, run: run, step: step, pass: pass, at: time, finished: false, detail: detail)
        }
    }

    /// Appends a step to `run`'s journal, begun at `time` (and, `finished`, ended then with result ok); its sequence number.
    private static func insertStep(_ session: any StoreSession, run: Int64, step: String, pass: Int, at time: Int64, finished: Bool,
                                   detail: String) async throws -> Int64 {
        let seq = (try await session.run("SELECT MAX(seq) FROM host_steps WHERE run_id = \(bind: run)").first?.first?.integer ?? 0) + 1
        try await session.run("""
            INSERT INTO host_steps (run_id, seq, step, pass, started_ms, finished_ms, result, detail)
            VALUES (\(bind: run), \(bind: seq), \(bind: step), \(bind: Int64(pass)), \(bind: time),
              \(bind: finished ? SQLValue.integer(time) : .null), \(bind: finished ? "ok" : "running"), \(bind: detail))
            """)
        return seq
    }

    /// The first of `hosts` that a running run holds, with that run's ID and task (the caller's transaction locks).
    private static func busyHost(_ session: any StoreSession, _ hosts: [String]) async throws -> (host: String, run: Int64, task: String)? {
        for row in try await session.run("SELECT id, task, hosts FROM host_runs WHERE status = 'running' ORDER BY id") {
            guard let id = row[0].integer, let task = row[1].text, let text = row[2].text else { throw StoreError.corrupt("host_runs row") }
            let held = try decode(JSONDecoder(), [String].self, text)
            if let host = hosts.first(where: held.contains) { return (host, id, task) }
        }
        return nil
    }

    /// Journals how step `seq` of `run` ended, with its figures, the commands it ran and why it failed.
    /// With `holder`, only while the run's lease is that holder's (``StoreError/conflict(_:)`` otherwise).
    public func finishHostStep(run: Int64, seq: Int64, result: HostStepRecord.Result, figures: [String: Double],
                               commands: [HostStepRecord.Command], failure: String?, at time: Int64, holder: RunHolder? = nil) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let detail = try Self.encode(encoder, StepDetail(figures: figures, commands: commands, failure: failure))
        let held = try heldBy(run, holder)
        let rows = try await database.withSession { session in
            try await session.run("""
                UPDATE host_steps SET result = \(bind: result.rawValue), finished_ms = \(bind: time), detail = \(bind: detail)
                WHERE run_id = \(bind: run) AND seq = \(bind: seq)\(held) RETURNING seq
                """)
        }
        if let holder, rows.isEmpty { throw StoreError.conflict("run \(run) is no longer held by \(holder): its step \(seq)'s end is not written") }
    }

    /// ` AND` the run's lease is `holder`'s, when one is given.
    private func heldBy(_ run: Int64, _ holder: RunHolder?) throws -> SQLQueryString {
        guard let holder else { return "" }
        return " AND EXISTS (SELECT 1 FROM host_runs WHERE id = \(bind: run) AND holder = \(bind: try Self.holderText(holder)))"
    }

    /// Ends a run with its status, the reason for it, and its figures.
    /// Gives the lease up. With `holder`, only while the run's lease is that holder's (``StoreError/conflict(_:)``
    /// otherwise: another process carries the run out now).
    public func finishHostRun(_ run: Int64, status: HostRun.Status, reason: String?, figures: [String: Double], at time: Int64,
                              holder: RunHolder? = nil) async throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let encoded = try Self.encode(encoder, figures)
        let held: SQLQueryString = try holder.map { " AND holder = \(bind: try Self.holderText($0))" } ?? ""
        let rows = try await database.withSession { session in
            try await session.run("""
                UPDATE host_runs SET status = \(bind: status.rawValue), reason = \(bind: reason.map(SQLValue.text) ?? .null),
                  figures = \(bind: encoded), finished_ms = \(bind: time), holder = NULL, held_until_ms = NULL WHERE id = \(bind: run)\(held) RETURNING id
                """)
        }
        if let holder, rows.isEmpty { throw StoreError.conflict("run \(run) is no longer held by \(holder): its end is not written") }
    }

    /// The most recent runs with their steps, newest first (one run with `id`).
    public func hostRuns(id: Int64? = nil, limit: Int = 50) async throws -> [HostRun] {
        let (runs, steps) = try await database.withSession { session -> ([[SQLValue]], [[SQLValue]]) in
            let filter: SQLQueryString = id.map { " WHERE id = \(bind: $0)" } ?? ""
            let runs = try await session.run(
                "SELECT id, task, hosts, started_ms, finished_ms, status, reason, figures, group_name, holder, held_until_ms FROM host_runs\(filter) ORDER BY id DESC LIMIT \(bind: Int64(limit))")
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
            var run = HostRun(id: id, task: task, group: row[8].text, hosts: try Self.decode(decoder, [String].self, hostsText), startedAt: started,
                              finishedAt: row[4].integer, status: status, reason: row[6].text,
                              figures: try Self.decode(decoder, [String: Double].self, figuresText), steps: byRun[id] ?? [])
            if let text = row[9].text {
                let holder = try Self.decode(decoder, RunHolder.self, text)
                run.holder = holder.description
                run.holderAlive = holder.isAlive
                run.leaseUntil = row[10].integer
            }
            return run
        }
    }
}
