/// Files: the ones people forget (by fingerprint), the keys allowed in by ssh, secrets (path, owner, mode and
/// fingerprint only: never their contents), and configuration files that name the old host.
extension InventoryCollector {
    static let files: [InventoryCollector] = [file, authorizedKey, secret, reference]

    /// Prints `LABEL<TAB>owner:group mode<TAB>sha256` for each existing file of the shell words that follow `for f in`.
    private static func fingerprints(_ words: String) -> String {
        """
        for f in \(words); do
          [ -f "$f" ] || continue
          case "$f" in "$HOME"/*) label="~/${f#"$HOME"/}";; *) label="$f";; esac
          printf '%s\\t%s\\t%s\\n' "$label" "$(stat -c '%U:%G %a' "$f")" "$(sha256sum < "$f" 2>/dev/null | cut -d' ' -f1)"
        done
        true
        """
    }

    private static func parseFingerprints(_ text: String, prefix: String) -> [String: String] {
        Dictionary(lines(text).compactMap { line -> (String, String)? in
            let fields = line.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 3 else { return nil }
            let digest = fields[2].isEmpty ? "unreadable" : "sha256:\(fields[2])"
            return ("\(prefix).\(fields[0])", "\(fields[1]) \(digest)")
        }) { a, _ in a }
    }

    /// The files people forget when moving a host, and the configured extra paths.
    static let file = InventoryCollector(name: "file", script: { context in
        fingerprints((["/etc/profile", "\"$HOME/.bash_profile\"", "\"$HOME/.profile\"", "\"$HOME/.bashrc\"", "/etc/rc.local", "/etc/fstab",
                       "/etc/hosts", "/etc/sysconfig/*", "/etc/environment"] + context.extraPaths.map(quoted)).joined(separator: " "))
    }, parse: { text, _ in parseFingerprints(text, prefix: "file") })

    /// The keys `~/.ssh/authorized_keys` lets in, by fingerprint.
    static let authorizedKey = InventoryCollector(name: "authorized_key", script: { _ in
        """
        f="$HOME/.ssh/authorized_keys"
        [ -f "$f" ] || exit 0
        command -v ssh-keygen >/dev/null || { echo 'ssh-keygen is not installed (openssh-client)' >&2; exit 127; }
        ssh-keygen -lf "$f"
        """
    }, parse: { text, _ in
        var settings: [String: String] = [:]
        for line in lines(text) {
            // "256 SHA256:… comment (ED25519)"
            let words = words(line)
            guard words.count >= 3 else { continue }
            settings["authorized_key.\(words[1])"] = words[2...].joined(separator: " ")
        }
        return settings
    })

    /// Secrets, as path, owner, mode and a fingerprint made on the host: their contents never leave it.
    static let secret = InventoryCollector(name: "secret", script: { _ in
        fingerprints("/etc/shadow /etc/gshadow /etc/ssh/ssh_host_*_key \"$HOME\"/.ssh/id_*[!b] /etc/ssl/private/*")
    }, parse: { text, _ in parseFingerprints(text, prefix: "secret") })

    /// Lines of configuration files that name the old host (its hostname or one of its addresses, as a whole word):
    /// they must change on the new host. Only which name a line holds is kept, not the line.
    static let reference = InventoryCollector(name: "reference", script: { context in
        let names = context.referencesTo.filter { !$0.isEmpty }
        guard !names.isEmpty, !context.configRoots.isEmpty else { return "true" }
        let patterns = names.map { "-e " + quoted($0) }.joined(separator: " ")
        let roots = context.configRoots.map(quoted).joined(separator: " ")
        return "for r in \(roots); do [ -e \"$r\" ] && grep -rIHsnwF \(patterns) \"$r\"; done; true"
    }, parse: { text, context in
        var settings: [String: String] = [:]
        for line in lines(text) {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard fields.count == 3, Int(fields[1]) != nil else { continue }
            let named = context.referencesTo.filter { !$0.isEmpty && fields[2].contains($0) }
            settings["reference.\(fields[0]):\(fields[1])"] = named.joined(separator: " ")
        }
        return settings
    })
}
