/// One way two answers to the same request differ.
public struct FieldDifference: Sendable, Hashable, Codable {
    /// What differs.
    public enum Kind: String, Sendable, Hashable, Codable {
        /// The status codes.
        case status
        /// A compared header.
        case header
        /// Non-JSON bodies (by size and hash), or a JSON body against a non-JSON one.
        case body
        /// Present in old, absent in new.
        case missing
        /// Absent in old, present in new.
        case extra
        /// Same type, different value.
        case value
        /// Different JSON types (null against a value among them).
        case type
        /// Arrays of different lengths.
        case length
        /// Arrays with the same elements in another order.
        case order
    }

    /// The field the difference is counted under: `status`, `header:NAME`, `body`,
    /// or a JSON pointer with array indexes and ID-like keys as `*` (`/items/*/price`).
    public var field: String
    /// Where exactly: the concrete pointer (`/items/3/price`), or the field for status, headers and bodies.
    public var path: String
    /// What differs.
    public var kind: Kind
    /// The old side's value, as JSON text (shortened).
    public var old: String?
    /// The new side's value, as JSON text (shortened).
    public var new: String?

    public init(field: String, path: String, kind: Kind, old: String?, new: String?) {
        self.field = field
        self.path = path
        self.kind = kind
        self.old = old
        self.new = new
    }

    /// The longest value text kept in a difference.
    public static let maxValueLength = 256

    /// Shortens a value's text for display.
    static func shorten(_ text: String) -> String {
        guard text.utf8.count > maxValueLength else { return text }
        return String(text.prefix(maxValueLength)) + "…"
    }
}
