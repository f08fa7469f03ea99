/// What `cutover host inventory` found on a host: one value per setting, keyed by kind and name (`os.version_id`,
/// `package.nginx`, `listen.tcp.0.0.0.0:80`, `file./etc/profile`), and how each collector fared. Secrets never
/// appear as contents: only their path, owner, mode and a SHA-256 fingerprint made on the host.
public struct HostInventory: Sendable, Hashable, Codable {
    /// How a collector fared. One that could not run is listed, never left out.
    public struct Collector: Sendable, Hashable, Codable {
        public enum Status: String, Sendable, Hashable, Codable {
            case ok
            /// The tool it needs is not installed.
            case missingTool = "missing_tool"
            /// It was not allowed to read what it needs.
            case noPermission = "no_permission"
            /// It ran and failed (its message in `detail`).
            case failed
        }

        public var name: String
        public var status: Status
        public var detail: String?
        /// How many settings it contributed.
        public var settings: Int
        public var seconds: Double

        public init(name: String, status: Status, detail: String? = nil, settings: Int = 0, seconds: Double = 0) {
            self.name = name
            self.status = status
            self.detail = detail
            self.settings = settings
            self.seconds = seconds
        }
    }

    /// Where it was collected (`local`, `netns:NAME`, `ssh://user@host`).
    public var target: String
    /// Seconds since the epoch.
    public var collectedAt: Double
    public var hostname: String
    /// The host's own addresses (loopback left out): what a reference to the host names besides its hostname.
    public var addresses: [String]
    /// The names references were looked for: the old host's hostname and addresses.
    public var referencesTo: [String]
    public var settings: [String: String]
    public var collectors: [Collector]

    public init(target: String, collectedAt: Double, hostname: String, addresses: [String], referencesTo: [String],
                settings: [String: String], collectors: [Collector]) {
        self.target = target
        self.collectedAt = collectedAt
        self.hostname = hostname
        self.addresses = addresses
        self.referencesTo = referencesTo
        self.settings = settings
        self.collectors = collectors
    }

    enum CodingKeys: String, CodingKey {
        case target, hostname, addresses, settings, collectors
        case collectedAt = "collected_at"
        case referencesTo = "references_to"
    }
}
