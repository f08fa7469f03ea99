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
