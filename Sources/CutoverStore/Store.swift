import CutoverCore
import Foundation
import Logging

/// Where Cutover keeps its state: the comparator's counts and samples (and, as
/// the later phases arrive, flags and the audit log). One implementation over
/// SQL, on an embedded SQLite file or a shared PostgreSQL database.
public final class Store: DiffRecorder, Sendable {
    let database: any SQLDatabase
    /// How many samples are kept per route and field (the most recent).
    public let samplesPerField: Int

    /// Opens the store the location names and brings its schema up to date.
    /// `operationTimeout` bounds each PostgreSQL operation (an unreachable server fails it instead of hanging).
    public static func open(_ location: StoreLocation, logger: Logger, samplesPerField: Int = 20,
                            operationTimeout: Duration = .seconds(10)) async throws -> Store {
        let database: any SQLDatabase
        switch location {
        case .sqlite(let path):
            database = try await SQLiteDatabase.open(path: path, logger: logger)
        case .postgres(let url):
            database = try PostgresDatabase(url: url, logger: logger, operationTimeout: operationTimeout)
        }
        do {
            try await Schema.migrate(database)
        } catch {
            await database.close()
            throw error
        }
        return Store(database: database, samplesPerField: samplesPerField)
    }

    init(database: any SQLDatabase, samplesPerField: Int) {
        self.database = database
        self.samplesPerField = samplesPerField
    }

    /// The schema version the database is at.
    public func schemaVersion() async throws -> Int {
        try await database.withSession { session in
            Int(try await session.run("SELECT MAX(version) FROM schema_migrations").first?.first?.integer ?? 0)
        }
    }

    /// Closes the connections.
    public func close() async {
        await database.close()
    }
}
