/// Where a route stands in its migration from the old service to the new one.
public enum Phase: String, Sendable, Hashable, CaseIterable, Comparable, Codable {
    /// Old answers; plain reverse proxy.
    case old
    /// Old answers; new gets a copy and the two answers are compared.
    case shadow
    /// Answered by entity ID: at or above the threshold by new, else by old.
    case gray
    /// By entity ID; list routes by new alone.
    case drain
    /// New answers; old gets nothing.
    case new

    /// The order of the migration, `old` first.
    public var rank: Int { Phase.allCases.firstIndex(of: self)! }

    public static func < (lhs: Phase, rhs: Phase) -> Bool { lhs.rank < rhs.rank }
}
