import Foundation

/// The machine itself: distribution, kernel, CPU, memory, file systems, kernel modules, sysctls, the security
/// modules and time keeping.
extension InventoryCollector {
    static let system: [InventoryCollector] = [os, cpu, memory, disk, fstab, module, sysctl, security, time]

    static let os = InventoryCollector(name: "os", script: { _ in
        "cat /etc/os-release 2>/dev/null || cat /usr/lib/os-release; printf '@@uname\\n%s\\n%s\\n%s\\n' \"$(uname -r)\" \"$(uname -m)\" \"$(uname -n)\""
    }, parse: { text, _ in
        var settings: [String: String] = [:]
        let parts = sections(text)
        for line in parts[""] ?? [] {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals], value = line[line.index(after: equals)...].trimmingCharacters(in: ["\"", "'"])
            switch key {
            case "ID": settings["os.id"] = value
            case "NAME": settings["os.name"] = value
            case "VERSION_ID": settings["os.version_id"] = value
            case "PRETTY_NAME": settings["os.pretty_name"] = value
            default: break
            }
        }
        let uname = parts["uname"] ?? []
        if uname.count == 3 {
            settings["os.kernel"] = String(uname[0])
            settings["os.arch"] = String(uname[1])
            settings["os.hostname"] = String(uname[2])
        }
        return settings
    })

    static let cpu = InventoryCollector(name: "cpu", script: { _ in "cat /proc/cpuinfo" }, parse: { text, _ in
        var settings: [String: String] = [:]
        var count = 0
        for line in lines(text) {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let key = line[..<colon].trimmingCharacters(in: [" ", "\t"]), value = line[line.index(after: colon)...].trimmingCharacters(in: [" ", "\t"])
            switch key {
            case "processor": count += 1
            case "vendor_id": settings["cpu.vendor"] = settings["cpu.vendor"] ?? value
            case "model name": settings["cpu.model"] = settings["cpu.model"] ?? value
            case "flags": settings["cpu.flags"] = settings["cpu.flags"] ?? value.split(separator: " ").sorted().joined(separator: " ")
            default: break
            }
        }
        settings["cpu.count"] = String(count)
        return settings
    })

    static let memory = InventoryCollector(name: "memory", script: { _ in "cat /proc/meminfo" }, parse: { text, _ in
        var kib: [String: Int] = [:]
        for line in lines(text) {
            let words = words(line)
            if words.count >= 2, let value = Int(words[1]) { kib[String(words[0].dropLast())] = value }
        }
        var settings: [String: String] = [:]
        if let total = kib["MemTotal"] {
            settings["memory.total_bytes"] = String(total * 1024)
            if let available = kib["MemAvailable"] { settings["memory.used_bytes"] = String((total - available) * 1024) }
        }
        if let swap = kib["SwapTotal"] { settings["memory.swap_bytes"] = String(swap * 1024) }
        return settings
    })

    static let disk = InventoryCollector(name: "disk", script: { _ in "df -P -B1 -x tmpfs -x devtmpfs -x squashfs 2>/dev/null | tail -n +2" }, parse: { text, _ in
        var settings: [String: String] = [:]
        for line in lines(text) {
            let words = words(line)
            guard words.count >= 6, let size = Int(words[1]), let used = Int(words[2]), let free = Int(words[3]) else { continue }
            let mount = words[5...].joined(separator: " ")
            settings["disk.\(mount).size_bytes"] = String(size)
            settings["disk.\(mount).used_bytes"] = String(used)
            settings["disk.\(mount).free_bytes"] = String(free)
        }
        return settings
    })

    /// `/etc/fstab` against what is mounted: each entry, and whether it is mounted now.
    static let fstab = InventoryCollector(name: "fstab", script: { _ in "cat /etc/fstab; echo @@mounts; cat /proc/mounts" }, parse: { text, _ in
        let parts = sections(text)
        let mounted = Set((parts["mounts"] ?? []).compactMap { words($0).dropFirst().first.map(String.init) })
        var settings: [String: String] = [:]
        for line in parts[""] ?? [] where !line.hasPrefix("#") {
            let words = words(line)
            guard words.count >= 3 else { continue }
            let point = words[1] == "none" || words[2] == "swap" ? "swap:\(words[0])" : String(words[1])
            settings["fstab.\(point)"] = words[0] + " " + words[2] + " " + (words.count > 3 ? maskedOptions(words[3]) : "defaults")
            if !point.hasPrefix("swap:") { settings["fstab.\(point).mounted"] = mounted.contains(point) ? "yes" : "no" }
        }
        return settings
    })

    /// Mount options with the values of credentials hidden (CIFS `password=`, `credentials=`…).
    static func maskedOptions(_ options: Substring) -> String {
        options.split(separator: ",").map { option in
            guard let equals = option.firstIndex(of: "=") else { return String(option) }
            let name = option[..<equals].lowercased()
            return ["pass", "cred", "secret", "key", "token"].contains(where: name.contains) ? "\(name)=(hidden)" : String(option)
        }.joined(separator: ",")
    }

    static let module = InventoryCollector(name: "module", script: { _ in "cat /proc/modules" }, parse: { text, _ in
        Dictionary(lines(text).compactMap { words($0).first.map { ("module.\($0)", "loaded") } }) { a, _ in a }
    })

    static let sysctl = InventoryCollector(name: "sysctl", script: { _ in "command -v sysctl >/dev/null || exit 127; sysctl -a 2>/dev/null; true" }, parse: { text, _ in
        var settings: [String: String] = [:]
        for line in lines(text) {
            guard let equals = line.firstIndex(of: "=") else { continue }
            let key = line[..<equals].trimmingCharacters(in: [" "]), value = line[line.index(after: equals)...].trimmingCharacters(in: [" "])
            // A key (TCP Fast Open's) is a secret: its fingerprint only.
            settings["sysctl.\(key)"] = key.hasSuffix("_key") ? "sha256:" + fingerprint(value) : value
        }
        return settings
    })

    static let security = InventoryCollector(name: "security", script: { _ in
        """
        if [ -r /sys/fs/selinux/enforce ]; then echo "selinux=$(cat /sys/fs/selinux/enforce)"; else echo selinux=absent; fi
        if [ -r /sys/module/apparmor/parameters/enabled ]; then echo "apparmor=$(cat /sys/module/apparmor/parameters/enabled)"; else echo apparmor=absent; fi
        """
    }, parse: { text, _ in
        var settings: [String: String] = [:]
        for line in lines(text) {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            switch (pair[0], pair[1]) {
            case ("selinux", "1"): settings["security.selinux"] = "enforcing"
            case ("selinux", "0"): settings["security.selinux"] = "permissive"
            case ("apparmor", "Y"): settings["security.apparmor"] = "enabled"
            case ("apparmor", "N"): settings["security.apparmor"] = "disabled"
            default: settings["security.\(pair[0])"] = pair[1]
            }
        }
        return settings
    })

    static let time = InventoryCollector(name: "time", script: { _ in
        """
        timedatectl show -p NTP -p NTPSynchronized -p Timezone 2>/dev/null
        for p in chronyd ntpd systemd-timesyncd openntpd; do pgrep -x "$p" >/dev/null 2>&1 && echo "Daemon=$p"; done
        [ -e /etc/localtime ] && echo "Localtime=$(readlink /etc/localtime)"
        true
        """
    }, parse: { text, _ in
        var settings: [String: String] = [:]
        for line in lines(text) {
            let pair = line.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else { continue }
            settings["time.\(pair[0].lowercased())"] = pair[1]
        }
        settings["time.daemon"] = settings["time.daemon"] ?? "none"
        return settings
    })
}
