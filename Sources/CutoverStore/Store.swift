import CutoverCore
import Foundation
import Logging
import ServiceLifecycle

/// Where Cutover keeps its state: the comparator's counts and samples, the switch flags and their audit log,
/// instances, evidence and reconciliation runs. One implementation over SQL, on an embedded SQLite file or a
/// shared PostgreSQL database.
///
/// A store is made (``make(_:logger:samplesPerField:operationTimeout:)``), served (``run()``: a PostgreSQL store's
/// connection pool works only while it runs, in the owner's service group or task group) and prepared
/// (``prepare()``: the schema brought up to date). ``withStore(_:logger:samplesPerField:operationTimeout:_:)`` does
/// all three around a piece of work; ``open(_:logger:samplesPerField:operationTimeout:)`` is for SQLite, whose
/// connection needs nothing running.
public final class Store: DiffRecorder, Service, Sendable {
    let database: any StoreDatabase
    /// How many samples are kept per route and field (the most recent).
    public let samplesPerField: Int

    /// Makes the store the location names, without preparing its schema. An SQLite file is opened now (a path that
    /// cannot be opened throws); a PostgreSQL database is connected to only while ``run()`` runs.
    public static func make(_ location: StoreLocation, logger: Logger, samplesPerField: Int = 20,
                            operationTimeout: Duration = .seconds(10)) async throws -> Store {
        let database: any StoreDatabase
        switch location {
        case .sqlite(let path):
            database = try await SQLiteStoreDatabase.open(path: path, logger: logger)
        case .postgres(let url):
            database = try PostgresStoreDatabase(url: url, logger: logger, operationTimeout: operationTimeout)
        }
        return Store(database: database, samplesPerField: samplesPerField)
    }

    /// Opens an SQLite store and brings its schema up to date. A PostgreSQL store needs ``run()`` running first:
    /// use ``withStore(_:logger:samplesPerField:operationTimeout:_:)`` or a service group for it.
    public static func open(_ location: StoreLocation, logger: Logger, samplesPerField: Int = 20,
                            operationTimeout: Duration = .seconds(10)) async throws -> Store {
        guard case .sqlite = location else {
            throw StoreError.invalidLocation("\(location.redacted): a PostgreSQL store is opened with Store.withStore or run as a service")
        }
        let store = try await make(location, logger: logger, samplesPerField: samplesPerField, operationTimeout: operationTimeout)
        do {
            try await store.prepare()
        } catch {
            await store.close()
            throw error
        }
        return store
    }

    /// Makes a store, serves it beside `body`, prepares it, runs `body` with it, then stops it and closes it.
    public static func withStore<T: Sendable>(_ location: StoreLocation, logger: Logger, samplesPerField: Int = 20,
                                              operationTimeout: Duration = .seconds(10),
                                              _ body: @Sendable (Store) async throws -> T) async throws -> T {
        let store: Store
        do {
            store = try await make(location, logger: logger, samplesPerField: samplesPerField, operationTimeout: operationTimeout)
        } catch {
            throw StoreError.cannotOpen(StoreStatus.reason(error))
        }
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await store.run() }
            defer { group.cancelAll() }
            do {
                do {
                    try await store.prepare()
                } catch {
                    throw StoreError.cannotOpen(StoreStatus.reason(error))
                }
                let result = try await body(store)
                await store.close()
                return result
            } catch {
                await store.close()
                throw error
            }
        }
    }

    init(database: any StoreDatabase, samplesPerField: Int) {
        self.database = database
        self.samplesPerField = samplesPerField
    }

    /// Serves the store's connections until cancelled or, in a service group, until graceful shutdown
    /// (a PostgreSQL pool; an SQLite file needs nothing and returns at once).
    public func run() async throws {
        await database.run()
    }

    /// Brings the schema up to date (each migration once, in order, in its own transaction).
    public func prepare() async throws {
        try await Schema.migrate(database)
    }

    /// Whether the store answers a trivial statement within `timeout` (the health probe).
    public func ping(timeout: Duration) async throws {
        if let postgres = database as? PostgresStoreDatabase {
            try await postgres.ping(timeout: timeout)
        } else {
            _ = try await withTimeout(timeout) { try await self.database.withSession { try await $0.run("SELECT 1") } }
        }
    }

    /// The schema version the database is at.
    public func schemaVersion() async throws -> Int {
        try await database.withSession { session in
            Int(try await session.run("SELECT MAX(version) FROM schema_migrations").first?.first?.integer ?? 0)
        }
    }

    /// Closes the connections (an SQLite file; a PostgreSQL pool closes when ``run()`` ends).
    public func close() async {
        await database.close()
    }
}
