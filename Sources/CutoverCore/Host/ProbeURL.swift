/// A health URL the host cutover probes through the service address itself: `http://ADDRESS[:PORT][/PATH]`, with an
/// IPv4 address or a bracketed IPv6 one (a name would be resolved elsewhere than on the segment).
public struct ProbeURL: Sendable, Hashable {
    public var address: IPAddress
    public var port: UInt16
    /// The path and query, `/` when the URL has none.
    public var path: String

    /// Parses `url`; nil when it is not such a URL.
    public init?(_ url: String) {
        guard url.hasPrefix("http://") else { return nil }
        let rest = url.dropFirst(7)
        let authority = rest.prefix { $0 != "/" }
        path = rest.count > authority.count ? String(rest.dropFirst(authority.count)) : "/"
        var host = authority, portText: Substring = ""
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return nil }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":") else { return nil }
                portText = after.dropFirst()
            }
            guard let parsed = IPAddress(host), parsed.isIPv6 else { return nil }
            address = parsed
        } else {
            if let colon = authority.lastIndex(of: ":") {
                host = authority[..<colon]
                portText = authority[authority.index(after: colon)...]
            }
            guard let parsed = IPAddress(host), !parsed.isIPv6 else { return nil }
            address = parsed
        }
        if portText.isEmpty {
            port = 80
        } else {
            guard let value = UInt16(portText), value > 0 else { return nil }
            port = value
        }
    }
}
