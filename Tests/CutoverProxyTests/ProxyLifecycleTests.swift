@testable import CutoverProxy
import CutoverCore
import CutoverTestSupport
import NIOCore
import Testing

@Suite("Reload and graceful shutdown", .timeLimit(.minutes(1)))
struct ProxyLifecycleTests {
    func config(old: String, new: String, phase: String, extra: String = "") -> String {
        gatewayConfig(old: old, new: new, routes: "  - { name: orders, match: { prefix: /orders }, phase: \(phase) }", extra: extra)
    }

    @Test func reloadAppliesToNewRequestsWithoutDroppingConnections() async throws {
        let old = try await TestBackend.start { _ in .ok("old") }
        let new = try await TestBackend.start { _ in .ok("new") }
        let gateway = try await TestGateway.start(config(old: old.url, new: new.url, phase: "old"))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /orders HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "old")

        let notes = try await gateway.server.reload(try ConfigLoader.load(yaml: config(old: old.url, new: new.url, phase: "new")).get())
        #expect(notes.isEmpty)
        try await client.send("GET /orders HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "new")
        #expect(!client.isClosed)
        #expect(gateway.server.config.routes[0].phase == .new)
        await client.close()
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func requestInFlightDuringReloadFinishesOnItsBackend() async throws {
        let old = try await TestBackend.start { _ in .hold }
        let new = try await TestBackend.start { _ in .ok("new") }
        let gateway = try await TestGateway.start(config(old: old.url, new: new.url, phase: "old"))
        let slow = try await TestConnection.connect(port: gateway.port)
        try await slow.send("GET /orders/slow HTTP/1.1\r\nHost: a\r\n\r\n")
        try await old.waitForRequests(1)
        try await gateway.server.reload(try ConfigLoader.load(yaml: config(old: old.url, new: new.url, phase: "new")).get())
        let fresh = try await TestConnection.connect(port: gateway.port)
        try await fresh.send("GET /orders/fast HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await fresh.response().text == "new")
        old.releaseHeld(with: "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nold")
        #expect(try await slow.response().text == "old")
        await slow.close()
        await fresh.close()
        await gateway.stop()
        await old.stop()
        await new.stop()
    }

    @Test func listenAddressChangeIsReportedAsNeedingARestart() async throws {
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let moved = gatewayConfig(old: backend.url).replacingOccurrences(of: "listen: \"127.0.0.1:0\"\nadmin", with: "listen: \"127.0.0.1:1\"\nadmin")
        let notes = try await gateway.server.reload(try ConfigLoader.load(yaml: moved).get())
        #expect(notes.contains { $0.contains("listen addresses changed") })
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET / HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "ok")
        await client.close()
        await gateway.stop()
        await backend.stop()
    }

    @Test func shutdownLetsTheRequestInFlightFinishAndClosesIdleConnections() async throws {
        let backend = try await TestBackend.start { request in request.uri == "/slow" ? .hold : .ok("fast") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let idle = try await TestConnection.connect(port: gateway.port)
        try await idle.send("GET /fast HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await idle.response().text == "fast")
        let busy = try await TestConnection.connect(port: gateway.port)
        try await busy.send("GET /slow HTTP/1.1\r\nHost: a\r\n\r\n")
        try await backend.waitForRequests(2)

        let listeners = gateway.server.listenerChannels
        #expect(listeners.count == 1)
        async let stopped: Void = gateway.server.shutdown(drainTimeout: .seconds(30))
        try await idle.closed()
        // The listener is closed (connecting to its port would prove little: another test may have taken the port since).
        for listener in listeners { try await listener.closeFuture.get() }
        backend.releaseHeld(with: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nslow")
        let response = try await busy.response()
        #expect(response.text == "slow")
        #expect(response.value("connection") == "close")
        await stopped
        try await busy.closed()
        try? await gateway.group.shutdownGracefully()
        await backend.stop()
    }

    @Test func drainTimeoutClosesWhatIsStillOpen() async throws {
        let backend = try await TestBackend.start { _ in .hold }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /forever HTTP/1.1\r\nHost: a\r\n\r\n")
        try await backend.waitForRequests(1)
        await gateway.server.shutdown(drainTimeout: .milliseconds(200))
        let rest = try await client.closed()
        #expect(rest.isEmpty, "the unanswered request's connection is closed without a made-up answer: \(rest)")
        #expect(client.isClosed)
        #expect(try await gateway.server.onEveryLoop { $0.clients.count } == [0], "nothing is left open")
        try? await gateway.group.shutdownGracefully()
        await backend.stop()
    }

    /// Found by LeakSanitizer: the handler kept its pipeline context, which keeps the handler, so every closed
    /// client connection left both behind. A closed connection's handler must be freed.
    @Test func aClosedClientConnectionLeavesNothingBehind() async throws {
        let backend = try await TestBackend.start { _ in .ok("ok") }
        let gateway = try await TestGateway.start(gatewayConfig(old: backend.url))
        let client = try await TestConnection.connect(port: gateway.port)
        try await client.send("GET /a HTTP/1.1\r\nHost: a\r\n\r\n")
        #expect(try await client.response().text == "ok")
        let handler = try await gateway.server.onEveryLoop { context in WeakReference(context.clients.values.first) }.first!
        #expect(handler.isAlive, "the open connection's handler is found")
        await client.close()
        try await waitUntil("the closed connection's handler to be freed") { !handler.isAlive }
        await gateway.stop()
        await backend.stop()
    }
}

/// A weak reference that may cross to another task (read only after its event loop is done with the object).
final class WeakReference: @unchecked Sendable {
    private weak var object: AnyObject?
    init(_ object: AnyObject?) { self.object = object }
    var isAlive: Bool { object != nil }
}
