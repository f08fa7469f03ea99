/// Why the store could not do what was asked.
public enum StoreError: Error, Sendable, CustomStringConvertible {
    /// The store URL cannot be used.
    case invalidLocation(String)
    /// An operation waited longer than its bound (the database is unreachable or stuck).
    case timeout(Duration)
    /// The database holds a schema newer than this version knows.
    case schemaTooNew(found: Int, known: Int)
    /// A stored value could not be read back.
    case corrupt(String)
    /// A compare-and-set lost: what it expected had changed.
    case conflict(String)
    /// The store could not be opened or prepared (``Store/withStore(_:logger:samplesPerField:operationTimeout:_:)``).
    case cannotOpen(String)

    public var description: String {
        switch self {
        case .invalidLocation(let reason): return reason
        case .timeout(let duration): return "the store did not answer within \(duration)"
        case .schemaTooNew(let found, let known):
            return "the store's schema is at version \(found), newer than this Cutover knows (\(known)); upgrade Cutover"
        case .corrupt(let what): return "unreadable stored value: \(what)"
        case .conflict(let reason): return reason
        case .cannotOpen(let reason): return "cannot open the store: \(reason)"
        }
    }
}
