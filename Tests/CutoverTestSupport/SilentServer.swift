import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// A TCP server that accepts connections and never sends a byte: a backend
/// that hangs (or a TLS server that never answers the handshake).
public final class SilentServer: Sendable {
    public let port: Int
    private let channel: any Channel
    private let accepted: NIOLockedValueBox<Int>

    public static func start(group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> SilentServer {
        let accepted = NIOLockedValueBox(0)
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { channel in
                accepted.withLockedValue { $0 += 1 }
                return channel.eventLoop.makeSucceededVoidFuture()
            }
            .bind(host: "127.0.0.1", port: 0)
            .get()
        return SilentServer(port: channel.localAddress!.port!, channel: channel, accepted: accepted)
    }

    private init(port: Int, channel: any Channel, accepted: NIOLockedValueBox<Int>) {
        self.port = port
        self.channel = channel
        self.accepted = accepted
    }

    /// Connections accepted so far.
    public var connections: Int { accepted.withLockedValue { $0 } }

    public func stop() async {
        try? await channel.close()
    }
}

/// A free loopback port with nothing listening on it (bound, then released).
public func closedPort() async throws -> Int {
    let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
        .bind(host: "127.0.0.1", port: 0)
        .get()
    let port = channel.localAddress!.port!
    try await channel.close()
    return port
}
