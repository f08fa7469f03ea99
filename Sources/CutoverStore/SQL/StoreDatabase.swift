import SQLKit

/// A value bound to, or read from, a statement of the store.
public enum SQLValue: Sendable, Hashable, Encodable {
    case text(String)
    case integer(Int64)
    case double(Double)
    case null

    /// The value as text, if it is text.
    public var text: String? {
        if case .text(let value) = self { return value }
        return nil
    }

    /// The value as an integer, if it is one (or text that reads as one).
    public var integer: Int64? {
        switch self {
        case .integer(let value): return value
        case .text(let value): return Int64(value)
        case .double, .null: return nil
        }
    }

    /// The value as a floating-point number, if it is a number.
    public var double: Double? {
        switch self {
        case .double(let value): return value
        case .integer(let value): return Double(value)
        case .text, .null: return nil
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .double(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// A bound value of a serialised statement as a ``SQLValue``: the store binds text, whole numbers,
    /// floating-point numbers and ``SQLValue`` itself, nothing else.
    static func bound(_ value: any Encodable & Sendable) throws -> SQLValue {
        switch value {
        case let value as SQLValue: return value
        case let value as String: return .text(value)
        case let value as Int64: return .integer(value)
        case let value as Int: return .integer(Int64(value))
        case let value as Double: return .double(value)
        default: throw StoreError.corrupt("a statement bound a \(type(of: value)); the store binds text and numbers only")
        }
    }
}

/// The SQL dialects the store speaks.
public enum StoreDialect: Sendable {
    case sqlite, postgres
}

/// A place to run statements: a connection, possibly inside a transaction. Statements are sql-kit
/// `SQLQueryString`s: values go in as `\(bind: value)` (never spliced into the text), trusted fragments
/// such as table names as `\(unsafeRaw: text)`; the driver's dialect numbers the placeholders.
public protocol StoreSession: Sendable {
    /// Runs a statement; returns its rows, each column as read from the driver.
    @discardableResult
    func run(_ query: SQLQueryString) async throws -> [[SQLValue]]
}

/// A database the store keeps its tables in.
public protocol StoreDatabase: Sendable {
    var dialect: StoreDialect { get }
    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    func withTransaction<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> T) async throws -> T
    /// Runs `body` on a connection, outside a transaction.
    func withSession<T: Sendable>(_ body: @escaping @Sendable (any StoreSession) async throws -> T) async throws -> T
    /// Serves connections until cancelled (a pooled client's background work); returns at once when there is none.
    func run() async
    /// Closes the connections.
    func close() async
}
