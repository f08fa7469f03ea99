import CutoverCore

/// One end of a float: the host (by its executor's address) and the interface that holds, or is to hold, the address.
/// Written `netns:NAME:INTERFACE`, `local:INTERFACE` or `ssh://user@host[:port]/INTERFACE` on the command line.
public struct FloatSide: Sendable, Hashable, CustomStringConvertible {
    public var executor: ExecutorAddress
    public var interface: String

    public init(executor: ExecutorAddress, interface: String) {
        self.executor = executor
        self.interface = interface
    }

    /// The namespace whose sockets and addresses this side's in-process steps use, when it has one on this machine
    /// (nil for `local`: this process's own); not for `ssh`.
    var inProcessNamespace: String?? {
        switch executor {
        case .local: return .some(nil)
        case .netns(let name): return .some(name)
        case .ssh: return nil
        }
    }

    /// Parses a side as written on the command line.
    public static func parse(_ text: String) -> Result<FloatSide, HostInputError> {
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
        guard isInterfaceName(interface) else {
            return .failure(HostInputError("'\(interface)' is not an interface name (1 to 15 letters, digits, '.', '_', '-' or '@')"))
        }
        switch ExecutorAddress.parse(executorText) {
        case .success(let executor): return .success(FloatSide(executor: executor, interface: interface))
        case .failure(let error): return .failure(error)
        }
    }

    /// A name Linux takes for an interface (IFNAMSIZ 16 with its NUL; no '/', ':' or whitespace).
    public static func isInterfaceName(_ name: String) -> Bool { InterfaceName.isValid(name) }

    public var description: String {
        switch executor {
        case .local: return "local:\(interface)"
        case .netns(let name): return "netns:\(name):\(interface)"
        case .ssh: return "\(executor)/\(interface)"
        }
    }
}
