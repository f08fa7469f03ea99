import CutoverAdmin
import CutoverCore
import CutoverHost
import CutoverStore
import Logging
import ServiceLifecycle
import Synchronization

/// `POST /api/v1/host/runs/{id}/rollback` carried out by the gateway: the request is journaled and audited before
/// the answer, the undoing steps run in the background under the run's lease (a `cutover host status` or
/// `GET /api/v1/host/runs/{id}` shows them). A gateway told to stop waits for them (``HostRollbackService``, up to
/// its bound); one cut off leaves the run to `cutover host resume`, which goes on undoing.
enum GatewayHostRollback {
    static func make(config: @escaping @Sendable () -> CutoverConfig, rollbacks: HostRollbackService, logger: Logger)
        -> @Sendable (Store, Int64, String, String) async throws -> HostRollbackAccepted {
        return { opened, id, reason, actor in
            guard let settings = config().hostCutover else { throw AdminError.noHostCutover }
            guard !rollbacks.closing else { throw AdminError(.serviceUnavailable, "this gateway is stopping: ask another, or run cutover host rollback") }
            let begun: BegunRollback
            do {
                begun = try await BegunRollback.begin(id, reason: reason, actor: actor, settings: settings, store: opened)
            } catch HostRunRefusal.notFound(let why) {
                throw AdminError(.notFound, why)
            } catch HostRunRefusal.conflict(let why) {
                throw AdminError(.conflict, why)
            }
            // The answer shows the run as the request left it, before the undoing steps begin.
            // Read without failing: the rollback is begun and must go on whatever this read does.
            let run = (try? await opened.hostRuns(id: id, limit: 1))?.first ?? begun.journaled.run
            let metadata: Logger.Metadata = ["run": "\(id)", "task": "\(begun.journaled.task.name)", "actor": "\(actor)"]
            logger.notice("host run rollback begun", metadata: metadata)
            rollbacks.add(run: id) {
                do {
                    let (outcome, _) = try await begun.run(settings: settings, say: { line in
                        logger.info("host run rollback: \(line)", metadata: ["run": "\(id)"])
                    })
                    logger.notice("host run rollback ended", metadata: metadata.merging(["outcome": "\(outcome.status.0.rawValue)"]) { $1 })
                } catch {
                    logger.error("host run rollback cut off (cutover host resume \(id) goes on undoing)",
                                 metadata: metadata.merging(["error": "\(error)"]) { $1 })
                }
            }
            return HostRollbackAccepted(run: run, audit: begun.audit)
        }
    }
}

/// The host runs and rollbacks the gateway carries out: at a graceful shutdown no new one is begun (503), and the ones under way
/// are waited for (each step is bounded by its command's timeout) up to `bound`, then cancelled — giving their leases
/// up while the store is still open, for `cutover host resume` — before the admin listener and the store stop.
final class HostRollbackService: Service, Sendable {
    private let state = Mutex<(closing: Bool, running: [Int64: Task<Void, Never>])>((false, [:]))
    let bound: Duration
    let logger: Logger

    init(bound: Duration = .seconds(120), logger: Logger) {
        self.bound = bound
        self.logger = logger
    }

    /// Whether the gateway is stopping (no rollback is begun then).
    var closing: Bool { state.withLock { $0.closing } }

    /// Runs `body` for run `id` in the background.
    func add(run id: Int64, _ body: @escaping @Sendable () async -> Void) {
        let task = Task { await body() }
        state.withLock { $0.running[id] = task }
        Task {
            await task.value
            state.withLock { if $0.running[id] == task { $0.running[id] = nil } }
        }
    }

    func run() async throws {
        try? await gracefulShutdown()
        let waiting = state.withLock { state -> [Int64] in
            state.closing = true
            return state.running.keys.sorted()
        }
        guard !waiting.isEmpty else { return }
        logger.notice("waiting for host run rollbacks to end", metadata: ["runs": "\(waiting)"])
        let deadline = ContinuousClock.now + bound
        while ContinuousClock.now < deadline, !state.withLock({ $0.running.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = state.withLock { Array($0.running.values) }
        guard !left.isEmpty else { return }
        // Not waited for further: once this process has ended, its leases are seen gone and a resume takes them.
        logger.error("host run rollbacks cut off at shutdown (cutover host resume goes on undoing)")
        for task in left { task.cancel() }
    }
}
