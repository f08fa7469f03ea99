/// What a reconciliation of one table pair found.
public struct TableReport: Sendable, Codable, Hashable {
    /// The pair's name.
    public var table: String
    public var old: String
    public var new: String
    /// Rows on each side (after the `where` filters).
    public var oldRows: Int64
    public var newRows: Int64
    /// Keys on old and not on new.
    public var missingOnNew: Int
    /// Keys on new and not on old.
    public var extraOnNew: Int
    /// Keys on both sides whose compared columns differ.
    public var changed: Int
    /// Whether the run stopped at `--max-differences` before looking at everything.
    public var stoppedEarly: Bool
    /// Every difference found, in key order.
    public var differences: [RowDifference]
    /// How long the pair took.
    public var seconds: Double

    /// Whether the two sides hold the same rows.
    public var isEqual: Bool { differences.isEmpty && !stoppedEarly }

    /// A report; the counts are those of `differences`.
    public init(table: String, old: String, new: String, oldRows: Int64, newRows: Int64, stoppedEarly: Bool,
                differences: [RowDifference], seconds: Double) {
        self.table = table
        self.old = old
        self.new = new
        self.oldRows = oldRows
        self.newRows = newRows
        self.missingOnNew = differences.count { $0.kind == .missing }
        self.extraOnNew = differences.count { $0.kind == .extra }
        self.changed = differences.count { $0.kind == .changed }
        self.stoppedEarly = stoppedEarly
        self.differences = differences
        self.seconds = seconds
    }

    enum CodingKeys: String, CodingKey {
        case table, old, new, changed, differences, seconds
        case oldRows = "old_rows"
        case newRows = "new_rows"
        case missingOnNew = "missing_on_new"
        case extraOnNew = "extra_on_new"
        case stoppedEarly = "stopped_early"
    }
}

/// One key whose rows differ.
public struct RowDifference: Sendable, Codable, Hashable {
    public enum Kind: String, Sendable, Codable, Hashable {
        /// On old, not on new.
        case missing
        /// On new, not on old.
        case extra
        /// On both, with different values.
        case changed
    }

    /// The key's columns (old names) and values, as text.
    public var key: [KeyValue]
    public var kind: Kind
    /// For changed rows: the columns that differ, with both values.
    public var columns: [ColumnDifference]

    public init(key: [KeyValue], kind: Kind, columns: [ColumnDifference] = []) {
        self.key = key
        self.kind = kind
        self.columns = columns
    }

    /// The key as `id=17` (`a=1, b=x` for several columns).
    public var keyText: String { key.map { "\($0.column)=\($0.value ?? "NULL")" }.joined(separator: ", ") }
}

/// A key column's value.
public struct KeyValue: Sendable, Codable, Hashable {
    public var column: String
    public var value: String?

    public init(column: String, value: String?) {
        self.column = column
        self.value = value
    }
}

/// A column whose values differ, as text (`nil` is SQL NULL); `[redacted]` where configured.
public struct ColumnDifference: Sendable, Codable, Hashable {
    /// The old column's name (the new one's, when mapped, is in `newColumn`).
    public var column: String
    public var newColumn: String?
    public var old: String?
    public var new: String?

    public init(column: String, newColumn: String?, old: String?, new: String?) {
        self.column = column
        self.newColumn = newColumn
        self.old = old
        self.new = new
    }

    enum CodingKeys: String, CodingKey {
        case column, old, new
        case newColumn = "new_column"
    }
}

/// A bound of a key range on the first key column: an integer, or text compared byte by byte.
public enum KeyBound: Sendable, Hashable, Codable {
    case integer(Int64)
    case text(String)
}

/// Where an interrupted table pair picks up: its first-pass bucket bounds, the
/// differing buckets settled so far (every bucket up to this index), and the
/// differences they held.
public struct ReconcileCheckpoint: Sendable, Hashable, Codable {
    public var thresholds: [KeyBound]
    public var settledThrough: Int
    public var differences: [RowDifference]

    public init(thresholds: [KeyBound], settledThrough: Int, differences: [RowDifference]) {
        self.thresholds = thresholds
        self.settledThrough = settledThrough
        self.differences = differences
    }

    enum CodingKeys: String, CodingKey {
        case thresholds, differences
        case settledThrough = "settled_through"
    }
}

/// A reconciliation run as the store keeps it.
public struct ReconcileRun: Sendable, Hashable, Codable {
    public enum Status: String, Sendable, Hashable, Codable {
        /// Under way, or interrupted (resume it with `--resume`).
        case running
        /// Every table pair compared.
        case finished
        /// Ended by an error (see `error`).
        case failed
    }

    public var id: Int64
    /// Milliseconds since 1970.
    public var startedAt: Int64
    public var finishedAt: Int64?
    public var status: Status
    /// The table pairs the run covers.
    public var tables: [String]
    /// The pairs compared so far (without their differences).
    public var results: [TableSummary]
    public var error: String?

    public init(id: Int64, startedAt: Int64, finishedAt: Int64?, status: Status, tables: [String], results: [TableSummary], error: String?) {
        self.id = id
        self.startedAt = startedAt
        self.finishedAt = finishedAt
        self.status = status
        self.tables = tables
        self.results = results
        self.error = error
    }

    /// Whether every table pair was found equal.
    public var isClean: Bool { status == .finished && results.count == tables.count && results.allSatisfy(\.isEqual) }

    enum CodingKeys: String, CodingKey {
        case id, status, tables, results, error
        case startedAt = "started_at"
        case finishedAt = "finished_at"
    }
}

/// A table pair's counts in a run.
public struct TableSummary: Sendable, Hashable, Codable {
    public var table: String
    public var oldRows: Int64
    public var newRows: Int64
    public var missingOnNew: Int
    public var extraOnNew: Int
    public var changed: Int
    public var stoppedEarly: Bool
    public var seconds: Double

    public init(_ report: TableReport) {
        table = report.table
        oldRows = report.oldRows
        newRows = report.newRows
        missingOnNew = report.missingOnNew
        extraOnNew = report.extraOnNew
        changed = report.changed
        stoppedEarly = report.stoppedEarly
        seconds = report.seconds
    }

    public var isEqual: Bool { missingOnNew == 0 && extraOnNew == 0 && changed == 0 && !stoppedEarly }

    enum CodingKeys: String, CodingKey {
        case table, changed, seconds
        case oldRows = "old_rows"
        case newRows = "new_rows"
        case missingOnNew = "missing_on_new"
        case extraOnNew = "extra_on_new"
        case stoppedEarly = "stopped_early"
    }
}
