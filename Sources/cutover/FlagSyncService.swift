import AsyncHTTPClient
import CutoverAdmin
import CutoverCore
import CutoverProxy
import CutoverStore
import Foundation
import Logging
import NIOConcurrencyHelpers
import NIOCore
import ServiceLifecycle

/// Keeps this instance's switch flags in step with the store and tells the
/// store about itself: applies every flag version the store announces
/// (PostgreSQL `LISTEN/NOTIFY`) and re-reads once a second as a safety net
/// (the only way with SQLite); registers the instance with its applied version
/// and a heartbeat; writes what traffic showed (IDs seen, new's answers) for the
/// gates; and steps a route back when new's answers breach its `auto_rollback`.
final class FlagSyncService: Service, Sendable {
    let proxy: ProxyServer
    let store: StoreService
    let logger: Logger
    /// This instance's name in the store.
    let instanceID: String
    let address: String
    let startedMs = Int64(Date().timeIntervalSince1970 * 1000)
    /// How often the flags are re-read, the heartbeat sent and the signals written.
    let interval: Duration

    private struct State {
        var sentMaxIDs: [String: [RoutingTarget.Side: Int64]] = [:]
        /// When each route's flags last changed here (answers before it do not count for rollback).
        var changedAt: [String: Date] = [:]
        var applied: [String: RouteFlags] = [:]
    }

    private let state = NIOLockedValueBox(State())
    /// One refresh at a time, so the applied version reported is the one in force.
    private let refreshing = AsyncMutex()

    init(proxy: ProxyServer, store: StoreService, instanceID: String, address: String, interval: Duration = .seconds(1), logger: Logger) {
        self.proxy = proxy
        self.store = store
        self.instanceID = instanceID
        self.address = address
        self.interval = interval
        self.logger = logger
    }

    /// Reads the flags and applies them if they are newer, then reports the applied version. Returns it.
    @discardableResult
    func refresh() async -> Int64? {
        guard let store = store.current else { return nil }
        return await refreshing.withLock {
            do {
                let flagSet = try await store.flagSet()
                if flagSet.version != proxy.flagVersion {
                    await proxy.apply(flags: flagSet)
                    noteChanges(proxy.config, flagSet)
                    logger.info("flags applied", metadata: ["version": "\(flagSet.version)"])
                }
                let applied = proxy.flagVersion ?? flagSet.version
                try await store.heartbeat(instance: instanceID, address: address, appliedVersion: applied, startedMs: startedMs)
                return applied
            } catch {
                // A refresh cut short by shutdown is not a problem worth a warning.
                if !Self.isCancellation(error) {
                    logger.warning("cannot read the flags from the store", metadata: ["error": "\(error)"])
                }
                return proxy.flagVersion
            }
        }
    }

    private func noteChanges(_ config: CutoverConfig, _ flagSet: FlagSet) {
        let now = Date()
        state.withLockedValue { state in
            for (route, flags) in zip(config.routes.map(\.name), flagSet.resolved(for: config)) where state.applied[route] != flags {
                if state.applied[route] != nil { state.changedAt[route] = now }
                state.applied[route] = flags
            }
        }
    }

    /// Whether an error only says the work was cancelled (the service is stopping).
    static func isCancellation(_ error: any Error) -> Bool {
        error is CancellationError || Task.isCancelled
    }

    /// Writes the IDs seen and new's answers to the store.
    func flushSignals() async {
        guard let store = store.current else { return }
        let signals = proxy.signals
        let maxIDs = signals.maxIDs()
        let changed = state.withLockedValue { $0.sentMaxIDs != maxIDs }
        do {
            if changed {
                try await store.recordMaxIDs(maxIDs)
                state.withLockedValue { $0.sentMaxIDs = maxIDs }
            }
        } catch {
            // A write cut short by shutdown is done again by the final flush: not worth a warning.
            if !Self.isCancellation(error) { logger.warning("cannot write the IDs seen", metadata: ["error": "\(error)"]) }
        }
        let counts = signals.takeUnflushed()
        do {
            try await store.recordNewAnswers(counts)
        } catch {
            signals.restore(counts)
            if !Self.isCancellation(error) { logger.warning("cannot write new's answers", metadata: ["error": "\(error)"]) }
        }
    }

    /// Steps back every route whose new answers breach its `auto_rollback` bounds.
    func checkRollbacks(client: HTTPClient?) async {
        guard let store = store.current else { return }
        let config = proxy.config
        let flags = proxy.flags
        for (route, routeFlags) in zip(config.routes, flags) where routeFlags.phase >= .gray {
            guard let settings = route.autoRollback else { continue }
            let since = state.withLockedValue { $0.changedAt[route.name] }
            let window = proxy.signals.window(route: route.name, settings.window, notBefore: since)
            guard let reason = AutoRollback.breach(settings, requests: window.requests, errors: window.errors, p99: window.p99) else { continue }
            let target = AutoRollback.previous(routeFlags.phase)
            do {
                let change = try await RouteControl(store: store, config: config).changePhase(
                    route: route.name, to: target, reason: reason, force: false, abandonNewIDs: false, actor: "cutover", action: "auto_rollback")
                guard change.changed, change.before.phase == routeFlags.phase else { continue }
                logger.error("automatic rollback", metadata: ["route": "\(route.name)", "from": "\(routeFlags.phase.rawValue)",
                                                              "to": "\(target.rawValue)", "reason": "\(reason)"])
                await refresh()
                if let webhook = settings.webhook, let client { await notify(webhook, change: change, reason: reason, client: client) }
            } catch {
                // Another instance may have stepped the route back first: the flags it wrote are applied on the next read.
                logger.warning("automatic rollback not written", metadata: ["route": "\(route.name)", "error": "\(error)"])
            }
        }
    }

    /// Tells a webhook about a rollback (POST, JSON); failures are logged.
    private func notify(_ url: String, change: PhaseChange, reason: String, client: HTTPClient) async {
        struct Event: Encodable {
            var event = "auto_rollback"
            var route: String
            var from: String
            var to: String
            var reason: String
            var version: Int64
            var instance: String
        }
        do {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            let body = try JSONEncoder().encode(Event(route: change.route, from: change.before.phase.rawValue, to: change.after.phase.rawValue,
                                                      reason: reason, version: change.version, instance: instanceID))
            request.body = .bytes(ByteBuffer(bytes: body))
            let response = try await client.execute(request, timeout: .seconds(5))
            if !(200..<300).contains(Int(response.status.code)) {
                logger.warning("rollback webhook answered \(response.status.code)", metadata: ["url": "\(url)"])
            }
        } catch {
            logger.warning("rollback webhook failed", metadata: ["url": "\(url)", "error": "\(error)"])
        }
    }

    func run() async throws {
        // Wait for the store (PostgreSQL may still be connecting); the configured flags serve meanwhile.
        guard let opened = await cancelWhenGracefulShutdown({ await self.store.ready(within: nil) }) else { return }
        await refresh()
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        await withTaskGroup(of: Void.self) { group in
            if opened.announcesChanges {
                group.addTask { await self.listen(opened) }
            }
            group.addTask {
                while !Task.isCancelled, !Task.isShuttingDownGracefully {
                    try? await Task.sleep(for: self.interval)
                    await self.refresh()
                    await self.flushSignals()
                    await self.checkRollbacks(client: client)
                }
            }
            try? await gracefulShutdown()
            group.cancelAll()
        }
        await flushSignals()
        try? await opened.removeInstance(instanceID)
        try? await client.shutdown()
    }

    /// Applies announced versions as they come; reconnects after a failure.
    private func listen(_ store: Store) async {
        while !Task.isCancelled, !Task.isShuttingDownGracefully {
            do {
                try await store.listenForFlagChanges(onListening: { await self.refresh() }) { version in
                    if version > self.proxy.flagVersion ?? .min { await self.refresh() }
                }
            } catch {
                if Task.isCancelled { return }
                logger.warning("flag notifications interrupted; reconnecting", metadata: ["error": "\(error)"])
            }
            try? await Task.sleep(for: .milliseconds(500))
        }
    }
}
