import CutoverCore

/// Moves a service address from one host to another, never with both holding it: released on `from` (and seen
/// gone), claimed on `to` (IPv6 without duplicate address detection), announced at once from `to`'s interface, the
/// announcements repeated on their schedule, and who answers checked afterwards. On this machine (`local`, `netns:`)
/// every step runs in-process — rtnetlink to change addresses, a packet socket for the announcement, opened before
/// the release — so the address is unreachable for well under a millisecond of the gateway's own work. On an `ssh`
/// host the steps are commands: `ip addr`, and `cutover ip announce` when cutover is installed there, else
/// `arping -U` / `ndsend`.
public struct IPFloat: Sendable {
    public var addresses: [InterfaceAddress]
    public var from: FloatSide
    public var to: FloatSide
    public var schedule: AnnouncementSchedule
    /// Where the outage is watched from (an interface on the segment that holds the address on neither side).
    public var vantage: FloatSide?
    /// How long each command of an `ssh` side may take.
    public var commandTimeout: Duration
    /// Whether sides on this machine are moved in-process; when false every side is moved by commands through its
    /// executor, as an `ssh` side is.
    public var inProcess = true
    /// The executors of the two sides when they need options of their own (an ssh host's key, its host-key
    /// checking); by default each side's executor is made from its address with the default options.
    public var fromExecutor: (any Executor)?
    public var toExecutor: (any Executor)?

    public init(addresses: [InterfaceAddress], from: FloatSide, to: FloatSide, schedule: AnnouncementSchedule = .init(),
                vantage: FloatSide? = nil, commandTimeout: Duration = .seconds(10)) {
        self.addresses = addresses
        self.from = from
        self.to = to
        self.schedule = schedule
        self.vantage = vantage
        self.commandTimeout = commandTimeout
    }

    /// A float that could not be done, with the step and the reason; what had changed is said.
    public struct Failure: Error, CustomStringConvertible {
        public var step: String
        public var reason: String
        public var description: String { "\(step): \(reason)" }
    }

    /// A side's namespace for in-process steps, or nil when the side is moved by commands.
    private func place(of side: FloatSide) -> String?? {
        inProcess ? side.inProcessNamespace : nil
    }

    /// Floats the addresses and reports what it took. Throws before anything changed when a side cannot be used.
    public func run() async throws -> FloatReport {
        let clock = ContinuousClock()
        let ips = addresses.map(\.address)
        // Everything that can fail without changing anything comes first: the sockets are opened before the release.
        let announcer: Announcer?
        if case .some(let namespace) = place(of: to) {
            announcer = try Announcer(addresses: ips, interface: to.interface, namespace: namespace)
        } else {
            announcer = nil
        }
        // The watch measures; it never stops a float (nor a float back) when it cannot be opened.
        var watch: OutageWatch?
        var fromMAC: MACAddress?
        var watchProblem: String?
        if let vantage, case .some(let namespace) = vantage.inProcessNamespace, let first = ips.first {
            do {
                watch = try OutageWatch(address: first, interface: vantage.interface, namespace: namespace)
                if case .some(let fromNamespace) = place(of: from) {
                    fromMAC = try PacketSocket(interface: from.interface, namespace: fromNamespace, protocol: NeighbourFrames.etherTypeARP).mac
                }
            } catch {
                watch = nil
                watchProblem = "the outage is not measured: \(vantage) cannot be watched from: \(error)"
            }
        }
        // The interfaces' indexes are looked up ahead: the release and the claim then only change addresses.
        var fromIndex: Int32?, toIndex: Int32?
        if case .some(let namespace) = place(of: from) {
            fromIndex = try NetworkNamespace.perform(namespace) { try LinkAddresses.index(of: from.interface) }
        }
        if case .some(let namespace) = place(of: to) {
            toIndex = try NetworkNamespace.perform(namespace) { try LinkAddresses.index(of: to.interface) }
        }
        watch?.start()
        defer { watch?.stop() }
        if let watch, let fromMAC {
            // The outage is measured from the old holder's last answer: the watch has heard it before anything moves
            // (a second at most).
            let until = ContinuousClock.now + .seconds(1)
            while !watch.hasHeard(fromMAC), ContinuousClock.now < until { try await Task.sleep(for: .milliseconds(1)) }
        }

        let start: ContinuousClock.Instant, released: ContinuousClock.Instant, claimed: ContinuousClock.Instant
        let announced: ContinuousClock.Instant, method: String
        if case .some(let fromNamespace) = place(of: from), case .some(let toNamespace) = place(of: to), let announcer {
            // Both sides on this machine: one thread, started ahead, does the release, the claim and the first
            // announcement, entering each side's namespace in turn (a setns each).
            (start, released, claimed, announced) = try NetworkNamespace.onOwnThread(entering: [fromNamespace, toNamespace].compactMap { $0 }) { switcher in
                try switcher.enter(fromNamespace)
                let start = clock.now
                try releaseHere(index: fromIndex)
                let released = clock.now
                try switcher.enter(toNamespace)
                do {
                    try claimHere(index: toIndex)
                } catch {
                    // Nobody holds the address now: it goes back where it was, and the error says what happened.
                    try? switcher.enter(fromNamespace)
                    let back = (try? claimBackHere(index: fromIndex)) != nil
                    throw Failure(step: "claim", reason: "\(error); released from \(from), not claimed on \(to)"
                                  + (back ? ", and given back to \(from)" : ", and it could not be given back to \(from): nobody holds it"))
                }
                let claimed = clock.now
                try announcer.announce()
                return (start, released, claimed, clock.now)
            }
            method = "in-process packet socket"
        } else {
            start = clock.now
            try await release(index: fromIndex)
            released = clock.now
            do {
                try await claim(index: toIndex)
            } catch {
                let back = (try? await giveBack(index: fromIndex)) != nil
                throw Failure(step: "claim", reason: "\(error); released from \(from), not claimed on \(to)"
                              + (back ? ", and given back to \(from)" : ", and it could not be given back to \(from): nobody holds it"))
            }
            claimed = clock.now
            if let announcer {
                try announcer.announce()
                method = "in-process packet socket"
            } else {
                method = try await announceByCommand()
            }
            announced = clock.now
        }
        var report = FloatReport(addresses: addresses.map(\.description), from: from.description, to: to.description, method: method,
                                 release: released - start, claim: claimed - released, announce: announced - claimed,
                                 total: announced - start, announcements: 1, newMAC: announcer?.mac.description, announcedAt: announced,
                                 watchProblem: watchProblem)
        if let watch, let new = announcer?.mac {
            // Watch until the new holder has answered (a second at most), then measure.
            let until = clock.now + .seconds(1)
            while clock.now < until, !watch.hasHeard(new) { try await Task.sleep(for: .milliseconds(2)) }
            watch.stop()
            if let old = fromMAC { report.outage = watch.outage(old: old, new: new) }
            report.heardAfter = watch.heardMACs.map(\.description)
        }
        if let announcer {
            report.announcements = try await announcer.repeatAnnouncements(schedule, from: announced)
        }
        return report
    }

    /// The unsolicited Neighbour Advertisement of an IPv6 address on a host with neither cutover nor `ndsend` (not in
    /// Debian 12): the kernel sends one (Override set, to all nodes) when duplicate address detection completes on
    /// an interface with `ndisc_notify` on, so the address is added again with DAD (about a second, during which it
    /// is tentative) and `ndisc_notify` set back as it was after.
    static func kernelAdvertisement(_ address: InterfaceAddress, interface: String) -> String {
        // In a subshell of its own: every failure ends it non-zero, and the setting is put back however it ends.
        let key = "/proc/sys/net/ipv6/conf/\(interface)/ndisc_notify"
        let vip = address.description, ip = address.address.description
        return "(was=$(cat \(key)) || exit 1; trap 'echo $was > \(key)' EXIT HUP INT TERM; echo 1 > \(key) || exit 1;"
            + " ip -6 addr del \(vip) dev \(interface) || exit 1;"
            + " ip -6 addr add \(vip) dev \(interface) || { ip -6 addr add \(vip) dev \(interface) nodad; exit 1; };"
            + " n=0; while ip -6 -o addr show dev \(interface) to \(ip) | grep -q tentative && [ $n -lt 100 ]; do sleep 0.05; n=$((n+1)); done;"
            + " out=$(ip -6 -o addr show dev \(interface) to \(ip)) && [ -n \"$out\" ] && ! printf %s \"$out\" | grep -qE 'tentative|dadfailed')"
    }

    /// Releases the addresses on `from` and confirms they are gone.
    func release(index: Int32?) async throws {
        if case .some(let namespace) = place(of: from) {
            return try NetworkNamespace.perform(namespace) { try releaseHere(index: index) }
        }
        let executor = fromExecutor ?? Executors.make(from.executor)
        for address in addresses {
            let result = try await executor.run(["ip", "addr", "del", address.description, "dev", from.interface], timeout: commandTimeout)
            // An address already gone is released (what `ip` says then differs between versions: it is looked up).
            let shown = try await shownAddress(address, on: from, executor)
            guard shown.isEmpty else {
                throw Failure(step: "release", reason: "\(address) is still on \(from) after its removal" + (result.succeeded ? "" : ": \(result.summary)"))
            }
        }
    }

    /// What `ip -o addr show` says of `address` on `side` (empty when the interface does not hold it).
    private func shownAddress(_ address: InterfaceAddress, on side: FloatSide, _ executor: any Executor) async throws -> String {
        let shown = try await executor.run(["ip", "-o", "addr", "show", "dev", side.interface, "to", address.address.description], timeout: commandTimeout)
        guard shown.succeeded else { throw Failure(step: "check", reason: shown.summary) }
        return String(shown.stdout.trimmingSpaces)
    }

    /// Releases the addresses on `from`'s interface and confirms they are gone; the calling thread is in `from`'s namespace.
    func releaseHere(index: Int32?) throws {
        for address in addresses { try LinkAddresses.remove(address, from: from.interface, index: index) }
        for address in addresses where try LinkAddresses.holds(address.address, interface: from.interface) {
            throw Failure(step: "release", reason: "\(address.address) is still on \(from) after its removal (held with another prefix length than /\(address.prefixLength)?)")
        }
    }

    /// Puts the addresses back on `from`'s interface after a claim on `to` failed; the calling thread is in `from`'s namespace.
    func claimBackHere(index: Int32?) throws {
        for address in addresses { try LinkAddresses.add(address, to: from.interface, index: index) }
    }

    /// Puts the addresses back on `from` after a claim on `to` failed.
    func giveBack(index: Int32?) async throws {
        if case .some(let namespace) = place(of: from) {
            return try NetworkNamespace.perform(namespace) { try claimBackHere(index: index) }
        }
        let executor = fromExecutor ?? Executors.make(from.executor)
        for address in addresses {
            let result = try await executor.run(["ip", "addr", "add", address.description, "dev", from.interface], timeout: commandTimeout)
            let shown = try await shownAddress(address, on: from, executor)
            guard !shown.isEmpty else { throw Failure(step: "give back", reason: result.summary) }
        }
    }

    /// Claims the addresses on `to`'s interface; the calling thread is in `to`'s namespace.
    func claimHere(index: Int32?) throws {
        for address in addresses { try LinkAddresses.add(address, to: to.interface, index: index) }
    }

    /// Claims the addresses on `to` (IPv6 with `nodad`, checked for `tentative`/`dadfailed` when done by command).
    func claim(index: Int32?) async throws {
        if case .some(let namespace) = place(of: to) {
            return try NetworkNamespace.perform(namespace) { try claimHere(index: index) }
        }
        let executor = toExecutor ?? Executors.make(to.executor)
        for address in addresses {
            let result = try await executor.run(["ip", "addr", "add", address.description, "dev", to.interface] + (address.address.isIPv6 ? ["nodad"] : []),
                                                timeout: commandTimeout)
            // An address already held is claimed (looked up, as `ip`'s words for it differ between versions).
            let shown = try await shownAddress(address, on: to, executor)
            guard !shown.isEmpty else { throw Failure(step: "claim", reason: result.summary) }
            if shown.contains("tentative") || shown.contains("dadfailed") {
                throw Failure(step: "claim", reason: "\(address) on \(to) is not usable: \(shown)")
            }
        }
    }

    /// Announces from an `ssh` host: `cutover ip announce` when cutover is installed there, else `arping -U` / `ndsend`.
    func announceByCommand() async throws -> String {
        let executor = toExecutor ?? Executors.make(to.executor)
        let vips = addresses.map { $0.address.description }
        let interface = SSHExecutor.quoted(to.interface)
        let cutover = "cutover ip announce " + vips.map { "--vip \($0)" }.joined(separator: " ") + " --interface \(interface) --repeat 1 --refresh-after 0"
        let fallback = addresses.map { address in
            let vip = address.address.description
            guard address.address.isIPv6 else { return "arping -U -c 1 -I \(interface) \(vip)" }
            return "if command -v ndsend >/dev/null 2>&1; then ndsend \(vip) \(interface); else echo kernel; \(Self.kernelAdvertisement(address, interface: interface)); fi"
        }.joined(separator: " && ")
        let script = "if command -v cutover >/dev/null 2>&1; then echo cutover; \(cutover); else echo tool; \(fallback); fi"
        let result = try await executor.shell(script, timeout: commandTimeout)
        guard result.succeeded else { throw Failure(step: "announce", reason: result.summary) }
        if result.stdout.hasPrefix("cutover") { return "cutover ip announce on the host" }
        return result.stdout.contains("kernel") ? "arping -U / the kernel's advertisement after DAD on the host" : "arping -U / ndsend on the host"
    }
}

/// What a float took: each step's time, how it announced, and — watched from a vantage point — the IP outage and
/// who answered afterwards.
public struct FloatReport: Sendable, Equatable {
    public var addresses: [String]
    public var from: String
    public var to: String
    /// How the announcement was sent.
    public var method: String
    public var release: Duration
    public var claim: Duration
    /// From the claim to the first announcement sent.
    public var announce: Duration
    /// From the start of the release to the first announcement sent.
    public var total: Duration
    public var announcements: Int
    /// The MAC address that now answers (when the announcement was sent in-process).
    public var newMAC: String?
    /// From old's last answer to new's first, as the vantage point saw it.
    public var outage: Duration?
    /// The MACs the vantage point heard answering.
    public var heardAfter: [String]?
    /// When the first announcement went out: from then on only the new holder can answer through the address
    /// (the repeats that follow do not hold the service back).
    public var announcedAt: ContinuousClock.Instant?
    /// Why the outage was not measured, when a vantage was named and could not be watched from.
    public var watchProblem: String?
}

extension String {
    var trimmingSpaces: Substring {
        let trimmed = drop { $0.isWhitespace }
        return trimmed.dropLast(trimmed.reversed().prefix { $0.isWhitespace }.count)
    }
}
