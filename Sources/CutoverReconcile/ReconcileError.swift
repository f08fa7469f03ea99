/// Why a reconciliation could not run: bad input that names the thing, or a database that failed.
public enum ReconcileError: Error, CustomStringConvertible, Sendable {
    /// The configuration does not fit the databases (a missing table or column, a key that is not unique…).
    case badInput(String)
    /// A database could not be reached or failed a query.
    case database(side: String, String)

    public var description: String {
        switch self {
        case .badInput(let reason): return reason
        case .database(let side, let reason): return "the \(side) database: \(reason)"
        }
    }
}
