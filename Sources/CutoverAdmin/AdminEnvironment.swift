import CutoverCore
import CutoverStore

/// What the admin API reads from the running gateway.
public struct AdminEnvironment: Sendable {
    /// The configuration in force (it changes with a reload).
    public var config: @Sendable () -> CutoverConfig
    /// The store, once it is open; nil while it cannot be reached.
    public var store: @Sendable () -> Store?
    /// What `/healthz` reports.
    public var health: @Sendable () -> HealthReport
    /// Makes this instance read the flags from the store and apply them now; returns the version it applies.
    public var refreshFlags: @Sendable () async -> Int64?
    /// Writes what this instance's traffic has shown (IDs seen, new's answers) to the store, so that gates see it.
    public var flushSignals: @Sendable () async -> Void

    public init(config: @escaping @Sendable () -> CutoverConfig, store: @escaping @Sendable () -> Store?,
                health: @escaping @Sendable () -> HealthReport,
                refreshFlags: @escaping @Sendable () async -> Int64? = { nil },
                flushSignals: @escaping @Sendable () async -> Void = {}) {
        self.config = config
        self.store = store
        self.health = health
        self.refreshFlags = refreshFlags
        self.flushSignals = flushSignals
    }
}
