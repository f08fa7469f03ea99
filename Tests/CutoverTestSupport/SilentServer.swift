import NIOConcurrencyHelpers
import NIOCore
import NIOPosix
#if canImport(Glibc)
import Glibc
#endif

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

/// A loopback port that refuses connections for as long as this object lives:
/// a socket bound to it without listening, so no other test can take the port.
public final class RefusingPort: Sendable {
    public let port: Int
    private let descriptor: Int32

    public init() throws {
        let socket = Glibc.socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(socket, $0, length) }
        }
        guard bound == 0 else {
            close(socket)
            throw TimedOut(what: "a port to refuse connections on")
        }
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(socket, $0, &length) }
        }
        self.descriptor = socket
        self.port = Int(UInt16(bigEndian: address.sin_port))
    }

    deinit {
        close(descriptor)
    }
}
