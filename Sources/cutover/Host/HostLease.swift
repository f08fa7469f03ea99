import CutoverCore
import CutoverStore
import Foundation

/// A run's lease while this process carries it out: taken before the first step, renewed every `renew` while the
/// steps run (a sync pass may take minutes), given up when the run's end is written — or, when the steps stop
/// short (an error, a lost store), given up at once, so that `cutover host resume` or `rollback` can take the run
/// over while this process goes on (a gateway). Every step begins and ends, and the run ends, only while the lease
/// is still this holder's, so a second runner on one run is refused rather than racing on its steps; a holder that
/// finds its lease taken stops before its next command.
struct HostLease: Sendable {
    let store: Store
    let run: Int64
    let holder: RunHolder
    /// How long a lease runs on the store's clock (every lease is reckoned on it, whichever machine holds it).
    static let length: Int64 = 30_000
    static let renew: Duration = .seconds(10)

    /// The lost lease: another holder took the run (this one's lease ran out, as in a long partition from the store).
    struct Lost: Error, CustomStringConvertible {
        let run: Int64
        var description: String { "run \(run) was taken over by another process: this one stopped before its next step" }
    }

    /// A lease of a run just started with `holder` (``Store/startHostRun(task:group:hosts:maxParallelGroups:at:holder:lease:)``).
    init(started run: Int64, holder: RunHolder, store: Store) {
        self.store = store
        self.run = run
        self.holder = holder
    }

    /// Takes the lease of an existing run (resume; with `reopen` a rollback, which marks a finished run running
    /// again), writing `audit` and `marker` with it (``Store/claimHostRun(_:holder:until:now:reopen:audit:marker:)``).
    /// Refused with ``StoreError/conflict(_:)`` while another holder lives.
    static func claim(_ run: Int64, store: Store, reopen: Bool = false, audit: (action: String, actor: String, reason: String)? = nil,
                      marker: (step: String, reason: String)? = nil) async throws -> (HostLease, AuditEntry?) {
        let holder = RunHolder.current()
        holder.holding()
        do {
            let entry = try await store.claimHostRun(run, holder: holder, lease: length, now: StoreJournal.now, reopen: reopen, audit: audit, marker: marker)
            return (HostLease(started: run, holder: holder, store: store), entry)
        } catch {
            holder.released()
            throw error
        }
    }

    /// Runs `body` while renewing the lease; a lease found taken cancels `body`. Afterwards the lease is this
    /// process's no longer (the run's end gave it up, or it is given up now).
    func holding<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) async throws -> T {
        holder.holding()
        defer { holder.released() }
        do {
            return try await withThrowingTaskGroup(of: T?.self) { group in
                group.addTask { try await body() }
                group.addTask {
                    while true {
                        try await Task.sleep(for: Self.renew)
                        // A store that does not answer is retried at the next renewal; a lease taken is final.
                        if let renewed = try? await store.renewHostRun(run, holder: holder, lease: Self.length), !renewed {
                            // Not renewed: taken by another holder, or the run just ended (read again; a failed read waits for the next renewal).
                            guard let status = (try? await store.hostRuns(id: run, limit: 1))?.first?.status else { continue }
                            if status == .running { throw Lost(run: run) }
                            return nil
                        }
                    }
                }
                defer { group.cancelAll() }
                while let next = try await group.next() {
                    if let value = next { return value }
                }
                throw CancellationError()
            }
        } catch {
            try? await store.releaseHostRun(run, holder: holder)
            throw error
        }
    }

    var journal: StoreJournal { StoreJournal(store: store, run: run, holder: holder) }
}
