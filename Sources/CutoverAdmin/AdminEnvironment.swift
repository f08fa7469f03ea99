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

    public init(config: @escaping @Sendable () -> CutoverConfig, store: @escaping @Sendable () -> Store?,
                health: @escaping @Sendable () -> HealthReport) {
        self.config = config
        self.store = store
        self.health = health
    }
}
