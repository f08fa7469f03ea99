import ArgumentParser
import CutoverCore
import CutoverHost
import Foundation

/// `cutover dns`: the DNS float on its own, and what the authoritative server holds for a name.
struct DNSCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dns",
        abstract: "Move a service name's A/AAAA records to new addresses by signed dynamic update, or show them.",
        subcommands: [DNSFloatCommand.self, DNSShowCommand.self]
    )
}

/// The server, zone, name and key every `dns` command takes.
struct DNSTargetOptions: ParsableArguments {
    @Option(name: .long, help: "The zone's authoritative server, HOST:PORT (port 53 when left out).")
    var server: String

    @Option(name: .long, help: "The zone the name is in (example.com).")
    var zone: String

    @Option(name: .long, help: "The name whose records move (www.example.com).")
    var name: String

    @Option(name: .customLong("tsig-name"), help: "The TSIG key's name, as the server knows it.")
    var tsigName: String?

    @Option(name: .customLong("tsig-algorithm"), help: "hmac-sha256 (default), hmac-sha384, hmac-sha512 or hmac-sha1.")
    var tsigAlgorithm = "hmac-sha256"

    @Option(name: .customLong("tsig-secret-env"), help: "The environment variable that holds the key's secret (base64, as tsig-keygen writes it).")
    var tsigSecretEnv: String?

    @Option(name: .long, help: "How long each exchange with the server may take.")
    var timeout = "5s"

    /// Checks every option before anything is sent; a bad one is a usage error (exit 2).
    func editor(keyRequired: Bool) throws -> DNSZoneEditor {
        let server: DNSServer, zone: DNSName, name: DNSName
        do { server = try DNSServer(parsing: self.server) } catch { throw ValidationError("--server \(error)") }
        do { zone = try DNSName(parsing: self.zone) } catch { throw ValidationError("--zone \(error)") }
        do { name = try DNSName(parsing: self.name) } catch { throw ValidationError("--name \(error)") }
        guard name.isInside(zone) else { throw ValidationError("--name \(name) is not in --zone \(zone)") }
        guard let timeout = Quantities.duration(timeout), timeout > .zero else { throw ValidationError("--timeout '\(timeout)' is not a duration (5s)") }
        var key: TSIGKey?
        if let tsigName, let tsigSecretEnv {
            guard let secret = ProcessInfo.processInfo.environment[tsigSecretEnv], !secret.isEmpty else {
                throw ValidationError("--tsig-secret-env: the environment variable \(tsigSecretEnv) is not set (it holds the key's base64 secret)")
            }
            do { key = try TSIGKey(name: tsigName, algorithm: tsigAlgorithm, base64Secret: secret) } catch { throw ValidationError("\(error)") }
        } else if keyRequired || tsigName != nil || tsigSecretEnv != nil {
            throw ValidationError(tsigName == nil ? "--tsig-name is required: updates are signed (TSIG)" : "--tsig-secret-env is required: the environment variable with the key's secret")
        }
        return DNSZoneEditor(server: server, zone: zone, name: name, key: key, timeout: timeout)
    }
}

/// `cutover dns float`: the DNS float step alone.
struct DNSFloatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "float",
        abstract: "Switch a name's A/AAAA records to new addresses at its authoritative server (RFC 2136, TSIG).",
        discussion: """
            With --ttl-ahead the records' TTL is first lowered to it (where higher) and the old TTL waited out, so \
            that after the switch no cache holds the old address for longer than the low TTL. The switch is one \
            signed update that applies only if the records are still as read (a change made meanwhile is refused, \
            not overwritten); the server is then asked again and must answer the new addresses. Addresses of one \
            family replace that family's records only. Keep the old host serving until resolvers have forgotten it \
            (at least the old TTL; 7 days for caches and crawlers that keep addresses longer). Exit status: 0 \
            switched and verified at the server, 1 refused or not verified (the record unchanged when refused), \
            2 bad input.
            """
    )

    @OptionGroup var target: DNSTargetOptions

    @Option(name: .long, help: "The address the name is to have (repeat for several, or for both families).")
    var address: [String] = []

    @Option(name: .customLong("ttl-ahead"), help: "Lower the TTL to this first and wait out the old one (60s).")
    var ttlAhead: String?

    @Option(name: .long, help: "The new records' TTL (default: the --ttl-ahead value, else the records' current TTL).")
    var ttl: String?

    @Flag(name: .long, help: "Print the result as JSON.")
    var json = false

    func run() async throws {
        let editor = try target.editor(keyRequired: true)
        guard !address.isEmpty else { throw ValidationError("--address is required: the address the name is to have") }
        let addresses = try address.map { text in
            guard let parsed = IPAddress(text) else { throw ValidationError("--address '\(text)' is not an IPv4 or IPv6 address") }
            return parsed
        }
        guard Set(addresses).count == addresses.count else { throw ValidationError("--address names one address twice") }
        func seconds(_ text: String?, _ option: String) throws -> Duration? {
            guard let text else { return nil }
            guard let value = Quantities.duration(text), value >= .seconds(1), value <= .seconds(Int64(Int32.max)) else {
                throw ValidationError("\(option) '\(text)' is not a duration of at least 1s (60s)")
            }
            return value
        }
        let float = DNSFloat(editor: editor, addresses: addresses, ttlAhead: try seconds(ttlAhead, "--ttl-ahead"), ttl: try seconds(ttl, "--ttl"))
        let report: DNSFloat.Report
        do {
            report = try await float.run { wait in
                if !json { print("TTL lowered: waiting out the old TTL of \(Quantities.format(wait)) before the switch") }
                try await Task.sleep(for: wait)
            }
        } catch {
            printError("cutover dns float: \(error)")
            throw ExitCode(1)
        }
        if json { return try printJSON(report, editor: editor) }
        for type in float.types {
            print("\(editor.name) \(type): \(describe(report.before[type])) -> \(describe(report.after[type]))")
        }
        print("serial \(report.serialBefore) -> \(report.serialAfter) at \(editor.server), switched and read back in \(milliseconds(report.switchTime))")
        for (type, records) in report.otherFamily.sorted(by: { $0.key.rawValue < $1.key.rawValue }) {
            print("note: \(editor.name) \(type) still holds \(describe(records)) (no \(type == .aaaa ? "IPv6" : "IPv4") --address was given)")
        }
    }

    private func describe(_ records: AddressRecords?) -> String {
        guard let records, !records.isEmpty else { return "(none)" }
        return records.addresses.map(\.description).joined(separator: ", ") + " TTL \(records.ttl)"
    }

    private func printJSON(_ report: DNSFloat.Report, editor: DNSZoneEditor) throws {
        func records(_ map: [DNSType: AddressRecords]) -> [String: Any] {
            Dictionary(uniqueKeysWithValues: map.map { ($0.key.description, ["addresses": $0.value.addresses.map(\.description), "ttl": $0.value.ttl] as [String: Any]) })
        }
        let object: [String: Any] = [
            "server": editor.server.description, "zone": editor.zone.description, "name": editor.name.description,
            "before": records(report.before), "after": records(report.after), "other_family": records(report.otherFamily),
            "ttl_lowered": report.lowered, "waited_s": report.waited.components.seconds,
            "serial_before": report.serialBefore, "serial_after": report.serialAfter, "switch_ms": report.switchTime.milliseconds,
        ]
        print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
    }
}

/// `cutover dns show`: the name's records as the authoritative server answers them.
struct DNSShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Ask the zone's authoritative server for the name's A and AAAA records.",
        discussion: "Exit status: 0 answered, 1 the server did not answer for the zone, 2 bad input."
    )

    @OptionGroup var target: DNSTargetOptions

    func run() async throws {
        let editor = try target.editor(keyRequired: false)
        do {
            let serial = try editor.serial()
            print("\(editor.zone) serial \(serial) at \(editor.server)")
            for type in [DNSType.a, .aaaa] {
                let records = try editor.records(type)
                print("\(editor.name) \(type): " + (records.isEmpty ? "(none)" : records.addresses.map(\.description).joined(separator: ", ") + " TTL \(records.ttl)"))
            }
        } catch {
            printError("cutover dns show: \(error)")
            throw ExitCode(1)
        }
    }
}
