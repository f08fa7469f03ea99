/// Where a host's commands run: this machine, a network namespace on it, or a machine reached over ssh.
/// Written `local`, `netns:NAME`, `ssh://user@host[:port]`.
public enum ExecutorAddress: Sendable, Hashable, CustomStringConvertible {
    case local
    /// A network namespace of this machine, as `ip netns` names it (`/run/netns/NAME`).
    case netns(String)
    /// A machine reached with the OpenSSH client, key-based.
    case ssh(user: String, host: String, port: Int)

    /// Parses an executor's address; the error names what is wrong and what is expected.
    public static func parse(_ text: String) -> Result<ExecutorAddress, HostInputError> {
        if text == "local" { return .success(.local) }
        if text.hasPrefix("netns:") {
            let name = String(text.dropFirst(6))
            guard isNamespaceName(name) else {
                return .failure(HostInputError("'\(name)' is not a network namespace name (letters, digits, '.', '-', '_', at most 64)"))
            }
            return .success(.netns(name))
        }
        if text.hasPrefix("ssh://") {
            var rest = Substring(text.dropFirst(6))
            guard let at = rest.firstIndex(of: "@") else {
                return .failure(HostInputError("'\(text)' names no user: ssh executors are written ssh://user@host[:port]"))
            }
            let user = String(rest[..<at])
            rest = rest[rest.index(after: at)...]
            guard !user.isEmpty, user.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }), user.first != "-" else {
                return .failure(HostInputError("'\(user)' is not a user name"))
            }
            var host = rest, port = 22
            if rest.hasPrefix("[") {
                guard let close = rest.firstIndex(of: "]"), case .v6 = IPAddress(rest[rest.index(after: rest.startIndex)..<close]) else {
                    return .failure(HostInputError("'\(rest)' is not a bracketed IPv6 address"))
                }
                host = rest[rest.index(after: rest.startIndex)..<close]
                let after = rest[rest.index(after: close)...]
                if !after.isEmpty {
                    guard after.hasPrefix(":"), let value = Int(after.dropFirst()), (1...65535).contains(value) else {
                        return .failure(HostInputError("'\(after.dropFirst())' is not a port (1 to 65535)"))
                    }
                    port = value
                }
            } else if let colon = rest.lastIndex(of: ":") {
                host = rest[..<colon]
                guard let value = Int(rest[rest.index(after: colon)...]), (1...65535).contains(value) else {
                    return .failure(HostInputError("'\(rest[rest.index(after: colon)...])' is not a port (1 to 65535)"))
                }
                port = value
            }
            guard !host.isEmpty, host.first != "-",
                  host.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || ".-:".contains($0)) }) else {
                return .failure(HostInputError("'\(host)' is not a host name or address"))
            }
            return .success(.ssh(user: user, host: String(host), port: port))
        }
        return .failure(HostInputError("'\(text)' is not an executor: write local, netns:NAME or ssh://user@host[:port]"))
    }

    /// A name `ip netns` accepts and that is safe as one path component.
    static func isNamespaceName(_ name: String) -> Bool {
        !name.isEmpty && name.count <= 64 && name != "." && name != ".." && name.first != "-"
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-".contains($0)) }
    }

    /// Parses an executor with an interface, as a float's side is written: `netns:NAME:INTERFACE`,
    /// `local:INTERFACE` (or `:INTERFACE`), `ssh://user@host[:port]/INTERFACE`.
    public static func parseSide(_ text: String) -> Result<(executor: ExecutorAddress, interface: String), HostInputError> {
        let executorText: String, interface: String
        if text.hasPrefix("ssh://") {
            guard let slash = text.dropFirst(6).firstIndex(of: "/") else {
                return .failure(HostInputError("'\(text)' names no interface: write ssh://user@host[:port]/INTERFACE"))
            }
            executorText = String(text[..<slash])
            interface = String(text[text.index(after: slash)...])
        } else {
            guard let colon = text.lastIndex(of: ":"), !(text.hasPrefix("netns:") && text.filter({ $0 == ":" }).count == 1) else {
                return .failure(HostInputError("'\(text)' names no interface: write netns:NAME:INTERFACE, local:INTERFACE or ssh://user@host/INTERFACE"))
            }
            let head = String(text[..<colon])
            executorText = head.isEmpty ? "local" : head
            interface = String(text[text.index(after: colon)...])
        }
        guard InterfaceName.isValid(interface) else {
            return .failure(HostInputError("'\(interface)' is not an interface name (1 to 15 letters, digits, '.', '_', '-' or '@')"))
        }
        return parse(executorText).map { ($0, interface) }
    }

    public var description: String {
        switch self {
        case .local: return "local"
        case .netns(let name): return "netns:\(name)"
        case .ssh(let user, let host, let port):
            let shown = host.contains(":") ? "[\(host)]" : host
            return port == 22 ? "ssh://\(user)@\(shown)" : "ssh://\(user)@\(shown):\(port)"
        }
    }
}

/// Interface names as Linux takes them.
public enum InterfaceName {
    /// 1 to 15 bytes (IFNAMSIZ 16 with its NUL) of letters, digits, '.', '_', '-' and '@', not `.` or `..`: every
    /// name interfaces are given in practice, and nothing a shell would read as more than a word.
    public static func isValid(_ name: String) -> Bool {
        (1...15).contains(name.utf8.count) && name != "." && name != ".." && name.first != "-"
            && name.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber || "._-@".contains($0)) }
    }
}
