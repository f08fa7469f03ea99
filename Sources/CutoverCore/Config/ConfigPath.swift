/// The position of a value inside a configuration document, written the way
/// a user reads it: `routes[1].match.path`.
public struct ConfigPath: Sendable, Hashable, CustomStringConvertible {
    /// One step into the document: a mapping key or a sequence index.
    public enum Component: Sendable, Hashable {
        case key(String)
        case index(Int)
    }

    /// The steps from the document root, outermost first.
    public var components: [Component]

    /// The document root.
    public static let root = ConfigPath(components: [])

    /// Creates a path from its steps.
    public init(components: [Component]) {
        self.components = components
    }

    /// This path extended by a mapping key.
    public func appending(_ key: String) -> ConfigPath {
        ConfigPath(components: components + [.key(key)])
    }

    /// This path extended by a sequence index.
    public func appending(index: Int) -> ConfigPath {
        ConfigPath(components: components + [.index(index)])
    }

    public var description: String {
        var text = ""
        for component in components {
            switch component {
            case .key(let key):
                if !text.isEmpty { text += "." }
                text += key
            case .index(let index):
                text += "[\(index)]"
            }
        }
        return text.isEmpty ? "(document)" : text
    }
}
