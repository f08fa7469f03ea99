import CutoverCore
import Logging
import NIOCore
import SQLKit
import SQLiteKit
import SQLiteNIO

/// An SQLite file: one connection, its statements run one transaction at a time.
final class SQLiteStoreDatabase: StoreDatabase {
    let dialect = StoreDialect.sqlite
    private let connection: SQLiteConnection
    private let mutex = AsyncMutex()

    static func open(path: String, logger: Logger) async throws -> SQLiteStoreDatabase {
        let connection = try await SQLiteConnection.open(storage: .file(path: path), logger: logger)
        do {
            _ = try await connection.query("PRAGMA journal_mode = WAL")
            _ = try await connection.query("PRAGMA busy_timeout = 5000")
            _ = try await connection.query("PRAGMA foreign_keys = ON")
        } catch {
            try? await connection.close()
            throw error
        }
        return SQLiteStoreDatabase(connection: connection)
    }

    private init(connection: SQLiteConnection) {
        self.connection = connection
    }

    func run() async {}

    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> T) async throws -> T {
        try await mutex.withLock {
            let session = Session(connection: connection)
            _ = try await session.run("BEGIN IMMEDIATE")
            do {
                let result = try await body(session)
                _ = try await session.run("COMMIT")
                return result
            } catch {
                _ = try? await session.run("ROLLBACK")
                throw error
            }
        }
    }

    func withSession<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> T) async throws -> T {
        try await mutex.withLock { try await body(Session(connection: connection)) }
    }

    func close() async {
        // Closing must happen even when the caller's task is being cancelled (at the end of a shutdown):
        // a task of its own does not inherit the cancellation.
        let connection = self.connection
        await Task { try? await connection.close() }.value
    }

    struct Session: StoreSession {
        let connection: SQLiteConnection

        func run(_ query: SQLQueryString) async throws -> [[SQLValue]] {
            // sql-kit serialises the statement for SQLite (? placeholders in order); the binds go as binds.
            let (sql, binds) = connection.sql().serialize(query)
            let rows = try await connection.query(sql, try binds.map { bind -> SQLiteData in
                switch try SQLValue.bound(bind) {
                case .text(let text): return .text(text)
                case .integer(let integer): return .integer(Int(integer))
                case .double(let double): return .float(double)
                case .null: return .null
                }
            })
            return rows.map { row in
                row.columns.map { column in
                    switch column.data {
                    case .integer(let integer): return .integer(Int64(integer))
                    case .float(let double): return .double(double)
                    case .text(let text): return .text(text)
                    case .blob(let buffer): return .text(String(buffer: buffer))
                    case .null: return .null
                    }
                }
            }
        }
    }
}
