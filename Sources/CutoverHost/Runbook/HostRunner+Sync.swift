import CutoverCore

/// The data sync: rsync (`-aHAX --delete --numeric-ids`) for every data path, each pass's bytes counted; the final
/// pass is followed by a checksum comparison of the trees.
extension HostRunner {
    /// `--protect-args`: a path reaches the remote side as one argument whatever it holds.
    static let rsyncOptions = ["-aHAX", "--delete", "--numeric-ids", "--protect-args"]

    /// rsync's exit statuses of a pass that copied what it could while files changed: 23 (partial transfer) and 24
    /// (source files vanished).
    static let partialWhileLive: Set<Int32> = [23, 24]

    /// One pass over every data path (the final one compares the trees after copying).
    func sync(final: Bool) async throws -> StepResult {
        var result = StepResult()
        let clock = ContinuousClock()
        let start = clock.now
        var bytes = 0, differences = 0
        for data in task.data {
            let source = Self.folder(data.path), destination = Self.folder(data.toPath ?? data.path)
            let copy = rsync(Self.rsyncOptions + ["--stats"], source: source, destination: destination)
            let outcome = try await copy.executor.run(copy.command, timeout: commandTimeout)
            result.keep(outcome, on: copy.host)
            // While the service runs, files change and vanish under rsync (exit 23: some not transferred, 24: some
            // vanished): a live pass moves what it can, and the final pass, with the service stopped, must be complete.
            if !final, Self.partialWhileLive.contains(outcome.status) {
                result.figures["partial", default: 0] += 1
                say("  \(data.path): rsync exit \(outcome.status) while the service runs (files changing); the final pass copies the rest")
            } else if !outcome.succeeded {
                result.failure = "syncing \(data.path): \(outcome.summary)"
                return result
            }
            bytes += Self.transferredBytes(in: outcome.stdout) ?? 0
            if final {
                var left = try await compare(source: source, destination: destination, &result)
                if left == nil { result.failure = result.failure.map { "comparing \(data.path): \($0)" }; return result }
                if left! > 0 {
                    // rsync's quick check (size and modification time) misses a file rewritten at the same size within
                    // the time stamp's granularity after the pass before: copied again by content, then compared again.
                    say("  \(data.path): \(left!) entries differ after the final pass; copying them by checksum")
                    let again = rsync(Self.rsyncOptions + ["--checksum", "--stats"], source: source, destination: destination)
                    let recopied = try await again.executor.run(again.command, timeout: commandTimeout)
                    result.keep(recopied, on: again.host)
                    guard recopied.succeeded else {
                        result.failure = "syncing \(data.path) by checksum: \(recopied.summary)"
                        return result
                    }
                    result.figures["checksum_passes", default: 0] += 1
                    left = try await compare(source: source, destination: destination, &result)
                    if left == nil { result.failure = result.failure.map { "comparing \(data.path): \($0)" }; return result }
                }
                differences += left!
            }
        }
        let duration = clock.now - start
        result.sync = SyncPass(bytes: bytes, duration: duration)
        result.figures["bytes"] = Double(bytes)
        result.figures["seconds"] = duration.seconds
        if final {
            result.figures["differences"] = Double(differences)
            if differences > 0 { result.failure = "after the final pass \(differences) entries still differ (rsync --checksum --dry-run)" }
        }
        return result
    }

    /// The entries of the tree that still differ by content (`rsync --checksum --dry-run --itemize-changes`); nil
    /// with `result.failure` set when the comparison could not run.
    func compare(source: String, destination: String, _ result: inout StepResult) async throws -> Int? {
        let check = rsync(Self.rsyncOptions + ["--checksum", "--dry-run", "--itemize-changes"], source: source, destination: destination)
        let compared = try await check.executor.run(check.command, timeout: commandTimeout)
        result.keep(compared, on: check.host)
        guard compared.succeeded else {
            result.failure = compared.summary
            return nil
        }
        return compared.stdout.split(separator: "\n").filter { !$0.isEmpty }.count
    }

    /// Where rsync runs and its command line: on this machine when neither host is an ssh host (they share its
    /// file system), else on `from` pushing to an ssh `to`, or here pulling from an ssh `from`.
    func rsync(_ options: [String], source: String, destination: String) -> (host: String, executor: any Executor, command: [String]) {
        switch (from.executor, to.executor) {
        case (_, .ssh(let user, let host, let port)):
            return (from.name, executor(from), ["rsync"] + options + ["-e", sshTransport(port: port, host: to), source, "\(user)@\(bracketed(host)):\(destination)"])
        case (.ssh(let user, let host, let port), _):
            return ("local", LocalExecutor(), ["rsync"] + options + ["-e", sshTransport(port: port, host: from), "\(user)@\(bracketed(host)):\(source)", destination])
        default:
            // Both on this machine: the destination folder is made first (rsync makes only its last component).
            return ("local", LocalExecutor(), ["sh", "-c", "mkdir -p \"$0\" && exec rsync \"$@\"", destination] + options + [source, destination])
        }
    }

    private func sshTransport(port: Int, host: HostCutoverSettings.Host) -> String {
        // The same options as the host's executor: rsync's ssh connects as every command of the host does.
        let options = SSHExecutor.Options(checkHostKey: host.hostKeyCheck, identityFile: host.identityFile, knownHostsFile: host.knownHostsFile)
        return options.clientArguments(port: port).map(SSHExecutor.quoted).joined(separator: " ")
    }

    private func bracketed(_ host: String) -> String { host.contains(":") ? "[\(host)]" : host }

    /// A folder as rsync copies its contents: with a trailing slash.
    static func folder(_ path: String) -> String { path.hasSuffix("/") ? path : path + "/" }

    /// "Total transferred file size: 1,234 bytes" of rsync's `--stats`.
    static func transferredBytes(in stats: String) -> Int? {
        guard let line = stats.split(separator: "\n").first(where: { $0.hasPrefix("Total transferred file size:") }) else { return nil }
        return Int(line.dropFirst("Total transferred file size:".count).filter(\.isNumber))
    }
}
