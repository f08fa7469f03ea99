import ArgumentParser
import CutoverCore
import CutoverHost
import Foundation

/// `cutover ip`: the service address's float on its own — move it, ask who holds it, announce it.
struct IPCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ip",
        abstract: "Float a service address between hosts, see who answers for it, or announce it.",
        subcommands: [IPFloatCommand.self, IPCheckCommand.self, IPAnnounceCommand.self]
    )
}

/// The announcement schedule's options, shared by `ip float` and `ip announce`.
struct AnnouncementOptions: ParsableArguments {
    @Option(name: .customLong("repeat"), help: "Announcements sent in a round (the first at once).")
    var count = 5

    @Option(name: .long, help: "Time between the announcements of a round.")
    var interval = "200ms"

    @Option(name: .customLong("refresh-after"), help: "When a second round follows the first (0: none).")
    var refreshAfter = "5s"

    func schedule() throws -> AnnouncementSchedule {
        guard (1...100).contains(count) else { throw ValidationError("--repeat \(count) is not a count of 1 to 100") }
        guard let interval = Quantities.duration(interval) else { throw ValidationError("--interval '\(interval)' is not a duration (200ms)") }
        guard let refresh = Quantities.duration(refreshAfter) else { throw ValidationError("--refresh-after '\(refreshAfter)' is not a duration (5s, or 0)") }
        return AnnouncementSchedule(count: count, interval: interval, refreshAfter: refresh)
    }
}

/// Parses the `--vip` values: each an address with its prefix length.
func parseVIPs(_ texts: [String], option: String = "--vip") throws -> [InterfaceAddress] {
    guard !texts.isEmpty else { throw ValidationError("\(option) is required: the service address with its prefix length (198.18.0.100/24)") }
    return try texts.map { text in
        switch InterfaceAddress.parse(text) {
        case .success(let address): return address
        case .failure(let error): throw ValidationError("\(option) \(error)")
        }
    }
}

/// A duration in milliseconds with microseconds, for the figures of a float.
func milliseconds(_ duration: Duration) -> String {
    String(format: "%.3f ms", duration.milliseconds)
}

/// `cutover ip float`: the float step alone.
struct IPFloatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "float",
        abstract: "Move the service address from one host's interface to another's and announce it.",
        discussion: """
            Sides are written netns:NAME:INTERFACE, local:INTERFACE or ssh://user@host[:port]/INTERFACE. The address \
            is released on --from and seen gone before it is claimed on --to; never do both hold it. With --vantage \
            (an interface on the same segment, holding the address on neither side) the IP outage is measured: from \
            the last answer by the old holder's MAC to the first by the new one's. Exit status: 0 floated, 1 failed, \
            2 bad input.
            """
    )

    @Option(name: .long, help: "The address with its prefix length (198.18.0.100/24, fd00::100/64); repeat for both families.")
    var vip: [String] = []

    @Option(name: .long, help: "Where the address is now.")
    var from: String

    @Option(name: .long, help: "Where it goes.")
    var to: String

    @Option(name: .long, help: "Where the outage is watched from.")
    var vantage: String?

    @OptionGroup var announcement: AnnouncementOptions

    @Flag(name: .long, help: "Print the figures as JSON.")
    var json = false

    func run() async throws {
        let addresses = try parseVIPs(vip)
        let (from, to) = (try side(self.from, "--from"), try side(self.to, "--to"))
        guard from != to else { throw ValidationError("--from and --to are the same interface: \(from)") }
        let vantage = try self.vantage.map { try side($0, "--vantage") }
        let float = IPFloat(addresses: addresses, from: from, to: to, schedule: try announcement.schedule(), vantage: vantage)
        let report: FloatReport
        do {
            report = try await float.run()
        } catch {
            printError("cutover ip float: \(error)")
            throw ExitCode(1)
        }
        if json {
            var object: [String: Any] = [
                "addresses": report.addresses, "from": report.from, "to": report.to, "method": report.method,
                "release_ms": report.release.milliseconds, "claim_ms": report.claim.milliseconds,
                "announce_ms": report.announce.milliseconds, "total_ms": report.total.milliseconds, "announcements": report.announcements,
            ]
            object["new_mac"] = report.newMAC
            object["outage_ms"] = report.outage?.milliseconds
            object["heard"] = report.heardAfter
            object["watch_problem"] = report.watchProblem
            let data = try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
            return print(String(decoding: data, as: UTF8.self))
        }
        var table = TextTable(header: ["STEP", "TIME"], rightAligned: [1])
        table.append(["release on \(report.from)", milliseconds(report.release)])
        table.append(["claim on \(report.to)", milliseconds(report.claim)])
        table.append(["first announcement (\(report.method))", milliseconds(report.announce)])
        table.append(["release to first announcement", milliseconds(report.total)])
        print("floated \(report.addresses.joined(separator: ", ")) from \(report.from) to \(report.to)\(report.newMAC.map { " (\($0))" } ?? "")")
        print(table.text)
        print("announcements sent: \(report.announcements)")
        if vantage != nil {
            print("IP outage seen from \(vantage!): " + (report.outage.map(milliseconds)
                ?? report.watchProblem.map { "not measured (\($0))" } ?? "not measured (an answer by either side was not heard)"))
        }
    }

    func side(_ text: String, _ option: String) throws -> FloatSide {
        switch FloatSide.parse(text) {
        case .success(let side): return side
        case .failure(let error): throw ValidationError("\(option) \(error)")
        }
    }
}

/// `cutover ip check`: who answers for the address.
struct IPCheckCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Ask the segment who answers ARP or Neighbour Discovery for an address.",
        discussion: """
            Sends a probe from --interface (by default the interface whose subnet holds the address) of this machine's \
            network namespace (run it under `ip netns exec NAME` for another) and lists the MACs that answer within \
            --wait. Exit status: 0 exactly one holder, 1 none or several (two hosts serving one address), 2 bad input.
            """
    )

    @Option(name: .long, help: "The address (198.18.0.100 or fd00::100).")
    var vip: String

    @Option(name: .long, help: "The interface to probe from.")
    var interface: String?

    @Option(name: .long, help: "How long answers are waited for.")
    var wait = "200ms"

    @Flag(name: .long, help: "Print the answer as JSON.")
    var json = false

    func run() async throws {
        guard let address = IPAddress(vip.split(separator: "/").first ?? "") else {
            throw ValidationError("--vip '\(vip)' is not an IPv4 or IPv6 address")
        }
        guard let window = Quantities.duration(wait), window > .zero else { throw ValidationError("--wait '\(wait)' is not a duration (200ms)") }
        let local = try LinkAddresses.list()
        let interface: String
        if let chosen = self.interface {
            guard FloatSide.isInterfaceName(chosen) else { throw ValidationError("--interface '\(chosen)' is not an interface name") }
            interface = chosen
        } else {
            guard let found = try LinkAddresses.subnets().first(where: { $0.subnet.contains(address) })?.interface else {
                throw ValidationError("no interface here is on a subnet holding \(address): name one with --interface")
            }
            interface = found
        }
        let holders: [MACAddress]
        do {
            holders = try NeighbourProbe(address: address, interface: interface, namespace: nil).holders(within: window)
        } catch {
            printError("cutover ip check: \(error)")
            throw ExitCode(1)
        }
        let heldHere = local.filter { $0.address == address }.map(\.interface)
        if json {
            let object: [String: Any] = ["address": address.description, "interface": interface, "holders": holders.map(\.description),
                                         "held_here": heldHere, "owners": holders.count + (heldHere.isEmpty ? 0 : 1)]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else {
            print("\(address) asked on \(interface): " + (holders.isEmpty ? "no answer" : "answered by \(holders.map(\.description).joined(separator: ", "))"))
            if !heldHere.isEmpty { print("held here on \(heldHere.joined(separator: ", "))") }
        }
        let owners = holders.count + (heldHere.isEmpty ? 0 : 1)
        if owners != 1 {
            printError(owners == 0 ? "nobody holds \(address)" : "\(owners) hosts answer for \(address): it must have exactly one")
            throw ExitCode(1)
        }
    }
}

/// `cutover ip announce`: the announcement alone, from this machine's interface.
struct IPAnnounceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "announce",
        abstract: "Announce that this machine's interface holds an address (gratuitous ARP, unsolicited Neighbour Advertisement).",
        discussion: "What the host cutover runs on an ssh host after claiming the address. Exit status: 0 sent, 1 failed, 2 bad input."
    )

    @Option(name: .long, help: "The address (198.18.0.100 or fd00::100, a prefix length allowed); repeat for several.")
    var vip: [String] = []

    @Option(name: .long, help: "The interface that holds it.")
    var interface: String

    @OptionGroup var announcement: AnnouncementOptions

    func run() async throws {
        guard !vip.isEmpty else { throw ValidationError("--vip is required") }
        let addresses = try vip.map { text in
            guard let address = IPAddress(text.split(separator: "/").first ?? "") else {
                throw ValidationError("--vip '\(text)' is not an IPv4 or IPv6 address")
            }
            return address
        }
        guard FloatSide.isInterfaceName(interface) else { throw ValidationError("--interface '\(interface)' is not an interface name") }
        let schedule = try announcement.schedule()
        do {
            let announcer = try Announcer(addresses: addresses, interface: interface, namespace: nil)
            let start = ContinuousClock.now
            try announcer.announce()
            let sent = try await announcer.repeatAnnouncements(schedule, from: start)
            print("announced \(addresses.map(\.description).joined(separator: ", ")) on \(interface) (\(announcer.mac)): \(sent) announcement\(sent == 1 ? "" : "s")")
        } catch {
            printError("cutover ip announce: \(error)")
            throw ExitCode(1)
        }
    }
}
