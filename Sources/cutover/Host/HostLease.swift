import CutoverCore
import CutoverStore
import Foundation

/// A run's lease while this process carries it out: taken before the first step, renewed every `renew` while the
/// steps run (a sync pass may take minutes), given up when the run's end is written. Every step begins only while
/// the lease is still this holder's, so a second runner on one run is refused rather than racing on its steps.
struct HostLease: Sendable {
    let store: Store
    let run: Int64
    let holder: RunHolder
    static let length: Int64 = 30_000
    static let renew: Duration = .seconds(10)

    static var until: Int64 { StoreJournal.now + length }

    /// A lease of a run just started with `holder` (``Store/startHostRun(task:group:hosts:maxParallelGroups:at:holder:leaseUntil:)``).
    init(started run: Int64, holder: RunHolder, store: Store) {
        self.store = store
        self.run = run
        self.holder = holder
    }

    /// Takes the lease of an existing run (resume, rollback); with `reopen` the run is marked running again, with
    /// `audit` an audit entry is written with the claim. Refused with ``StoreError/conflict(_:)`` while another
    /// holder lives.
    static func claim(_ run: Int64, store: Store, reopen: Bool = false,
                      audit: (action: String, actor: String, reason: String)? = nil) async throws -> (HostLease, AuditEntry?) {
        let holder = RunHolder.current()
        let entry = try await store.claimHostRun(run, holder: holder, until: until, now: StoreJournal.now, reopen: reopen, audit: audit)
        return (HostLease(started: run, holder: holder, store: store), entry)
    }

    /// Runs `body` while renewing the lease.
    func holding<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        let renewal = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.renew)
                if Task.isCancelled { return }
                // A lost lease shows at the next step's begin, which is refused.
                _ = try? await store.renewHostRun(run, holder: holder, until: Self.until)
            }
        }
        defer { renewal.cancel() }
        return try await body()
    }

    var journal: StoreJournal { StoreJournal(store: store, run: run, holder: holder) }
}
