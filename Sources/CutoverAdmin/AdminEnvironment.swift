import CutoverCore
import CutoverStore
import Foundation

/// What the admin API reads from the running gateway.
public struct AdminEnvironment: Sendable {
    /// The configuration in force (it changes with a reload).
    public var config: @Sendable () -> CutoverConfig
    /// The store while it is open and answering; nil while it is opening or down.
    public var store: @Sendable () -> Store?
    /// Whether the store is up, opening or down, since when and why (what a refusal says while it is not up).
    public var storeStatus: @Sendable () -> StoreStatus
    /// What `/healthz` reports.
    public var health: @Sendable () -> HealthReport
    /// Makes this instance read the flags from the store and apply them now; returns the version it applies.
    public var refreshFlags: @Sendable () async -> Int64?
    /// Writes what this instance's traffic has shown (IDs seen, new's answers) to the store, so that gates see it.
    public var flushSignals: @Sendable () async -> Void
    /// Begins undoing a host run for `reason`, asked for by `actor` (`POST /api/v1/host/runs/{id}/rollback`):
    /// returns once the request is journaled and audited, and carries the rollback out in the background; throws
    /// an ``AdminError`` (404 no such run, 409 nothing to undo or held by another process). Nil where the
    /// configuration has no `host_cutover:` section.
    public var hostRollback: (@Sendable (_ store: Store, _ run: Int64, _ reason: String, _ actor: String) async throws -> HostRollbackAccepted)?
    /// Starts a host task's run carried out by the gateway in the background (a plan step's `host_task` action);
    /// returns the run's ID once it is in the store. Nil where the configuration has no `host_cutover:` section.
    public var hostTask: (@Sendable (_ store: Store, _ task: String, _ actor: String) async throws -> Int64)?
    /// Tells the plan's webhooks of a step event (in the background).
    public var planNotify: @Sendable (PlanEvent) -> Void = { _ in }

    public init(config: @escaping @Sendable () -> CutoverConfig, store: @escaping @Sendable () -> Store?,
                health: @escaping @Sendable () -> HealthReport,
                storeStatus: (@Sendable () -> StoreStatus)? = nil,
                refreshFlags: @escaping @Sendable () async -> Int64? = { nil },
                flushSignals: @escaping @Sendable () async -> Void = {}) {
        self.config = config
        self.store = store
        self.storeStatus = storeStatus ?? { store() == nil ? StoreStatus(state: .opening, since: Date()) : StoreStatus(state: .up, since: Date()) }
        self.health = health
        self.refreshFlags = refreshFlags
        self.flushSignals = flushSignals
    }
}
