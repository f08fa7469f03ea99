import Foundation
#if canImport(Glibc)
import Glibc
#endif
import CutoverCore
import NIOConcurrencyHelpers

/// A throwaway PostgreSQL server for the test process: `initdb` into a temporary
/// folder (as the `postgres` user when running as root), started on a free port
/// with fsync off, stopped and removed when the process exits.
public final class TestPostgres: Sendable {
    public let port: Int
    let directory: String

    private static let started = NIOLockedValueBox<TestPostgres?>(nil)
    private static let starting = AsyncMutex()

    /// The server of this test process, started on first use.
    public static func shared() async throws -> TestPostgres {
        try await starting.withLock {
            if let server = started.withLockedValue({ $0 }) { return server }
            let server = try start()
            started.withLockedValue { $0 = server }
            atexit { TestPostgres.stopShared() }
            return server
        }
    }

    private init(port: Int, directory: String) {
        self.port = port
        self.directory = directory
    }

    /// Creates a new empty database; returns its URL.
    public func createDatabase() throws -> String {
        let name = "cutover_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(16)
        try Spawn.run([try Self.psql(), "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", "postgres",
                       "-v", "ON_ERROR_STOP=1", "-q", "-c", "CREATE DATABASE \(name)"])
        return "postgres://postgres@127.0.0.1:\(port)/\(name)"
    }

    /// Runs a query as the superuser and returns its rows as psql prints them unaligned (`|` between columns).
    public func query(_ sql: String, database: String = "postgres") throws -> String {
        try Spawn.run([try Self.psql(), "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database,
                       "-v", "ON_ERROR_STOP=1", "-q", "-t", "-A", "-c", sql])
    }

    /// A session of its own that holds an exclusive advisory lock on `key` until `release()`: whatever waits for that
    /// lock on this server (a query of the code under test) waits for the test.
    public final class AdvisoryLock: Sendable {
        let server: TestPostgres
        let key: Int64
        let process: Process

        init(server: TestPostgres, key: Int64, database: String) throws {
            self.server = server
            self.key = key
            let process = Process()
            process.executableURL = URL(fileURLWithPath: try TestPostgres.psql())
            process.arguments = ["-h", "127.0.0.1", "-p", String(server.port), "-U", "postgres", "-d", database, "-q",
                                 "-c", "SELECT pg_advisory_lock(\(key))", "-c", "SELECT pg_sleep(600)"]
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
            try process.run()
            self.process = process
            let deadline = Date().addingTimeInterval(30)
            while try server.query("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = \(key) AND granted") != "1\n" {
                guard Date() < deadline, process.isRunning else { throw TimedOut(what: "the advisory lock \(key) to be held") }
                usleep(20_000)
            }
        }

        /// Ends the holding session, which releases the lock.
        public func release() throws {
            _ = try server.query("""
                SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory' AND objid = \(key) AND granted AND mode = 'ExclusiveLock'
                """)
            process.waitUntilExit()
        }
    }

    /// Holds an exclusive advisory lock on `key` in a session of its own until released.
    public func holdAdvisoryLock(_ key: Int64, database: String = "postgres") throws -> AdvisoryLock {
        try AdvisoryLock(server: self, key: key, database: database)
    }

    /// Runs SQL as the superuser on a database of this server.
    public func execute(_ sql: String, database: String = "postgres") throws {
        try Spawn.run([try Self.psql(), "-h", "127.0.0.1", "-p", String(port), "-U", "postgres", "-d", database,
                       "-v", "ON_ERROR_STOP=1", "-q", "-c", sql])
    }

    /// Where Debian keeps the server binaries (off PATH).
    static let serverFolders = ["/usr/lib/postgresql/*/bin"]

    /// The server's binaries and psql, installed from Debian when missing (root only).
    static let binaries: Result<(initdb: String, pgctl: String, psql: String), any Error> = Result {
        let initdb = try TestTools.executable("initdb", debianPackage: "postgresql", folders: serverFolders)
        let pgctl = try TestTools.executable("pg_ctl", debianPackage: "postgresql", folders: serverFolders)
        let psql = try TestTools.executable("psql", debianPackage: "postgresql-client", folders: serverFolders)
        if getuid() == 0 { try TestTools.ensureUser("postgres") }
        return (initdb, pgctl, psql)
    }

    /// psql's path.
    static func psql() throws -> String { try binaries.get().psql }

    /// A server of its own, for a test that stops and starts it (a store outage); `remove()` when done.
    public static func dedicated() throws -> TestPostgres {
        try start()
    }

    private static func start() throws -> TestPostgres {
        let tools = try binaries.get()
        let directory = NSTemporaryDirectory() + "cutover-pg-" + UUID().uuidString
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let asRoot = getuid() == 0
        if asRoot {
            try Spawn.run(["chown", "postgres:postgres", directory])
        }
        let port = try freePort()
        try runAsPostgres(asRoot, [tools.initdb, "-D", directory + "/data", "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
        let server = TestPostgres(port: port, directory: directory)
        try server.startServer()
        return server
    }

    /// Starts the server (again, after `stopServer()`), on the same port and data.
    public func startServer() throws {
        let tools = try Self.binaries.get()
        let options = "-p \(port) -k \(directory) -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off "
            + "-c full_page_writes=off -c max_connections=200"
        try Self.runAsPostgres(getuid() == 0, [tools.pgctl, "-D", directory + "/data", "-l", directory + "/server.log", "-o", options, "-w", "start"])
    }

    /// Stops the server at once (as a crash or an outage would), keeping its data.
    public func stopServer() throws {
        let tools = try Self.binaries.get()
        try Self.runAsPostgres(getuid() == 0, [tools.pgctl, "-D", directory + "/data", "-m", "immediate", "-w", "stop"])
    }

    /// Stops the server if it runs and deletes its data.
    public func remove() {
        try? stopServer()
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func stopShared() {
        started.withLockedValue({ $0 })?.remove()
    }

    private static func runAsPostgres(_ asRoot: Bool, _ arguments: [String]) throws {
        try Spawn.run(asRoot ? ["runuser", "-u", "postgres", "--"] + arguments : arguments)
    }

    /// A port nothing listens on now (the socket that reserved it closes on return).
    private static func freePort() throws -> Int {
        try RefusingPort().port
    }
}

