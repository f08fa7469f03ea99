import CutoverCore

/// Moves a service name to new addresses at its authoritative server: where the service IP cannot float on one L2
/// segment, the name does. Ahead of the switch the records' TTL is lowered and the old TTL waited out (so no cache
/// holds the old address for longer than the low TTL after the switch); then the A/AAAA records are replaced in one
/// signed update that applies only to the records as they were read, and read back from the server.
public struct DNSFloat: Sendable {
    public let editor: DNSZoneEditor
    /// The addresses the name is to have: those of one family replace its A records, of the other its AAAA records.
    public let addresses: [IPAddress]
    /// The TTL to lower to ahead of the switch (nil: the TTL is left as it is).
    public let ttlAhead: Duration?
    /// The TTL of the new records (nil: the lowered TTL, else the records' current one, else 300 s).
    public let ttl: Duration?

    public init(editor: DNSZoneEditor, addresses: [IPAddress], ttlAhead: Duration?, ttl: Duration?) {
        self.editor = editor
        self.addresses = addresses
        self.ttlAhead = ttlAhead
        self.ttl = ttl
    }

    /// What the float did, with the records before and after.
    public struct Report: Sendable {
        public var before: [DNSType: AddressRecords] = [:]
        public var after: [DNSType: AddressRecords] = [:]
        /// Whether the TTL was lowered ahead, and the old TTL waited out.
        public var lowered = false
        public var waited = Duration.zero
        public var serialBefore: UInt32 = 0
        public var serialAfter: UInt32 = 0
        /// From sending the switch to reading it back.
        public var switchTime = Duration.zero
        /// Records of the other family, which still send clients elsewhere.
        public var otherFamily: [DNSType: AddressRecords] = [:]
    }

    /// The record types the addresses replace, in a fixed order.
    public var types: [DNSType] {
        [DNSType.a, .aaaa].filter { type in addresses.contains { $0.isIPv6 == (type == .aaaa) } }
    }

    private func wanted(_ type: DNSType) -> [IPAddress] { addresses.filter { $0.isIPv6 == (type == .aaaa) } }

    /// Lowers the TTL of the name's current records to `ttlAhead` where it is higher. Returns the records as they are
    /// now and the old TTL that caches may still hold them for (zero when nothing was lowered).
    public func lowerTTL() throws(DNSFailure) -> (records: [DNSType: AddressRecords], waitFor: Duration) {
        var records: [DNSType: AddressRecords] = [:]
        for type in types { records[type] = try editor.records(type) }
        guard let ttlAhead else { return (records, .zero) }
        let low = UInt32(clamping: ttlAhead.components.seconds)
        let lowering = types.compactMap { type -> (type: DNSType, expected: AddressRecords, new: [IPAddress], ttl: UInt32)? in
            guard let current = records[type], !current.isEmpty, current.ttl > low else { return nil }
            return (type, current, current.addresses, low)
        }
        guard !lowering.isEmpty else { return (records, .zero) }
        try editor.replace(lowering)
        var waitFor = Duration.zero
        for change in lowering {
            let now = try editor.records(change.type)
            guard Set(now.addresses) == Set(change.new), now.ttl == low else {
                throw DNSFailure(kind: .notVerified, description: "after lowering the TTL, \(editor.server) answers \(describe(now)) for \(editor.name) \(change.type)")
            }
            records[change.type] = now
            waitFor = max(waitFor, .seconds(Int64(change.expected.ttl)))
        }
        return (records, waitFor)
    }

    /// The whole float: the TTL lowered and waited out (`wait` does the waiting, so a caller can say so or be
    /// interrupted), the records switched and read back.
    public func run(wait: (Duration) async throws -> Void) async throws -> Report {
        var report = Report()
        report.serialBefore = try editor.serial()
        let (records, waitFor) = try lowerTTL()
        if waitFor > .zero {
            report.lowered = true
            try await wait(waitFor)
            report.waited = waitFor
        }
        report.before = records
        let start = ContinuousClock.now
        try switchRecords(from: records)
        for type in types { report.after[type] = try editor.records(type) }
        report.switchTime = ContinuousClock.now - start
        report.serialAfter = try editor.serial()
        for type in [DNSType.a, .aaaa] where !types.contains(type) {
            let other = try editor.records(type)
            if !other.isEmpty { report.otherFamily[type] = other }
        }
        return report
    }

    /// Replaces the records as they were read (`current`) by the wanted addresses, and checks the server holds them.
    public func switchRecords(from current: [DNSType: AddressRecords]) throws(DNSFailure) {
        let changes = types.map { type in
            let was = current[type] ?? .none
            let ttl = ttl.map { UInt32(clamping: $0.components.seconds) }
                ?? ttlAhead.map { UInt32(clamping: $0.components.seconds) }
                ?? (was.isEmpty ? 300 : was.ttl)
            return (type: type, expected: was, new: wanted(type), ttl: ttl)
        }
        try editor.replace(changes)
        for change in changes {
            let now = try editor.records(change.type)
            guard Set(now.addresses) == Set(change.new), now.ttl == change.ttl else {
                throw DNSFailure(kind: .notVerified, description: "the update was accepted, but \(editor.server) answers \(describe(now)) for \(editor.name) \(change.type)")
            }
        }
    }

    private func describe(_ records: AddressRecords) -> String {
        records.isEmpty ? "no record" : records.addresses.map(\.description).joined(separator: ", ") + " (TTL \(records.ttl) s)"
    }
}

extension DNSType: CustomStringConvertible {
    public var description: String {
        switch self {
        case .a: return "A"
        case .ns: return "NS"
        case .cname: return "CNAME"
        case .soa: return "SOA"
        case .aaaa: return "AAAA"
        case .opt: return "OPT"
        case .tsig: return "TSIG"
        case .any: return "ANY"
        }
    }
}
