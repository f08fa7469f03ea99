/// The target of a request line, in the forms a proxy meets (RFC 9112 §3.2).
enum RequestTarget: Equatable {
    /// `/path?query`.
    case origin(Substring)
    /// `http://host[:port]/path?query`: the host, and the target in origin form.
    case absolute(authority: Substring, host: Substring, path: Substring)
    /// `*`, for `OPTIONS *`.
    case asterisk
    /// Anything else.
    case invalid

    static func parse(_ uri: String) -> RequestTarget {
        let target = Substring(uri)
        if target.utf8.first == UInt8(ascii: "/") { return .origin(target) }
        if target == "*" { return .asterisk }
        let lower = target.prefix(8).lowercased()
        let schemeLength: Int
        if lower.hasPrefix("http://") { schemeLength = 7 } else if lower.hasPrefix("https://") { schemeLength = 8 } else { return .invalid }
        let rest = target.dropFirst(schemeLength)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? rest.endIndex
        let authority = rest[rest.startIndex..<authorityEnd]
        guard !authority.isEmpty, !authority.contains("@") else { return .invalid }
        var host = authority
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .invalid }
            host = authority[authority.index(after: authority.startIndex)..<close]
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[authority.startIndex..<colon]
        }
        var path = rest[authorityEnd...]
        if path.isEmpty { path = "/" } else if !path.hasPrefix("/") { path = Substring("/" + path) }
        return .absolute(authority: authority, host: host, path: path)
    }
}
