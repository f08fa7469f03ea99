import CutoverCore

/// The data sync: rsync (`-aHAX --delete --numeric-ids`) for every data path, each pass's bytes counted; the final
/// pass is followed by a checksum comparison of the trees.
extension HostRunner {
    /// `--protect-args`: a path reaches the remote side as one argument whatever it holds.
    static let rsyncOptions = ["-aHAX", "--delete", "--numeric-ids", "--protect-args"]

    /// rsync's exit statuses of a pass that copied what it could while files changed: 23 (partial transfer) and 24
    /// (source files vanished).
    static let partialWhileLive: Set<Int32> = [23, 24]

    /// What ends a pass early: the step's failure text.
    private struct SyncFailure: Error {
        var reason: String
    }

    /// One pass over every data path (the final one compares the trees after copying).
    func sync(final: Bool) async throws -> StepResult {
        var result = StepResult()
        let clock = ContinuousClock()
        let start = clock.now
        var bytes = 0, differences = 0
        do {
            for data in task.data {
                let source = Self.folder(data.path), destination = Self.folder(data.toPath ?? data.path)
                let outcome = try await copy(["--stats"], source: source, destination: destination, &result)
                // While the service runs, files change and vanish under rsync (exit 23: some not transferred, 24: some
                // vanished): a live pass moves what it can, and the final pass, with the service stopped, must be complete.
                if !final, Self.partialWhileLive.contains(outcome.status) {
                    result.figures["partial", default: 0] += 1
                    say("  \(data.path): rsync exit \(outcome.status) while the service runs (files changing); the final pass copies the rest")
                } else if !outcome.succeeded {
                    throw SyncFailure(reason: "syncing \(data.path): \(outcome.summary)")
                }
                bytes += Self.transferredBytes(in: outcome.stdout) ?? 0
                guard final else { continue }
                var left = try await compare(data.path, source: source, destination: destination, &result)
                if left > 0 {
                    // rsync's quick check (size and modification time) misses a file rewritten at the same size within
                    // the time stamp's granularity after the pass before: copied again by content, then compared again.
                    say("  \(data.path): \(left) entries differ after the final pass; copying them by checksum")
                    let recopied = try await copy(["--checksum", "--stats"], source: source, destination: destination, &result)
                    guard recopied.succeeded else { throw SyncFailure(reason: "syncing \(data.path) by checksum: \(recopied.summary)") }
                    result.figures["checksum_passes", default: 0] += 1
                    left = try await compare(data.path, source: source, destination: destination, &result)
                }
                differences += left
            }
        } catch let failure as SyncFailure {
            result.failure = failure.reason
            return result
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

    /// Runs rsync with `options` (beside ``rsyncOptions``) where ``rsync(_:source:destination:)`` says, kept in the step.
    private func copy(_ options: [String], source: String, destination: String, _ result: inout StepResult) async throws -> CommandResult {
        let copy = rsync(Self.rsyncOptions + options, source: source, destination: destination)
        let outcome = try await copy.executor.run(copy.command, timeout: commandTimeout)
        result.keep(outcome, on: copy.host)
        return outcome
    }

    /// The entries of `path`'s tree that still differ by content (`rsync --checksum --dry-run --itemize-changes`).
    private func compare(_ path: String, source: String, destination: String, _ result: inout StepResult) async throws -> Int {
        let compared = try await copy(["--checksum", "--dry-run", "--itemize-changes"], source: source, destination: destination, &result)
        guard compared.succeeded else { throw SyncFailure(reason: "comparing \(path): \(compared.summary)") }
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
