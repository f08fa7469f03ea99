import Foundation

/// What runs on the host: packages, systemd units, listening sockets, the firewall, users and groups, crontabs.
extension InventoryCollector {
    static let software: [InventoryCollector] = [package, unit, listen, firewall, account, cron]

    static let package = InventoryCollector(name: "package", script: { _ in
        """
        if command -v dpkg-query >/dev/null; then dpkg-query -W -f '${db:Status-Abbrev}\\t${binary:Package}\\t${Version}\\n'
        elif command -v rpm >/dev/null; then rpm -qa --qf 'ii \\t%{NAME}\\t%{VERSION}-%{RELEASE}\\n'
        else echo "neither dpkg-query nor rpm is installed" >&2; exit 127; fi
        """
    }, parse: { text, _ in
        var settings: [String: String] = [:]
        for line in lines(text) {
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            // Only installed packages (dpkg's status "i": "ii", or "hi" when held), not ones removed with their
            // configuration left ("rc").
            guard fields.count == 3, fields[0].count >= 2, fields[0].dropFirst().first == "i" else { continue }
            settings["package.\(fields[1])"] = String(fields[2])
        }
        return settings
    })

    /// Service units: whether each is enabled, and — where systemd runs — whether it is active.
    static let unit = InventoryCollector(name: "unit", script: { _ in
        """
        command -v systemctl >/dev/null || { echo "systemctl is not installed" >&2; exit 127; }
        systemctl list-unit-files --type=service --no-legend --no-pager 2>/dev/null
        echo @@active
        systemctl list-units --type=service --all --no-legend --no-pager --plain 2>/dev/null
        true
        """
    }, parse: { text, _ in
        let parts = sections(text)
        var active: [String: String] = [:]
        for line in parts["active"] ?? [] {
            let words = words(line)
            if words.count >= 4 { active[String(words[0])] = words[2] + "/" + words[3] }
        }
        var settings: [String: String] = [:]
        for line in parts[""] ?? [] {
            let words = words(line)
            guard words.count >= 2, words[0].hasSuffix(".service") else { continue }
            settings["unit.\(words[0])"] = words[1] + " " + (active[String(words[0])] ?? "unknown")
        }
        return settings
    })

    /// Listening sockets by protocol and port (`listen.tcp.80`), each with the programs and addresses that hold it: a
    /// service bound to each host's own address is the same service on both.
    static let listen = InventoryCollector(name: "listen", script: { _ in
        "command -v ss >/dev/null || { echo 'ss is not installed (iproute2)' >&2; exit 127; }; ss -Hlntup"
    }, parse: { text, _ in
        var holders: [String: Set<String>] = [:]
        for line in lines(text) {
            let words = words(line)
            guard words.count >= 5, let colon = words[4].lastIndex(of: ":") else { continue }
            let process = line.firstRange(of: "((\"").map { range in
                String(line[range.upperBound...].prefix { $0 != "\"" })
            } ?? "-"
            holders["listen.\(words[0]).\(words[4][words[4].index(after: colon)...])", default: []].insert("\(process)@\(words[4][..<colon])")
        }
        return holders.mapValues { $0.sorted().joined(separator: " ") }
    })

    /// The firewall's rules, as a fingerprint and a count (the counters left out, which change with the traffic).
    static let firewall = InventoryCollector(name: "firewall", script: { _ in
        """
        if command -v nft >/dev/null; then echo @@nft; nft -s list ruleset
        elif command -v iptables-save >/dev/null; then echo @@iptables; iptables-save; if command -v ip6tables-save >/dev/null; then ip6tables-save; fi
        else echo "neither nft nor iptables-save is installed" >&2; exit 127; fi
        """
    }, parse: { text, _ in
        let parts = sections(text)
        let tool = parts.keys.first { !$0.isEmpty } ?? "unknown"
        let rules = (parts[tool] ?? []).filter { !$0.hasPrefix("#") }.map { line in
            // iptables-save's packet and byte counters ([12:3456]) change with traffic.
            String(line.replacing(#/\[\d+:\d+\]/#, with: "[0:0]"))
        }
        let digest = fingerprint(rules.joined(separator: "\n"))
        let count = rules.count { $0.hasPrefix("-A ") || $0.contains(" counter") || $0.contains(" accept") || $0.contains(" drop") }
        return ["firewall.tool": tool, "firewall.ruleset_sha256": digest, "firewall.rules": String(count)]
    })

    static let account = InventoryCollector(name: "account", script: { _ in "getent passwd; echo @@groups; getent group" }, parse: { text, _ in
        let parts = sections(text)
        var settings: [String: String] = [:]
        for line in parts[""] ?? [] {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 7 else { continue }
            settings["account.user.\(fields[0])"] = "uid=\(fields[2]) gid=\(fields[3]) home=\(fields[5]) shell=\(fields[6])"
        }
        for line in parts["groups"] ?? [] {
            let fields = line.split(separator: ":", omittingEmptySubsequences: false)
            guard fields.count >= 4 else { continue }
            let members = fields[3].split(separator: ",").sorted().joined(separator: ",")
            settings["account.group.\(fields[0])"] = "gid=\(fields[2])" + (members.isEmpty ? "" : " members=\(members)")
        }
        return settings
    })

    /// Crontabs, by fingerprint.
    static let cron = InventoryCollector(name: "cron", script: { _ in
        "for f in /etc/crontab /etc/cron.d/* /var/spool/cron/crontabs/* /var/spool/cron/*; do [ -f \"$f\" ] && printf '%s\\t%s\\n' \"$f\" \"$(sha256sum < \"$f\" | cut -d' ' -f1)\"; done; true"
    }, parse: { text, _ in
        Dictionary(lines(text).compactMap { line -> (String, String)? in
            let fields = line.split(separator: "\t")
            return fields.count == 2 ? ("cron.\(fields[0])", "sha256:\(fields[1])") : nil
        }) { a, _ in a }
    })
}
