import CutoverCore
import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// A PostgreSQL database shared by several gateways, through a connection pool.
final class PostgresDatabase: SQLDatabase {
    let dialect = SQLDialect.postgres
    private let client: PostgresClient
    private let runner: Task<Void, Never>
    private let logger: Logger
    /// How long one operation may wait for a connection and its statements.
    let operationTimeout: Duration

    init(url: String, logger: Logger, operationTimeout: Duration = .seconds(10)) throws {
        let configuration = try Self.configuration(url)
        let client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.client = client
        self.logger = logger
        self.operationTimeout = operationTimeout
        self.runner = Task { await client.run() }
    }

    /// A client configuration from a `postgres://` URL.
    static func configuration(_ url: String) throws -> PostgresClient.Configuration {
        try PostgresURL(url).clientConfiguration
    }

    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) async throws -> T) async throws -> T {
        try await withTimeout {
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

    func withSession<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) async throws -> T) async throws -> T {
        try await withTimeout {
            try await self.client.withConnection { connection in
                try await body(Session(connection: connection, logger: self.logger))
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

    func close() async {
        runner.cancel()
        await runner.value
    }

    /// Runs `body`, failing with ``StoreError/timeout`` when it outlasts the operation timeout
    /// (a database that cannot be reached leaves a connection request waiting).
    private func withTimeout<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        let timeout = operationTimeout
        return try await withThrowingTaskGroup(of: T.self) { group in
            group.addTask { try await body() }
            group.addTask {
                try await Task.sleep(for: timeout)
                throw StoreError.timeout(timeout)
            }
            defer { group.cancelAll() }
            return try await group.next()!
        }
    }

    struct Session: SQLSession {
        let connection: PostgresConnection
        let logger: Logger

        func run(_ sql: String, _ binds: [SQLValue]) async throws -> [[SQLValue]] {
            var bindings = PostgresBindings(capacity: binds.count)
            for value in binds {
                switch value {
                case .text(let text): bindings.append(text)
                case .integer(let integer): bindings.append(integer)
                case .null: bindings.appendNull()
                }
            }
            let rows = try await connection.query(PostgresQuery(unsafeSQL: Self.numbered(sql), binds: bindings), logger: logger).collect()
            return try rows.map { row in
                try row.map { cell -> SQLValue in
                    guard cell.bytes != nil else { return .null }
                    switch cell.dataType {
                    case .int2, .int4, .int8:
                        return .integer(try cell.decode(Int64.self))
                    default:
                        return .text(try cell.decode(String.self))
                    }
                }
            }
        }

        /// `?` placeholders as `$1`, `$2`…
        static func numbered(_ sql: String) -> String {
            var result = ""
            var number = 0
            for character in sql {
                if character == "?" {
                    number += 1
                    result += "$\(number)"
                } else {
                    result.append(character)
                }
            }
            return result
        }
    }
}
