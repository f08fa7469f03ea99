import CutoverCore
import NIOCore
import NIOSSL

/// A backend made ready for connecting: its address, TLS context and limits.
/// Built once per configuration (re)load and shared by every event loop.
final class BackendTarget: Sendable {
    /// The configured backend.
    let backend: Backend
    /// The resolved address when the URL names an IP literal; nil means resolve the host per connect.
    let address: SocketAddress?
    /// The TLS client context for `https://` backends.
    let tlsContext: NIOSSLContext?
    /// The SNI name and the name the certificate must carry; nil for IP literals (their IP SAN is checked).
    let serverHostname: String?
    /// The `Host` header sent when the backend overrides it or the client sent none.
    let authority: String
    /// Connect timeout as NIO wants it.
    let connectTimeout: TimeAmount
    /// Response timeout as NIO wants it.
    let responseTimeout: TimeAmount

    /// Prepares a backend; throws when its TLS settings cannot be loaded.
    init(_ backend: Backend) throws {
        self.backend = backend
        self.address = try? SocketAddress(ipAddress: backend.url.host, port: backend.url.port)
        self.authority = backend.hostHeader ?? backend.url.authority
        self.connectTimeout = .nanoseconds(Int64(backend.connectTimeout.nanoseconds))
        self.responseTimeout = .nanoseconds(Int64(backend.responseTimeout.nanoseconds))
        if backend.url.scheme == .https {
            var configuration = TLSConfiguration.makeClientConfiguration()
            if let caFile = backend.tls.caFile {
                configuration.trustRoots = .file(caFile)
            }
            if !backend.tls.verify {
                configuration.certificateVerification = .none
            }
            self.tlsContext = try NIOSSLContext(configuration: configuration)
            let name = backend.tls.serverName ?? backend.url.host
            self.serverHostname = (try? SocketAddress(ipAddress: name, port: 0)) == nil ? name : nil
        } else {
            self.tlsContext = nil
            self.serverHostname = nil
        }
    }

    /// Whether two backends can share pooled connections: same place, same TLS.
    func isInterchangeable(with other: Backend) -> Bool {
        backend.url == other.url && backend.tls == other.tls
    }
}

extension Duration {
    /// The duration in whole nanoseconds, saturating.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        return overflow ? Int64.max : product + attoseconds / 1_000_000_000
    }
}
