import SQLKit

/// The store's tables, as numbered migrations applied in order at start.
/// A migration is never changed once released; changes come as new ones.
enum Schema {
    struct Migration: Sendable {
        let version: Int
        let description: String
        let statements: @Sendable (StoreDialect) -> [String]
    }

    static let migrations: [Migration] = [
        Migration(version: 1, description: "comparator counts and samples") { dialect in
            let id = dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"
            return [
                "CREATE TABLE diff_batches (writer TEXT NOT NULL, seq BIGINT NOT NULL, PRIMARY KEY (writer, seq))",
                """
                CREATE TABLE diff_totals (route TEXT NOT NULL, minute BIGINT NOT NULL, compared BIGINT NOT NULL,
                  not_compared BIGINT NOT NULL, PRIMARY KEY (route, minute))
                """,
                """
                CREATE TABLE diff_fields (route TEXT NOT NULL, minute BIGINT NOT NULL, field TEXT NOT NULL,
                  raw BIGINT NOT NULL, noise BIGINT NOT NULL, PRIMARY KEY (route, minute, field))
                """,
                """
                CREATE TABLE diff_field_sets (route TEXT NOT NULL, minute BIGINT NOT NULL, fields TEXT NOT NULL,
                  count BIGINT NOT NULL, PRIMARY KEY (route, minute, fields))
                """,
                """
                CREATE TABLE diff_pairs (id \(id), route TEXT NOT NULL, time_ms BIGINT NOT NULL, request_id TEXT NOT NULL,
                  request TEXT NOT NULL, old TEXT NOT NULL, new TEXT, new_error TEXT, differences TEXT NOT NULL)
                """,
                "CREATE INDEX diff_pairs_route ON diff_pairs (route, id)",
                """
                CREATE TABLE diff_sample_fields (route TEXT NOT NULL, field TEXT NOT NULL, pair_id BIGINT NOT NULL,
                  PRIMARY KEY (route, field, pair_id))
                """,
                "CREATE INDEX diff_sample_fields_pair ON diff_sample_fields (pair_id)",
            ]
        },
        Migration(version: 2, description: "reconciliation runs") { dialect in
            let id = dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"
            return [
                """
                CREATE TABLE reconcile_runs (id \(id), started_ms BIGINT NOT NULL, finished_ms BIGINT, status TEXT NOT NULL,
                  tables TEXT NOT NULL, error TEXT)
                """,
                """
                CREATE TABLE reconcile_results (run_id BIGINT NOT NULL, table_name TEXT NOT NULL, summary TEXT NOT NULL,
                  PRIMARY KEY (run_id, table_name))
                """,
                """
                CREATE TABLE reconcile_checkpoints (run_id BIGINT NOT NULL, table_name TEXT NOT NULL, checkpoint TEXT NOT NULL,
                  PRIMARY KEY (run_id, table_name))
                """,
                """
                CREATE TABLE reconcile_differences (run_id BIGINT NOT NULL, table_name TEXT NOT NULL, seq BIGINT NOT NULL,
                  kind TEXT NOT NULL, difference TEXT NOT NULL, PRIMARY KEY (run_id, table_name, seq))
                """,
            ]
        },
        Migration(version: 3, description: "switch flags, audit log, instances") { _ in
            [
                """
                CREATE TABLE flag_state (id BIGINT PRIMARY KEY, version BIGINT NOT NULL, last_hash TEXT NOT NULL)
                """,
                "INSERT INTO flag_state (id, version, last_hash) VALUES (1, 0, '\(AuditChain.genesis)')",
                "CREATE TABLE route_flags (route TEXT PRIMARY KEY, flags TEXT NOT NULL, version BIGINT NOT NULL)",
                """
                CREATE TABLE audit_log (seq BIGINT PRIMARY KEY, time_ms BIGINT NOT NULL, actor TEXT NOT NULL, route TEXT NOT NULL,
                  action TEXT NOT NULL, before TEXT NOT NULL, after TEXT NOT NULL, reason TEXT NOT NULL, prev_hash TEXT NOT NULL,
                  hash TEXT NOT NULL)
                """,
                """
                CREATE TABLE instances (id TEXT PRIMARY KEY, address TEXT NOT NULL, applied_version BIGINT NOT NULL,
                  started_ms BIGINT NOT NULL, heartbeat_ms BIGINT NOT NULL)
                """,
                "CREATE TABLE id_evidence (route TEXT NOT NULL, side TEXT NOT NULL, max_id BIGINT NOT NULL, PRIMARY KEY (route, side))",
                """
                CREATE TABLE new_answers (route TEXT NOT NULL, minute BIGINT NOT NULL, requests BIGINT NOT NULL, errors BIGINT NOT NULL,
                  PRIMARY KEY (route, minute))
                """,
            ]
        },
        Migration(version: 4, description: "host cutover journal") { dialect in
            let id = dialect == .sqlite ? "INTEGER PRIMARY KEY AUTOINCREMENT" : "BIGSERIAL PRIMARY KEY"
            return [
                """
                CREATE TABLE host_runs (id \(id), task TEXT NOT NULL, group_name TEXT, hosts TEXT NOT NULL, started_ms BIGINT NOT NULL,
                  finished_ms BIGINT, status TEXT NOT NULL, reason TEXT, figures TEXT NOT NULL)
                """,
                "CREATE INDEX host_runs_status ON host_runs (status)",
                """
                CREATE TABLE host_steps (run_id BIGINT NOT NULL, seq BIGINT NOT NULL, step TEXT NOT NULL, pass BIGINT NOT NULL,
                  started_ms BIGINT NOT NULL, finished_ms BIGINT, result TEXT NOT NULL, detail TEXT NOT NULL, PRIMARY KEY (run_id, seq))
                """,
            ]
        },
        Migration(version: 5, description: "host run lease") { _ in
            [
                "ALTER TABLE host_runs ADD COLUMN holder TEXT",
                "ALTER TABLE host_runs ADD COLUMN held_until_ms BIGINT",
            ]
        },
        Migration(version: 6, description: "migration plan") { _ in
            ["CREATE TABLE plan_steps (name TEXT PRIMARY KEY, record TEXT NOT NULL)"]
        },
    ]

    /// The newest version this build knows.
    static var latest: Int { migrations.last?.version ?? 0 }

    /// Creates the bookkeeping table and applies what is missing, each migration in its own transaction.
    static func migrate(_ database: any StoreDatabase) async throws {
        _ = try await database.withSession { session in
            try await session.run("CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, description TEXT NOT NULL)")
        }
        for migration in migrations {
            try await database.withTransaction { session in
                if database.dialect == .postgres {
                    // Gateways starting together migrate one at a time.
                    try await session.run("SELECT pg_advisory_xact_lock(7140112233)")
                }
                let applied = try await session.run("SELECT version FROM schema_migrations ORDER BY version")
                    .compactMap { $0.first?.integer }
                if let newest = applied.last, newest > latest {
                    throw StoreError.schemaTooNew(found: Int(newest), known: latest)
                }
                guard !applied.contains(Int64(migration.version)) else { return }
                for statement in migration.statements(database.dialect) {
                    // The migrations' own text, fixed in this file: no value of anyone else's is spliced in.
                    try await session.run("\(unsafeRaw: statement)")
                }
                try await session.run("INSERT INTO schema_migrations (version, description) VALUES (\(bind: Int64(migration.version)), \(bind: migration.description))")
            }
        }
    }
}
