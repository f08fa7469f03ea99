/// The `host_cutover:` section: the hosts a service moves between, the tasks that move it (service commands, data
/// to sync, the service address, how to verify), and the groups tasks run in. Built only by ``ConfigLoader``:
/// host and task names are unique, every host a task or group names exists, a task's two hosts differ.
public struct HostCutoverSettings: Sendable, Hashable {
    /// A host: where its commands run and the interface that holds (or will hold) the service address.
    public struct Host: Sendable, Hashable {
        public var name: String
        public var executor: ExecutorAddress
        public var interface: String
        /// For `ssh` hosts: whether the host key must be known (`host_key_check`, on unless the configuration says no).
        public var hostKeyCheck: Bool
        /// For `ssh` hosts: a private key file to use (`identity_file`).
        public var identityFile: String?
        /// For `ssh` hosts: the known-hosts file its key is checked against (`known_hosts_file`), instead of the
        /// user's own.
        public var knownHostsFile: String?
        /// The host's own address on `interface`, with its prefix (`address`), when given: the service address
        /// must be in its subnet.
        public var address: InterfaceAddress?
    }

    /// How the service is stopped, started and found healthy: shell commands run on the host.
    public struct Service: Sendable, Hashable {
        public var stop: String
        public var start: String
        /// Exits 0 when the service is healthy.
        public var health: String
        /// Ports that must be free on the new host before the start.
        public var ports: [Int]
    }

    /// A folder to sync: the same path on both hosts unless `toPath` says otherwise.
    public struct DataPath: Sendable, Hashable {
        public var path: String
        public var toPath: String?

        public init(path: String, toPath: String? = nil) {
            self.path = path
            self.toPath = toPath
        }
    }

    /// When the sync passes stop iterating (P.Haul's rules): a pass moved no more than `convergeBytes`, a pass did
    /// not shrink by `minShrink` against the one before, or `maxPasses` ran.
    public struct SyncRules: Sendable, Hashable {
        public var maxPasses = 8
        public var convergeBytes = 1024 * 1024
        public var minShrink = 0.10
        public static let defaults = SyncRules()

        public init(maxPasses: Int = 8, convergeBytes: Int = 1024 * 1024, minShrink: Double = 0.10) {
            self.maxPasses = maxPasses
            self.convergeBytes = convergeBytes
            self.minShrink = minShrink
        }
    }

    /// How the new host is verified through the service address.
    public struct Verify: Sendable, Hashable {
        public var url: String
        public var every: Duration = .milliseconds(10)
        public var timeout: Duration = .seconds(10)

        public init(url: String, every: Duration = .milliseconds(10), timeout: Duration = .seconds(10)) {
            self.url = url
            self.every = every
            self.timeout = timeout
        }
    }

    /// The announcements after the float (`garp:`): `repeat` at once, `interval` apart, again after `refresh_after`.
    public struct Announcements: Sendable, Hashable {
        public var count = 5
        public var interval: Duration = .milliseconds(200)
        public var refreshAfter: Duration = .seconds(5)
        public static let defaults = Announcements()

        public init(count: Int = 5, interval: Duration = .milliseconds(200), refreshAfter: Duration = .seconds(5)) {
            self.count = count
            self.interval = interval
            self.refreshAfter = refreshAfter
        }
    }

    /// A place on this machine to watch the segment from.
    public struct Vantage: Sendable, Hashable {
        public var executor: ExecutorAddress
        public var interface: String

        public init(executor: ExecutorAddress, interface: String) {
            self.executor = executor
            self.interface = interface
        }
    }

    /// One service's move from a host to another.
    public struct Task: Sendable, Hashable {
        public var name: String
        public var from: String
        public var to: String
        public var service: Service
        public var data: [DataPath]
        public var sync: SyncRules
        /// How long the service may be down: the last sync pass must be predicted to fit in it.
        public var downtimeBudget: Duration
        /// The service address: IPv4, IPv6 or both.
        public var vip: InterfaceAddress?
        public var vip6: InterfaceAddress?
        /// Where the float is watched from (`vip.vantage`: `netns:NAME:INTERFACE` or `local:INTERFACE`, on this
        /// machine and on the service address's segment, holding neither side): probing it every millisecond gives
        /// the run's IP outage, from the last answer by the old host's MAC to the first by the new host's.
        public var vantage: Vantage?
        public var verify: Verify?
        public var announcements: Announcements
        /// How the service moves to the new host: its address, its DNS name, or both (nil: neither).
        public var float: FloatMethod?
        /// The DNS float's zone, name and key (`dns:`).
        public var dns: DNSFloatSettings?
        /// The pre-checks take both hosts' inventories and fail on a worksheet blocker (`require_worksheet`).
        public var requireWorksheet = false

        /// The task floats its service address.
        public var floatsVIP: Bool { float == .vip || float == .both }
        /// The task moves its DNS name.
        public var floatsDNS: Bool { float == .dns || float == .both }
    }

    /// `float:` of a task.
    public enum FloatMethod: String, Sendable, Hashable, CaseIterable {
        case vip, dns, both
    }

    /// A task's `dns:`: where the service's name is served and changed (RFC 2136 with TSIG), and the addresses it
    /// moves between.
    public struct DNSFloatSettings: Sendable, Hashable {
        public var server: DNSServer
        public var zone: DNSName
        public var name: DNSName
        /// The TTL lowered to ahead of the stop (the old one is then waited out).
        public var ttlAhead: Duration = .seconds(60)
        /// The TTL of the switched records (nil: `ttl_ahead`).
        public var ttl: Duration?
        /// How long the old host must keep serving after the switch: resolvers, caches and crawlers hold
        /// addresses longer than TTLs say.
        public var keepOldFor: Duration = .seconds(7 * 86_400)
        public var tsigName: DNSName
        public var tsigAlgorithm: String = "hmac-sha256"
        /// The environment variable that holds the key's base64 secret (never the secret itself in a file).
        public var tsigSecretEnv: String
        /// The addresses the name has while the old host serves, and after the float.
        public var oldAddresses: [IPAddress]
        public var newAddresses: [IPAddress]

        /// The TSIG algorithms the float signs with.
        public static let algorithms = ["hmac-sha1", "hmac-sha256", "hmac-sha384", "hmac-sha512"]
    }

    /// Tasks that run one after another.
    public struct Group: Sendable, Hashable {
        public var name: String
        public var tasks: [String]

        public init(name: String, tasks: [String]) {
            self.name = name
            self.tasks = tasks
        }
    }

    public var hosts: [Host]
    public var tasks: [Task]
    public var groups: [Group]
    /// How many groups run at once (`max_parallel_groups`).
    public var maxParallelGroups: Int
    /// The gateway whose routes must all be in phase `new` before a task runs (`gateway.admin`), if any.
    public var gatewayAdmin: String?
    /// Where the inventory looks for references to the old host, and which further files it fingerprints.
    public var inventory = Inventory()
    /// What the worksheet counts as a blocker (`worksheet.rules`) and leaves out (`worksheet.ignore`).
    public var worksheet = WorksheetRules.defaults

    /// `host_cutover.inventory`.
    public struct Inventory: Sendable, Hashable {
        /// Folders (or files) searched for the old host's names; nil: the usual places (nginx, haproxy, apache,
        /// systemd units, /etc/default).
        public var configRoots: [String]?
        public var extraPaths: [String] = []

        public init(configRoots: [String]? = nil, extraPaths: [String] = []) {
            self.configRoots = configRoots
            self.extraPaths = extraPaths
        }
    }

    public func host(named name: String) -> Host? { hosts.first { $0.name == name } }
    public func task(named name: String) -> Task? { tasks.first { $0.name == name } }
}

/// What `cutover host` needs of a configuration file: the `host_cutover:` section and the store its journal is in.
public struct HostConfig: Sendable, Hashable {
    public var hostCutover: HostCutoverSettings
    public var store: StoreLocation
}
