/// A value bound to, or read from, SQL.
public enum SQLValue: Sendable, Hashable {
    case text(String)
    case integer(Int64)
    case null

    /// The value as text, if it is text.
    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// The value as an integer, if it is one.
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .text(let value): return Int64(value)
        case .null: return nil
        }
    }
}

/// The SQL dialects the stores speak.
public enum SQLDialect: Sendable {
    case sqlite, postgres
}

/// A place to run statements: a connection, possibly inside a transaction.
/// Statements use `?` placeholders on every dialect.
public protocol SQLSession: Sendable {
    /// Runs a statement; returns its rows.
    @discardableResult
    func run(_ sql: String, _ binds: [SQLValue]) async throws -> [[SQLValue]]
}

/// A database the store keeps its tables in.
public protocol SQLDatabase: Sendable {
    var dialect: SQLDialect { get }
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) async throws -> T) async throws -> T
    /// Runs `body` on a connection, outside a transaction.
    func withSession<T: Sendable>(_ body: @escaping @Sendable (any SQLSession) async throws -> T) async throws -> T
    /// Closes the connections.
    func close() async
}

extension SQLSession {
    @discardableResult
    func run(_ sql: String, _ binds: SQLValue...) async throws -> [[SQLValue]] {
        try await run(sql, binds)
    }
}
