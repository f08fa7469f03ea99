/// The `reconcile:` section: the old and the new database and the table pairs
/// `cutover reconcile` compares row for row.
public struct ReconcileSettings: Sendable, Hashable {
    /// The old database, `postgres://…`.
    public var old: String
    /// The new database, `postgres://…`.
    public var new: String
    /// How often `cutover serve` runs it; nil: only on demand.
    public var every: Duration?
    /// The table pairs, names unique.
    public var tables: [ReconcileTable]
    /// When set, the first pass runs in chunks taking about this long, with rests as long between them.
    public var chunkTime: Duration?

    public init(old: String, new: String, every: Duration?, tables: [ReconcileTable], chunkTime: Duration? = nil) {
        self.old = old
        self.new = new
        self.every = every
        self.tables = tables
        self.chunkTime = chunkTime
    }
}

/// One table pair to compare.
public struct ReconcileTable: Sendable, Hashable {
    /// The pair's name in reports.
    public var name: String
    /// The old table, `schema.table` or `table`.
    public var old: String
    /// The new table.
    public var new: String
    /// The key columns (old names), unique on both sides.
    public var key: [String]
    /// Old column name → new column name, where they differ.
    public var columns: [String: String]
    /// Columns compared on neither side (a name on either side).
    public var ignore: [String]
    /// A filter on the old side's rows (an SQL condition).
    public var whereOld: String?
    /// A filter on the new side's rows.
    public var whereNew: String?
    /// How columns (old names) compare.
    public var compare: [String: ColumnRules]
    /// Columns (old names) whose values never appear in reports.
    public var redact: [String]

    public init(name: String, old: String, new: String, key: [String], columns: [String: String] = [:], ignore: [String] = [],
                whereOld: String? = nil, whereNew: String? = nil, compare: [String: ColumnRules] = [:], redact: [String] = []) {
        self.name = name
        self.old = old
        self.new = new
        self.key = key
        self.columns = columns
        self.ignore = ignore
        self.whereOld = whereOld
        self.whereNew = whereNew
        self.compare = compare
        self.redact = redact
    }

    /// The new side's name of an old column.
    public func newName(of column: String) -> String { columns[column] ?? column }
}

/// How one column's values compare.
public struct ColumnRules: Sendable, Hashable {
    /// The precision timestamps are cut to before comparing.
    public enum TimestampPrecision: String, Sendable, Hashable, CaseIterable {
        case s, ms, us
    }

    /// Floating-point values equal when they differ by at most this much.
    public var floatTolerance: Double?
    /// Timestamps equal when equal at this precision.
    public var timestampPrecision: TimestampPrecision?
    /// Text equal whatever its letters' case.
    public var ignoreCase: Bool
    /// Text equal whatever whitespace surrounds it.
    public var trimWhitespace: Bool

    public init(floatTolerance: Double? = nil, timestampPrecision: TimestampPrecision? = nil, ignoreCase: Bool = false,
                trimWhitespace: Bool = false) {
        self.floatTolerance = floatTolerance
        self.timestampPrecision = timestampPrecision
        self.ignoreCase = ignoreCase
        self.trimWhitespace = trimWhitespace
    }

    public static let exact = ColumnRules()
}

/// What `cutover reconcile` reads from a configuration file: the `reconcile:`
/// section and the store its runs are kept in.
public struct ReconcileConfig: Sendable, Hashable {
    public var reconcile: ReconcileSettings
    public var store: StoreLocation
}
