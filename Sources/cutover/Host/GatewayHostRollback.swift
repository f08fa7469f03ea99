import CutoverAdmin
import CutoverCore
import CutoverHost
import CutoverStore
import Logging

/// `POST /api/v1/host/runs/{id}/rollback` carried out by the gateway: the request is journaled and audited before
/// the answer, the undoing steps run in the background under the run's lease (a `cutover host status` or
/// `GET /api/v1/host/runs/{id}` shows them). A gateway stopped meanwhile leaves the run to `cutover host resume`,
/// which goes on undoing.
enum GatewayHostRollback {
    static func make(config: @escaping @Sendable () -> CutoverConfig, store: StoreService, logger: Logger)
        -> @Sendable (Int64, String, String) async throws -> HostRollbackAccepted {
        return { id, reason, actor in
            guard let settings = config().hostCutover else {
                throw AdminError(.conflict, "this gateway's configuration has no host_cutover section: it cannot undo host runs")
            }
            guard let opened = store.current else { throw AdminError(.serviceUnavailable, "the store is not open; retry shortly") }
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
            var metadata: Logger.Metadata = ["run": "\(id)", "task": "\(begun.journaled.task.name)", "actor": "\(actor)"]
            logger.notice("host run rollback begun", metadata: metadata)
            Task {
                do {
                    let (outcome, _) = try await begun.run(settings: settings, say: { line in
                        logger.info("host run rollback: \(line)", metadata: ["run": "\(id)"])
                    })
                    metadata["outcome"] = "\(outcome.status.0.rawValue)"
                    logger.notice("host run rollback ended", metadata: metadata)
                } catch {
                    metadata["error"] = "\(error)"
                    logger.error("host run rollback cut off (cutover host resume \(id) goes on undoing)", metadata: metadata)
                }
            }
            return HostRollbackAccepted(run: run, audit: begun.audit)
        }
    }
}
