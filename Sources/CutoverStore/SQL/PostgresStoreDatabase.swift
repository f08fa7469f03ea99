import CutoverCore
import Foundation
import Logging
import NIOConcurrencyHelpers
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

/// Runs `body`, failing with ``StoreError/timeout`` once it outlasts `timeout` (a database that cannot be reached
/// leaves a connection request waiting; a connection to a partitioned server leaves a query waiting for TCP to give up,
/// minutes later). The operation runs in a task of its own so that the wait ends at the bound even when the operation
/// does not heed cancellation: it is cancelled then, and its late outcome is dropped.
func withTimeout<T: Sendable>(_ timeout: Duration, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    let race = TimeoutRace<T>()
    return try await withTaskCancellationHandler {
        try await withCheckedThrowingContinuation { continuation in
            race.begin(continuation)
            let work = Task { race.finish(await Result { try await body() }) }
            let timer = Task {
                try? await Task.sleep(for: timeout)
                race.finish(.failure(StoreError.timeout(timeout)))
            }
            race.attach(work: work, timer: timer)
        }
    } onCancel: {
        race.finish(.failure(CancellationError()))
    }
}

/// The one outcome of an operation racing its timeout: the first to finish resumes the waiter and cancels the other.
private final class TimeoutRace<T: Sendable>: Sendable {
    private struct State {
        var continuation: CheckedContinuation<T, any Error>?
        var outcome: Result<T, any Error>?
        var tasks: [Task<Void, Never>] = []
    }
    private let state = NIOLockedValueBox(State())

    func begin(_ continuation: CheckedContinuation<T, any Error>) {
        let early = state.withLockedValue { state -> Result<T, any Error>? in
            if let outcome = state.outcome { return outcome }
            state.continuation = continuation
            return nil
        }
        if let early { continuation.resume(with: early) }
    }

    func attach(work: Task<Void, Never>, timer: Task<Void, Never>) {
        let finished = state.withLockedValue { state -> Bool in
            state.tasks = [work, timer]
            return state.outcome != nil
        }
        if finished {
            work.cancel()
            timer.cancel()
        }
    }

    func finish(_ outcome: Result<T, any Error>) {
        let (continuation, tasks) = state.withLockedValue { state -> (CheckedContinuation<T, any Error>?, [Task<Void, Never>]) in
            guard state.outcome == nil else { return (nil, []) }
            state.outcome = outcome
            defer { state.continuation = nil }
            return (state.continuation, state.tasks)
        }
        continuation?.resume(with: outcome)
        for task in tasks { task.cancel() }
    }
}

extension Result where Failure == any Error {
    /// The outcome of an async throwing call.
    init(_ body: () async throws -> Success) async {
        do {
            self = .success(try await body())
        } catch {
            self = .failure(error)
        }
    }
}
