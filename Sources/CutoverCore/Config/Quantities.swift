/// Parsing of the human quantities a configuration uses: durations like
/// `250ms`, `2s`, `1m30s` and byte sizes like `64KiB`, `10MiB`.
public enum Quantities {
    /// Parses a duration: one or more `<number><unit>` terms with units
    /// `ms`, `s`, `m`, `h`, `d` (`1m30s`, `250ms`, `1.5s`, `7d`). A bare `0` is zero.
    /// Returns nil when the text is not such a duration.
    public static func duration(_ text: String) -> Duration? {
        let text = text.trimmingSpaces()
        if text == "0" { return .zero }
        var total = Duration.zero
        var rest = Substring(text)
        guard !rest.isEmpty else { return nil }
        while !rest.isEmpty {
            let numberEnd = rest.firstIndex { !($0.isASCIIDigit || $0 == ".") } ?? rest.endIndex
            guard numberEnd != rest.startIndex, let value = Double(rest[rest.startIndex..<numberEnd]) else { return nil }
            rest = rest[numberEnd...]
            let unitEnd = rest.firstIndex { $0.isASCIIDigit || $0 == "." } ?? rest.endIndex
            let unit = rest[rest.startIndex..<unitEnd]
            rest = rest[unitEnd...]
            let nanos: Double
            switch unit {
            case "ns": nanos = 1
            case "us", "µs": nanos = 1_000
            case "ms": nanos = 1_000_000
            case "s": nanos = 1_000_000_000
            case "m": nanos = 60_000_000_000
            case "h": nanos = 3_600_000_000_000
            case "d": nanos = 86_400_000_000_000
            default: return nil
            }
            let product = value * nanos
            guard product.isFinite, product < Double(Int64.max) / 2 else { return nil }
            total += .nanoseconds(Int64(product.rounded()))
            // Every duration must stay convertible to whole nanoseconds in 64 bits, however many terms it has.
            guard total < .nanoseconds(Int64.max / 2) else { return nil }
        }
        return total
    }

    /// Parses a byte size: a plain integer (bytes) or a number with a unit:
    /// `B`, `KiB`/`MiB`/`GiB` (powers of 1024), `KB`/`MB`/`GB` (powers of 1000).
    /// Returns nil when the text is not such a size.
    public static func byteSize(_ text: String) -> Int? {
        let text = text.trimmingSpaces()
        let numberEnd = text.firstIndex { !($0.isASCIIDigit || $0 == ".") } ?? text.endIndex
        guard numberEnd != text.startIndex, let value = Double(text[text.startIndex..<numberEnd]) else { return nil }
        let unit = text[numberEnd...].trimmingSpaces()
        let multiplier: Double
        switch unit {
        case "", "B": multiplier = 1
        case "KiB", "k", "K": multiplier = 1024
        case "MiB", "m", "M": multiplier = 1024 * 1024
        case "GiB", "g", "G": multiplier = 1024 * 1024 * 1024
        case "KB": multiplier = 1000
        case "MB": multiplier = 1_000_000
        case "GB": multiplier = 1_000_000_000
        default: return nil
        }
        let bytes = value * multiplier
        guard bytes.isFinite, bytes >= 0, bytes < Double(Int.max) / 2, bytes == bytes.rounded() else { return nil }
        return Int(bytes)
    }

    /// Writes a duration the way the configuration spells them (`250ms`, `2s`, `1m30s`).
    public static func format(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        let millis = attoseconds / 1_000_000_000_000_000
        if seconds == 0 { return "\(millis)ms" }
        if millis != 0 { return "\(seconds * 1000 + millis)ms" }
        if seconds % 86_400 == 0 { return "\(seconds / 86_400)d" }
        if seconds % 3600 == 0 { return "\(seconds / 3600)h" }
        if seconds >= 60 {
            let minutes = seconds / 60, rest = seconds % 60
            return rest == 0 ? "\(minutes)m" : "\(minutes)m\(rest)s"
        }
        return "\(seconds)s"
    }
}

extension Character {
    var isASCIIDigit: Bool { self >= "0" && self <= "9" }
}

extension StringProtocol {
    func trimmingSpaces() -> String {
        var scalars = Substring(self)
        while let first = scalars.first, first == " " || first == "\t" { scalars.removeFirst() }
        while let last = scalars.last, last == " " || last == "\t" { scalars.removeLast() }
        return String(scalars)
    }
}
