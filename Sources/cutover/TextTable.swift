/// A plain-text table: columns padded to their widest cell, numbers right-aligned.
struct TextTable {
    var header: [String]
    var rows: [[String]] = []
    /// Columns whose cells align to the right.
    var rightAligned: Set<Int> = []
    /// Text put before every line.
    var indent = ""

    init(header: [String], rightAligned: Set<Int> = [], indent: String = "") {
        self.header = header
        self.rightAligned = rightAligned
        self.indent = indent
    }

    mutating func append(_ row: [String]) {
        rows.append(row)
    }

    var text: String {
        let lines = [header] + rows
        let widths = header.indices.map { column in lines.map { column < $0.count ? $0[column].count : 0 }.max() ?? 0 }
        return lines.map { line in
            let cells = header.indices.map { column -> String in
                let cell = column < line.count ? line[column] : ""
                let pad = String(repeating: " ", count: widths[column] - cell.count)
                return rightAligned.contains(column) ? pad + cell : cell + pad
            }
            return indent + cells.joined(separator: "  ").trimmingTrailingSpaces()
        }.joined(separator: "\n")
    }
}

extension String {
    func trimmingTrailingSpaces() -> String {
        var text = self
        while text.last == " " { text.removeLast() }
        return text
    }
}
