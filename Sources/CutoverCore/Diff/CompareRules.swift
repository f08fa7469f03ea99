/// How a route's two answers are compared and what is kept of them.
public struct CompareRules: Sendable, Hashable {
    /// Response headers compared (lower case). `date`, `server` and `set-cookie` are never compared.
    public var headers: [String]
    /// Body paths not compared (with everything below them).
    public var ignore: [PointerPattern]
    /// Body paths whose values are replaced before anything is stored.
    public var redact: [PointerPattern]
    /// Query parameters (lower case) whose values are replaced before a request target is stored,
    /// besides ``JSONRedactor/secretQueryParameters``.
    public var redactQuery: Set<String> = []
    /// Arrays sorted by a key before comparing: the array's path and the key's pointer inside each element.
    public var sortArrays: [SortRule]
    /// Numbers that are not both integers are equal when they differ by at most this much.
    public var floatTolerance: Double
    /// The thresholds that separate real differences from noise.
    public var noise: NoiseThresholds

    /// Headers whose values always differ between two servers and are never compared.
    public static let neverCompared: Set<String> = ["date", "server", "set-cookie"]

    /// Content type only, nothing ignored, exact numbers, Diffy's noise thresholds.
    public static let defaults = CompareRules(headers: ["content-type"], ignore: [], redact: [], sortArrays: [],
                                              floatTolerance: 0, noise: .defaults)

    /// Creates rules.
    public init(headers: [String], ignore: [PointerPattern], redact: [PointerPattern], sortArrays: [SortRule],
                floatTolerance: Double, noise: NoiseThresholds) {
        self.headers = headers
        self.ignore = ignore
        self.redact = redact
        self.sortArrays = sortArrays
        self.floatTolerance = floatTolerance
        self.noise = noise
    }
}

/// Sort an array (matched by `array`) by the value at `key` inside each element before comparing.
public struct SortRule: Sendable, Hashable {
    public var array: PointerPattern
    public var key: JSONPointer

    public init(array: PointerPattern, key: JSONPointer) {
        self.array = array
        self.key = key
    }
}

/// Diffy's rule for telling a real difference from noise in a field: real when
/// `raw > noise`, `|raw − noise| / (raw + noise) ≥ relative` and
/// `|raw − noise| / compared ≥ absolute`.
public struct NoiseThresholds: Sendable, Hashable, Codable {
    public var relative: Double
    public var absolute: Double

    /// 20 % and 0.03 %.
    public static let defaults = NoiseThresholds(relative: 0.2, absolute: 0.0003)

    public init(relative: Double, absolute: Double) {
        self.relative = relative
        self.absolute = absolute
    }

    /// Whether a field that differed `raw` times between old and new, and `noise` times
    /// between two old instances, over `compared` requests, is a real difference.
    public func isReal(raw: Int, noise: Int, compared: Int) -> Bool {
        guard raw > noise, compared > 0 else { return false }
        let delta = Double(raw - noise)
        return delta / Double(raw + noise) >= relative && delta / Double(compared) >= absolute
    }
}
