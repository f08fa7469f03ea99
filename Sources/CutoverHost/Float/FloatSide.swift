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

    /// The namespace whose sockets and addresses this side's in-process steps use (``ExecutorAddress/inProcessNamespace``).
    var inProcessNamespace: String?? { executor.inProcessNamespace }

    /// Parses a side as written on the command line.
    public static func parse(_ text: String) -> Result<FloatSide, HostInputError> {
        ExecutorAddress.parseSide(text).map { FloatSide(executor: $0.executor, interface: $0.interface) }
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

extension ExecutorAddress {
    /// The network namespace on this machine where this host's sockets are opened in-process (nil inside for
    /// `local`: this process's own); nil for an `ssh` host, which is reached by commands only.
    var inProcessNamespace: String?? {
        switch self {
        case .local: return .some(nil)
        case .netns(let name): return .some(name)
        case .ssh: return nil
        }
    }
}
