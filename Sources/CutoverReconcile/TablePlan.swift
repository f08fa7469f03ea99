import CutoverCore
import PostgresNIO

/// A table pair checked against both databases, with the SQL each side runs:
/// the key expressions, and per compared column a hash expression (typed where
/// both sides' types match) and a text expression for row comparison.
struct TablePlan: Sendable {
    /// How keys order and compare: integers by value, everything else as text under `COLLATE "C"`.
    enum KeyKind: Sendable {
        case integer, text
    }

    struct Key: Sendable {
        /// The configured (old) name.
        let label: String
        let old: String
        let new: String
    }

    struct Column: Sendable {
        /// The configured (old) name.
        let label: String
        /// The new side's name, when it differs.
        let newLabel: String?
        let hashOld: String
        let hashNew: String
        let fetchOld: String
        let fetchNew: String
        let rules: ColumnRules
        let redacted: Bool
    }

    let table: ReconcileTable
    let oldRelation: String
    let newRelation: String
    let keyKind: KeyKind
    let keys: [Key]
    let columns: [Column]
    let whereOld: String
    let whereNew: String

    /// The first key column's expression, used for buckets and ranges.
    func bucketKey(_ side: Side) -> String {
        let column = quote(side == .old ? keys[0].old : keys[0].new)
        return keyKind == .integer ? "\(column)::int8" : "\(column)::text COLLATE \"C\""
    }

    /// Every key column as text, in key order.
    func keyTexts(_ side: Side) -> [String] {
        keys.map { "\(quote(side == .old ? $0.old : $0.new))::text" }
    }

    /// The ORDER BY of a side's rows.
    func order(_ side: Side) -> String {
        keys.enumerated().map { index, key in
            let column = quote(side == .old ? key.old : key.new)
            return index == 0 ? bucketKey(side) : "\(column)::text COLLATE \"C\""
        }.joined(separator: ", ")
    }

    /// The hash of a whole row: its key and its compared columns.
    func rowHash(_ side: Side) -> String {
        let keyParts = keys.enumerated().map { index, key -> String in
            let column = quote(side == .old ? key.old : key.new)
            return index == 0 && keyKind == .integer ? "\(column)::int8" : "\(column)::text"
        }
        let parts = keyParts + columns.map { side == .old ? $0.hashOld : $0.hashNew }
        return "hash_record_extended(ROW(\(parts.joined(separator: ", "))), 0)"
    }

    func relation(_ side: Side) -> String { side == .old ? oldRelation : newRelation }
    func filter(_ side: Side) -> String { side == .old ? whereOld : whereNew }

    enum Side: Sendable {
        case old, new
    }

    // MARK: - Building

    struct ColumnInfo: Sendable {
        let name: String
        /// The type as `format_type` writes it, `numeric(10,2)`.
        let type: String
        /// The base type's name, `numeric`.
        let typeName: String
    }

    /// Reads both tables' columns and checks the configuration against them.
    static func make(_ table: ReconcileTable, old: ReconcileSide, new: ReconcileSide) async throws -> TablePlan {
        async let oldColumns = describe(table.old, on: old)
        async let newColumns = describe(table.new, on: new)
        let (oldInfo, newInfo) = try await (oldColumns, newColumns)
        func find(_ name: String, in columns: [ColumnInfo]) -> ColumnInfo? {
            columns.first { $0.name == name } ?? columns.first { $0.name == name.lowercased() }
        }
        let ignoredOld = Set(table.ignore.compactMap { find($0, in: oldInfo)?.name })
        let ignoredNew = Set(table.ignore.compactMap { find($0, in: newInfo)?.name })
        for name in table.ignore where find(name, in: oldInfo) == nil && find(name, in: newInfo) == nil {
            throw ReconcileError.badInput("table pair '\(table.name)': ignored column '\(name)' is in neither \(table.old) nor \(table.new)")
        }
        for (old, _) in table.columns where find(old, in: oldInfo) == nil {
            throw ReconcileError.badInput("table pair '\(table.name)': column '\(old)' (under columns) does not exist in \(table.old) (old)")
        }
        for name in Array(table.compare.keys) + table.redact where find(name, in: oldInfo) == nil {
            throw ReconcileError.badInput("table pair '\(table.name)': column '\(name)' does not exist in \(table.old) (old)")
        }

        var keys: [Key] = []
        var keyKind = KeyKind.text
        for (index, name) in table.key.enumerated() {
            guard let oldColumn = find(name, in: oldInfo) else {
                throw ReconcileError.badInput("table pair '\(table.name)': key column '\(name)' does not exist in \(table.old) (old)")
            }
            let newName = table.newName(of: name)
            guard let newColumn = find(newName, in: newInfo) else {
                throw ReconcileError.badInput("table pair '\(table.name)': key column '\(newName)' does not exist in \(table.new) (new)")
            }
            let (oldKind, newKind) = (Self.keyKind(oldColumn.typeName), Self.keyKind(newColumn.typeName))
            guard oldKind == newKind else {
                throw ReconcileError.badInput("table pair '\(table.name)': key column '\(name)' is \(oldColumn.type) in \(table.old) "
                    + "but \(newColumn.type) in \(table.new); keys must both be integers or both be text")
            }
            if index == 0 { keyKind = oldKind }
            keys.append(Key(label: name, old: oldColumn.name, new: newColumn.name))
        }
        let keyOld = Set(keys.map(\.old)), keyNew = Set(keys.map(\.new))

        var columns: [Column] = []
        var usedNew: Set<String> = keyNew
        for oldColumn in oldInfo where !keyOld.contains(oldColumn.name) && !ignoredOld.contains(oldColumn.name) {
            let label = table.columns.keys.first { find($0, in: oldInfo)?.name == oldColumn.name } ?? oldColumn.name
            let newName = table.newName(of: label)
            guard let newColumn = find(newName, in: newInfo), !ignoredNew.contains(newColumn.name) else {
                throw ReconcileError.badInput("table pair '\(table.name)': column '\(oldColumn.name)' of \(table.old) has no column "
                    + "'\(newName)' in \(table.new); map it under columns or list it under ignore")
            }
            usedNew.insert(newColumn.name)
            let rules = table.compare.first { find($0.key, in: oldInfo)?.name == oldColumn.name }?.value ?? .exact
            let redacted = table.redact.contains { find($0, in: oldInfo)?.name == oldColumn.name }
            columns.append(Self.column(label: oldColumn.name, old: oldColumn, new: newColumn, rules: rules, redacted: redacted))
        }
        for newColumn in newInfo where !usedNew.contains(newColumn.name) && !ignoredNew.contains(newColumn.name) {
            throw ReconcileError.badInput("table pair '\(table.name)': column '\(newColumn.name)' of \(table.new) has no counterpart in "
                + "\(table.old); map an old column to it under columns or list it under ignore")
        }
        let plan = TablePlan(table: table, oldRelation: quoteRelation(table.old), newRelation: quoteRelation(table.new),
                             keyKind: keyKind, keys: keys, columns: columns,
                             whereOld: table.whereOld.map { "(\($0))" } ?? "TRUE", whereNew: table.whereNew.map { "(\($0))" } ?? "TRUE")
        async let oldUnique: Void = plan.checkUnique(.old, on: old)
        async let newUnique: Void = plan.checkUnique(.new, on: new)
        _ = try await (oldUnique, newUnique)
        return plan
    }

    static func describe(_ relation: String, on side: ReconcileSide) async throws -> [ColumnInfo] {
        var binds = PostgresBindings()
        binds.append(relation)
        let exists = try await side.run("SELECT to_regclass($1) IS NOT NULL", binds)
        guard (try exists.first?.decode(Bool.self)) == true else {
            throw ReconcileError.badInput("table \(relation) does not exist in the \(side.name) database")
        }
        let rows = try await side.run("""
            SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typname::text
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum
            """, binds)
        return try rows.map { row in
            let (name, type, typeName) = try row.decode((String, String, String).self)
            return ColumnInfo(name: name, type: type, typeName: typeName)
        }
    }

    /// Fails unless the key is unique on this side: a unique index on (a subset of) its columns, or no duplicate found.
    func checkUnique(_ side: Side, on connection: ReconcileSide) async throws {
        let relationText = side == .old ? table.old : table.new
        let keyColumns = Set(keys.map { side == .old ? $0.old : $0.new })
        var binds = PostgresBindings()
        binds.append(relationText)
        let indexes = try await connection.run("""
            SELECT array_agg(a.attname::text) FROM pg_index i
            JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
            WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indpred IS NULL AND i.indexprs IS NULL
            GROUP BY i.indexrelid
            """, binds)
        for row in indexes {
            let columns = try row.decode([String].self)
            if !columns.isEmpty, Set(columns).isSubset(of: keyColumns) { return }
        }
        let keyList = keys.map { quote(side == .old ? $0.old : $0.new) }.joined(separator: ", ")
        let duplicate = try await connection.run("""
            SELECT \(keyTexts(side).joined(separator: " || ', ' || ")) FROM \(relation(side)) WHERE \(filter(side))
            GROUP BY \(keyList) HAVING count(*) > 1 LIMIT 1
            """)
        if let row = duplicate.first {
            let example = (try? row.decode(String?.self)) ?? nil
            throw ReconcileError.badInput("table pair '\(table.name)': the key (\(table.key.joined(separator: ", "))) is not unique in "
                + "\(relationText) (\(connection.name)): \(example ?? "NULL") appears more than once")
        }
    }

    static func keyKind(_ typeName: String) -> KeyKind {
        ["int2", "int4", "int8"].contains(typeName) ? .integer : .text
    }

    static let integerTypes: Set<String> = ["int2", "int4", "int8"]
    static let floatTypes: Set<String> = ["float4", "float8"]
    static let numericTypes: Set<String> = integerTypes.union(floatTypes).union(["numeric"])
    static let timestampTypes: Set<String> = ["timestamp", "timestamptz"]
    static let textTypes: Set<String> = ["text", "varchar", "bpchar", "name", "citext"]
    /// Types `hash_record_extended` can hash.
    static let hashable: Set<String> = numericTypes.union(timestampTypes).union(textTypes)
        .union(["bool", "date", "time", "timetz", "uuid", "jsonb", "bytea", "interval", "oid", "char"])

    /// The SQL of one compared column on both sides.
    static func column(label: String, old: ColumnInfo, new: ColumnInfo, rules: ColumnRules, redacted: Bool) -> Column {
        let names = (quote(old.name), quote(new.name))
        let types = (old.typeName, new.typeName)
        let sameType = old.type == new.type
        func both(_ make: (String) -> String) -> (String, String) { (make(names.0), make(names.1)) }

        var hash: (String, String)
        var fetch: (String, String)
        let numeric = numericTypes.contains(types.0) && numericTypes.contains(types.1)
        let float = numeric && (floatTypes.contains(types.0) || floatTypes.contains(types.1))
        if numeric, let tolerance = rules.floatTolerance, tolerance > 0 {
            // Values further apart than the tolerance always land on different multiples; closer ones compare in the rows.
            hash = both { "round(\($0)::float8 / \(tolerance))" }
            fetch = both { "\($0)::float8::text" }
        } else if float {
            hash = sameType ? both { $0 } : both { "\($0)::float8" }
            fetch = both { "\($0)::float8::text" }
        } else if numeric {
            hash = sameType ? both { $0 } : both { "trim_scale(\($0)::numeric)" }
            fetch = both { "trim_scale(\($0)::numeric)::text" }
        } else if timestampTypes.contains(types.0), timestampTypes.contains(types.1), sameType, rules.timestampPrecision == nil {
            // The same type and no precision rule: hashed as stored (microseconds either way), no expression per row.
            hash = both { $0 }
            fetch = both { "\($0)::text" }
        } else if timestampTypes.contains(types.0), timestampTypes.contains(types.1) {
            let unit = switch rules.timestampPrecision {
            case .s: "second"
            case .ms: "milliseconds"
            case .us, nil: "microseconds"
            }
            let cast = sameType ? "" : "::timestamptz"
            hash = both { "date_trunc('\(unit)', \($0)\(cast))" }
            fetch = both { "date_trunc('\(unit)', \($0)\(cast))::text" }
        } else if ["json", "jsonb"].contains(types.0), ["json", "jsonb"].contains(types.1) {
            hash = both { "\($0)::jsonb" }
            fetch = both { "\($0)::jsonb::text" }
        } else if rules.ignoreCase || rules.trimWhitespace {
            let normalize: (String) -> String = { column in
                var expression = "\(column)::text"
                if rules.trimWhitespace { expression = "btrim(\(expression), E' \\t\\r\\n')" }
                if rules.ignoreCase { expression = "lower(\(expression))" }
                return expression
            }
            hash = both(normalize)
            fetch = both { "\($0)::text" }
        } else if sameType, hashable.contains(types.0) {
            hash = both { $0 }
            fetch = both { "\($0)::text" }
        } else {
            hash = both { "\($0)::text" }
            fetch = both { "\($0)::text" }
        }
        return Column(label: label, newLabel: old.name == new.name ? nil : new.name, hashOld: hash.0, hashNew: hash.1,
                      fetchOld: fetch.0, fetchNew: fetch.1, rules: rules, redacted: redacted)
    }
}

/// An identifier as PostgreSQL reads a quoted one.
func quote(_ name: String) -> String {
    "\"" + name.replacingOccurrences(of: "\"", with: "\"\"") + "\""
}

/// `schema.table` with each part quoted, folded to lower case as PostgreSQL folds unquoted names.
func quoteRelation(_ name: String) -> String {
    name.split(separator: ".").map { quote($0.lowercased()) }.joined(separator: ".")
}
