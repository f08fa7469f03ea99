/// A `host:port` a listener binds to (`127.0.0.1:8080`, `[::1]:8080`, `0.0.0.0:80`).
public struct ListenAddress: Sendable, Hashable, CustomStringConvertible {
    /// The host or IP literal, without brackets.
    public var host: String
    /// The TCP port; 0 asks the system for a free one.
    public var port: Int

    /// Creates an address.
    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    /// Parses `host:port`; IPv6 literals are bracketed. Returns a reason on failure.
    public static func parse(_ text: String) -> Result<ListenAddress, AddressError> {
        let hostPart: Substring
        let portPart: Substring
        if text.hasPrefix("[") {
            guard let close = text.firstIndex(of: "]") else { return .failure(.init("unclosed '[' in IPv6 address")) }
            hostPart = text[text.index(after: text.startIndex)..<close]
            let after = text[text.index(after: close)...]
            guard after.hasPrefix(":") else { return .failure(.init("expected ':PORT' after the IPv6 address")) }
            portPart = after.dropFirst()
        } else {
            guard let colon = text.lastIndex(of: ":") else { return .failure(.init("missing ':PORT'")) }
            hostPart = text[text.startIndex..<colon]
            portPart = text[text.index(after: colon)...]
            if hostPart.contains(":") { return .failure(.init("an IPv6 address must be written in brackets, as [::1]:8080")) }
        }
        guard !hostPart.isEmpty else { return .failure(.init("missing host before ':'")) }
        guard let port = Int(portPart), (0...65535).contains(port) else {
            return .failure(.init("port '\(portPart)' is not a number from 0 to 65535"))
        }
        return .success(ListenAddress(host: String(hostPart), port: port))
    }

    public var description: String {
        host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
    }
}

/// Why an address or URL could not be parsed.
public struct AddressError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The reason, in a few words.
    public var reason: String
    init(_ reason: String) { self.reason = reason }
    public var description: String { reason }
}

/// Where a backend lives: scheme, host and port of an `http://` or `https://` URL.
public struct BackendURL: Sendable, Hashable, CustomStringConvertible {
    /// `http` or `https`.
    public enum Scheme: String, Sendable, Hashable {
        case http, https
    }

    /// The scheme.
    public var scheme: Scheme
    /// The host name or IP literal, without brackets.
    public var host: String
    /// The port, defaulted from the scheme when the URL has none.
    public var port: Int

    /// Creates a backend URL.
    public init(scheme: Scheme, host: String, port: Int) {
        self.scheme = scheme
        self.host = host
        self.port = port
    }

    /// The `Host` header value a request to this backend carries by default.
    public var authority: String {
        let defaultPort = scheme == .https ? 443 : 80
        let hostText = host.contains(":") ? "[\(host)]" : host
        return port == defaultPort ? hostText : "\(hostText):\(port)"
    }

    /// Parses `http://host[:port]` or `https://host[:port]`; a trailing `/` is allowed, any other path is not.
    public static func parse(_ text: String) -> Result<BackendURL, AddressError> {
        let scheme: Scheme
        let rest: Substring
        if text.hasPrefix("http://") {
            scheme = .http
            rest = text.dropFirst("http://".count)
        } else if text.hasPrefix("https://") {
            scheme = .https
            rest = text.dropFirst("https://".count)
        } else {
            return .failure(.init("the URL must start with http:// or https://"))
        }
        var authority = rest
        if let slash = rest.firstIndex(of: "/") {
            guard rest[slash...] == "/" else {
                return .failure(.init("a backend URL names a server, not a path; remove '\(rest[slash...])'"))
            }
            authority = rest[rest.startIndex..<slash]
        }
        if authority.contains("@") { return .failure(.init("credentials in a backend URL are not supported")) }
        if authority.contains("?") || authority.contains("#") { return .failure(.init("a backend URL takes no query or fragment")) }
        let defaultPort = scheme == .https ? 443 : 80
        let host: Substring
        var port = defaultPort
        if authority.hasPrefix("[") {
            guard let close = authority.firstIndex(of: "]") else { return .failure(.init("unclosed '[' in IPv6 address")) }
            host = authority[authority.index(after: authority.startIndex)..<close]
            let after = authority[authority.index(after: close)...]
            if !after.isEmpty {
                guard after.hasPrefix(":"), let parsed = Int(after.dropFirst()), (1...65535).contains(parsed) else {
                    return .failure(.init("invalid port '\(after.dropFirst())'"))
                }
                port = parsed
            }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[authority.startIndex..<colon]
            guard let parsed = Int(authority[authority.index(after: colon)...]), (1...65535).contains(parsed) else {
                return .failure(.init("invalid port '\(authority[authority.index(after: colon)...])'"))
            }
            port = parsed
        } else {
            host = authority
        }
        guard !host.isEmpty else { return .failure(.init("missing host")) }
        return .success(BackendURL(scheme: scheme, host: String(host), port: port))
    }

    public var description: String { "\(scheme.rawValue)://\(authority)" }
}

/// Where Cutover keeps its state: an embedded SQLite file or a shared PostgreSQL database.
public enum StoreLocation: Sendable, Hashable, CustomStringConvertible {
    /// `sqlite:PATH`.
    case sqlite(path: String)
    /// `postgres://user:pass@host:port/db` (also `postgresql://`), kept as written.
    case postgres(url: String)

    /// Parses a store URL.
    public static func parse(_ text: String) -> Result<StoreLocation, AddressError> {
        if text.hasPrefix("sqlite:") {
            var path = String(text.dropFirst("sqlite:".count))
            if path.hasPrefix("//") { path.removeFirst(2) }
            guard !path.isEmpty else { return .failure(.init("sqlite: needs a file path, as sqlite:cutover.db")) }
            return .success(.sqlite(path: path))
        }
        if text.hasPrefix("postgres://") || text.hasPrefix("postgresql://") {
            let rest = text.drop { $0 != "/" }.dropFirst(2)
            guard let slash = rest.firstIndex(of: "/"), !rest[rest.index(after: slash)...].isEmpty else {
                return .failure(.init("a postgres URL names a database, as postgres://user:pass@host:5432/db"))
            }
            guard !rest[rest.startIndex..<slash].isEmpty else { return .failure(.init("a postgres URL needs a host")) }
            return .success(.postgres(url: text))
        }
        return .failure(.init("a store is sqlite:PATH or postgres://user:pass@host:port/db"))
    }

    /// The URL with any password replaced by `***`, for logs.
    public var redacted: String {
        switch self {
        case .sqlite(let path):
            return "sqlite:\(path)"
        case .postgres(let url):
            guard let schemeEnd = url.range(of: "://"), let at = url.lastIndex(of: "@") else { return url }
            let userInfo = url[schemeEnd.upperBound..<at]
            guard let colon = userInfo.firstIndex(of: ":") else { return url }
            return String(url[..<colon]) + ":***" + String(url[at...])
        }
    }

    public var description: String { redacted }
}
