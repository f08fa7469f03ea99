import CutoverCore
import CutoverStore
import Logging
import NIOPosix
import PostgresNIO

/// One side of a reconciliation: one connection holding one read-only
/// `REPEATABLE READ` transaction, so every query of the run sees the same
/// snapshot. Read-only: no temporary tables, a read-only role is enough.
final class ReconcileSide: @unchecked Sendable {
    /// `old` or `new`.
    let name: String
    private let connection: PostgresConnection
    private let logger: Logger

    private init(name: String, connection: PostgresConnection, logger: Logger) {
        self.name = name
        self.connection = connection
        self.logger = logger
    }

    /// Connects and opens the snapshot.
    static func open(name: String, url: String, logger: Logger) async throws -> ReconcileSide {
        let configuration: PostgresConnection.Configuration
        do {
            configuration = try PostgresURL(url).connectionConfiguration
        } catch {
            throw ReconcileError.badInput("the \(name) database URL: \(error)")
        }
        let connection: PostgresConnection
        do {
            connection = try await PostgresConnection.connect(on: MultiThreadedEventLoopGroup.singleton.next(), configuration: configuration,
                                                              id: name == "old" ? 1 : 2, logger: logger)
        } catch {
            throw ReconcileError.database(side: name, "cannot connect to \(StoreLocation.postgres(url: url).redacted): \(Self.reason(error))")
        }
        let side = ReconcileSide(name: name, connection: connection, logger: logger)
        do {
            try await side.run("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            // Timestamps with time zone read as UTC text on both sides, whatever the server's setting.
            try await side.run("SET LOCAL TIME ZONE 'UTC'")
            try await side.run("SET LOCAL extra_float_digits = 1")
            // The passes' few thousand groups fit in memory (the planner, guessing a group per row, would plan to spill).
            try await side.run("SET LOCAL work_mem = '64MB'")
        } catch {
            await side.close()
            throw error
        }
        return side
    }

    /// Ends the snapshot and closes the connection.
    func close() async {
        _ = try? await connection.query("ROLLBACK", logger: logger)
        try? await connection.close()
    }

    /// Runs a statement and returns its rows.
    @discardableResult
    func run(_ sql: String, _ binds: PostgresBindings = PostgresBindings()) async throws -> [PostgresRow] {
        do {
            return try await connection.query(PostgresQuery(unsafeSQL: sql, binds: binds), logger: logger).collect()
        } catch {
            throw ReconcileError.database(side: name, Self.reason(error))
        }
    }

    /// A database error as its server message where there is one.
    static func reason(_ error: any Error) -> String {
        if let error = error as? PSQLError {
            if let message = error.serverInfo?[.message] { return message }
            if let underlying = error.underlying { return String(describing: underlying) }
            return String(describing: error.code)
        }
        return String(describing: error)
    }
}
