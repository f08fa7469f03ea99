/// Where an authoritative server listens: `HOST:PORT`, `[IPv6]:PORT`, or a host alone (port 53).
public struct DNSServer: Sendable, Hashable, CustomStringConvertible {
    public let host: String
    public let port: UInt16

    public struct Invalid: Error, CustomStringConvertible {
        public let description: String
    }

    public init(parsing text: String) throws(Invalid) {
        var host = Substring(text), port: UInt16 = 53
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { throw Invalid(description: "'\(text)' opens '[' without closing it") }
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            if !rest.isEmpty {
                guard rest.hasPrefix(":"), let value = UInt16(rest.dropFirst()), value > 0 else {
                    throw Invalid(description: "'\(text)': '\(rest)' is not :PORT")
                }
                port = value
            }
            guard IPAddress(host)?.isIPv6 == true else { throw Invalid(description: "'\(host)' in brackets is not an IPv6 address") }
        } else if text.filter({ $0 == ":" }).count == 1, let colon = text.firstIndex(of: ":") {
            host = text[..<colon]
            guard let value = UInt16(text[text.index(after: colon)...]), value > 0 else {
                throw Invalid(description: "'\(text)': the port is not a number from 1 to 65535")
            }
            port = value
        }
        guard !host.isEmpty else { throw Invalid(description: "'\(text)' names no host: write HOST:PORT (127.0.0.1:53)") }
        if IPAddress(host) == nil {
            do { _ = try DNSName(parsing: String(host)) } catch { throw Invalid(description: "'\(host)' is neither an address nor a host name") }
        }
        self.host = String(host)
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }
}
