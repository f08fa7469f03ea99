import Yams

/// The `reconcile:` section.
extension ConfigBuilder {
    static let reconcileKeys = ["old", "new", "every", "chunk_time", "tables"]
    static let tableKeys = ["name", "old", "new", "key", "columns", "ignore", "where", "compare", "redact"]
    static let columnRuleKeys = ["float_tolerance", "timestamp_precision", "ignore_case", "trim_whitespace"]

    func reconcile(_ node: Node, at path: ConfigPath) -> ReconcileSettings? {
        guard let section = reader.mapping(node, at: path, keys: Self.reconcileKeys) else { return nil }
        let old = required(section, "old").flatMap { postgresURL($0, at: section.path("old")) }
        let new = required(section, "new").flatMap { postgresURL($0, at: section.path("new")) }
        let every = section["every"].flatMap { reader.duration($0, at: section.path("every"), minimum: .seconds(1)) }
        let chunkTime = section["chunk_time"].flatMap { reader.duration($0, at: section.path("chunk_time"), minimum: .milliseconds(1)) }
        var tables: [ReconcileTable] = []
        var names: Set<String> = []
        if let node = required(section, "tables"), let list = reader.list(node, at: section.path("tables")) {
            if list.isEmpty {
                reader.report(section.path("tables"), node, "no tables to compare", fix: "list at least one { name, old, new, key }")
            }
            for (index, item) in list.enumerated() {
                guard let table = self.table(item, at: section.path("tables").appending(index: index)) else { continue }
                if !names.insert(table.name).inserted {
                    reader.report(section.path("tables").appending(index: index).appending("name"), item,
                                  "a table pair named '\(table.name)' is already listed", fix: "give every pair its own name")
                    continue
                }
                tables.append(table)
            }
        }
        guard let old, let new else { return nil }
        return ReconcileSettings(old: old, new: new, every: every, tables: tables, chunkTime: chunkTime)
    }

    private func postgresURL(_ node: Node, at path: ConfigPath) -> String? {
        guard let text = reader.string(node, at: path) else { return nil }
        guard case .success(.postgres(let url)) = StoreLocation.parse(text) else {
            reader.report(path, node, "'\(StoreLocation.postgres(url: text).redacted)' is not a PostgreSQL URL",
                          fix: "write postgres://user@host:5432/database")
            return nil
        }
        return url
    }

    private func table(_ node: Node, at path: ConfigPath) -> ReconcileTable? {
        guard let table = reader.mapping(node, at: path, keys: Self.tableKeys) else { return nil }
        let name = required(table, "name").flatMap { reader.string($0, at: table.path("name")) }
        let old = required(table, "old").flatMap { relation($0, at: table.path("old")) }
        let new = required(table, "new").flatMap { relation($0, at: table.path("new")) }
        var key: [String]?
        if let node = required(table, "key") {
            if case .scalar = node {
                key = identifier(node, at: table.path("key")).map { [$0] }
            } else if let names = strings(node, at: table.path("key")) {
                key = names.isEmpty ? nil : names
                if names.isEmpty { reader.report(table.path("key"), node, "the key needs at least one column") }
                for (index, name) in names.enumerated() where !Self.isIdentifier(name) {
                    reader.report(table.path("key").appending(index: index), node, "'\(name)' is not a column name")
                    key = nil
                }
            }
        }
        var columns: [String: String] = [:]
        if let node = table["columns"], case .mapping(let mapping) = node {
            for (oldNode, newNode) in mapping {
                let oldName = oldNode.scalar?.string ?? ""
                let entryPath = table.path("columns").appending(oldName)
                guard Self.isIdentifier(oldName) else {
                    reader.report(entryPath, oldNode, "'\(oldName)' is not a column name")
                    continue
                }
                if let newName = identifier(newNode, at: entryPath) { columns[oldName] = newName }
            }
        } else if let node = table["columns"] {
            reader.report(table.path("columns"), node, "expected a mapping of old column names to new ones, found \(reader.kind(node))",
                          fix: "write columns: { total: amount }")
        }
        let ignore = table["ignore"].flatMap { identifiers($0, at: table.path("ignore")) } ?? []
        let redact = table["redact"].flatMap { identifiers($0, at: table.path("redact")) } ?? []
        var whereOld: String?, whereNew: String?
        if let node = table["where"], let filters = reader.mapping(node, at: table.path("where"), keys: ["old", "new"]) {
            whereOld = filters["old"].flatMap { reader.string($0, at: filters.path("old")) }
            whereNew = filters["new"].flatMap { reader.string($0, at: filters.path("new")) }
        }
        var compare: [String: ColumnRules] = [:]
        if let node = table["compare"], case .mapping(let mapping) = node {
            for (columnNode, rulesNode) in mapping {
                let column = columnNode.scalar?.string ?? ""
                let rulesPath = table.path("compare").appending(column)
                guard Self.isIdentifier(column) else {
                    reader.report(rulesPath, columnNode, "'\(column)' is not a column name")
                    continue
                }
                guard let rules = reader.mapping(rulesNode, at: rulesPath, keys: Self.columnRuleKeys) else { continue }
                var result = ColumnRules()
                result.floatTolerance = rules["float_tolerance"].flatMap { reader.double($0, at: rules.path("float_tolerance"), in: 0...1e12) }
                result.timestampPrecision = rules["timestamp_precision"].flatMap {
                    reader.choice($0, at: rules.path("timestamp_precision"), as: ColumnRules.TimestampPrecision.self)
                }
                result.ignoreCase = rules["ignore_case"].flatMap { reader.bool($0, at: rules.path("ignore_case")) } ?? false
                result.trimWhitespace = rules["trim_whitespace"].flatMap { reader.bool($0, at: rules.path("trim_whitespace")) } ?? false
                compare[column] = result
            }
        } else if let node = table["compare"] {
            reader.report(table.path("compare"), node, "expected a mapping of column names to rules, found \(reader.kind(node))",
                          fix: "write compare: { amount: { float_tolerance: 0.005 } }")
        }
        if let key {
            for column in key where ignore.contains(column) {
                reader.report(table.path("ignore"), table["ignore"], "key column '\(column)' cannot be ignored")
            }
        }
        guard let name, let old, let new, let key else { return nil }
        return ReconcileTable(name: name, old: old, new: new, key: key, columns: columns, ignore: ignore, whereOld: whereOld,
                              whereNew: whereNew, compare: compare, redact: redact)
    }

    /// `table` or `schema.table`, plain identifiers.
    private func relation(_ node: Node, at path: ConfigPath) -> String? {
        guard let text = reader.string(node, at: path) else { return nil }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy({ Self.isIdentifier(String($0)) }) else {
            reader.report(path, node, "'\(text)' is not a table name", fix: "write table or schema.table")
            return nil
        }
        return text
    }

    private func identifier(_ node: Node, at path: ConfigPath) -> String? {
        guard let text = reader.string(node, at: path) else { return nil }
        guard Self.isIdentifier(text) else {
            reader.report(path, node, "'\(text)' is not a column name", fix: "letters, digits and _, not starting with a digit")
            return nil
        }
        return text
    }

    private func identifiers(_ node: Node, at path: ConfigPath) -> [String]? {
        guard let names = strings(node, at: path) else { return nil }
        var result: [String] = []
        for (index, name) in names.enumerated() {
            if Self.isIdentifier(name) {
                result.append(name)
            } else {
                reader.report(path.appending(index: index), node, "'\(name)' is not a column name")
            }
        }
        return result
    }

    /// A plain SQL identifier: letters, digits, `_` and `$`, not starting with a digit or `$`.
    static func isIdentifier(_ text: String) -> Bool {
        guard let first = text.unicodeScalars.first, !text.isEmpty, text.utf8.count <= 63 else { return false }
        guard first == "_" || first.properties.isAlphabetic else { return false }
        return text.unicodeScalars.allSatisfy { $0 == "_" || $0 == "$" || $0.properties.isAlphabetic || ("0"..."9").contains($0) }
    }
}
