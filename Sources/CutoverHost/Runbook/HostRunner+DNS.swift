import CutoverCore
import Foundation

/// A task's DNS float in the runbook: the TTL lowered and the old one waited out before anything stops, the name
/// switched to the new host's addresses at the float (and back on a rollback), and the checks before the run.
extension HostRunner {
    /// The zone editor of the task's `dns:`, with its key read from the environment now.
    func zoneEditor(_ dns: HostCutoverSettings.DNSFloatSettings) throws -> DNSZoneEditor {
        guard let secret = environment[dns.tsigSecretEnv], !secret.isEmpty else {
            throw DNSFailure(kind: .refused, description: "the environment variable \(dns.tsigSecretEnv) (dns.tsig.secret_env) is not set: the TSIG secret is needed to change \(dns.name)")
        }
        let key = try TSIGKey(name: dns.tsigName.description, algorithm: dns.tsigAlgorithm, base64Secret: secret)
        return DNSZoneEditor(server: dns.server, zone: dns.zone, name: dns.name, key: key)
    }

    private func dnsFloat(_ dns: HostCutoverSettings.DNSFloatSettings, to addresses: [IPAddress]) throws -> DNSFloat {
        DNSFloat(editor: try zoneEditor(dns), addresses: addresses, ttlAhead: dns.ttlAhead, ttl: dns.ttl)
    }

    /// `lower_ttl`: the records' TTL down to `ttl_ahead`. Caches may keep the old address for the old TTL from now:
    /// the step journals when that runs out (`caches_expire_unix`), and the stop of the old service waits for it
    /// (the sync passes run meanwhile) — also in a run resumed after the step, which reads it from the journal.
    func lowerTTL() async throws -> StepResult {
        guard let dns = task.dns else { return StepResult() }
        let (records, waitFor) = try dnsFloat(dns, to: dns.oldAddresses + dns.newAddresses).lowerTTL()
        var result = StepResult()
        result.figures["ttl_seconds"] = Double(records.values.map(\.ttl).max() ?? 0)
        result.figures["old_ttl_seconds"] = Double(waitFor.components.seconds)
        if waitFor > .zero {
            result.figures["caches_expire_unix"] = Date().timeIntervalSince1970 + waitFor.seconds
            say("  TTL of \(dns.name) lowered to \(Quantities.format(dns.ttlAhead)); caches forget the old TTL of \(Quantities.format(waitFor)) before the stop")
        }
        return result
    }

    /// Before the old service stops: the old TTL lowered ahead must have run out.
    func waitForCaches(until expiry: Double) async throws {
        let left = expiry - Date().timeIntervalSince1970
        guard left > 0 else { return }
        say("  waiting \(Quantities.format(.milliseconds(Int64(left * 1000)))) for caches to forget the old TTL before the stop")
        try await Task.sleep(for: .milliseconds(Int64(left * 1000)))
    }

    /// The float's DNS part: the name's records replaced by `addresses`. They must still be `expected` (the addresses
    /// the task says the name has) — a change made outside the run is refused, not overwritten — or `addresses`
    /// already (a step run again after a cut-off). Floating back (`forward` false), a name that is neither is left as
    /// it is without failing: the float never changed it, and the rollback goes on to start the old service.
    func switchName(to addresses: [IPAddress], expected: [IPAddress], forward: Bool) throws -> StepResult {
        guard let dns = task.dns else { return StepResult() }
        let float = try dnsFloat(dns, to: addresses)
        let start = ContinuousClock.now
        var current: [DNSType: AddressRecords] = [:]
        for type in float.types { current[type] = try float.editor.records(type) }
        let held = Set(current.values.flatMap(\.addresses))
        let wanted = Set(float.types.flatMap { type in expected.filter { $0.isIPv6 == (type == .aaaa) } })
        if held != Set(addresses) {
            let shown = held.isEmpty ? "no address" : held.map(\.description).sorted().joined(separator: ", ")
            if held == wanted {
                try float.switchRecords(from: current)
            } else if forward {
                throw DNSFailure(kind: .refused, description: "\(dns.name) holds \(shown), not \(expected.map(\.description).joined(separator: ", ")) as the task says: it was changed outside the run, and is left as it is")
            } else {
                say("  \(dns.name) holds \(shown), neither address set of the task: left as it is")
                return StepResult()
            }
        }
        var result = StepResult()
        result.figures["dns_switch_seconds"] = (ContinuousClock.now - start).seconds
        result.figures["dns_serial"] = Double(try float.editor.serial())
        if forward {
            // The old host keeps serving those that still hold its address; it may be retired after this.
            result.figures["retire_old_after_unix"] = Date().timeIntervalSince1970 + dns.keepOldFor.seconds
            say("  \(dns.name) now \(addresses.map(\.description).joined(separator: ", ")); keep \(from.name) serving for \(Quantities.format(dns.keepOldFor))")
        }
        return result
    }

    /// The pre-checks of the DNS float: the key's secret at hand, the zone served with authority, the key accepted
    /// (a signed update with nothing in it, which changes nothing), and the name's records as the task expects them.
    func dnsPrechecks() -> [PrecheckItem] {
        guard task.floatsDNS, let dns = task.dns else { return [] }
        let editor: DNSZoneEditor
        do {
            editor = try zoneEditor(dns)
        } catch {
            return [PrecheckItem("TSIG key \(dns.tsigName)", .fail, "\(error)")]
        }
        var items: [PrecheckItem] = []
        do {
            let serial = try editor.serial()
            items.append(PrecheckItem("zone \(dns.zone) at \(dns.server)", .pass, "served with authority, serial \(serial)"))
        } catch {
            return [PrecheckItem("zone \(dns.zone) at \(dns.server)", .fail, error.description)]
        }
        do {
            try editor.replace([])
            items.append(PrecheckItem("TSIG key \(dns.tsigName)", .pass, "\(dns.server) accepts updates signed with it"))
        } catch {
            items.append(PrecheckItem("TSIG key \(dns.tsigName)", .fail, error.description))
        }
        var held: [IPAddress] = []
        for type in [DNSType.a, .aaaa] {
            guard let records = try? editor.records(type) else { continue }
            held += records.addresses
        }
        let shown = held.isEmpty ? "no A or AAAA record" : held.map(\.description).joined(separator: ", ")
        let expected = Set(dns.oldAddresses)
        items.append(PrecheckItem("\(dns.name) points at \(from.name)", Set(held) == expected ? .pass : .warn,
                                  Set(held) == expected ? shown : "\(shown), not \(dns.oldAddresses.map(\.description).joined(separator: ", ")) (dns.old_addresses)"))
        return items
    }
}
