import CutoverCore
import Foundation
import Logging
import NIOSSL
import PostgresKit
import PostgresNIO
import SQLKit

/// A PostgreSQL database shared by several gateways, through postgres-nio's connection pool. The pool's background
/// work is ``run()``, which its owner runs in its own task group (the gateway's store service), never in a bare task.
final class PostgresStoreDatabase: StoreDatabase {
    let dialect = StoreDialect.postgres
    private let client: PostgresClient
    private let logger: Logger
    /// How long one operation may wait for a connection and its statements.
    let operationTimeout: Duration

    init(url: String, logger: Logger, operationTimeout: Duration = .seconds(10)) throws {
        self.client = PostgresClient(configuration: try PostgresURL(url).clientConfiguration, backgroundLogger: logger)
        self.logger = logger
        self.operationTimeout = operationTimeout
    }

    func run() async {
        await client.run()
    }

    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> T) async throws -> T {
        try await withTimeout(operationTimeout) {
            do {
                return try await self.client.withTransaction(logger: self.logger) { connection in
                    try await body(Session(connection: connection, logger: self.logger))
                }
            } catch let error as PostgresTransactionError {
                // The body's own error (a lost compare-and-set…) is what callers act on.
                if let closureError = error.closureError, error.rollbackError == nil { throw closureError }
                throw error
            }
        }
    }

    func withSession<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> T) async throws -> T {
        try await withTimeout(operationTimeout) {
            try await self.client.withConnection { connection in
                try await body(Session(connection: connection, logger: self.logger))
            }
        }
    }

    /// Answers `SELECT 1` within `timeout`, or throws.
    func ping(timeout: Duration) async throws {
        _ = try await withTimeout(timeout) {
            try await self.client.withConnection { connection in
                try await Session(connection: connection, logger: self.logger).run("SELECT 1")
            }
        }
    }

    /// Listens on a channel with a connection of its own (no operation timeout), calling `onPayload` per notification.
    func listen(channel: String, onListening: @escaping @Sendable () async -> Void,
                onPayload: @escaping @Sendable (String) async -> Void) async throws {
        try await client.withConnection { connection in
            try await connection.listen(on: channel) { notifications in
                await onListening()
                for try await notification in notifications {
                    await onPayload(notification.payload)
                }
            }
        }
    }

    func close() async {}

    struct Session: StoreSession {
        let connection: PostgresConnection
        let logger: Logger

        func run(_ query: SQLQueryString) async throws -> [[SQLValue]] {
            // sql-kit serialises the statement for PostgreSQL ($1, $2… in order); the binds go as binds.
            let (sql, binds) = connection.sql().serialize(query)
            var bindings = PostgresBindings(capacity: binds.count)
            for bind in binds {
                switch try SQLValue.bound(bind) {
                case .text(let text): bindings.append(text)
                case .integer(let integer): bindings.append(integer)
                case .double(let double): bindings.append(double)
                case .null: bindings.appendNull()
                }
            }
            let rows = try await connection.query(PostgresQuery(unsafeSQL: sql, binds: bindings), logger: logger).collect()
            return try rows.map { row in
                try row.map { cell -> SQLValue in
                    guard cell.bytes != nil else { return .null }
                    switch cell.dataType {
                    case .int2, .int4, .int8: return .integer(try cell.decode(Int64.self))
                    case .float4, .float8: return .double(try cell.decode(Double.self))
                    default: return .text(try cell.decode(String.self))
                    }
                }
            }
        }
    }
}

/// Runs `body`, failing with ``StoreError/timeout`` when it outlasts `timeout` (a database that cannot be
/// reached leaves a connection request waiting).
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: timeout)
            throw StoreError.timeout(timeout)
        }
        defer { group.cancelAll() }
        return try await group.next()!
    }
}
