import CutoverCore
import Foundation
import NIOSSL
import PostgresNIO

/// A `postgres://user:pass@host:port/db?sslmode=disable|prefer|require|verify-full` URL, read.
public struct PostgresURL: Sendable {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String?
    public var sslMode: String

    public init(_ url: String) throws {
        guard let components = URLComponents(string: url), let host = components.host, !host.isEmpty else {
            throw StoreError.invalidLocation("'\(StoreLocation.postgres(url: url).redacted)' is not a postgres URL")
        }
        self.host = host
        self.port = components.port ?? 5432
        self.username = components.user ?? "postgres"
        self.password = components.password
        let database = String(components.path.dropFirst())
        self.database = database.isEmpty ? nil : database
        self.sslMode = components.queryItems?.first { $0.name == "sslmode" }?.value ?? "disable"
        guard ["disable", "prefer", "require", "verify-full"].contains(sslMode) else {
            throw StoreError.invalidLocation("sslmode '\(sslMode)' is not one of disable, prefer, require, verify-full")
        }
    }

    /// TLS as the URL's `sslmode` asks.
    var tls: PostgresConnection.Configuration.TLS {
        switch sslMode {
        case "prefer", "require":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            let context = try? NIOSSLContext(configuration: configuration)
            guard let context else { return .disable }
            return sslMode == "prefer" ? .prefer(context) : .require(context)
        case "verify-full":
            guard let context = try? NIOSSLContext(configuration: .makeClientConfiguration()) else { return .disable }
            return .require(context)
        default:
            return .disable
        }
    }

    /// The configuration of a single connection.
    public var connectionConfiguration: PostgresConnection.Configuration {
        var configuration = PostgresConnection.Configuration(host: host, port: port, username: username, password: password,
                                                             database: database, tls: tls)
        configuration.options.connectTimeout = .seconds(5)
        return configuration
    }

    /// The configuration of a pooled client.
    var clientConfiguration: PostgresClient.Configuration {
        let clientTLS: PostgresClient.Configuration.TLS
        switch sslMode {
        case "prefer", "require":
            var configuration = TLSConfiguration.makeClientConfiguration()
            configuration.certificateVerification = .none
            clientTLS = sslMode == "prefer" ? .prefer(configuration) : .require(configuration)
        case "verify-full":
            clientTLS = .require(.makeClientConfiguration())
        default:
            clientTLS = .disable
        }
        var configuration = PostgresClient.Configuration(host: host, port: port, username: username, password: password,
                                                         database: database, tls: clientTLS)
        configuration.options.connectTimeout = .seconds(5)
        configuration.options.maximumConnections = 4
        return configuration
    }
}
